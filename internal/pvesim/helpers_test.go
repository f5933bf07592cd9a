package pvesim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	proxmox "github.com/luthermonson/go-proxmox"
	"golang.org/x/crypto/ssh"

	"github.com/pve-operator/pve-operator/internal/pvesim/sshd"
)

// newSim starts a simulator with the dev defaults, adjusted by mods.
func newSim(t testing.TB, mods ...func(*Options)) *Server {
	t.Helper()
	o := DefaultOptions()
	for _, m := range mods {
		m(&o)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// pve returns a go-proxmox v0.8.2 client authenticated with the default token.
func pve(t testing.TB, srv *Server, opts ...proxmox.Option) *proxmox.Client {
	t.Helper()
	base := []proxmox.Option{
		proxmox.WithHTTPClient(srv.HTTPClient()),
		proxmox.WithAPIToken(DefaultTokenID, DefaultTokenSecret),
	}
	return proxmox.NewClient(srv.URL(), append(base, opts...)...)
}

func ctx(t testing.TB) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// rawResp is a response read without any client library in between.
type rawResp struct {
	Status string // "500 CT is locked (backup)"
	Code   int
	Header http.Header
	Body   []byte
	// Close reports "Connection: close" (net/http strips the header).
	Close bool
}

func (r rawResp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("decode %q: %v", r.Body, err)
	}
	return m
}

// data decodes the "data" member into v.
func (r rawResp) data(t testing.TB, v any) {
	t.Helper()
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(r.Body, &env); err != nil {
		t.Fatalf("decode envelope %q: %v", r.Body, err)
	}
	if err := json.Unmarshal(env.Data, v); err != nil {
		t.Fatalf("decode data %s: %v", env.Data, err)
	}
}

type rawOpt func(*http.Request)

func withHeader(k, v string) rawOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

func noAuth() rawOpt { return func(r *http.Request) { r.Header.Del("Authorization") } }

// form encodes form parameters.
func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}

// raw sends one request with the default token. A body starting with "{" is
// sent as JSON, any other non-empty body as a form.
func raw(t testing.TB, srv *Server, method, path, body string, opts ...rawOpt) rawResp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	u := path
	if !strings.HasPrefix(path, "https://") {
		u = srv.URL() + path
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "PVEAPIToken="+DefaultTokenID+"="+DefaultTokenSecret)
	if body != "" {
		if strings.HasPrefix(body, "{") {
			req.Header.Set("Content-Type", "application/json")
		} else {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	for _, o := range opts {
		o(req)
	}
	resp, err := srv.HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return rawResp{Status: resp.Status, Code: resp.StatusCode, Header: resp.Header, Body: b, Close: resp.Close}
}

// mustOK asserts a 200 and returns the response.
func mustOK(t testing.TB, r rawResp) rawResp {
	t.Helper()
	if r.Code != 200 {
		t.Fatalf("want 200, got %q body %s", r.Status, r.Body)
	}
	return r
}

// upidOf reads a UPID from a 200 response.
func upidOf(t testing.TB, r rawResp) string {
	t.Helper()
	mustOK(t, r)
	var upid string
	r.data(t, &upid)
	if !strings.HasPrefix(upid, "UPID:") {
		t.Fatalf("not a UPID: %q", upid)
	}
	return upid
}

// waitTask waits for a task and returns its view.
func waitTask(t testing.TB, srv *Server, upid string) TaskView {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	v, err := srv.WaitTask(c, upid)
	if err != nil {
		t.Fatalf("wait for %s: %v", upid, err)
	}
	return v
}

// runOK starts an async call and waits for TASK OK.
func runOK(t testing.TB, srv *Server, method, path, body string) TaskView {
	t.Helper()
	v := waitTask(t, srv, upidOf(t, raw(t, srv, method, path, body)))
	if v.ExitStatus != "OK" {
		t.Fatalf("%s %s: task ended %q; log:\n%s", method, path, v.ExitStatus, strings.Join(v.Log, "\n"))
	}
	return v
}

// createCT creates a CT through the API and waits for it.
func createCT(t testing.TB, srv *Server, node string, vmid int, extra ...string) {
	t.Helper()
	kv := append([]string{"vmid", fmt.Sprint(vmid), "ostemplate", DebianTemplate, "rootfs", "local-lvm:8",
		"hostname", fmt.Sprintf("ct%d", vmid), "net0", "name=eth0,bridge=vmbr0,ip=dhcp"}, extra...)
	runOK(t, srv, "POST", "/nodes/"+node+"/lxc", form(kv...))
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// setLock sets or (with "") removes a CT's lock out of band.
func setLock(t testing.TB, srv *Server, vmid int, lock string) {
	t.Helper()
	if err := srv.SetLock(vmid, lock); err != nil {
		t.Fatalf("set lock %q on CT %d: %v", lock, vmid, err)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// pveNode is the go-proxmox handle of a node.
func pveNode(t testing.TB, srv *Server, node string) *proxmox.Node {
	t.Helper()
	n, err := pve(t, srv).Node(ctx(t), node)
	if err != nil {
		t.Fatalf("node %s: %v", node, err)
	}
	return n
}

// pveStorage is the go-proxmox handle of a storage on pve1.
func pveStorage(t testing.TB, srv *Server, storage string) *proxmox.Storage {
	t.Helper()
	st, err := pveNode(t, srv, "pve1").Storage(ctx(t), storage)
	if err != nil {
		t.Fatalf("storage %s: %v", storage, err)
	}
	return st
}

// pveCT is the go-proxmox handle of CT vmid on pve1.
func pveCT(t testing.TB, srv *Server, vmid int) *proxmox.Container {
	t.Helper()
	ct, err := pveNode(t, srv, "pve1").Container(ctx(t), vmid)
	if err != nil {
		t.Fatalf("CT %d: %v", vmid, err)
	}
	return ct
}

// asToken sends a raw request as another API token.
func asToken(id, secret string) rawOpt {
	return withHeader("Authorization", "PVEAPIToken="+id+"="+secret)
}

// statusIs asserts the whole status line, PVE's first message line.
func statusIs(t testing.TB, r rawResp, want string) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("got %q (body %s), want %q", r.Status, r.Body, want)
	}
}

// replyIs asserts the status line and a text the body contains ("" for
// any body).
func replyIs(t testing.TB, r rawResp, status, contains string) {
	t.Helper()
	if r.Status != status || !strings.Contains(string(r.Body), contains) {
		t.Fatalf("got %q %s, want %q with %q", r.Status, r.Body, status, contains)
	}
}

// paramErrorIs asserts a 400 whose errors[param] contains want.
func paramErrorIs(t testing.TB, r rawResp, param, want string) {
	t.Helper()
	statusIs(t, r, "400 Parameter verification failed.")
	errs, _ := r.json(t)["errors"].(map[string]any)
	if got, _ := errs[param].(string); !strings.Contains(got, want) {
		t.Fatalf("errors[%s] = %q, want it to contain %q (body %s)", param, got, want, r.Body)
	}
}

// taskOf starts an asynchronous call and waits for its task.
func taskOf(t *testing.T, srv *Server, method, path, body string, opts ...rawOpt) TaskView {
	t.Helper()
	return waitTask(t, srv, upidOf(t, raw(t, srv, method, path, body, opts...)))
}

// newSSHSim starts a simulator with its node SSH daemon and returns a client
// logged in to it as root; mods change the daemon's options.
func newSSHSim(t *testing.T, mods ...func(*SSHOptions)) (*Server, *ssh.Client) {
	t.Helper()
	signer, err := sshd.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	srv := newSim(t, func(o *Options) {
		o.SSH = &SSHOptions{AuthorizedKeys: []string{string(ssh.MarshalAuthorizedKey(signer.PublicKey()))}}
		for _, mod := range mods {
			mod(o.SSH)
		}
	})
	if srv.SSH() == nil {
		t.Fatal("ssh not started")
	}
	c, err := ssh.Dial("tcp", srv.SSH().Addr(), &ssh.ClientConfig{
		User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(srv.SSH().HostKey()), Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return srv, c
}

// sshRun runs one command with stdin and returns stdout, stderr and the
// exit status.
func sshRun(t *testing.T, c *ssh.Client, command, stdin string) (string, string, int) {
	t.Helper()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	var stdout, stderr bytes.Buffer
	sess.Stdout, sess.Stderr = &stdout, &stderr
	sess.Stdin = strings.NewReader(stdin)
	status := 0
	if err := sess.Run(command); err != nil {
		var exitErr *ssh.ExitError
		if !errors.As(err, &exitErr) {
			t.Fatalf("run %q: %v", command, err)
		}
		status = exitErr.ExitStatus()
	}
	return stdout.String(), stderr.String(), status
}

// apiConfig reads GET /nodes/{node}/lxc/{vmid}/config.
func apiConfig(t *testing.T, srv *Server, node string, vmid int) map[string]any {
	t.Helper()
	var conf map[string]any
	mustOK(t, raw(t, srv, "GET", fmt.Sprintf("/nodes/%s/lxc/%d/config", node, vmid), "")).data(t, &conf)
	return conf
}
