package proxmox_test

import (
	"testing"

	"github.com/pve-operator/pve-operator/internal/proxmox"
)

func TestParseEndpoint(t *testing.T) {
	const api = "https://pve1.example.com:8006/api2/json"
	tests := []struct {
		name     string
		endpoint string
		wantAPI  string
		wantHost string
		ok       bool
	}{
		{"a bare host:port gets /api2/json", "https://pve1.example.com:8006", api, "pve1.example.com", true},
		{"a trailing slash is tolerated", "https://pve1.example.com:8006/", api, "pve1.example.com", true},
		{"an existing /api2/json is kept once", "https://pve1.example.com:8006/api2/json", api, "pve1.example.com", true},
		{"an existing /api2/json with a trailing slash is kept once", "https://pve1.example.com:8006/api2/json/", api, "pve1.example.com", true},
		{"surrounding spaces, a query and a fragment are dropped", " https://pve1.example.com:8006/?x=1#top ", api, "pve1.example.com", true},
		{"a reverse-proxy prefix is kept", "https://proxy.example.com/pve/", "https://proxy.example.com/pve/api2/json", "proxy.example.com", true},
		{"an IPv6 address loses its brackets in Host", "https://[2001:db8::1]:8006", "https://[2001:db8::1]:8006/api2/json", "2001:db8::1", true},
		{"plain http is refused", "http://pve1:8006", "", "", false},
		{"a URL with credentials is refused", "https://root:pw@pve1:8006", "", "", false},
		{"a missing host is refused", "https:///api2/json", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep, err := proxmox.ParseEndpoint(tt.endpoint)
			if (err == nil) != tt.ok || ep.APIURL() != tt.wantAPI || ep.Host() != tt.wantHost {
				t.Fatalf("ParseEndpoint(%q) = %q, %q, %v; want %q, %q", tt.endpoint, ep.APIURL(), ep.Host(), err, tt.wantAPI, tt.wantHost)
			}
		})
	}
}

func TestClientKeepsTheParsedEndpoint(t *testing.T) {
	srv := newSim(t)
	for _, form := range []string{"", "/", "/api2/json", "/api2/json/"} {
		t.Run("the endpoint written as host:port"+form+" gives the simulator's base URL", func(t *testing.T) {
			c := newClient(t, srv, func(c *proxmox.Config) { c.Endpoint += form })
			if got := c.Endpoint().APIURL(); got != srv.URL() {
				t.Fatalf("Endpoint().APIURL() = %q, want %q", got, srv.URL())
			}
			if _, err := c.Version(testCtx(t)); err != nil {
				t.Fatal(err)
			}
		})
	}
}
