package crash_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/testenv"
)

// TestCloneCrashConsistency SIGKILLs the manager while Applications are
// cloned from another Application's container, by applicationRef and by
// VMID, and deleted again. A clone starts out carrying its source's owner
// tag, so a kill between the clone and the fix of its tags must leave
// nothing that the source's owner takes, or that nobody owns: after the
// last restart every Application owns exactly its container.
//
// CLONE_KILLS sets the number of kill points (default 8), CRASH_SEED the
// seed.
func TestCloneCrashConsistency(t *testing.T) {
	kills := envInt(t, "CLONE_KILLS", 8)
	seed := int64(envInt(t, "CRASH_SEED", 1))
	t.Logf("kill points: %d, seed: %d", kills, seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 2))

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := newCrashRun(t, ctx)

	w := &cloneWorkload{k8s: r.k8s}
	wctx, stopWorkload := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { w.run(wctx, t) })
	effective := r.killLoop(t, ctx, rng, kills)
	stopWorkload()
	wg.Wait()
	t.Logf("%d of %d kill points interrupted Proxmox work; %d clones created, %d deleted", effective, kills, w.clones, w.deletes)
	if effective == 0 {
		t.Fatal("no kill point interrupted any Proxmox work: the test exercised nothing")
	}
	r.converge(t, ctx)
}

// cloneWorkload keeps one stopped source Application and, every round,
// clones it twice and deletes the clones of two rounds back.
type cloneWorkload struct {
	k8s             client.Client
	clones, deletes int
}

func (w *cloneWorkload) run(ctx context.Context, t *testing.T) {
	src := testenv.SmallApp(ns, "source", "pve")
	src.Spec.PowerState = v1alpha1.PowerStateStopped
	if err := w.k8s.Create(ctx, src); err != nil {
		t.Errorf("create source: %v", err)
		return
	}
	vmid := w.sourceVMID(ctx)
	for r := 0; ctx.Err() == nil; r++ {
		for i, from := range []v1alpha1.CloneSource{
			{ApplicationRef: &v1alpha1.LocalObjectReference{Name: "source"}},
			{VMID: ptr.To(vmid)},
		} {
			if from.VMID != nil && *from.VMID == 0 {
				continue
			}
			if err := w.k8s.Create(ctx, cloneApp(cloneName(r, i), from)); err != nil && ctx.Err() == nil {
				t.Errorf("create clone: %v", err)
			}
			w.clones++
		}
		if r > 1 {
			for i := range 2 {
				err := w.k8s.Delete(ctx, &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: cloneName(r-2, i), Namespace: ns}})
				if client.IgnoreNotFound(err) != nil && ctx.Err() == nil {
					t.Errorf("delete clone: %v", err)
				}
				w.deletes++
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
}

// sourceVMID waits a while for the source's VMID (0 if it has none yet:
// then only applicationRef clones are made).
func (w *cloneWorkload) sourceVMID(ctx context.Context) int32 {
	var vmid int32
	_ = testenv.Poll(ctx, 20*time.Second, func() (bool, error) {
		a := &v1alpha1.Application{}
		if err := w.k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "source"}, a); err == nil &&
			meta.IsStatusConditionTrue(a.Status.Conditions, v1alpha1.ConditionReady) {
			vmid = a.Status.VMID
		}
		return vmid != 0, nil
	})
	return vmid
}

func cloneName(round, i int) string { return fmt.Sprintf("clone-%d-%d", round, i) }

func cloneApp(name string, from v1alpha1.CloneSource) *v1alpha1.Application {
	a := testenv.SmallApp(ns, name, "pve")
	a.Spec.Template = ""
	a.Spec.CloneFrom = &from
	return a
}
