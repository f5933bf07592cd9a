package faults_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/pvesim"
	"github.com/pve-operator/pve-operator/internal/testenv"
)

// cloneRoute is PVE's clone call.
const cloneRoute = "/nodes/{node}/lxc/{vmid}/clone"

// TestClonesUnderFaults clones one stopped Application's container, by
// applicationRef and by VMID, while clone calls fail with 5xx or lose their
// answer after PVE has started the copy, clone tasks fail inside Proxmox,
// the tag fix after each clone (the clone still carries its source's owner
// tag) times out on the config lock or loses its answer, and one mutating
// call in ten fails throughout. Every clone must end owned by exactly its
// Application, the source by its own, nothing foreign touched; deleting the
// clones must leave only the source.
func TestClonesUnderFaults(t *testing.T) {
	ctx := context.Background()
	k8s, sim := startSuite(t, ctx)
	foreign := addForeignContainers(t, sim)

	src := testenv.SmallApp("team", "source", "pve")
	src.Spec.PowerState = v1alpha1.PowerStateStopped // a full clone of a running CT needs a snapshot
	if err := k8s.Create(ctx, src); err != nil {
		t.Fatal(err)
	}
	if waitReady(t, ctx, k8s, 1); t.Failed() {
		return
	}
	injectBackgroundFaults(t, sim)
	injectCloneFaults(sim)

	n := max(apps/2, 3)
	for i := range n {
		if err := k8s.Create(ctx, cloneOf(i, sourceVMID(t, ctx, k8s))); err != nil {
			t.Fatal(err)
		}
	}
	if waitReady(t, ctx, k8s, n+1); t.Failed() {
		return
	}
	checkInvariants(t, ctx, k8s, sim, foreign)
	// A retried clone reuses its VMID: no container beyond one per clone.
	if got, want := len(sim.State().Containers), n+1+len(foreign); got != want {
		t.Errorf("%d containers in Proxmox, want %d (the source, %d clones, the foreign ones)", got, want, n)
	}
	t.Logf("clone calls %d for %d clones (failed and lost answers retried on the same VMID)",
		sim.RequestCount("POST "+cloneRoute), n)

	for i := range n {
		if err := k8s.Delete(ctx, cloneOf(i, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if waitReady(t, ctx, k8s, 1); t.Failed() {
		return
	}
	owned := 0
	for _, ct := range sim.State().Containers {
		if _, tagged := lxcconfig.OwnerOf(lxcconfig.SplitTags(ct.Config["tags"])); tagged && foreign[ct.VMID] == "" {
			owned++
		}
	}
	if owned != 1 {
		t.Errorf("%d operator-owned containers left after deleting the clones, want only the source's", owned)
	}
	checkInvariants(t, ctx, k8s, sim, foreign)
}

// injectCloneFaults makes the clone path fail at each step once or twice.
func injectCloneFaults(sim *pvesim.Server) {
	sim.FailRequests("POST", cloneRoute, 2, 500, "clone failed: simulated server error")
	sim.DropAfterCommit("POST", cloneRoute, 2)
	sim.FailTasks(pvesim.TaskClone, "", 1, "clone failed: simulated copy error")
	sim.FailRequests("PUT", "/nodes/{node}/lxc/{vmid}/config", 2, 500, "can't lock file '/run/lock/lxc/pve-config-100.lock' - got timeout")
	sim.DropAfterCommit("PUT", "/nodes/{node}/lxc/{vmid}/config", 1)
}

// cloneOf is the i-th clone of "source": by applicationRef for even i, by
// the source's VMID for odd ones.
func cloneOf(i int, sourceVMID int32) *v1alpha1.Application {
	a := testenv.SmallApp("team", fmt.Sprintf("clone-%d", i), "pve")
	a.Spec.Template = ""
	a.Spec.CloneFrom = &v1alpha1.CloneSource{ApplicationRef: &v1alpha1.LocalObjectReference{Name: "source"}}
	if i%2 == 1 {
		a.Spec.CloneFrom = &v1alpha1.CloneSource{VMID: ptr.To(sourceVMID)}
	}
	return a
}

func sourceVMID(t *testing.T, ctx context.Context, k8s client.Client) int32 {
	t.Helper()
	a := &v1alpha1.Application{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: "team", Name: "source"}, a); err != nil {
		t.Fatal(err)
	}
	return a.Status.VMID
}

// waitReady waits until the namespace holds exactly n Applications, all
// Ready, and fails the test (without stopping it), logging those that are
// not, when it gives up.
func waitReady(t *testing.T, ctx context.Context, k8s client.Client, n int) {
	t.Helper()
	var l v1alpha1.ApplicationList
	waitFor(t, ctx, fmt.Sprintf("%d Applications Ready", n), 3*time.Minute, func() bool {
		if err := k8s.List(ctx, &l, client.InNamespace("team")); err != nil || len(l.Items) != n {
			return false
		}
		for _, a := range l.Items {
			if !meta.IsStatusConditionTrue(a.Status.Conditions, v1alpha1.ConditionReady) {
				return false
			}
		}
		return true
	})
	if t.Failed() {
		for _, a := range l.Items {
			if c := meta.FindStatusCondition(a.Status.Conditions, v1alpha1.ConditionReady); c != nil && c.Status != metav1.ConditionTrue {
				t.Logf("%s: vmid %d task %+v: %s %s", a.Name, a.Status.VMID, a.Status.Task, c.Reason, c.Message)
			}
		}
	}
}
