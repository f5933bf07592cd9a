package restart_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

// TestRestartKeepsSettledApplicationsReady restarts the operator with
// settled Applications and one whose spec changed while it was down: the
// change is applied, and no settled Application's Ready condition leaves
// True at any moment of the restart (a fresh process that has not listed
// the host yet is no reason to report it not ready).
func TestRestartKeepsSettledApplicationsReady(t *testing.T) {
	ctx := context.Background()
	env, sim, k8s := start(t)
	stop := startManager(t, env)
	var apps []*v1alpha1.Application
	for i := range 6 {
		app := &v1alpha1.Application{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-%d", i), Namespace: "team"},
			Spec: v1alpha1.ApplicationSpec{
				HostRef:   v1alpha1.LocalObjectReference{Name: "pve"},
				Template:  pvesim.DebianTemplate,
				Resources: &v1alpha1.Resources{Cores: ptr.To[int32](1), Memory: ptr.To(resource.MustParse("256Mi"))},
				RootFS:    &v1alpha1.RootFS{Storage: "local-lvm", Size: resource.MustParse("1Gi")},
			},
		}
		if err := k8s.Create(ctx, app); err != nil {
			t.Fatal(err)
		}
		apps = append(apps, app)
	}
	for _, app := range apps {
		waitFor(t, app.Name+" to become Ready", func() bool { return ready(ctx, k8s, app) })
	}
	stop()

	changed := &v1alpha1.Application{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(apps[0]), changed); err != nil {
		t.Fatal(err)
	}
	changed.Spec.Resources.Cores = ptr.To[int32](2)
	if err := k8s.Update(ctx, changed); err != nil {
		t.Fatal(err)
	}
	stop = startManager(t, env)
	defer stop()
	vmid := changed.Status.VMID
	applied := func() bool {
		for _, ct := range sim.State().Containers {
			if ct.VMID == int(vmid) {
				return ct.Config["cores"] == "2"
			}
		}
		return false
	}
	// Sample the settled ones through the restart until the change is in
	// Proxmox and for two seconds after.
	var settleUntil time.Time
	waitFor(t, "the spec changed while down to be applied, then two quiet seconds", func() bool {
		for _, app := range apps[1:] {
			if !ready(ctx, k8s, app) {
				t.Fatalf("%s left Ready during the restart", app.Name)
			}
		}
		if settleUntil.IsZero() && applied() {
			settleUntil = time.Now().Add(2 * time.Second)
		}
		return !settleUntil.IsZero() && time.Now().After(settleUntil)
	})
}

func ready(ctx context.Context, k8s client.Client, app *v1alpha1.Application) bool {
	cur := &v1alpha1.Application{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(app), cur); err != nil {
		return false
	}
	return meta.IsStatusConditionTrue(cur.Status.Conditions, v1alpha1.ConditionReady)
}
