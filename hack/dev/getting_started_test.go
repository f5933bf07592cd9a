package main

import (
	"context"
	"flag"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/pve-operator/pve-operator/internal/manager"
	"github.com/pve-operator/pve-operator/internal/testenv"
)

// walkthroughChecks are the outcomes docs/getting-started.md states for the
// commands that do not check themselves (kubectl wait does): a command
// starting with the key must print output matching every pattern.
var walkthroughChecks = map[string][]*regexp.Regexp{
	"kubectl get pxhost": {regexp.MustCompile(`(?m)^dev\s+https://\S+\s+\S+\s+\d+\s+\d+\s+True\s`)},
	// Every sample's object is there, Ready, with a reason.
	"kubectl get proxmox -A": {
		readyRow("application", "web1"), readyRow("application", "legacy-db"),
		readyRow("backup", "web1-manual"), readyRow("restore", "web1-rollback"),
		readyRow("backupschedule", "nightly-web"), readyRow("proxmoxhost", "dev"),
		readyRow("application", "web-oci"),
	},
	// Both tags were staged by the operator, each once.
	"kubectl get pxstage": {regexp.MustCompile(`(?m)^oci-dev-\S+\s+dev\s+local:vztmpl/docker\.io_library_nginx_1\.27\.tar\s.*True\s+Staged`),
		regexp.MustCompile(`(?m)^oci-dev-\S+\s+dev\s+local:vztmpl/docker\.io_library_nginx_stable\.tar\s.*True\s+Staged`)},
	"curl ": {regexp.MustCompile(`pve_operator_proxmox_requests_total`)},
}

func readyRow(kind, name string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)` + kind + `\.proxmox\.pve-operator\.io/` + regexp.QuoteMeta(name) + `\s.*\sTrue\s+[A-Z]\w+\s`)
}

// TestGettingStartedWalkthrough starts what `make dev` starts (run, with a
// fresh data directory, free ports and fast tasks) and pastes the second
// terminal's block of docs/getting-started.md into a shell, command by
// command, with the built kubectl first on PATH. A doc edit that breaks a
// step fails here. It then restarts the setup on the same data to check
// that it is idempotent.
func TestGettingStartedWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane and the operator")
	}
	commands := walkthroughCommands(t)
	c, metricsAddr := testConfig(t)
	out := &testenv.SyncBuffer{}
	c.out = out
	logs, err := os.Create(filepath.Join(t.TempDir(), "operator.log"))
	if err != nil {
		t.Fatal(err)
	}
	manager.SetupLogging(zap.WriteTo(logs), zap.UseDevMode(true))

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, c) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("make dev ended with: %v", err)
			}
		}
	}
	defer stop()
	waitFor(t, out, errc, "pve-operator is running against the simulator")

	env := append(os.Environ(),
		"KUBECONFIG="+filepath.Join(c.dataDir, "kubeconfig"),
		"PATH="+filepath.Dir(kubectlPath(t))+string(os.PathListSeparator)+os.Getenv("PATH"))
	for _, cmd := range commands {
		runDocCommand(t, cmd, env, metricsAddr)
	}
	waitFor(t, out, errc, `ProxmoxHost "dev" is Ready`)
	if !strings.Contains(out.String(), "seeded unmanaged container 200") {
		t.Errorf("make dev did not say it seeded container 200:\n%s", out)
	}
	stop()

	t.Run("a restart keeps the seeded container and says so", func(t *testing.T) {
		again := &testenv.SyncBuffer{}
		c.out = again
		d, err := setup(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		d.close()
		if !strings.Contains(again.String(), "container 200 for the adopt sample exists") {
			t.Errorf("the restart did not find container 200:\n%s", again)
		}
	})
}

// runDocCommand runs one line of the walkthrough. make dev's default
// metrics address, which the doc uses, is swapped for the test's port.
func runDocCommand(t *testing.T, line string, env []string, metricsAddr string) {
	t.Helper()
	if strings.HasPrefix(line, "export KUBECONFIG=") {
		want := "export KUBECONFIG=$PWD/" + filepath.ToSlash(filepath.Join(defaultDataDir, "kubeconfig"))
		if line != want {
			t.Fatalf("the doc exports %q; make dev writes its kubeconfig for %q", line, want)
		}
		return
	}
	defaults, _ := bindFlags(flag.NewFlagSet("defaults", flag.ContinueOnError))
	cmdline := strings.ReplaceAll(line, defaults.manager.MetricsAddr, metricsAddr)
	cmd := exec.Command("sh", "-c", cmdline)
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = env
	got, err := cmd.CombinedOutput()
	t.Logf("$ %s\n%s", line, got)
	if err != nil {
		t.Fatalf("%s: %v\n%s", line, err, got)
	}
	for prefix, patterns := range walkthroughChecks {
		for _, want := range patterns {
			if strings.HasPrefix(line, prefix) && !want.Match(got) {
				t.Errorf("%s: output does not match %s:\n%s", line, want, got)
			}
		}
	}
}

// walkthroughCommands are the command lines of the code block that follows
// "In a second terminal" in docs/getting-started.md, comments stripped.
func walkthroughCommands(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "getting-started.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "In a second terminal")
	if !ok {
		t.Fatal(`docs/getting-started.md has no "In a second terminal" walkthrough`)
	}
	_, block, ok := strings.Cut(after, "```sh\n")
	block, _, closed := strings.Cut(block, "\n```")
	if !ok || !closed {
		t.Fatal("the walkthrough is not followed by a ```sh code block")
	}
	comment := regexp.MustCompile(`\s+#\s.*$`)
	var commands []string
	for _, line := range strings.Split(block, "\n") {
		line = strings.TrimSpace(comment.ReplaceAllString(line, ""))
		if line != "" && !strings.HasPrefix(line, "#") {
			commands = append(commands, line)
		}
	}
	if len(commands) < 10 {
		t.Fatalf("found only %d commands in the walkthrough: %q", len(commands), commands)
	}
	return commands
}

// testConfig is make dev's configuration as its flags give it, on a fresh
// data directory, free ports and the simulator's fast task durations.
func testConfig(t *testing.T) (config, string) {
	t.Helper()
	metricsAddr := freeAddr(t)
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	c, _ := bindFlags(fs)
	err := fs.Parse([]string{
		"-data-dir", t.TempDir(),
		"-pvesim-listen", "127.0.0.1:0",
		"-pvesim-ssh-listen", "127.0.0.1:0",
		"-profile", "fast",
		"-metrics-bind-address", metricsAddr,
		"-health-probe-bind-address", "0",
	})
	if err != nil {
		t.Fatal(err)
	}
	return *c, metricsAddr
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

func kubectlPath(t *testing.T) string {
	t.Helper()
	p, err := testenv.Kubectl()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// waitFor waits until make dev has printed text, failing early if it ended.
func waitFor(t *testing.T, out *testenv.SyncBuffer, errc chan error, text string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(out.String(), text) {
		select {
		case err := <-errc:
			errc <- err
			t.Fatalf("make dev ended (%v) before printing %q:\n%s", err, text, out)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("make dev did not print %q:\n%s", text, out)
		}
	}
}
