package faults_test

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/manager"
	"github.com/pve-operator/pve-operator/internal/pvesim"
	"github.com/pve-operator/pve-operator/internal/testenv"
)

// TestDriftReadUndoesEditsMadeInProxmox: an edit made in Proxmox that no
// inventory listing shows (cores) is found by the periodic, paced config
// re-read and put back to the spec, on the same container.
func TestDriftReadUndoesEditsMadeInProxmox(t *testing.T) {
	ctx := context.Background()
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	sim, err := pvesim.New(pvesim.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sim.Close() }()
	k8s, err := client.New(env.Config, client.Options{Scheme: manager.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := manager.New(env.Config, manager.Options{
		SkipNameValidation: true, MetricsAddr: "0", ProbeAddr: "0", DriftInterval: 2 * time.Second, DriftReadsPerSecond: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = mgr.Start(mctx) }()
	if err := testenv.CreateHost(ctx, k8s, sim, testenv.HostFixture{Name: "pve", Namespaces: []string{"team"}}); err != nil {
		t.Fatal(err)
	}
	app := testenv.SmallApp("team", "web", "pve")
	if err := k8s.Create(ctx, app); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the Application to become Ready", time.Minute, func() bool {
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(app), app)
		return meta.IsStatusConditionTrue(app.Status.Conditions, v1alpha1.ConditionReady)
	})
	vmid := int(app.Status.VMID)
	if err := sim.SetConfigValue(vmid, "cores", "4"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "cores back to the spec's 1", 30*time.Second, func() bool {
		ct, ok := sim.Container(vmid)
		return ok && ct.Config["cores"] == "1"
	})
	if got := sim.RequestCount("POST /nodes/{node}/lxc"); got != 1 {
		t.Errorf("%d create requests, want the one container kept", got)
	}
}
