package sshd

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// ContainerLookup answers the only two questions `pct exec` asks before running
// anything: does the container's config exist on this node, and is it running.
// It is called from connection goroutines, once per exec request, so it must be
// safe for concurrent use; it is never cached, so state changes apply at once.
type ContainerLookup interface {
	ContainerState(vmid int) (exists bool, running bool)
}

// ContainerLookupFunc adapts a plain function to ContainerLookup.
type ContainerLookupFunc func(vmid int) (exists bool, running bool)

// ContainerState implements ContainerLookup.
func (f ContainerLookupFunc) ContainerState(vmid int) (bool, bool) { return f(vmid) }

// Options configures a Server. Only Containers is required.
type Options struct {
	// Addr is the listen address; default "127.0.0.1:0". Anything that is not a
	// loopback IP (or "localhost") is refused: commands run unsandboxed.
	Addr string
	// HostKey is the server's host key. When nil a fresh ed25519 key is generated,
	// so clients must be given KnownHostsLine() after every New; pass a key (see
	// LoadOrCreateHostKey) to keep known_hosts valid across restarts.
	HostKey ssh.Signer
	// AuthorizedKeys are the client public keys allowed to log in (any user name).
	// With none, every login is rejected.
	AuthorizedKeys []ssh.PublicKey
	// Containers tells the server which containers exist and run on this node.
	Containers ContainerLookup
	// Configs gives cat, tee, echo, `pct config` and `pct list` the node's
	// container config files. When nil only `pct exec` is simulated.
	Configs ConfigFiles
	// Volumes gives `pct exec` the files on each container's data volumes,
	// laid out under the mount paths while a command runs. When nil, a
	// mount path is a plain directory of the scratch directory.
	Volumes MountedVolumes
	// NodeName appears in pct's error messages; default "pve1".
	NodeName string
	// ScratchRoot holds one working directory per container (<ScratchRoot>/<vmid>).
	// Default: a temporary directory removed by Close.
	ScratchRoot string
	// Logf receives connection and command events; nil discards them.
	Logf func(format string, args ...any)
}

// handshakeTimeout bounds how long an idle or slow TCP peer can hold a
// connection slot before it has authenticated.
const handshakeTimeout = 10 * time.Second

// closeWait bounds how long Close waits for sessions after killing their
// processes; a command that escaped its process group (setsid) could otherwise
// keep its output pipes, and Close, open forever.
const closeWait = 10 * time.Second

// Server is a running simulated node SSH daemon.
type Server struct {
	listener    net.Listener
	config      *ssh.ServerConfig
	hostKey     ssh.Signer
	containers  ContainerLookup
	configs     ConfigFiles
	volumes     MountedVolumes
	nodeName    string
	scratchRoot string
	ownsScratch bool
	logf        func(format string, args ...any)

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	mounts map[int]*ctMounts // by VMID, created on first use
	closed bool
	wg     sync.WaitGroup
}

// New validates opts, starts listening and serves connections in the background
// until Close.
func New(opts Options) (*Server, error) {
	if opts.Containers == nil {
		return nil, errors.New("sshd: Options.Containers is required")
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if err := requireLoopback(addr); err != nil {
		return nil, err
	}
	hostKey := opts.HostKey
	if hostKey == nil {
		var err error
		if hostKey, err = GenerateKey(); err != nil {
			return nil, err
		}
	}
	s := &Server{
		hostKey:    hostKey,
		containers: opts.Containers,
		configs:    opts.Configs,
		volumes:    opts.Volumes,
		nodeName:   opts.NodeName,
		logf:       opts.Logf,
		conns:      map[net.Conn]struct{}{},
		mounts:     map[int]*ctMounts{},
	}
	if s.nodeName == "" {
		s.nodeName = "pve1"
	}
	if s.logf == nil {
		s.logf = func(string, ...any) {}
	}
	if err := s.setupScratch(opts.ScratchRoot); err != nil {
		return nil, err
	}
	s.config = newServerConfig(hostKey, opts.AuthorizedKeys)

	l, err := net.Listen("tcp", addr)
	if err != nil {
		s.removeScratch()
		return nil, fmt.Errorf("sshd: listen on %s: %w", addr, err)
	}
	s.listener = l
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Addr is the host:port the server listens on, e.g. "127.0.0.1:40123".
func (s *Server) Addr() string { return s.listener.Addr().String() }

// HostKey is the public half of the server's host key.
func (s *Server) HostKey() ssh.PublicKey { return s.hostKey.PublicKey() }

// KnownHostsLine returns an OpenSSH known_hosts line trusting this server's host
// key for the given host names (host or host:port; a non-22 port becomes
// "[host]:port"). With no names it uses Addr(), i.e. "[127.0.0.1]:<port>".
func (s *Server) KnownHostsLine(hostnames ...string) string {
	if len(hostnames) == 0 {
		hostnames = []string{s.Addr()}
	}
	return knownhosts.Line(hostnames, s.HostKey())
}

// ScratchDir is the directory commands for container vmid run in.
func (s *Server) ScratchDir(vmid int) string {
	return scratchDir(s.scratchRoot, vmid)
}

// Close stops accepting, drops every connection (which kills the process group
// of every running command) and waits for the sessions to finish.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	err := s.listener.Close()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(closeWait):
		err = errors.Join(err, errors.New("sshd: sessions still running after close"))
	}
	s.removeScratch()
	return err
}

func (s *Server) setupScratch(root string) error {
	if root == "" {
		dir, err := os.MkdirTemp("", "pvesim-sshd-")
		if err != nil {
			return fmt.Errorf("sshd: create scratch root: %w", err)
		}
		s.scratchRoot, s.ownsScratch = dir, true
		return nil
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return fmt.Errorf("sshd: create scratch root: %w", err)
	}
	s.scratchRoot = root
	return nil
}

func (s *Server) removeScratch() {
	if s.ownsScratch {
		_ = os.RemoveAll(s.scratchRoot)
	}
}

func newServerConfig(hostKey ssh.Signer, authorized []ssh.PublicKey) *ssh.ServerConfig {
	keys := make([][]byte, 0, len(authorized))
	for _, k := range authorized {
		keys = append(keys, k.Marshal())
	}
	// No PasswordCallback or KeyboardInteractiveCallback: like a hardened node,
	// only public keys are offered, so password attempts fail.
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			for _, k := range keys {
				if bytes.Equal(k, key.Marshal()) {
					return &ssh.Permissions{}, nil
				}
			}
			return nil, fmt.Errorf("public key %s not authorized for %q", ssh.FingerprintSHA256(key), meta.User())
		},
	}
	cfg.AddHostKey(hostKey)
	return cfg
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.listener.Accept()
		if err != nil {
			return // listener closed
		}
		if !s.track(c) {
			_ = c.Close()
			return
		}
		s.wg.Add(1)
		go s.serveConn(c)
	}
}

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) serveConn(c net.Conn) {
	defer s.wg.Done()
	defer s.untrack(c)
	defer c.Close()

	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	sc, chans, reqs, err := ssh.NewServerConn(c, s.config)
	if err != nil {
		s.logf("sshd: handshake with %s failed: %v", c.RemoteAddr(), err)
		return
	}
	_ = c.SetDeadline(time.Time{})
	s.logf("sshd: %s logged in as %q", c.RemoteAddr(), sc.User())
	go ssh.DiscardRequests(reqs)

	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only session channels are simulated")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			continue
		}
		s.wg.Add(1)
		go s.serveSession(ch, chReqs)
	}
}

// GenerateKey makes a fresh ed25519 key: the host key of a server given
// none, and the client key tests log in with.
func GenerateKey() (ssh.Signer, error) {
	_, signer, err := generateHostKeyPair()
	return signer, err
}

func generateHostKeyPair() (ed25519.PrivateKey, ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("sshd: generate host key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, nil, fmt.Errorf("sshd: generate host key: %w", err)
	}
	return priv, signer, nil
}

func requireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("sshd: invalid listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("sshd: refusing to listen on %q: commands run unsandboxed, so only loopback addresses are allowed", addr)
}
