package main

import (
	"context"
	"fmt"
	"time"

	"github.com/pve-operator/pve-operator/internal/pvesim"
)

// printNextSteps is the walkthrough of docs/getting-started.md, shortened.
func (d *devEnv) printNextSteps() {
	fmt.Fprintf(d.c.out, `
==> pve-operator is running against the simulator. In another terminal:

    export KUBECONFIG=%s
    kubectl get pxhost                         # "dev" turns Ready within seconds
    kubectl apply -f config/samples/proxmox_v1alpha1_application.yaml
    kubectl get pxapp -w

    curl --cacert %s/pvesim-ca.pem -H 'Authorization: PVEAPIToken=%s=%s' %s/cluster/resources
%s
==> The whole walkthrough (adopting, backups, restores): docs/getting-started.md.
==> Ctrl-C stops everything; state persists in %s (rm -rf it to start afresh).

`, d.kubeconfig, d.c.dataDir, pvesim.DefaultTokenID, pvesim.DefaultTokenSecret, d.sim.URL(), d.metricsLine(), d.c.dataDir)
}

func (d *devEnv) metricsLine() string {
	addr := d.c.manager.MetricsAddr
	if addr == "" || addr == "0" {
		return ""
	}
	scheme := "http"
	if d.c.manager.SecureMetrics {
		scheme = "https"
	}
	return fmt.Sprintf("    curl %s://%s/metrics    # the operator's metrics\n", scheme, addr)
}

// announceReady prints the next steps again once the "dev" host is Ready,
// since by then the operator's start-up lines have pushed them off screen.
func (d *devEnv) announceReady(ctx context.Context, every time.Duration) {
	start := time.Now()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if d.hostReadySince(ctx, start) {
				d.step("ProxmoxHost %q is Ready", hostName)
				d.printNextSteps()
				return
			}
		}
	}
}
