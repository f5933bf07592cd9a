package proxmox_test

import (
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/pve-operator/pve-operator/internal/proxmox"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

// presentedFingerprint dials srv without verification and hashes the leaf
// certificate it sends, so the test does not trust the simulator's own idea
// of its fingerprint.
func presentedFingerprint(t *testing.T, srv *pvesim.Server) string {
	t.Helper()
	conn, err := tls.Dial("tcp", srv.Addr(), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // only reads the certificate
	if err != nil {
		t.Fatalf("dial simulator: %v", err)
	}
	defer conn.Close()
	return proxmox.FormatCertificateFingerprint(sha256.Sum256(conn.ConnectionState().PeerCertificates[0].Raw))
}

func TestCertificatePinning(t *testing.T) {
	srv := newSim(t, func(o *pvesim.Options) { o.Addr = "0.0.0.0:0" })
	other := newSim(t)
	right, wrong := presentedFingerprint(t, srv), presentedFingerprint(t, other)
	_, port, _ := net.SplitHostPort(srv.Addr())
	pin := func(fp string) func(*proxmox.Config) {
		return func(c *proxmox.Config) { c.CABundle, c.CertificateFingerprint = nil, fp }
	}

	tests := []struct {
		name   string
		mods   []func(*proxmox.Config)
		wantOK bool
	}{
		{"the server's fingerprint in upper case connects", []func(*proxmox.Config){pin(right)}, true},
		{"the server's fingerprint in lower case connects", []func(*proxmox.Config){pin(strings.ToLower(right))}, true},
		{
			"a pin connects to an address the certificate does not name",
			// 127.0.0.2 reaches the same listener but is not in the certificate.
			[]func(*proxmox.Config){pin(right), func(c *proxmox.Config) { c.Endpoint = "https://127.0.0.2:" + port }},
			true,
		},
		{
			"a password login goes through the pin too",
			[]func(*proxmox.Config){pin(right), func(c *proxmox.Config) {
				c.Credentials = proxmox.Credentials{Username: "root@pam", Password: testPassword}
			}},
			true,
		},
		{"another certificate's fingerprint is a TLS error", []func(*proxmox.Config){pin(wrong)}, false},
		{"no CA bundle and no pin is a TLS error, as before", []func(*proxmox.Config){pin("")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newClient(t, srv, tt.mods...).Version(testCtx(t))
			if tt.wantOK {
				if err != nil {
					t.Fatalf("Version() = %v", err)
				}
				return
			}
			if !proxmox.IsTLS(err) {
				t.Fatalf("Version() = %v, want a TLS error", err)
			}
			assertNoSecrets(t, err)
		})
	}
}

func TestFingerprintMismatchNamesBothCertificates(t *testing.T) {
	srv, other := newSim(t), newSim(t)
	right, wrong := presentedFingerprint(t, srv), presentedFingerprint(t, other)
	c := newClient(t, srv, func(c *proxmox.Config) { c.CABundle, c.CertificateFingerprint = nil, strings.ToLower(wrong) })
	_, err := c.Version(testCtx(t))
	var pin *proxmox.FingerprintMismatchError
	if !errors.As(err, &pin) {
		t.Fatalf("Version() = %v, want a FingerprintMismatchError in the chain", err)
	}
	if pin.Presented != right || pin.Pinned != wrong {
		t.Fatalf("mismatch = presented %s, pinned %s; want presented %s, pinned %s", pin.Presented, pin.Pinned, right, wrong)
	}
}

func TestParseCertificateFingerprint(t *testing.T) {
	const upper = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"upper-case pairs with colons are accepted", upper, true},
		{"lower-case pairs with colons are accepted", strings.ToLower(upper), true},
		{"surrounding whitespace is ignored", " " + upper + "\n", true},
		{"hex without colons is refused", strings.ReplaceAll(upper, ":", ""), false},
		{"31 pairs are refused", upper[3:], false},
		{"33 pairs are refused", upper + ":00", false},
		{"a non-hex digit is refused", "GB" + upper[2:], false},
		{"a single-digit pair is refused", "A:" + upper[3:], false},
		{"an empty string is refused", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fp, err := proxmox.ParseCertificateFingerprint(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseCertificateFingerprint(%q) = %v", tt.in, err)
			}
			if tt.ok && proxmox.FormatCertificateFingerprint(fp) != upper {
				t.Fatalf("round trip of %q = %s", tt.in, proxmox.FormatCertificateFingerprint(fp))
			}
		})
	}
}

func TestPinIsPartOfTheConnectionFingerprint(t *testing.T) {
	const pin = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"
	base := proxmox.Config{Endpoint: "https://pve1:8006", Credentials: tokenCreds()}
	pinned := base
	pinned.CertificateFingerprint = pin
	if proxmox.Fingerprint(base, "1") == proxmox.Fingerprint(pinned, "1") {
		t.Fatal("setting a pin does not change the connection fingerprint, so the client would not be rebuilt")
	}
}

func TestPinCombinationsAreRefused(t *testing.T) {
	const pin = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"
	srv := newSim(t)
	tests := []struct {
		name string
		mod  func(*proxmox.Config)
	}{
		{"a pin with a CA bundle is refused: the pin replaces chain verification", func(c *proxmox.Config) { c.CertificateFingerprint = pin }},
		{"a pin with insecureSkipVerify is refused", func(c *proxmox.Config) {
			c.CABundle, c.InsecureSkipVerify, c.CertificateFingerprint = nil, true, pin
		}},
		{"a malformed pin is refused", func(c *proxmox.Config) { c.CABundle, c.CertificateFingerprint = nil, "abcdef" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := simConfig(srv)
			tt.mod(&cfg)
			if c, err := proxmox.New(cfg); err == nil {
				c.Close()
				t.Fatal("New accepted the config")
			}
		})
	}
}
