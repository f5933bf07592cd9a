package sshd

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// containers is a ContainerLookup for tests: present VMIDs map to "running".
type containers map[int]bool

func (c containers) ContainerState(vmid int) (bool, bool) {
	running, ok := c[vmid]
	return ok, running
}

func newClientKey(t *testing.T) ssh.Signer {
	t.Helper()
	signer, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return signer
}

type testNode struct {
	srv *Server
	key ssh.Signer // authorized client key
}

func startNode(t *testing.T, opts Options) testNode {
	t.Helper()
	key := newClientKey(t)
	opts.AuthorizedKeys = append(opts.AuthorizedKeys, key.PublicKey())
	if opts.Containers == nil {
		opts.Containers = containers{100: true, 101: false}
	}
	opts.Logf = t.Logf
	srv, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return testNode{srv: srv, key: key}
}

// hostKeyCallback verifies host keys the way an operator would: against a
// known_hosts file, through x/crypto's knownhosts.
func hostKeyCallback(t *testing.T, knownHostsLines ...string) ssh.HostKeyCallback {
	t.Helper()
	path := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(path, []byte(strings.Join(knownHostsLines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cb, err := knownhosts.New(path)
	if err != nil {
		t.Fatal(err)
	}
	return cb
}

func dialNode(t *testing.T, n testNode, auth ssh.AuthMethod, hostKeys ssh.HostKeyCallback) (*ssh.Client, error) {
	t.Helper()
	c, err := ssh.Dial("tcp", n.srv.Addr(), &ssh.ClientConfig{
		User:            "root",
		Auth:            []ssh.AuthMethod{auth},
		HostKeyCallback: hostKeys,
		Timeout:         5 * time.Second,
	})
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, err
}

func mustDial(t *testing.T, n testNode) *ssh.Client {
	t.Helper()
	c, err := dialNode(t, n, ssh.PublicKeys(n.key), hostKeyCallback(t, n.srv.KnownHostsLine()))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	return c
}

type execResult struct {
	stdout, stderr string
	status         int
	signal         string
}

func runCommand(t *testing.T, c *ssh.Client, command, stdin string) execResult {
	t.Helper()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatalf("new session: %v", err)
	}
	defer sess.Close()
	var stdout, stderr bytes.Buffer
	sess.Stdout, sess.Stderr = &stdout, &stderr
	sess.Stdin = strings.NewReader(stdin)
	err = sess.Run(command)
	res := execResult{stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *ssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		res.status, res.signal = exitErr.ExitStatus(), exitErr.Signal()
	default:
		t.Fatalf("run %q: %v", command, err)
	}
	return res
}

// execCase is one command over SSH and how it must end.
type execCase struct {
	name    string
	command string
	stdin   string
	want    execResult
	// wantStderrPrefix is used instead of an exact stderr match when set.
	wantStderrPrefix string
}

func (tt execCase) run(t *testing.T, c *ssh.Client) {
	t.Run(tt.name, func(t *testing.T) {
		got := runCommand(t, c, tt.command, tt.stdin)
		if tt.wantStderrPrefix != "" {
			if !strings.HasPrefix(got.stderr, tt.wantStderrPrefix) {
				t.Errorf("stderr = %q, want prefix %q", got.stderr, tt.wantStderrPrefix)
			}
			got.stderr = ""
		}
		if got != tt.want {
			t.Errorf("got %+v, want %+v", got, tt.want)
		}
	})
}

func TestExec(t *testing.T) {
	n := startNode(t, Options{NodeName: "pve-test"})
	c := mustDial(t, n)
	dir := n.srv.ScratchDir(100)

	tests := []execCase{
		{name: "a script prints to stdout and exits 0",
			command: `pct exec 100 -- /bin/sh -c 'echo hello'`,
			want:    execResult{stdout: "hello\n"}},
		{name: "argv after -- is executed directly, not through a shell",
			command: `pct exec 100 -- printf '%s|' 'a  b' "c d" e\ f`,
			want:    execResult{stdout: "a  b|c d|e f|"}},
		{name: "a nonzero exit status is passed through",
			command: `pct exec 100 -- /bin/sh -c 'exit 3'`,
			want:    execResult{status: 3}},
		{name: "stderr is kept apart from stdout",
			command: `pct exec 100 -- /bin/sh -c 'echo out; echo oops >&2; exit 1'`,
			want:    execResult{stdout: "out\n", stderr: "oops\n", status: 1}},
		{name: "stdin reaches the command",
			command: `pct exec 100 -- /bin/sh -c 'cat'`,
			stdin:   "ping",
			want:    execResult{stdout: "ping"}},
		{name: "the command runs in the container's scratch dir with HOME there",
			command: `pct exec 100 -- /bin/sh -c 'pwd; echo "$HOME"'`,
			want:    execResult{stdout: dir + "\n" + dir + "\n"}},
		{name: "a command killed by a signal is reported as exit-signal",
			command: `pct exec 100 -- /bin/sh -c 'kill -TERM $$'`,
			want:    execResult{status: 128 + 15, signal: "TERM"}},
	}
	for _, tt := range tests {
		tt.run(t, c)
	}
}

func TestFailingCommandsEndAsOnARealNode(t *testing.T) {
	n := startNode(t, Options{NodeName: "pve-test"})
	c := mustDial(t, n)

	tests := []execCase{
		{name: "a missing container fails like pct",
			command: `pct exec 999 -- /bin/true`,
			want:    execResult{stderr: "Configuration file 'nodes/pve-test/lxc/999.conf' does not exist\n", status: 255}},
		{name: "a stopped container fails like pct",
			command: `pct exec 101 -- /bin/true`,
			want:    execResult{stderr: "CT 101 not running\n", status: 255}},
		{name: "no command after -- is a pct error",
			command: `pct exec 100 --`,
			want:    execResult{stderr: "missing command\n", status: 255}},
		{name: "a malformed VMID is a pct usage error",
			command:          `pct exec abc -- /bin/true`,
			want:             execResult{status: 255},
			wantStderrPrefix: "400 Parameter verification failed.\nvmid: "},
		{name: "a missing VMID is a pct usage error",
			command:          `pct exec`,
			want:             execResult{status: 255},
			wantStderrPrefix: "400 not enough arguments\npct exec <vmid>"},
		{name: "an executable missing in the container fails like lxc-attach",
			command:          `pct exec 100 -- /nonexistent/tool`,
			want:             execResult{status: 255},
			wantStderrPrefix: `lxc-attach: 100: Failed to exec "/nonexistent/tool"`},
		{name: "commands other than pct are not found",
			command: `ls -l /`,
			want:    execResult{stderr: "bash: ls: command not found\n", status: 127}},
		{name: "pct subcommands other than exec are refused",
			command: `pct start 100`,
			want:    execResult{stderr: "pvesim: 'pct start' is not simulated; only 'pct exec' is\n", status: 255}},
		{name: "a command line over MAX_ARG_STRLEN fails as sshd's exec of the login shell does",
			command: `pct exec 100 -- /bin/echo ` + strings.Repeat("x", 128<<10),
			want:    execResult{stderr: "/bin/bash: Argument list too long\n", status: 1}},
		{name: "a command line just under MAX_ARG_STRLEN runs",
			command: `pct exec 100 -- /bin/echo ` + strings.Repeat("x", 128<<10-len(`pct exec 100 -- /bin/echo `)-1),
			want:    execResult{stdout: strings.Repeat("x", 128<<10-len(`pct exec 100 -- /bin/echo `)-1) + "\n"}},
		{name: "unquoted shell operators are refused rather than misread",
			command:          `pct exec 100 -- /bin/true; rm -rf /`,
			want:             execResult{status: 2},
			wantStderrPrefix: "pvesim: unquoted ';' is not simulated"},
	}
	for _, tt := range tests {
		tt.run(t, c)
	}
}

func TestAuthentication(t *testing.T) {
	n := startNode(t, Options{})
	hostKeys := hostKeyCallback(t, n.srv.KnownHostsLine())

	tests := []struct {
		name    string
		auth    ssh.AuthMethod
		wantErr bool
	}{
		{name: "the authorized key logs in", auth: ssh.PublicKeys(n.key)},
		{name: "an unknown key is rejected", auth: ssh.PublicKeys(newClientKey(t)), wantErr: true},
		{name: "passwords are rejected", auth: ssh.Password("root"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := dialNode(t, n, tt.auth, hostKeys)
			if (err != nil) != tt.wantErr {
				t.Fatalf("dial error = %v, want error: %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "unable to authenticate") {
				t.Errorf("dial error = %v, want an authentication failure", err)
			}
		})
	}
}

func TestHostKeyVerification(t *testing.T) {
	hostKey, err := LoadOrCreateHostKey(filepath.Join(t.TempDir(), "ssh_host_ed25519_key"))
	if err != nil {
		t.Fatal(err)
	}
	before := startNode(t, Options{HostKey: hostKey})
	knownBefore := before.srv.KnownHostsLine()
	if err := before.srv.Close(); err != nil {
		t.Fatal(err)
	}
	// Same address and same key file: a simulator restart.
	restarted := startNode(t, Options{Addr: before.srv.Addr(), HostKey: hostKey})
	other := startNode(t, Options{})

	tests := []struct {
		name       string
		node       testNode
		knownHosts string
		wantKeyErr bool
	}{
		{name: "a restarted server with the same host key is still trusted",
			node: restarted, knownHosts: knownBefore},
		{name: "a host whose key differs from known_hosts is rejected",
			node: other, knownHosts: restarted.srv.KnownHostsLine(other.srv.Addr()), wantKeyErr: true},
		{name: "a host missing from known_hosts is rejected",
			node: other, knownHosts: restarted.srv.KnownHostsLine(), wantKeyErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := dialNode(t, tt.node, ssh.PublicKeys(tt.node.key), hostKeyCallback(t, tt.knownHosts))
			var keyErr *knownhosts.KeyError
			if got := errors.As(err, &keyErr); got != tt.wantKeyErr {
				t.Fatalf("dial error = %v, want knownhosts.KeyError: %v", err, tt.wantKeyErr)
			}
		})
	}
}

func TestKnownHostsLine(t *testing.T) {
	n := startNode(t, Options{})
	port := n.srv.Addr()[strings.LastIndex(n.srv.Addr(), ":")+1:]
	tests := []struct {
		name      string
		hostnames []string
		wantHosts string
	}{
		{name: "defaults to the bracketed listen address", wantHosts: "[127.0.0.1]:" + port},
		{name: "port 22 is written bare", hostnames: []string{"pve1.example:22"}, wantHosts: "pve1.example"},
		{name: "several names share a line", hostnames: []string{"pve1:2222", "10.0.0.1"}, wantHosts: "[pve1]:2222,10.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := n.srv.KnownHostsLine(tt.hostnames...)
			_, hosts, key, _, _, err := ssh.ParseKnownHosts([]byte(line))
			if err != nil {
				t.Fatalf("ParseKnownHosts(%q): %v", line, err)
			}
			if got := strings.Join(hosts, ","); got != tt.wantHosts {
				t.Errorf("hosts = %q, want %q", got, tt.wantHosts)
			}
			if !bytes.Equal(key.Marshal(), n.srv.HostKey().Marshal()) {
				t.Errorf("line carries a different key than HostKey()")
			}
		})
	}
}

// clientStops are the ways a client gives up on a command.
var clientStops = []struct {
	name string
	stop func(c *ssh.Client, s *ssh.Session)
}{
	{name: "closing the session", stop: func(_ *ssh.Client, s *ssh.Session) { _ = s.Close() }},
	{name: "dropping the connection", stop: func(c *ssh.Client, _ *ssh.Session) { _ = c.Close() }},
	{name: "a KILL signal request", stop: func(_ *ssh.Client, s *ssh.Session) { _ = s.Signal(ssh.SIGKILL) }},
}

// TestClientGoneKillsCommand proves the remote command (and its children) die
// when the client stops waiting, however it stops.
func TestClientGoneKillsCommand(t *testing.T) {
	n := startNode(t, Options{Containers: containers{200: true, 201: true, 202: true}})
	for i, tt := range clientStops {
		t.Run(tt.name+" kills the command", func(t *testing.T) {
			vmid := 200 + i
			c := mustDial(t, n)
			sess, err := c.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			// The shell records its own pid and a child's, then waits on the child.
			script := `sleep 60 & echo $! > child.pid; echo $$ > shell.pid; wait`
			if err := sess.Start("pct exec " + strconv.Itoa(vmid) + " -- /bin/sh -c '" + script + "'"); err != nil {
				t.Fatal(err)
			}
			dir := n.srv.ScratchDir(vmid)
			shellPID := waitForPIDFile(t, filepath.Join(dir, "shell.pid"))
			childPID := waitForPIDFile(t, filepath.Join(dir, "child.pid"))

			tt.stop(c, sess)

			for _, pid := range []int{shellPID, childPID} {
				waitUntil(t, "process "+strconv.Itoa(pid)+" to die", func() bool { return !processAlive(pid) })
			}
		})
	}
}

func TestNewRefusesNonLoopbackAddresses(t *testing.T) {
	tests := []struct {
		addr    string
		wantErr bool
	}{
		{addr: "127.0.0.1:0"},
		{addr: "127.0.0.2:0"},
		{addr: "localhost:0"},
		{addr: "[::1]:0"},
		{addr: "0.0.0.0:0", wantErr: true},
		{addr: ":0", wantErr: true},
		{addr: "192.0.2.1:22", wantErr: true},
		{addr: "pve1.example:22", wantErr: true},
		{addr: "no-port", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if err := requireLoopback(tt.addr); (err != nil) != tt.wantErr {
				t.Errorf("requireLoopback(%q) = %v, want error: %v", tt.addr, err, tt.wantErr)
			}
		})
	}
	if _, err := New(Options{Addr: "0.0.0.0:0", Containers: containers{}}); err == nil {
		t.Error("New accepted a wildcard address")
	}
	if _, err := New(Options{}); err == nil {
		t.Error("New accepted Options without Containers")
	}
}

func TestLoadOrCreateHostKeyIsStable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "host_key")
	first, err := LoadOrCreateHostKey(path)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	second, err := LoadOrCreateHostKey(path)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if !bytes.Equal(first.PublicKey().Marshal(), second.PublicKey().Marshal()) {
		t.Error("reloading the host key file gave a different key")
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("host key file mode = %v (err %v), want 0600", fi.Mode().Perm(), err)
	}
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

// processAlive reports whether pid is a live process. A zombie counts as dead:
// an orphan is reaped by whatever init the test runs under, maybe never.
func processAlive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name, which may contain spaces.
	rest := data[bytes.LastIndexByte(data, ')')+1:]
	fields := strings.Fields(string(rest))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}
