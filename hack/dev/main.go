// Command dev is `make dev`: the operator on its embedded default. It starts
// etcd and kube-apiserver (the envtest binaries, with state under bin/dev and
// Secrets encrypted at rest with a key kept there), installs the CRDs,
// starts the Proxmox simulator (nodes pve1-3, storages local and local-lvm,
// two templates, an API token and SSH) with an unmanaged container 200 for
// the adopt sample, creates a ProxmoxHost named "dev" that trusts the
// simulator's CA, writes a kubeconfig, and runs the operator in the
// foreground, with the flags of the shipped Deployment, until Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"go.uber.org/zap/zapcore"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/pve-operator/pve-operator/internal/manager"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

// config is what make dev runs with; the manager options are the operator's
// own flags with the shipped Deployment's values as defaults.
type config struct {
	dataDir, simAddr, sshAddr, profile string
	manager                            manager.Options
	// out receives the steps and the next-steps text.
	out io.Writer
}

func main() {
	c, zapOpts := bindFlags(flag.CommandLine)
	flag.Parse()
	manager.SetupLogging(zap.UseFlagOptions(zapOpts))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *c); err != nil {
		fmt.Fprintln(os.Stderr, "make dev:", err)
		os.Exit(1)
	}
}

// bindFlags registers make dev's flags, the operator's and the logger's on
// fs; the values are filled in when fs is parsed.
func bindFlags(fs *flag.FlagSet) (*config, *zap.Options) {
	c := &config{out: os.Stderr}
	fs.StringVar(&c.dataDir, "data-dir", defaultDataDir, "Directory for etcd data, the simulator's state, keys and the kubeconfig.")
	fs.StringVar(&c.simAddr, "pvesim-listen", "127.0.0.1:18006", "Address of the Proxmox simulator's API.")
	fs.StringVar(&c.sshAddr, "pvesim-ssh-listen", "127.0.0.1:18022", "Address of the simulator's SSH server.")
	fs.StringVar(&c.profile, "profile", pvesim.ProfileRealistic, "Simulator task durations: realistic (seconds, like PVE) or fast.")
	c.manager.BindFlags(fs)
	devManagerDefaults(fs)
	// Info by default: at debug every event is a log line and the next
	// steps scroll away. --zap-log-level=debug brings them back.
	zapOpts := &zap.Options{Development: true, Level: zapcore.InfoLevel}
	zapOpts.BindFlags(fs)
	return c, zapOpts
}

// devManagerDefaults sets the defaults of the operator's flags to what
// config/manager/manager.yaml passes, except where a laptop differs: metrics
// and probes on loopback ports, and metrics over plain HTTP, because the dev
// kubeconfig authenticates with a client certificate and the secure metrics
// endpoint only accepts bearer tokens.
func devManagerDefaults(fs *flag.FlagSet) {
	for name, value := range map[string]string{
		"leader-elect":              "true",
		"leader-election-namespace": credsNamespace,
		"credentials-namespace":     credsNamespace,
		"metrics-bind-address":      "127.0.0.1:18080",
		"metrics-secure":            "false",
		"health-probe-bind-address": "127.0.0.1:18081",
	} {
		f := fs.Lookup(name)
		if err := f.Value.Set(value); err != nil {
			panic(fmt.Sprintf("default of --%s: %v", name, err))
		}
		f.DefValue = value
	}
}

func run(ctx context.Context, c config) error {
	d, err := setup(ctx, c)
	if err != nil {
		return err
	}
	defer d.close()
	mgr, err := manager.New(d.cfg, c.manager) //nolint:contextcheck // New only registers controllers, indexes and watches; the manager gets its context from Start
	if err != nil {
		return err
	}
	d.printNextSteps()
	go d.announceReady(ctx, time.Second)
	if err := mgr.Start(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

var defaultDataDir = filepath.Join("bin", "dev")
