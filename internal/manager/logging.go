package manager

import (
	"flag"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/pve-operator/pve-operator/internal/redact"
)

// SetupLogging installs the operator's logger, built from opts, for
// controller-runtime and for klog (client-go logs through klog), with every
// line passed through the secret registry (internal/redact). cmd/manager,
// make dev and the controllers test suite all call it, so the suite's log
// scans test what ships.
func SetupLogging(opts ...zap.Opts) logr.Logger {
	log := redact.Logger(opts...)
	ctrl.SetLogger(log)
	klog.SetLogger(log)
	return log
}

// BindKlogFlags registers klog's -v and -vmodule on fs, and none of its
// file and header flags: klog writes nothing of its own here, SetupLogging
// hands every line to the zap logger. From -v=6 client-go traces each
// apiserver request (URL and timing at 6, headers at 7) as far as
// --zap-log-level lets through; requests about Secrets are never traced
// (see secrets.go).
func BindKlogFlags(fs *flag.FlagSet) {
	all := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(all)
	usage := map[string]string{
		"v":       "client-go (klog) verbosity: from 6 each apiserver request is traced, as far as --zap-log-level lets through (URL and timing at 6, headers at 7); requests about Secrets never are.",
		"vmodule": "Per-file client-go (klog) verbosity, pattern=N,...",
	}
	for name, text := range usage {
		fs.Var(all.Lookup(name).Value, name, text)
	}
}
