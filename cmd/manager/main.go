// Command manager runs the pve-operator controllers. `manager pve ...`
// runs the kubectl plugin's commands instead (see internal/kubectlpve), so
// that the image alone can adopt and report, e.g. from a Job.
package main

import (
	"flag"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/pve-operator/pve-operator/internal/kubectlpve"
	"github.com/pve-operator/pve-operator/internal/manager"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "pve" {
		os.Exit(kubectlpve.Main(os.Args[2:]))
	}
	var opts manager.Options
	opts.BindFlags(flag.CommandLine)
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	manager.BindKlogFlags(flag.CommandLine)
	flag.Parse()

	log := manager.SetupLogging(zap.UseFlagOptions(&zapOpts)).WithName("setup")

	mgr, err := manager.New(ctrl.GetConfigOrDie(), opts)
	if err != nil {
		log.Error(err, "unable to set up the manager")
		os.Exit(1)
	}
	log.Info("starting manager")
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "manager exited with an error")
		os.Exit(1)
	}
}
