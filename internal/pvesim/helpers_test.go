package pvesim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	proxmox "github.com/luthermonson/go-proxmox"
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

// pveCT is the go-proxmox handle of CT vmid on pve1.
func pveCT(t testing.TB, srv *Server, vmid int) *proxmox.Container {
	t.Helper()
	n, err := pve(t, srv).Node(ctx(t), "pve1")
	if err != nil {
		t.Fatalf("node pve1: %v", err)
	}
	ct, err := n.Container(ctx(t), vmid)
	if err != nil {
		t.Fatalf("CT %d: %v", vmid, err)
	}
	return ct
}
