package crash_test

import (
	"context"
	"maps"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/pvesim"
	"github.com/pve-operator/pve-operator/internal/testenv"
)

// TestRolloutCrashConsistency SIGKILLs the manager while image
// Applications with two data mount points each are updated back and forth
// between two tags: every update creates a container, stops the old one,
// hands both volumes over and destroys the old one. Before the first
// update each data volume is marked (its simulated content); after the
// last restart every marker must be on exactly one volume, attached to its
// Application's container, besides the usual invariants.
//
// ROLLOUT_KILLS sets the number of kill points (default 8), CRASH_SEED the
// seed.
func TestRolloutCrashConsistency(t *testing.T) {
	kills := envInt(t, "ROLLOUT_KILLS", 8)
	seed := int64(envInt(t, "CRASH_SEED", 1))
	t.Logf("kill points: %d, seed: %d", kills, seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 3))

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := newCrashRun(t, ctx)

	w := &rolloutWorkload{k8s: r.k8s, sim: r.sim, markers: map[string]string{}}
	wctx, stopWorkload := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { w.run(wctx, t) })
	effective := r.killLoop(t, ctx, rng, kills)
	stopWorkload()
	wg.Wait()
	t.Logf("%d of %d kill points interrupted Proxmox work; %d image updates asked, %d volumes marked", effective, kills, w.updates, len(w.markers))
	if effective == 0 || len(w.markers) == 0 {
		t.Fatal("no kill point interrupted any Proxmox work, or no volume was marked: the test exercised nothing")
	}
	r.converge(t, ctx)
	for _, v := range testenv.MarkerViolations(ctx, r.k8s, r.sim, ns, w.markers) {
		t.Error(v)
	}
}

// rolloutWorkload keeps three image Applications and flips their tag
// every few seconds.
type rolloutWorkload struct {
	k8s client.Client
	sim *pvesim.Server
	// markers maps a marker to the Application whose volume carries it.
	mu      sync.Mutex
	markers map[string]string
	updates int
}

var rolloutTags = []string{"alpine:3.20", "alpine:3.21"}

func rolloutApp(name string) *v1alpha1.Application {
	a := testenv.SmallApp(ns, name, "pve")
	a.Spec.Template = ""
	a.Spec.Node = "pve1"
	a.Spec.Image = &v1alpha1.ImageSource{Reference: rolloutTags[0], Storage: "local"}
	a.Spec.MountPoints = []v1alpha1.MountPoint{
		{Name: "mp0", Storage: "local-lvm", Size: ptr.To(resource.MustParse("1Gi")), Path: "/data"},
		{Name: "mp1", Storage: "local-lvm", Size: ptr.To(resource.MustParse("1Gi")), Path: "/logs"},
	}
	return a
}

func (w *rolloutWorkload) run(ctx context.Context, t *testing.T) {
	names := []string{"img-0", "img-1", "img-2"}
	for _, n := range names {
		if err := w.k8s.Create(ctx, rolloutApp(n)); err != nil {
			t.Errorf("create %s: %v", n, err)
			return
		}
	}
	for _, n := range names {
		w.markWhenReady(ctx, n)
	}
	for round := 1; ctx.Err() == nil; round++ {
		for _, n := range names {
			a := &v1alpha1.Application{}
			if err := w.k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: n}, a); err != nil {
				continue
			}
			a.Spec.Image.Reference = rolloutTags[round%2]
			if err := w.k8s.Update(ctx, a); err == nil {
				w.updates++
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(8 * time.Second):
		}
	}
}

// markWhenReady waits for the Application's first container and marks its
// data volumes.
func (w *rolloutWorkload) markWhenReady(ctx context.Context, name string) {
	_ = testenv.Poll(ctx, 60*time.Second, func() (bool, error) {
		a := &v1alpha1.Application{}
		if err := w.k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, a); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		if !meta.IsStatusConditionTrue(a.Status.Conditions, v1alpha1.ConditionReady) {
			return false, nil
		}
		marked, err := testenv.MarkDataVolumes(w.sim, a)
		if err != nil {
			return false, err
		}
		w.mu.Lock()
		maps.Copy(w.markers, marked)
		w.mu.Unlock()
		return len(marked) == 2, nil
	})
}
