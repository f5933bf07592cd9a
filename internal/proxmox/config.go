package proxmox

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Defaults for the zero values of Config.
const (
	DefaultTimeout            = 30 * time.Second
	DefaultQPS                = 20
	DefaultBurst              = 40
	DefaultMaxConcurrentTasks = 4
)

// Credentials authenticate against PVE: either an API token (TokenID such as
// "root@pam!operator" and TokenSecret) or a user (Username such as
// "root@pam" and Password). A token wins when both are set.
//
// String and GoString redact the secrets, so a Credentials value can be
// logged or printed with %v/%#v without leaking them.
type Credentials struct {
	TokenID     string
	TokenSecret string
	Username    string
	Password    string
}

func (c Credentials) String() string {
	switch {
	case c.TokenID != "":
		return fmt.Sprintf("token %s (secret redacted)", c.TokenID)
	case c.Username != "":
		return fmt.Sprintf("user %s (password redacted)", c.Username)
	}
	return "no credentials"
}

// GoString keeps %#v from printing the struct fields.
func (c Credentials) GoString() string { return "proxmox.Credentials{" + c.String() + "}" }

func (c Credentials) useToken() bool { return c.TokenID != "" }

func (c Credentials) validate() error {
	switch {
	case c.TokenID != "" && c.TokenSecret == "":
		return errors.New("token secret is empty")
	case c.TokenID != "" && !strings.Contains(c.TokenID, "!"):
		return fmt.Errorf("token ID %q must look like user@realm!name", c.TokenID)
	case c.TokenID == "" && (c.Username == "" || c.Password == ""):
		return errors.New("need a token ID and secret, or a username and password")
	}
	return nil
}

// secrets lists the values that must never appear in an error.
func (c Credentials) secrets() []string {
	var s []string
	for _, v := range []string{c.TokenSecret, c.Password} {
		if v != "" {
			s = append(s, v)
		}
	}
	return s
}

// RateLimit bounds the request rate to one host (token bucket).
type RateLimit struct {
	// QPS is the sustained requests per second; 0 means DefaultQPS, a
	// negative value disables rate limiting.
	QPS float64
	// Burst is the bucket size; 0 means DefaultBurst.
	Burst int
}

// Config describes one Proxmox VE endpoint.
type Config struct {
	// Endpoint is the https URL of a node's API, e.g.
	// https://pve1.example.com:8006; New parses it with ParseEndpoint.
	Endpoint    string
	Credentials Credentials
	// CABundle is PEM; when set, only these roots are trusted. When empty the
	// system roots are used.
	CABundle []byte
	// InsecureSkipVerify disables certificate verification (lab use only).
	InsecureSkipVerify bool
	// CertificateFingerprint pins the SHA-256 fingerprint of the server's
	// leaf certificate, written as PVE shows it (AB:CD:...; see
	// ParseCertificateFingerprint). When set, the pin is the only check:
	// neither the chain nor the hostname is verified, so it cannot be
	// combined with CABundle or InsecureSkipVerify.
	CertificateFingerprint string
	// Timeout bounds each HTTP request; 0 means DefaultTimeout.
	Timeout   time.Duration
	RateLimit RateLimit
	// MaxConcurrentTasks bounds the mutating (task-starting or config
	// changing) requests in flight to this host at once; 0 means
	// DefaultMaxConcurrentTasks. It does not bound tasks running inside PVE:
	// the client never waits for a task.
	MaxConcurrentTasks int
	// Observe, when set, is called after every HTTP attempt of an API call
	// (retries of a read are separate attempts; the password login is not
	// observed). method is the HTTP method, route the path template from
	// Route (node names, VMIDs, UPIDs, volume IDs and other names replaced
	// by placeholders), code the HTTP status (0 when no response arrived),
	// outcome "success" or the error class from Outcome, d the time on the
	// wire (rate-limit waits excluded). It must be fast and safe for
	// concurrent use. It is not part of Fingerprint.
	Observe func(method, route string, code int, outcome string, d time.Duration)
}

func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.RateLimit.QPS == 0 {
		c.RateLimit.QPS = DefaultQPS
	}
	if c.RateLimit.Burst <= 0 {
		c.RateLimit.Burst = DefaultBurst
	}
	if c.MaxConcurrentTasks <= 0 {
		c.MaxConcurrentTasks = DefaultMaxConcurrentTasks
	}
	return c
}

// tlsConfig builds the client TLS settings: verification on unless
// explicitly disabled, TLS 1.2 or newer, and only CABundle's roots when given.
func (c Config) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CertificateFingerprint != "" {
		return c.pinnedTLSConfig(tc)
	}
	if c.InsecureSkipVerify {
		tc.InsecureSkipVerify = true //nolint:gosec // explicit opt-in, documented as lab-only
		return tc, nil
	}
	if len(c.CABundle) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(c.CABundle) {
			return nil, errors.New("caBundle contains no PEM certificate")
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// pinnedTLSConfig trusts exactly the leaf certificate whose SHA-256 matches
// the pin. PVE's self-signed certificates name the node, rarely the address
// the operator dials, so chain and hostname checks would fail anyway; the
// pin is a stronger check than both.
func (c Config) pinnedTLSConfig(tc *tls.Config) (*tls.Config, error) {
	if c.InsecureSkipVerify || len(c.CABundle) > 0 {
		return nil, errors.New("a certificate fingerprint cannot be combined with a CA bundle or insecureSkipVerify")
	}
	pinned, err := ParseCertificateFingerprint(c.CertificateFingerprint)
	if err != nil {
		return nil, err
	}
	// The standard verification is replaced, not skipped: VerifyConnection
	// runs on every handshake, resumed sessions included.
	tc.InsecureSkipVerify = true //nolint:gosec // VerifyConnection checks the pinned fingerprint
	tc.VerifyConnection = func(cs tls.ConnectionState) error {
		return verifyPin(pinned, cs.PeerCertificates)
	}
	return tc, nil
}

func verifyPin(pinned [sha256.Size]byte, certs []*x509.Certificate) error {
	want := FormatCertificateFingerprint(pinned)
	if len(certs) == 0 {
		return &FingerprintMismatchError{Pinned: want}
	}
	got := sha256.Sum256(certs[0].Raw)
	if subtle.ConstantTimeCompare(got[:], pinned[:]) != 1 {
		return &FingerprintMismatchError{Pinned: want, Presented: FormatCertificateFingerprint(got)}
	}
	return nil
}

// ParseCertificateFingerprint reads a SHA-256 certificate fingerprint in the
// form PVE prints it (pvenode cert info, the GUI, /nodes ssl_fingerprint):
// 32 hex pairs separated by colons, in either case.
func ParseCertificateFingerprint(s string) ([sha256.Size]byte, error) {
	var fp [sha256.Size]byte
	s = strings.TrimSpace(s)
	pairs := strings.Split(s, ":")
	if len(pairs) != sha256.Size {
		return fp, fmt.Errorf("certificate fingerprint %q must be %d colon-separated hex pairs", s, sha256.Size)
	}
	for i, p := range pairs {
		b, err := hex.DecodeString(p)
		if err != nil || len(b) != 1 {
			return fp, fmt.Errorf("certificate fingerprint %q must be %d colon-separated hex pairs", s, sha256.Size)
		}
		fp[i] = b[0]
	}
	return fp, nil
}

// FormatCertificateFingerprint writes fp as PVE shows it: upper-case hex
// pairs separated by colons.
func FormatCertificateFingerprint(fp [sha256.Size]byte) string {
	var b strings.Builder
	for i, x := range fp {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", x)
	}
	return b.String()
}

// FingerprintMismatchError is the cause inside a TLSError when the server's
// certificate is not the pinned one. Both fingerprints are public facts about
// certificates, safe to show.
type FingerprintMismatchError struct {
	// Pinned is the configured fingerprint, normalised to upper case.
	Pinned string
	// Presented is the fingerprint of the certificate the server sent, or ""
	// if it sent none.
	Presented string
}

func (e *FingerprintMismatchError) Error() string {
	if e.Presented == "" {
		return "server presented no certificate; pinned fingerprint is " + e.Pinned
	}
	return fmt.Sprintf("server certificate has SHA-256 fingerprint %s, not the pinned %s", e.Presented, e.Pinned)
}

func (c Config) httpClient() (*http.Client, error) {
	tc, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tc
	// pveproxy speaks HTTP/1.1 only.
	t.ForceAttemptHTTP2 = false
	t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	t.MaxIdleConnsPerHost = 16
	return &http.Client{Transport: t, Timeout: c.Timeout}, nil
}

// Fingerprint hashes everything in c that affects the client, secrets
// included (hashed, never stored), together with version: callers pass
// something that changes whenever the inputs change, such as the Secret's
// and the ProxmoxHost's resourceVersions.
func Fingerprint(c Config, version string) string {
	h := sha256.New()
	for _, s := range []string{
		version, c.Endpoint, c.Credentials.TokenID, c.Credentials.TokenSecret,
		c.Credentials.Username, c.Credentials.Password, string(c.CABundle), c.CertificateFingerprint,
		fmt.Sprint(c.InsecureSkipVerify, c.Timeout, c.RateLimit.QPS, c.RateLimit.Burst, c.MaxConcurrentTasks),
	} {
		fmt.Fprintf(h, "%d:%s|", len(s), s)
	}
	return hex.EncodeToString(h.Sum(nil))
}
