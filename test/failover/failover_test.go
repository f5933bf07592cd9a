package failover

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/manager"
	"github.com/pve-operator/pve-operator/internal/pvesim"
	"github.com/pve-operator/pve-operator/internal/testenv"
)

const (
	ns   = "team"
	apps = 6
	// leaseNamespace holds the Lease; the envtest apiserver has "default".
	leaseNamespace = "default"
	// leaseName is the manager's LeaderElectionID.
	leaseName = "pve-operator.proxmox.pve-operator.io"
)

// TestStandbyTakesOverFromAKilledLeader: replica A leads, B waits; A is
// SIGKILLed while containers are being created. B must take the Lease
// (A never released it, so B waits for it to expire), finish every
// Application, and Proxmox must have been asked to create and to start
// each container exactly once.
func TestStandbyTakesOverFromAKilledLeader(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := newRun(t, ctx)

	a := r.start(t, "a")
	leaderA := r.waitLeader(t, ctx, "")
	b := r.start(t, "b")
	t.Cleanup(func() { _ = b.Stop(30 * time.Second) })
	for i := range apps {
		if err := r.k8s.Create(ctx, testenv.SmallApp(ns, fmt.Sprintf("app-%d", i), "pve")); err != nil {
			t.Fatal(err)
		}
	}
	// Kill A once creates are under way, so that it leaves work in flight.
	if err := testenv.Poll(ctx, time.Minute, func() (bool, error) { return len(r.sim.Tasks(pvesim.TaskCreate, "")) >= 2, nil }); err != nil {
		t.Fatalf("leader A started no creates: %v", err)
	}
	// A standby starts no controller: it only waits for the Lease.
	if r.workersStarted(t, "b") {
		t.Fatal("replica B started its controllers while A held the Lease")
	}
	killed := time.Now()
	a.Kill()

	leaderB := r.waitLeader(t, ctx, leaderA)
	lease := r.lease(t, ctx)
	t.Logf("B (%s) took the Lease %s after A (%s) was killed; lease duration %ds",
		leaderB, time.Since(killed).Round(100*time.Millisecond), leaderA, ptrInt(lease.Spec.LeaseDurationSeconds))
	if err := testenv.Poll(ctx, 3*time.Minute, func() (bool, error) { return allReady(ctx, r.k8s) }); err != nil {
		t.Fatalf("not every Application became Ready under the new leader: %v", err)
	}
	if !r.workersStarted(t, "b") {
		t.Error("replica B finished the work without having started its controllers (its log has no \"Starting workers\")")
	}
	r.checkNothingTwice(t, ctx)
}

type run struct {
	k8s             client.Client
	sim             *pvesim.Server
	bin, kubeconfig string
	// dir holds each replica's log, manager-<replica>.log.
	dir string
}

func newRun(t *testing.T, ctx context.Context) *run {
	t.Helper()
	dir := t.TempDir()
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	r := &run{kubeconfig: filepath.Join(dir, "kubeconfig"), dir: dir}
	if err := env.WriteKubeconfig(r.kubeconfig); err != nil {
		t.Fatal(err)
	}
	if r.bin, err = testenv.BuildManager(dir); err != nil {
		t.Fatal(err)
	}
	opts := pvesim.DefaultOptions()
	// Creates long enough that the kill lands while some run.
	opts.Durations = pvesim.TaskDurations{pvesim.TaskCreate: {Min: 1500 * time.Millisecond, Max: 3 * time.Second}}
	if r.sim, err = pvesim.New(opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.sim.Close() })
	if r.k8s, err = client.New(env.Config, client.Options{Scheme: manager.Scheme}); err != nil {
		t.Fatal(err)
	}
	if err := testenv.CreateHost(ctx, r.k8s, r.sim, testenv.HostFixture{Name: "pve", Namespaces: []string{ns}, SyncInterval: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, replica := range []string{"a", "b"} {
			if kept := testenv.KeepLog(r.log(replica), "failover-"+replica); kept != "" {
				t.Logf("replica %s's log kept at %s", replica, kept)
			}
		}
	})
	return r
}

func (r *run) log(replica string) string { return filepath.Join(r.dir, "manager-"+replica+".log") }

// workersStarted reports whether a replica's controllers have started,
// which controller-runtime logs ("Starting workers") only once the replica
// holds the Lease.
func (r *run) workersStarted(t *testing.T, replica string) bool {
	t.Helper()
	data, err := os.ReadFile(r.log(replica))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(data), "Starting workers")
}

func (r *run) start(t *testing.T, replica string) *testenv.ManagerProcess {
	t.Helper()
	p, err := testenv.StartManager(r.bin, r.kubeconfig, r.log(replica), "--leader-elect", "--leader-election-namespace="+leaseNamespace)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (r *run) lease(t *testing.T, ctx context.Context) *coordinationv1.Lease {
	t.Helper()
	l := &coordinationv1.Lease{}
	if err := r.k8s.Get(ctx, client.ObjectKey{Namespace: leaseNamespace, Name: leaseName}, l); err != nil {
		t.Fatal(err)
	}
	return l
}

// waitLeader waits for the Lease to be held by anyone but not, and
// returns the holder. The wait is bounded generously (two lease
// durations and a retry): how long the takeover took is logged, not
// asserted.
func (r *run) waitLeader(t *testing.T, ctx context.Context, not string) string {
	t.Helper()
	holder := ""
	err := testenv.Poll(ctx, time.Minute, func() (bool, error) {
		l := &coordinationv1.Lease{}
		if err := r.k8s.Get(ctx, client.ObjectKey{Namespace: leaseNamespace, Name: leaseName}, l); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		if l.Spec.HolderIdentity != nil {
			holder = *l.Spec.HolderIdentity
		}
		return holder != "" && holder != not, nil
	})
	if err != nil {
		t.Fatalf("no replica other than %q took the Lease: %v", not, err)
	}
	return holder
}

// checkNothingTwice: one create and one start task per Application's
// container, and no container beyond them.
func (r *run) checkNothingTwice(t *testing.T, ctx context.Context) {
	t.Helper()
	l := &v1alpha1.ApplicationList{}
	if err := r.k8s.List(ctx, l, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, a := range l.Items {
		id := fmt.Sprint(a.Status.VMID)
		if n := len(r.sim.Tasks(pvesim.TaskCreate, id)); n != 1 {
			t.Errorf("%s: %d create tasks for container %s, want exactly one", a.Name, n, id)
		}
		if n := len(r.sim.Tasks(pvesim.TaskStart, id)); n != 1 {
			t.Errorf("%s: %d start tasks for container %s, want exactly one", a.Name, n, id)
		}
	}
	if got := len(r.sim.State().Containers); got != apps {
		t.Errorf("%d containers in Proxmox, want %d (one per Application)", got, apps)
	}
	if got := len(r.sim.Tasks(pvesim.TaskCreate, "")); got != apps {
		t.Errorf("%d create tasks in all, want %d", got, apps)
	}
}

func allReady(ctx context.Context, k8s client.Client) (bool, error) {
	l := &v1alpha1.ApplicationList{}
	if err := k8s.List(ctx, l, client.InNamespace(ns)); err != nil {
		return false, err
	}
	ready := 0
	for _, a := range l.Items {
		if meta.IsStatusConditionTrue(a.Status.Conditions, v1alpha1.ConditionReady) {
			ready++
		}
	}
	return ready == apps, nil
}

func ptrInt(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}
