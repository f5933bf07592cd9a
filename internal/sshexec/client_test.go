package sshexec_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/pve-operator/pve-operator/internal/pvesim/sshd"
	"github.com/pve-operator/pve-operator/internal/sshexec"
)

// Containers on the simulated node: present VMIDs map to "running".
var nodeContainers = map[int]bool{100: true, 101: false, 300: true, 301: true, 302: true}

type keyPair struct {
	pem []byte
	pub ssh.PublicKey
}

func newKeyPair(t *testing.T) keyPair {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return keyPair{pem: pem.EncodeToMemory(block), pub: sshPub}
}

// node is a simulated Proxmox node plus a Config and Target that reach it.
type node struct {
	srv    *sshd.Server
	key    keyPair
	cfg    sshexec.Config
	target sshexec.Target
}

func startNode(t *testing.T) node {
	t.Helper()
	key := newKeyPair(t)
	srv, err := sshd.New(sshd.Options{
		AuthorizedKeys: []ssh.PublicKey{key.pub},
		Containers: sshd.ContainerLookupFunc(func(vmid int) (bool, bool) {
			running, ok := nodeContainers[vmid]
			return ok, running
		}),
		Logf: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return node{
		srv: srv,
		key: key,
		cfg: sshexec.Config{
			PrivateKeyPEM:  key.pem,
			KnownHosts:     []byte(srv.KnownHostsLine() + "\n"),
			ConnectTimeout: 5 * time.Second,
			CommandTimeout: 10 * time.Second,
		},
		target: targetFor(t, srv.Addr()),
	}
}

func targetFor(t *testing.T, addr string) sshexec.Target {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return sshexec.Target{Node: "pve1", Host: host, Port: p}
}

func newClient(t *testing.T, cfg sshexec.Config) *sshexec.Client {
	t.Helper()
	c, err := sshexec.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func TestExec(t *testing.T) {
	n := startNode(t)
	tests := []struct {
		name       string
		vmid       int
		script     string
		cfg        func(*sshexec.Config)
		wantCode   int
		wantStdout string
		wantStderr string
		wantTrunc  bool
		wantErr    func(error) bool // nil: no error expected
	}{
		{name: "a script's output comes back with exit code 0",
			vmid: 100, script: "echo hello", wantStdout: "hello\n"},
		{name: "a non-zero exit is a result, not an error",
			vmid: 100, script: "exit 7", wantCode: 7},
		{name: "stderr is returned separately",
			vmid: 100, script: "echo out; echo oops >&2; exit 1", wantCode: 1, wantStdout: "out\n", wantStderr: "oops\n"},
		{name: "quotes, dollars, backslashes and newlines reach the shell intact",
			vmid: 100, script: "printf '%s|' \"it's\" '$HOME' 'a\\b' \"two\nlines\"\n\necho",
			wantStdout: "it's|$HOME|a\\b|two\nlines|\n"},
		{name: "a script of MaxScriptBytes full of quotes arrives byte for byte",
			vmid: 100, script: bigQuotedScript(), wantStdout: bigQuotedPayload + "\n"},
		{name: "output over the limit keeps the tail and is marked truncated",
			vmid: 100, script: "seq 1 1000; seq 1 3 >&2",
			cfg:        func(c *sshexec.Config) { c.MaxOutputBytes = 8 },
			wantStdout: "99\n1000\n", wantStderr: "1\n2\n3\n", wantTrunc: true},
		{name: "a stopped container is a typed error, not a script failure",
			vmid: 101, script: "true", wantCode: 255, wantStderr: "CT 101 not running\n",
			wantErr: sshexec.IsContainerNotRunning},
		{name: "a container missing from the node is a typed error",
			vmid: 999, script: "true", wantCode: 255, wantStderr: "Configuration file 'nodes/pve1/lxc/999.conf' does not exist\n",
			wantErr: sshexec.IsContainerNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := n.cfg
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			res, err := newClient(t, cfg).Exec(t.Context(), n.target, tt.vmid, tt.script)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("Exec: unexpected error %v", err)
			case tt.wantErr != nil && !tt.wantErr(err):
				t.Fatalf("Exec error = %v, not the expected kind", err)
			}
			if res.ExitCode != tt.wantCode || string(res.Stdout) != tt.wantStdout ||
				string(res.Stderr) != tt.wantStderr || res.Truncated != tt.wantTrunc {
				t.Errorf("Exec = {code %d, stdout %q, stderr %q, truncated %v}, want {code %d, stdout %q, stderr %q, truncated %v}",
					res.ExitCode, res.Stdout, res.Stderr, res.Truncated, tt.wantCode, tt.wantStdout, tt.wantStderr, tt.wantTrunc)
			}
			if res.Duration <= 0 {
				t.Errorf("Duration = %v, want > 0", res.Duration)
			}
		})
	}
}

// bigQuotedPayload is text a shell would mangle anywhere but in a quoted
// here-document, nearly all single quotes: quoted for a command line it
// would grow fourfold, past the SSH packet limit. bigQuotedScript prints it
// and pads itself to exactly MaxScriptBytes.
var bigQuotedPayload = strings.Repeat(strings.Repeat("'", 2000)+`"\$`+"`;|&<>*?~#\t\n", (sshexec.MaxScriptBytes-1024)/2014)

func bigQuotedScript() string {
	s := "cat <<'EOF'\n" + bigQuotedPayload + "\nEOF\n#"
	return s + strings.Repeat("'", sshexec.MaxScriptBytes-len(s))
}

func TestExecConnectFailures(t *testing.T) {
	n := startNode(t)
	otherHostKey := newKeyPair(t).pub

	tests := []struct {
		name    string
		target  sshexec.Target
		cfg     func(*sshexec.Config)
		wantErr func(error) bool
		// wantNot guards against an error that matches every classification.
		wantNot func(error) bool
	}{
		{name: "a host presenting a key other than known_hosts lists is refused",
			target: n.target,
			cfg: func(c *sshexec.Config) {
				c.KnownHosts = []byte(knownhosts.Line([]string{n.srv.Addr()}, otherHostKey))
			},
			wantErr: func(err error) bool { return errors.Is(err, sshexec.ErrHostKeyMismatch) && sshexec.IsHostKeyError(err) },
			wantNot: sshexec.IsAuthError},
		{name: "a host missing from known_hosts is refused, never trusted on first use",
			target: n.target,
			cfg: func(c *sshexec.Config) {
				c.KnownHosts = []byte(n.srv.KnownHostsLine("pve-elsewhere.example:22"))
			},
			wantErr: func(err error) bool { return errors.Is(err, sshexec.ErrHostKeyUnknown) && sshexec.IsHostKeyError(err) },
			wantNot: sshexec.IsAuthError},
		{name: "a client key the node does not authorize is an auth error",
			target:  n.target,
			cfg:     func(c *sshexec.Config) { c.PrivateKeyPEM = newKeyPair(t).pem },
			wantErr: sshexec.IsAuthError,
			wantNot: sshexec.IsHostKeyError},
		{name: "a port that accepts TCP but never speaks SSH is a connect timeout",
			target:  targetFor(t, silentListener(t)),
			cfg:     func(c *sshexec.Config) { c.ConnectTimeout = 200 * time.Millisecond },
			wantErr: sshexec.IsConnectTimeout,
			wantNot: sshexec.IsUnreachable},
		{name: "a closed port is unreachable",
			target:  targetFor(t, closedPort(t)),
			wantErr: sshexec.IsUnreachable,
			wantNot: sshexec.IsTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := n.cfg
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			res, err := newClient(t, cfg).Exec(t.Context(), tt.target, 100, "echo must-not-run")
			if !tt.wantErr(err) || tt.wantNot(err) {
				t.Fatalf("Exec error = %v, not the expected kind", err)
			}
			if res.ExitCode != -1 || len(res.Stdout) != 0 {
				t.Errorf("Exec result = %+v, want no exit code and no output", res)
			}
			assertNoKeyMaterial(t, err, cfg.PrivateKeyPEM)
		})
	}
}

// TestExecKillsRemoteCommand proves that when Exec gives up on a command, the
// command and its children are gone on the node, and partial output is kept.
func TestExecKillsRemoteCommand(t *testing.T) {
	n := startNode(t)
	const script = `echo started; sleep 60 & echo $! > child.pid; echo $$ > shell.pid; wait`
	tests := []struct {
		name    string
		vmid    int
		cfg     func(*sshexec.Config)
		ctx     func(t *testing.T, pidFile string) context.Context
		wantErr func(error) bool
	}{
		{name: "the command timeout kills it",
			vmid:    300,
			cfg:     func(c *sshexec.Config) { c.CommandTimeout = time.Second },
			ctx:     func(t *testing.T, _ string) context.Context { return t.Context() },
			wantErr: func(err error) bool { return sshexec.IsCommandTimeout(err) && !sshexec.IsConnectTimeout(err) }},
		{name: "cancelling ctx kills it",
			vmid: 301,
			ctx: func(t *testing.T, pidFile string) context.Context {
				ctx, cancel := context.WithCancel(t.Context())
				go func() {
					// Cancel once the command runs (or after a while, failing the test).
					defer cancel()
					for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
						if _, err := os.Stat(pidFile); err == nil {
							// "started" was written before the pid file but
							// still has to cross the SSH channel: give it a
							// moment, or a loaded machine cancels first.
							time.Sleep(300 * time.Millisecond)
							return
						}
					}
				}()
				return ctx
			},
			wantErr: func(err error) bool { return errors.Is(err, context.Canceled) && !sshexec.IsTimeout(err) }},
		{name: "the caller's own deadline kills it and is not reported as our timeout",
			vmid: 302,
			ctx: func(t *testing.T, _ string) context.Context {
				// Long enough to connect and start the script on a loaded machine.
				ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
				t.Cleanup(cancel)
				return ctx
			},
			wantErr: func(err error) bool { return errors.Is(err, context.DeadlineExceeded) && !sshexec.IsTimeout(err) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := n.cfg
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			dir := n.srv.ScratchDir(tt.vmid)
			res, err := newClient(t, cfg).Exec(tt.ctx(t, filepath.Join(dir, "shell.pid")), n.target, tt.vmid, script)
			if !tt.wantErr(err) {
				t.Fatalf("Exec error = %v, not the expected kind", err)
			}
			if res.ExitCode != -1 || string(res.Stdout) != "started\n" {
				t.Errorf("Exec result = {code %d, stdout %q}, want {code -1, stdout %q}", res.ExitCode, res.Stdout, "started\n")
			}
			for _, f := range []string{"shell.pid", "child.pid"} {
				pid := waitForPIDFile(t, filepath.Join(dir, f))
				waitUntil(t, f+" process to die", func() bool { return !processAlive(pid) })
			}
		})
	}
}

func TestNewRejectsUnusableConfig(t *testing.T) {
	good := newKeyPair(t)
	encrypted := func() []byte {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("secret"))
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(block)
	}()
	knownHostsLine := []byte(knownhosts.Line([]string{"pve1"}, good.pub))
	garbageKey := []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END OPENSSH PRIVATE KEY-----\n")

	tests := []struct {
		name    string
		cfg     sshexec.Config
		wantErr func(error) bool
	}{
		{name: "empty known_hosts is refused rather than trusting on first use",
			cfg:     sshexec.Config{PrivateKeyPEM: good.pem},
			wantErr: func(err error) bool { return errors.Is(err, sshexec.ErrNoKnownHosts) && sshexec.IsHostKeyError(err) }},
		{name: "known_hosts with only comments is as good as empty",
			cfg:     sshexec.Config{PrivateKeyPEM: good.pem, KnownHosts: []byte("# nothing\n\n")},
			wantErr: func(err error) bool { return errors.Is(err, sshexec.ErrNoKnownHosts) }},
		{name: "known_hosts with only @revoked lines trusts nobody",
			cfg:     sshexec.Config{PrivateKeyPEM: good.pem, KnownHosts: append([]byte("@revoked "), knownHostsLine...)},
			wantErr: func(err error) bool { return errors.Is(err, sshexec.ErrNoKnownHosts) }},
		{name: "unparseable known_hosts is refused",
			cfg:     sshexec.Config{PrivateKeyPEM: good.pem, KnownHosts: []byte("pve1 ssh-ed25519 not-base64\n")},
			wantErr: func(err error) bool { return errors.Is(err, sshexec.ErrNoKnownHosts) }},
		{name: "a missing private key is refused",
			cfg:     sshexec.Config{KnownHosts: knownHostsLine},
			wantErr: func(err error) bool { return err != nil }},
		{name: "a garbage private key is refused without echoing it",
			cfg:     sshexec.Config{PrivateKeyPEM: garbageKey, KnownHosts: knownHostsLine},
			wantErr: func(err error) bool { return err != nil }},
		{name: "a passphrase-protected key is refused",
			cfg:     sshexec.Config{PrivateKeyPEM: encrypted, KnownHosts: knownHostsLine},
			wantErr: func(err error) bool { return err != nil && strings.Contains(err.Error(), "passphrase") }},
		{name: "negative timeouts are refused",
			cfg:     sshexec.Config{PrivateKeyPEM: good.pem, KnownHosts: knownHostsLine, CommandTimeout: -time.Second},
			wantErr: func(err error) bool { return err != nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := sshexec.New(tt.cfg)
			if c != nil || !tt.wantErr(err) {
				t.Fatalf("New = %v, %v; want the expected error", c, err)
			}
			assertNoKeyMaterial(t, err, tt.cfg.PrivateKeyPEM)
		})
	}
}

func TestExecRejectsInvalidRequests(t *testing.T) {
	n := startNode(t)
	c := newClient(t, n.cfg)
	tests := []struct {
		name   string
		target sshexec.Target
		vmid   int
		script string
	}{
		{name: "a VMID below Proxmox's minimum", target: n.target, vmid: 99, script: "true"},
		{name: "a VMID above Proxmox's maximum", target: n.target, vmid: 1_000_000_000, script: "true"},
		{name: "a script with a NUL byte", target: n.target, vmid: 100, script: "echo a\x00b"},
		{name: "a script over MaxScriptBytes", target: n.target, vmid: 100, script: strings.Repeat("#", sshexec.MaxScriptBytes+1)},
		{name: "a target without a host", target: sshexec.Target{Node: "pve1"}, vmid: 100, script: "true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.Exec(t.Context(), tt.target, tt.vmid, tt.script)
			if err == nil || res.ExitCode != -1 {
				t.Fatalf("Exec = %+v, %v; want an error and no exit code", res, err)
			}
		})
	}
}

func TestConfigFormattingRedactsPrivateKey(t *testing.T) {
	key := newKeyPair(t)
	cfg := sshexec.Config{PrivateKeyPEM: key.pem, KnownHosts: []byte("pve1 ssh-ed25519 AAAA")}
	wrapped := struct{ SSH sshexec.Config }{cfg}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{cfg, &cfg, wrapped} {
			assertNoKeyMaterial(t, fmt.Errorf("%s", fmt.Sprintf(verb, v)), key.pem)
		}
	}
}

// assertNoKeyMaterial fails if any line of the key's base64 body shows up in err.
func assertNoKeyMaterial(t *testing.T, err error, keyPEM []byte) {
	t.Helper()
	if err == nil || len(keyPEM) == 0 {
		return
	}
	for _, line := range bytes.Split(keyPEM, []byte("\n")) {
		if len(line) >= 16 && !bytes.HasPrefix(line, []byte("-----")) && strings.Contains(err.Error(), string(line)) {
			t.Fatalf("error leaks private key material: %v", err)
		}
	}
}

// silentListener accepts TCP connections and never says anything.
func silentListener(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return l.Addr().String()
}

// closedPort returns an address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func waitForPIDFile(t *testing.T, path string) int {
	t.Helper()
	var pid int
	waitUntil(t, "pid file "+path, func() bool {
		data, err := os.ReadFile(path)
		if err != nil || !bytes.HasSuffix(data, []byte("\n")) {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(data)))
		return err == nil
	})
	return pid
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// processAlive reports whether pid is a live process; zombies count as dead,
// since orphans are reaped by whatever init the tests run under, maybe never.
func processAlive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}
