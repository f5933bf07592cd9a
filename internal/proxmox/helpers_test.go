package proxmox_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pve-operator/pve-operator/internal/proxmox"
	"github.com/pve-operator/pve-operator/internal/pveparams"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

// Every test talks HTTPS to a real pvesim through go-proxmox; nothing is
// mocked.

const (
	testPassword = "pvesim-root" // pvesim.DefaultRootPassword, spelled out for the leak checks
	node1        = "pve1"
	node2        = "pve2"
)

func newSim(t testing.TB, mods ...func(*pvesim.Options)) *pvesim.Server {
	t.Helper()
	o := pvesim.DefaultOptions()
	for _, m := range mods {
		m(&o)
	}
	srv, err := pvesim.New(o)
	if err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func tokenCreds() proxmox.Credentials {
	return proxmox.Credentials{TokenID: pvesim.DefaultTokenID, TokenSecret: pvesim.DefaultTokenSecret}
}

func simConfig(srv *pvesim.Server) proxmox.Config {
	return proxmox.Config{
		// Without /api2/json: New must append it.
		Endpoint:    strings.TrimSuffix(srv.URL(), "/api2/json"),
		CABundle:    srv.CACertPEM(),
		Credentials: tokenCreds(),
	}
}

func newClient(t testing.TB, srv *pvesim.Server, mods ...func(*proxmox.Config)) *proxmox.APIClient {
	t.Helper()
	cfg := simConfig(srv)
	for _, m := range mods {
		m(&cfg)
	}
	c, err := proxmox.New(cfg)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// finish waits (in the simulator, not the client) for a task to end and
// returns what the client says about it.
func finish(ctx context.Context, t testing.TB, srv *pvesim.Server, c proxmox.Client, upid proxmox.UPID) proxmox.TaskStatus {
	t.Helper()
	if _, err := srv.WaitTask(ctx, upid.String()); err != nil {
		t.Fatalf("wait for %s: %v", upid, err)
	}
	st, err := c.TaskStatus(ctx, upid.String())
	if err != nil {
		t.Fatalf("task status %s: %v", upid, err)
	}
	return st
}

// mustSucceed waits for the task and fails the test unless it succeeded.
func mustSucceed(ctx context.Context, t testing.TB, srv *pvesim.Server, c proxmox.Client, upid proxmox.UPID, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("start task: %v", err)
	}
	if st := finish(ctx, t, srv, c, upid); st.State != proxmox.TaskSucceeded {
		t.Fatalf("task %s ended %s: %v (log: %s)", upid, st.State, st.Err, srv.TaskLog(upid.String()))
	}
}

// params builds an ordered parameter list from key, value pairs.
func params(kv ...string) pveparams.List {
	var l pveparams.List
	for i := 0; i+1 < len(kv); i += 2 {
		l.Add(kv[i], kv[i+1])
	}
	return l
}

// debianCT are the parameters of a small container from the Debian template.
func debianCT() pveparams.List {
	return params("ostemplate", pvesim.DebianTemplate, "rootfs", "local-lvm:4", "unprivileged", "1")
}

func seedCT(t testing.TB, srv *pvesim.Server, node string, vmid int, running bool, cfg map[string]string) {
	t.Helper()
	if err := srv.AddContainer(node, vmid, cfg, running); err != nil {
		t.Fatalf("seed CT %d: %v", vmid, err)
	}
}

// assertNoSecrets fails if err's text (or its %+v/%#v rendering) contains a
// credential.
func assertNoSecrets(t testing.TB, err error, extra ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, secret := range append([]string{pvesim.DefaultTokenSecret, testPassword}, extra...) {
		for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
			if strings.Contains(s, secret) {
				t.Errorf("error leaks a secret: %s", s)
			}
		}
	}
}

func sprint(format string, a ...any) string { return fmt.Sprintf(format, a...) }
