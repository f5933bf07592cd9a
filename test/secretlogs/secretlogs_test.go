package secretlogs

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/pve-operator/pve-operator/internal/manager"
	"github.com/pve-operator/pve-operator/internal/testenv"
)

var (
	// tracedRequest is client-go's round-tripper trace of an apiserver
	// request (from -v=6, headers from 7).
	tracedRequest = regexp.MustCompile(`"msg":"Request","verb":"[A-Z]+","url":"https://[^"]+/apis/proxmox\.pve-operator\.io/`)
	// dumpedBody is client-go's dump of a whole response (from V(8)).
	dumpedBody = regexp.MustCompile(`"msg":"Response Body"`)
	// secretURL is any mention of a Secret's API path: in a trace's url or
	// curl command, it means a request about a Secret was traced.
	secretURL = regexp.MustCompile(`/api/v1/(namespaces/[^/"?]+/)?secrets\b`)
)

// startFunc starts a manager logging at its most verbose and returns its
// log so far and how to stop it.
type startFunc func(t *testing.T, h *harness) (log func() string, stop func())

// TestNoSecretReachesTheLog runs the manager at the most verbose logging
// it supports, and once more with a logger that has no verbosity cap, makes
// it read every kind of credential Secret, and requires that its log shows
// client-go's verbose output (else the test would prove nothing) but no
// Secret: no value in any encoding, no trace of a request about a Secret.
func TestNoSecretReachesTheLog(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		name    string
		start   startFunc
		verbose *regexp.Regexp
	}{
		{"the shipped binary at --zap-log-level=10 and -v=10 traces apiserver requests but none about Secrets", startBinary, tracedRequest},
		{"a manager whose logger writes every verbosity dumps response bodies but no Secret's", startInProcess, dumpedBody},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			log, stop := c.start(t, h)
			secrets := h.exercise(t, string(rune('a'+i)))
			stop()
			got := log()
			defer func() {
				if t.Failed() {
					t.Logf("the manager's log is kept at %s", keep(got))
				}
			}()
			if !c.verbose.MatchString(got) {
				t.Fatalf("the log has no verbose client-go output (%s): logging was not as verbose as asked", c.verbose)
			}
			if m := secretURL.FindString(got); m != "" {
				t.Errorf("the log traces a request about a Secret: %s", m)
			}
			for _, leak := range leaks(got, secrets) {
				t.Errorf("the log gives away %s", leak)
			}
		})
	}
}

// startBinary runs cmd/manager as it ships, asked for every verbosity its
// flags allow, its stdout and stderr both captured (whatever writes to them
// outside the logger is scanned too).
func startBinary(t *testing.T, h *harness) (func() string, func()) {
	dir := t.TempDir()
	bin, err := testenv.BuildManager(dir)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := h.env.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "manager.log")
	p, err := testenv.StartManager(bin, kubeconfig, logPath, "--zap-log-level=10", "-v=10")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	read := func() string {
		data, _ := os.ReadFile(logPath)
		return string(data)
	}
	return read, func() {
		if err := p.Stop(20 * time.Second); err != nil {
			t.Errorf("stop the manager: %v", err)
		}
	}
}

// startInProcess runs manager.New under a plain zap logger at V(10) for
// controller-runtime and klog, with klog's -v at 10: none of redact's
// scrubbing or verbosity cap, so only the Secret client's own quiet keeps
// the Secrets out.
func startInProcess(t *testing.T, h *harness) (func() string, func()) {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	if err := fs.Set("v", "10"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fs.Set("v", "0") })
	buf := &testenv.SyncBuffer{}
	logger := zap.New(zap.WriteTo(buf), zap.Level(zapcore.Level(-10)))
	ctrl.SetLogger(logger)
	klog.SetLogger(logger)
	t.Cleanup(klog.ClearLogger)

	mgr, err := manager.New(h.env.Config, manager.Options{SkipNameValidation: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return buf.String, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	}
}

// keep copies a failed case's log where it outlives the test.
func keep(log string) string {
	f, err := os.CreateTemp("", "pve-operator-secretlogs-*.log")
	if err != nil {
		return "(nowhere: " + err.Error() + ")"
	}
	defer f.Close()
	_, _ = f.WriteString(log)
	return f.Name()
}
