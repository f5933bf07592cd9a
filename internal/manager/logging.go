package manager

import (
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
