package sshexec

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func newHostKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestHostKeyDBAgreesWithXCrypto checks the in-memory matcher against
// x/crypto's file-based knownhosts on the same lines and addresses. They differ
// only where x/crypto departs from OpenSSH (it compares names case-sensitively).
func TestHostKeyDBAgreesWithXCrypto(t *testing.T) {
	key := newHostKey(t)
	line := func(hosts string) string { return hosts + " " + knownhosts.Line([]string{"x"}, key)[2:] }
	tests := []struct {
		name      string
		line      string
		address   string
		wantMatch bool
		// xcryptoDiffers marks where we follow OpenSSH and x/crypto does not.
		xcryptoDiffers bool
	}{
		{name: "a plain name on port 22", line: line("pve1"), address: "pve1:22", wantMatch: true},
		{name: "a plain name does not cover other ports", line: line("pve1"), address: "pve1:2222"},
		{name: "a bracketed name covers its port", line: line("[pve1]:2222"), address: "pve1:2222", wantMatch: true},
		{name: "an IP entry", line: line("10.0.0.1"), address: "10.0.0.1:22", wantMatch: true},
		{name: "an IPv6 entry", line: line("[2001:db8::1]:2222"), address: "[2001:db8::1]:2222", wantMatch: true},
		{name: "one of several names", line: line("pve0,pve1,10.0.0.1"), address: "pve1:22", wantMatch: true},
		{name: "names compare case-insensitively, as in OpenSSH", line: line("PVE1.Example"), address: "pve1.example:22", wantMatch: true, xcryptoDiffers: true},
		{name: "a hashed name", line: line(knownhosts.HashHostname("pve1.example")), address: "pve1.example:22", wantMatch: true},
		{name: "a hashed name with a port", line: line(knownhosts.HashHostname("[10.0.0.1]:2222")), address: "10.0.0.1:2222", wantMatch: true},
		{name: "a hashed name of another host", line: line(knownhosts.HashHostname("pve2.example")), address: "pve1.example:22"},
		{name: "a * wildcard", line: line("*.example"), address: "pve1.example:22", wantMatch: true},
		{name: "a ? wildcard", line: line("pve?.example"), address: "pve1.example:22", wantMatch: true},
		{name: "a wildcard that does not fit", line: line("pve?.example"), address: "pve10.example:22"},
		{name: "a negation overrides a positive", line: line("*.example,!pve1.example"), address: "pve1.example:22"},
		{name: "a negation leaves other hosts alone", line: line("*.example,!pve1.example"), address: "pve2.example:22", wantMatch: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := parseKnownHosts([]byte(tt.line))
			if err != nil {
				t.Fatalf("parseKnownHosts(%q): %v", tt.line, err)
			}
			got := db.check(tt.address, nil, key) == nil

			path := filepath.Join(t.TempDir(), "known_hosts")
			if err := os.WriteFile(path, []byte(tt.line+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			reference, err := knownhosts.New(path)
			if err != nil {
				t.Fatal(err)
			}
			remote, _ := net.ResolveTCPAddr("tcp", "192.0.2.1:22")
			fromXCrypto := reference(tt.address, remote, key) == nil

			if got != tt.wantMatch || (fromXCrypto != tt.wantMatch) != tt.xcryptoDiffers {
				t.Errorf("line %q, address %q: matched = %v, x/crypto matched = %v, want %v", tt.line, tt.address, got, fromXCrypto, tt.wantMatch)
			}
		})
	}
}

func TestHostKeyCheck(t *testing.T) {
	known, other, revoked := newHostKey(t), newHostKey(t), newHostKey(t)
	db, err := parseKnownHosts([]byte(
		"# a comment, then a blank line\n\n" +
			knownhosts.Line([]string{"pve1"}, known) + "\n" +
			"@revoked " + knownhosts.Line([]string{"*"}, revoked) + "\n" +
			"@cert-authority " + knownhosts.Line([]string{"*"}, other) + "\n" +
			"this line is not valid\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		address string
		key     ssh.PublicKey
		wantErr error
	}{
		{name: "the listed key for the host is accepted", address: "pve1:22", key: known},
		{name: "another key for a listed host is a mismatch", address: "pve1:22", key: other, wantErr: ErrHostKeyMismatch},
		{name: "a host without entries is unknown", address: "pve2:22", key: known, wantErr: ErrHostKeyUnknown},
		{name: "a revoked key is refused for any host", address: "pve2:22", key: revoked, wantErr: ErrHostKeyRevoked},
		{name: "@cert-authority keys are not trusted as host keys", address: "pve2:22", key: other, wantErr: ErrHostKeyUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := db.check(tt.address, nil, tt.key)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("check = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestHostKeyAlgorithms(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsaPub, err := ssh.NewPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	edPub := newHostKey(t)
	db, err := parseKnownHosts([]byte(knownhosts.Line([]string{"pve1", "pve2"}, rsaPub) + "\n" + knownhosts.Line([]string{"pve1"}, edPub)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		address string
		want    []string
	}{
		{name: "RSA keys are asked for with SHA-2 signatures only", address: "pve2:22",
			want: []string{ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSASHA512}},
		{name: "every known key type of the host is asked for", address: "pve1:22",
			want: []string{ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoED25519}},
		{name: "an unknown host leaves the default list", address: "pve3:22"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := db.hostKeyAlgorithms(tt.address); !slices.Equal(got, tt.want) {
				t.Errorf("hostKeyAlgorithms(%q) = %q, want %q", tt.address, got, tt.want)
			}
		})
	}
}

func TestMatchWildcard(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"*.example", "pve1.example", true},
		{"*.example", "example", false},
		{"[pve?]:22*", "[pve1]:2222", true},
		{"??", "a", false},
		{"a", "ab", false},
	}
	for _, tt := range tests {
		if got := matchWildcard(tt.pattern, tt.s); got != tt.want {
			t.Errorf("matchWildcard(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}
