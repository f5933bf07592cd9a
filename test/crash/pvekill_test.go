package crash_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/pvesim"
	"github.com/pve-operator/pve-operator/internal/testenv"
)

// TestProxmoxCrashConsistency kills Proxmox instead of the manager: it
// restarts the simulator from its state file while creates run, as when
// pvedaemon is killed or the node reboots. Each create caught leaves a
// half-made container, locked "create", its task stopped with "unexpected
// status". PVE's API can neither unlock nor destroy it, so the operator
// must name every one, at the VMID it reserved, as HalfMadeContainer and
// create nothing elsewhere; the test then does what the message says (the
// simulator's `pct unlock && pct destroy`) and every Application must
// converge at its reserved VMID with no container left locked create
// without a task and no invariant violated.
//
// PVE_KILLS sets the number of restarts (default 3; `make test-faults`
// runs 20), CRASH_SEED the seed.
func TestProxmoxCrashConsistency(t *testing.T) {
	kills := envInt(t, "PVE_KILLS", 3)
	seed := int64(envInt(t, "CRASH_SEED", 1))
	t.Logf("Proxmox restarts: %d, seed: %d", kills, seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 3))

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := newCrashRun(t, ctx)
	p := r.start(t)
	defer func() {
		if err := p.Stop(30 * time.Second); err != nil {
			t.Errorf("manager did not shut down cleanly: %v", err)
		}
	}()

	caught := 0
	for i := range kills {
		for j := range 2 {
			if err := r.k8s.Create(ctx, testenv.SmallApp(ns, fmt.Sprintf("pk-%d-%d", i, j), "pve")); err != nil {
				t.Fatal(err)
			}
		}
		_ = testenv.Poll(ctx, 15*time.Second, func() (bool, error) { return createRunning(r.sim), nil })
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		if createRunning(r.sim) {
			caught++
		}
		r.restartSim(t)
	}
	t.Logf("%d of %d restarts caught a create running", caught, kills)
	if caught == 0 {
		t.Fatal("no restart caught a create: the test exercised nothing")
	}

	halves := r.removeReportedHalves(t, ctx)
	if len(halves) == 0 {
		t.Fatal("no half-made container was reported: the test exercised nothing")
	}
	if err := testenv.Poll(ctx, 3*time.Minute, func() (bool, error) { return settled(ctx, r.k8s) }); err != nil {
		reportUnsettled(t, ctx, r.k8s)
		t.Fatalf("not converged after the half-made containers were removed: %v", err)
	}
	for vmid, name := range halves {
		a := &v1alpha1.Application{}
		if err := r.k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, a); err != nil {
			t.Fatal(err)
		}
		if int(a.Status.VMID) != vmid {
			t.Errorf("Application %s was created again at VMID %d, not at %d, the one it had reserved", name, a.Status.VMID, vmid)
		}
	}
	violations, err := testenv.CheckInvariants(ctx, r.k8s, r.sim, ns, r.foreign)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range violations {
		t.Error(v)
	}
	t.Logf("%d half-made containers reported and removed; converged: %d invariant violations", len(halves), len(violations))
}

// createRunning reports a vzcreate task running on the simulator.
func createRunning(sim *pvesim.Server) bool {
	for _, tk := range sim.State().Tasks {
		if tk.Running && tk.Type == pvesim.TaskCreate {
			return true
		}
	}
	return false
}

// restartSim stops the simulator, which leaves its running workers dead
// where they were, and starts it again from the state file at the same
// address with the same certificate.
func (r *crashRun) restartSim(t *testing.T) {
	t.Helper()
	opts := crashSimOptions()
	opts.StateFile = r.stateFile
	opts.Addr = r.sim.Addr()
	opts.TLSCertificate = r.sim.TLSCertificate()
	opts.CACertPEM = r.sim.CACertPEM()
	if err := r.sim.Close(); err != nil {
		t.Fatal(err)
	}
	sim, err := pvesim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	r.sim = sim
}

// removeReportedHalves waits until every Application is Ready or reports
// a half-made container, checks that each container left locked create is
// reported by the Application that reserved its VMID, and then removes
// them as the message says. It returns them, VMID → Application.
func (r *crashRun) removeReportedHalves(t *testing.T, ctx context.Context) map[int]string {
	t.Helper()
	reported := map[int]string{}
	err := testenv.Poll(ctx, 3*time.Minute, func() (bool, error) {
		apps := &v1alpha1.ApplicationList{}
		if err := r.k8s.List(ctx, apps, client.InNamespace(ns)); err != nil {
			return false, err
		}
		clear(reported)
		for _, a := range apps.Items {
			c := meta.FindStatusCondition(a.Status.Conditions, v1alpha1.ConditionReady)
			switch {
			case c != nil && c.Reason == v1alpha1.ReasonHalfMadeContainer:
				if !strings.Contains(c.Message, fmt.Sprintf("pct unlock %d && pct destroy %d", a.Status.VMID, a.Status.VMID)) {
					t.Errorf("Application %s: the message does not name its VMID %d: %s", a.Name, a.Status.VMID, c.Message)
				}
				reported[int(a.Status.VMID)] = a.Name
			case c == nil || c.Status != "True":
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		reportUnsettled(t, ctx, r.k8s)
		t.Fatalf("Applications neither Ready nor reporting a half-made container: %v", err)
	}
	for _, ct := range r.sim.State().Containers {
		if ct.Lock == "create" && reported[ct.VMID] == "" {
			t.Errorf("container %d is left locked (create) and no Application reports it", ct.VMID)
		}
	}
	for vmid, name := range reported {
		// `pct unlock <vmid> && pct destroy <vmid>` on the node.
		if err := r.sim.SetLock(vmid, ""); err != nil {
			t.Fatalf("unlock %d (%s): %v", vmid, name, err)
		}
		if err := r.sim.RemoveContainer(vmid); err != nil {
			t.Fatalf("destroy %d (%s): %v", vmid, name, err)
		}
		pokeApp(t, ctx, r.k8s, name)
	}
	return reported
}

// pokeApp wakes an Application without changing its spec.
func pokeApp(t *testing.T, ctx context.Context, k8s client.Client, name string) {
	t.Helper()
	a := &v1alpha1.Application{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, a); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(a.DeepCopy())
	a.SetAnnotations(map[string]string{"test.pve-operator.io/poke": "halfmade"})
	if err := k8s.Patch(ctx, a, patch); err != nil {
		t.Fatal(err)
	}
}
