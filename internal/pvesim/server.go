package pvesim

import (
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pve-operator/pve-operator/internal/pvesim/pveschema"
)

// Server is a running simulated Proxmox VE cluster. All methods are safe for
// concurrent use.
type Server struct {
	opts Options

	// mu guards all simulated state below. Workers and handlers hold it only
	// for short critical sections, never while sleeping or waiting on a flock.
	mu          sync.Mutex
	nodes       map[string]*node
	nodeOrder   []string
	storages    []*storageDef
	storageByID map[string]*storageDef
	stores      map[storeKey]*storeInst
	cts         map[int]*container
	qemus       map[int]*qemuVM
	pools       map[string]bool
	poolMembers map[int]string
	poolConfs   map[string]*poolConf
	ha          haState
	networks    map[string]*nodeNetwork
	firewall    map[int]map[string]string
	tasks       map[string]*task
	taskList    []*task
	flocks      map[int]chan struct{}
	principals  map[string]*principal
	ticketKey   []byte
	ticketGen   int
	reqFaults   []*requestFaultState
	taskFaults  []*taskFaultState
	faultSeq    int
	version     uint64
	rrd         *rrdSnapshot
	resCache    map[string]*resourcesCacheEntry

	rngMu sync.Mutex
	rng   *mathRand

	cmu      sync.Mutex
	counters map[string]int
	// mutations counts POST/PUT/DELETE requests per VMID they name.
	mutations map[int]int

	router   *router
	httpSrv  *http.Server
	listener net.Listener
	baseURL  string
	caPEM    []byte
	certPool *x509.CertPool
	cert     *tls.Certificate
	certFP   string

	ssh sshServer

	quit      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// mathRand is the seeded PRNG behind MACs, PIDs and durations.
type mathRand = rand.Rand

// New starts a simulator listening on opts.Addr (127.0.0.1 on a random port
// by default) with its own CA. Close it when done.
func New(opts Options) (*Server, error) {
	o := opts.withDefaults()
	s := &Server{
		opts:        o,
		nodes:       map[string]*node{},
		storageByID: map[string]*storageDef{},
		stores:      map[storeKey]*storeInst{},
		cts:         map[int]*container{},
		qemus:       map[int]*qemuVM{},
		pools:       map[string]bool{},
		poolMembers: map[int]string{},
		poolConfs:   map[string]*poolConf{},
		ha:          newHAState(),
		networks:    map[string]*nodeNetwork{},
		firewall:    map[int]map[string]string{},
		tasks:       map[string]*task{},
		flocks:      map[int]chan struct{}{},
		principals:  map[string]*principal{},
		counters:    map[string]int{},
		resCache:    map[string]*resourcesCacheEntry{},
		rng:         rand.New(rand.NewPCG(uint64(o.Seed), 0x9e3779b97f4a7c15)),
		quit:        make(chan struct{}),
	}
	s.ticketKey = make([]byte, 32)
	if _, err := cryptoRandRead(s.ticketKey); err != nil {
		return nil, err
	}
	if err := s.initState(); err != nil {
		return nil, err
	}
	if o.StateFile != "" {
		if err := s.loadStateFile(o.StateFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("load state file %s: %w", o.StateFile, err)
		}
	}
	s.router = buildRouter()
	cert, err := s.certificate()
	if err != nil {
		return nil, err
	}
	if err := s.serve(cert); err != nil {
		return nil, err
	}
	if o.ResourcesRefresh > 0 {
		s.startRRDRefresher()
	}
	if o.SSH != nil {
		if err := s.startSSH(*o.SSH); err != nil {
			_ = s.Close()
			return nil, err
		}
	}
	return s, nil
}

// certificate is the configured server certificate, or one signed by a
// fresh CA of the simulator's own; it records the CA pool and fingerprint.
func (s *Server) certificate() (*tls.Certificate, error) {
	cert := s.opts.TLSCertificate
	s.caPEM = s.opts.CACertPEM
	if cert == nil {
		pki, err := generatePKI(s.opts.Hostnames)
		if err != nil {
			return nil, err
		}
		cert = &pki.cert
		s.caPEM = pki.caPEM
	}
	s.cert = cert
	s.certPool = x509.NewCertPool()
	if len(s.caPEM) > 0 {
		s.certPool.AppendCertsFromPEM(s.caPEM)
	}
	if len(cert.Certificate) > 0 {
		s.certFP = fingerprint(cert.Certificate[0])
	}
	return cert, nil
}

// serve listens on the configured address and serves the API over TLS.
func (s *Server) serve(cert *tls.Certificate) error {
	o := s.opts
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.Addr, err)
	}
	s.listener = ln
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	s.baseURL = "https://" + net.JoinHostPort(host, port) + "/api2/json"
	s.httpSrv = &http.Server{
		Handler:           s,
		TLSConfig:         serverTLSConfig(*cert),
		ReadHeaderTimeout: 30 * time.Second,
		// An empty, non-nil TLSNextProto disables HTTP/2: pveproxy is HTTP/1.1.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ErrorLog:     log.New(io.Discard, "", 0),
	}
	go func() { _ = s.httpSrv.Serve(tls.NewListener(ln, s.httpSrv.TLSConfig)) }()
	return nil
}

func cryptoRandRead(b []byte) (int, error) { return crand.Read(b) }

// TLSCertificate is the certificate the API serves, for a restarted
// simulator (Options.TLSCertificate) that clients must go on trusting.
func (s *Server) TLSCertificate() *tls.Certificate { return s.cert }

// URL is the API base including /api2/json, e.g.
// "https://127.0.0.1:40123/api2/json" — what go-proxmox's NewClient wants.
func (s *Server) URL() string { return s.baseURL }

// AdminURL is the base of the fault-injection and inspection endpoints.
func (s *Server) AdminURL() string { return strings.TrimSuffix(s.baseURL, "/api2/json") + "/_sim" }

// Addr is the host:port the API listens on.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// CACertPEM is the PEM of the CA that signed the server certificate.
func (s *Server) CACertPEM() []byte { return append([]byte(nil), s.caPEM...) }

// CertPool trusts the simulator's CA.
func (s *Server) CertPool() *x509.CertPool { return s.certPool }

// Fingerprint is the SHA-256 fingerprint of the server certificate, as PVE
// prints it in /nodes ssl_fingerprint.
func (s *Server) Fingerprint() string { return s.certFP }

// HTTPClient returns an HTTP/1.1 client that trusts the simulator's CA.
func (s *Server) HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: s.certPool, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   false,
		MaxIdleConnsPerHost: 64,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
	}}
}

// Close stops the server, interrupts running tasks, stops the SSH daemon and
// writes the state file if one is configured.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		// Shutting down is the node going away: its workers die where they
		// are, leaving what they had done (a create's lock:create config),
		// as after a reboot; they do not roll back.
		s.killRunningTasks()
		close(s.quit)
		ctxErr := s.httpSrv.Close()
		s.wg.Wait()
		if s.ssh != nil {
			_ = s.ssh.Close()
		}
		if s.opts.StateFile != "" {
			if err := s.SaveState(s.opts.StateFile); err != nil {
				s.closeErr = err
				return
			}
		}
		if ctxErr != nil && !errors.Is(ctxErr, http.ErrServerClosed) {
			s.closeErr = ctxErr
		}
	})
	return s.closeErr
}

// initState builds nodes, storages, templates and principals from options.
func (s *Server) initState() error {
	o := s.opts
	boot := o.Now().Add(-72 * time.Hour)
	for i, ns := range o.Nodes {
		if ns.Name == "" {
			return errors.New("node without a name")
		}
		if _, dup := s.nodes[ns.Name]; dup {
			return fmt.Errorf("duplicate node %q", ns.Name)
		}
		s.nodes[ns.Name] = &node{
			name: ns.Name, nodeid: i + 1, online: !ns.Offline, cpus: ns.CPUs, memory: ns.Memory,
			bootTime: boot.Add(time.Duration(i) * time.Minute), ip: fmt.Sprintf("10.0.0.%d", 11+i),
			nextPID: 0x1000 * (i + 1), vzdumpLock: make(chan struct{}, 1),
		}
		s.nodeOrder = append(s.nodeOrder, ns.Name)
	}
	if len(s.nodeOrder) == 1 {
		s.nodes[s.nodeOrder[0]].nodeid = 0
	}
	for _, ss := range o.Storages {
		if ss.ID == "" {
			return errors.New("storage without an id")
		}
		def := &storageDef{spec: ss, content: map[string]bool{}}
		for _, c := range ss.Content {
			def.content[c] = true
		}
		s.storages = append(s.storages, def)
		s.storageByID[ss.ID] = def
		if ss.Shared {
			s.stores[storeKey{ss.ID, ""}] = &storeInst{def: def, byID: map[string]*volume{}}
			continue
		}
		for _, n := range s.nodeOrder {
			if def.availableOn(n) {
				s.stores[storeKey{ss.ID, n}] = &storeInst{def: def, node: n, byID: map[string]*volume{}}
			}
		}
	}
	for _, tmpl := range o.Templates {
		if err := s.addTemplateLocked(tmpl, boot); err != nil {
			return err
		}
	}
	for _, p := range o.Pools {
		s.pools[p] = true
	}
	for _, u := range o.Users {
		p := newPrincipal(u.ID, u.Privileges)
		p.password = u.Password
		s.principals[u.ID] = p
	}
	for _, t := range o.Tokens {
		if !strings.Contains(t.ID, "!") {
			return fmt.Errorf("token id %q must be user@realm!name", t.ID)
		}
		p := newPrincipal(t.ID, t.Privileges)
		p.secret = t.Secret
		s.principals[t.ID] = p
	}
	return nil
}

func templateFormat(name string) string {
	switch {
	case strings.HasSuffix(name, ".tar.zst"):
		return "tzst"
	case strings.HasSuffix(name, ".tar.gz"):
		return "tgz"
	case strings.HasSuffix(name, ".tar.xz"):
		return "txz"
	}
	return "raw"
}

func templateSize(name string) uint64 {
	if strings.Contains(name, "alpine") {
		return 3_174_891
	}
	return 126_337_245
}

// request is one API call being served.
type request struct {
	r      *http.Request
	rel    string
	route  *route
	path   map[string]string
	params map[string]string
	auth   *principal
}

func (rq *request) node() string { return rq.path["node"] }

func (rq *request) vmid() int {
	n, _ := strconv.Atoi(rq.path["vmid"])
	return n
}

func (rq *request) authID() string {
	if rq.auth == nil {
		return ""
	}
	return rq.auth.id
}

// ServeHTTP dispatches /api2/json/… and /_sim/….
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_sim" || strings.HasPrefix(r.URL.Path, "/_sim/") {
		s.serveAdmin(w, r)
		return
	}
	rel, ok := strings.CutPrefix(r.URL.Path, "/api2/json")
	if !ok || (rel != "" && rel[0] != '/') {
		writeError(w, &apiError{status: http.StatusNotImplemented, msg: "Not Implemented", emptyBody: true}, s.now())
		return
	}
	if rel == "" {
		rel = "/"
	}
	rt, pathParams := s.router.match(r.Method, rel)
	key := r.Method + " " + rel
	if rt != nil {
		key = rt.key
	}
	s.count(key)

	fault := s.takeRequestFault(r.Method, rel, rt)
	if fault != nil && !s.applyFaultBefore(w, r, fault) {
		return
	}

	data, apiErr := s.serveAPI(r, rel, rt, pathParams)
	if fault != nil && s.applyFaultAfter(w, r, fault) {
		return
	}
	if apiErr != nil {
		s.mu.Lock()
		delay := s.opts.UnauthorizedDelay
		s.mu.Unlock()
		if apiErr.status == http.StatusUnauthorized && delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		s.opts.Logf("%s %s -> %d %s", r.Method, r.URL.RequestURI(), apiErr.status, reasonPhrase(apiErr.msg))
		writeError(w, apiErr, s.now())
		return
	}
	if r.Method != http.MethodGet {
		s.mu.Lock()
		s.bumpVersion()
		s.mu.Unlock()
	}
	s.opts.Logf("%s %s -> 200", r.Method, r.URL.RequestURI())
	writeData(w, data, s.now())
}

// serveAPI runs pveproxy's pipeline in PVE's order: auth, content check,
// parameter extraction (extract_params), routing, the path/body conflict
// check, the permission check, the proxy decision, then the method's
// handle(), which validates the parameters against the schema (400) and
// runs the handler. PVE's rest_handler checks permissions (403) before
// handle() validates, so a caller without rights never learns that its
// parameters were wrong; permission checks a handler makes itself come
// after validation.
func (s *Server) serveAPI(r *http.Request, rel string, rt *route, pathParams map[string]string) (any, *apiError) {
	auth, e := s.authenticate(r, rel)
	if e != nil {
		return nil, e
	}
	if r.Method == http.MethodGet || r.Method == http.MethodDelete || r.Method == http.MethodHead {
		if r.ContentLength > 0 || len(r.TransferEncoding) > 0 {
			return nil, &apiError{status: http.StatusNotImplemented, msg: fmt.Sprintf("Unexpected content for method '%s'", r.Method), emptyBody: true}
		}
	}
	raw, e := readParams(r)
	if e != nil {
		return nil, e
	}
	if rt == nil {
		return nil, &apiError{status: http.StatusNotImplemented, msg: fmt.Sprintf("Method '%s %s' not implemented", r.Method, rel)}
	}
	if e := mergePathParams(raw, pathParams); e != nil {
		return nil, e
	}
	rq := &request{r: r, rel: rel, route: rt, path: pathParams, auth: auth}
	if rt.perm != nil {
		if e := rt.perm(s, rq); e != nil {
			return nil, e
		}
	}
	if n, ok := pathParams["node"]; ok {
		if e := s.checkNodeReachable(n); e != nil {
			return nil, e
		}
	}
	if r.Method != http.MethodGet {
		// Counted before validation: a call is aimed at a guest whether
		// or not PVE then refuses it.
		s.countMutation(raw["vmid"].Text)
	}
	params, errs := rt.schema.Validate(raw)
	if errs != nil {
		return nil, paramErr(errs)
	}
	rq.params = params
	return rt.handler(s, rq)
}

// mergePathParams adds the path parameters to the request's; a body or
// query value that differs from the path is rest_handler's 400.
func mergePathParams(raw map[string]pveschema.Value, pathParams map[string]string) *apiError {
	for k, v := range pathParams {
		if pv, dup := raw[k]; dup && (pv.Kind == pveschema.Array || pv.Text != v) {
			return paramErr1(k, "duplicate parameter (already defined in URI) with conflicting values!")
		}
		raw[k] = pveschema.TextValue(v)
	}
	return nil
}

// checkNodeReachable is the proxy step: an unknown node fails the hostname
// lookup, an offline node fails the connection (595).
func (s *Server) checkNodeReachable(name string) *apiError {
	s.mu.Lock()
	n := s.nodes[name]
	online := n != nil && n.online
	s.mu.Unlock()
	if n == nil {
		return errf("hostname lookup '%s' failed - failed to get address info for: %s: Name or service not known", name, name)
	}
	if !online {
		return &apiError{status: 595, msg: "Connection refused", emptyBody: true}
	}
	return nil
}

func (s *Server) count(key string) {
	s.cmu.Lock()
	s.counters[key]++
	s.cmu.Unlock()
}
