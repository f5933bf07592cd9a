package controllers

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/proxmox"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

func newTestSim(t *testing.T) (*pvesim.Server, proxmox.Config) {
	t.Helper()
	srv, err := pvesim.New(pvesim.DefaultOptions())
	if err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv, proxmox.Config{
		Endpoint:    strings.TrimSuffix(srv.URL(), "/api2/json"),
		CABundle:    srv.CACertPEM(),
		Credentials: proxmox.Credentials{TokenID: pvesim.DefaultTokenID, TokenSecret: pvesim.DefaultTokenSecret},
	}
}

func testHost(name string) *v1alpha1.ProxmoxHost {
	return &v1alpha1.ProxmoxHost{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func mustConnect(t *testing.T, h *Hosts, name, version string, cfg proxmox.Config) *HostEntry {
	t.Helper()
	e, err := h.connect(testHost(name), version, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestHostsOwnTheClients: a host's client is reused while its fingerprint
// is unchanged and rebuilt otherwise.
func TestHostsOwnTheClients(t *testing.T) {
	_, base := newTestSim(t)
	tests := []struct {
		name    string
		host    string
		version string
		mod     func(*proxmox.Config)
		same    bool
	}{
		{"the same host, version and config reuse the client", "host-a", "rv1", nil, true},
		{"a new resourceVersion rebuilds the client", "host-a", "rv2", nil, false},
		{"a rotated token secret rebuilds it even with the same version", "host-a", "rv1", func(c *proxmox.Config) { c.Credentials.TokenSecret = "rotated" }, false},
		{"a new CA bundle rebuilds it", "host-a", "rv1", func(c *proxmox.Config) { c.CABundle = append([]byte("\n"), c.CABundle...) }, false},
		{"a new certificate pin rebuilds it", "host-a", "rv1", func(c *proxmox.Config) {
			c.CABundle, c.CertificateFingerprint = nil, strings.Repeat("AB:", 31)+"AB"
		}, false},
		{"another host gets its own client", "host-b", "rv1", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHosts()
			first := mustConnect(t, h, "host-a", "rv1", base)
			cfg := base
			if tt.mod != nil {
				tt.mod(&cfg)
			}
			got := mustConnect(t, h, tt.host, tt.version, cfg)
			if (got.Client == first.Client) != tt.same || (got == first) != tt.same {
				t.Fatalf("same client = %t, same entry = %t, want %t", got.Client == first.Client, got == first, tt.same)
			}
		})
	}
	t.Run("after a rebuild the new client is reused and works", func(t *testing.T) {
		h := NewHosts()
		mustConnect(t, h, "host-a", "rv1", base)
		a := mustConnect(t, h, "host-a", "rv9", base)
		if b := mustConnect(t, h, "host-a", "rv9", base); a.Client != b.Client {
			t.Fatal("rebuilt client not reused")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := a.Client.Version(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("forget drops the client", func(t *testing.T) {
		h := NewHosts()
		a := mustConnect(t, h, "host-a", "rv1", base)
		h.forget("host-a")
		if _, ok := h.Get("host-a"); ok {
			t.Fatal("forgotten host still registered")
		}
		if b := mustConnect(t, h, "host-a", "rv1", base); a.Client == b.Client {
			t.Fatal("forgotten client returned again")
		}
	})
	t.Run("an invalid config is an error and keeps the current entry", func(t *testing.T) {
		h := NewHosts()
		a := mustConnect(t, h, "host-a", "rv1", base)
		bad := base
		bad.Endpoint = "http://insecure.example.com"
		if _, err := h.connect(testHost("host-a"), "rv2", bad); err == nil {
			t.Fatal("http endpoint accepted")
		}
		if _, err := h.connect(testHost("host-c"), "rv1", bad); err == nil {
			t.Fatal("http endpoint accepted")
		}
		if e, ok := h.Get("host-a"); !ok || e != a {
			t.Fatal("a failed build replaced the working entry")
		}
		if _, ok := h.Get("host-c"); ok {
			t.Fatal("a failed build was registered")
		}
	})
}

// TestHostEntryEndpoint: every spelling of an endpoint gives the entry the
// same parsed endpoint, whose host is where provisioning connects over SSH.
func TestHostEntryEndpoint(t *testing.T) {
	srv, base := newTestSim(t)
	simHost, _, err := net.SplitHostPort(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, suffix string }{
		{"an endpoint ending at the port", ""},
		{"an endpoint with a trailing slash", "/"},
		{"an endpoint ending in /api2/json", "/api2/json"},
		{"an endpoint ending in /api2/json/", "/api2/json/"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" gives the simulator's base URL and host", func(t *testing.T) {
			cfg := base
			cfg.Endpoint += tt.suffix
			e := mustConnect(t, NewHosts(), "host-a", "rv1", cfg)
			if e.Endpoint.APIURL() != srv.URL() || e.Endpoint.Host() != simHost {
				t.Fatalf("Endpoint = %q (host %q), want %q (host %q)", e.Endpoint.APIURL(), e.Endpoint.Host(), srv.URL(), simHost)
			}
		})
	}
}

// TestHostEntryRemembersApplications: what the controllers remember about
// an Application lives on its host's entry and goes with the Application or
// the host.
func TestHostEntryRemembersApplications(t *testing.T) {
	_, base := newTestSim(t)
	const uid = "uid-1"
	tests := []struct {
		name string
		// after runs between marking a mutation and the check.
		after    func(t *testing.T, h *Hosts)
		remember bool
	}{
		{"a rebuilt client keeps the memory", func(t *testing.T, h *Hosts) { mustConnect(t, h, "host-a", "rv2", base) }, true},
		{"the Application's deletion drops it", func(t *testing.T, h *Hosts) {
			e, _ := h.Get("host-a")
			e.forgetApp(uid)
		}, false},
		{"a forgotten host drops it", func(t *testing.T, h *Hosts) {
			h.forget("host-a")
			mustConnect(t, h, "host-a", "rv1", base)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHosts()
			e := mustConnect(t, h, "host-a", "rv1", base)
			e.markMutation(uid)
			if !e.noteOnce(uid, "note") {
				t.Fatal("first note not new")
			}
			tt.after(t, h)
			e, _ = h.Get("host-a")
			stale := time.Now().Add(-time.Hour)
			if got := !e.freshEnough(uid, stale); got != tt.remember {
				t.Errorf("mutation remembered = %t, want %t", got, tt.remember)
			}
			if got := !e.noteOnce(uid, "note"); got != tt.remember {
				t.Errorf("note remembered = %t, want %t", got, tt.remember)
			}
		})
	}
}

// TestRestoreHold: a Restore's hold keeps the Application off the container
// and no listing before it lapses counts; its release counts the next
// listing and asks once for the config to be read again.
func TestRestoreHold(t *testing.T) {
	const uid = "uid-1"
	e := &HostEntry{apps: &appMemory{}}
	if held, released := e.restoreHold(uid); held || released {
		t.Fatalf("an Application never held: held=%t released=%t", held, released)
	}
	e.holdForRestore(uid, time.Now().Add(time.Minute))
	if held, released := e.restoreHold(uid); !held || released {
		t.Fatalf("while held: held=%t released=%t", held, released)
	}
	if e.freshEnough(uid, time.Now()) {
		t.Fatal("a listing taken during the hold counts as fresh")
	}
	e.releaseFromRestore(uid)
	if e.freshEnough(uid, time.Now().Add(-time.Second)) || !e.freshEnough(uid, time.Now().Add(time.Second)) {
		t.Fatal("after the release only a later listing counts")
	}
	if held, released := e.restoreHold(uid); held || !released {
		t.Fatalf("first look after the release: held=%t released=%t", held, released)
	}
	if _, released := e.restoreHold(uid); released {
		t.Fatal("the release was reported twice")
	}
	e.holdForRestore(uid, time.Now().Add(-time.Second))
	if held, _ := e.restoreHold(uid); held {
		t.Fatal("a lapsed hold still holds")
	}
}
