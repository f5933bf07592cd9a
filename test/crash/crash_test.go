package crash_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/manager"
	"github.com/pve-operator/pve-operator/internal/pvesim"
	"github.com/pve-operator/pve-operator/internal/testenv"
)

const ns = "team"

// TestCrashConsistency SIGKILLs the manager process at seeded random moments
// while a workload creates and deletes Applications, takes archive and
// snapshot Backups, deletes Backups and restores them, restarts it each
// time, and finally lets one manager run to convergence. Then everything
// must have converged and the data invariants must hold.
//
// CRASH_KILLS sets the number of kill points (default 20; `make test-faults`
// runs 200) and CRASH_SEED the seed of the kill schedule and of the
// workload's choices. The interleaving with the simulator's tasks is not
// reproducible to the millisecond, the schedule is. CRASH_DEBUG=1 logs the
// simulator's tasks and containers at the end.
func TestCrashConsistency(t *testing.T) {
	kills := envInt(t, "CRASH_KILLS", 20)
	seed := int64(envInt(t, "CRASH_SEED", 1))
	t.Logf("kill points: %d, seed: %d (rerun with CRASH_SEED=%d CRASH_KILLS=%d)", kills, seed, seed, kills)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := newCrashRun(t, ctx)

	w := &workload{k8s: r.k8s, rng: rand.New(rand.NewPCG(uint64(seed), 1))}
	wctx, stopWorkload := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { w.run(wctx, t) })
	effective := r.killLoop(t, ctx, rng, kills)
	stopWorkload()
	wg.Wait()
	t.Logf("%d of %d kill points interrupted Proxmox work (a mutating request in that run or a task running at the kill); workload: %s",
		effective, kills, w.summary())
	if effective == 0 {
		t.Fatal("no kill point interrupted any Proxmox work: the test exercised nothing")
	}

	r.converge(t, ctx)
}

// crashRun is the control plane, the simulator and the manager binary the
// kill loop restarts, plus the foreign containers (VMID → digest).
type crashRun struct {
	k8s                      client.Client
	sim                      *pvesim.Server
	bin, kubeconfig, logPath string
	foreign                  map[int]string
	// stateFile is the simulator's, for restartSim.
	stateFile string
}

// newCrashRun starts the control plane and the simulator, builds the
// manager, and creates the ProxmoxHost and the foreign containers. All of
// it stops when the test ends; on failure the manager's log is kept.
func newCrashRun(t *testing.T, ctx context.Context) *crashRun {
	t.Helper()
	// Made first, so it is removed last, after the control plane stopped.
	dir := t.TempDir()
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	r := &crashRun{kubeconfig: filepath.Join(dir, "kubeconfig"), logPath: filepath.Join(dir, "manager.log")}
	if err := env.WriteKubeconfig(r.kubeconfig); err != nil {
		t.Fatal(err)
	}
	if r.bin, err = testenv.BuildManager(dir); err != nil {
		t.Fatal(err)
	}
	r.stateFile = filepath.Join(dir, "pvesim-state.json")
	opts := crashSimOptions()
	opts.StateFile = r.stateFile
	if r.sim, err = pvesim.New(opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.sim.Close() })
	if r.k8s, err = client.New(env.Config, client.Options{Scheme: manager.Scheme}); err != nil {
		t.Fatal(err)
	}
	if err := testenv.CreateHost(ctx, r.k8s, r.sim, testenv.HostFixture{Name: "pve", Namespaces: []string{ns}, SyncInterval: 5 * time.Second,
		Images: &v1alpha1.ImageGrant{Registries: []string{"docker.io/library"}, Storages: []string{"local"}}}); err != nil {
		t.Fatal(err)
	}
	r.foreign = addForeign(t, r.sim)
	t.Cleanup(func() {
		if t.Failed() {
			if kept := testenv.KeepLog(r.logPath, "crash"); kept != "" {
				t.Logf("manager log kept at %s", kept)
			}
		}
	})
	return r
}

// crashSimOptions: tasks long enough that kills land while they run.
func crashSimOptions() pvesim.Options {
	ms := time.Millisecond
	opts := pvesim.DefaultOptions()
	opts.Durations = pvesim.TaskDurations{
		pvesim.TaskCreate:   {Min: 400 * ms, Max: 1200 * ms},
		pvesim.TaskStart:    {Min: 200 * ms, Max: 500 * ms},
		pvesim.TaskVzdump:   {Min: 500 * ms, Max: 1500 * ms},
		pvesim.TaskRestore:  {Min: 400 * ms, Max: 1200 * ms},
		pvesim.TaskClone:    {Min: 400 * ms, Max: 1200 * ms},
		pvesim.TaskDestroy:  {Min: 200 * ms, Max: 600 * ms},
		pvesim.TaskShutdown: {Min: 200 * ms, Max: 400 * ms},
		pvesim.TaskStop:     {Min: 100 * ms, Max: 300 * ms},
		// Image updates: the pull and each volume hand-over.
		pvesim.TaskOCIRegistryPull: {Min: 300 * ms, Max: 900 * ms},
		pvesim.TaskMoveVolume:      {Min: 200 * ms, Max: 600 * ms},
	}
	return opts
}

// addForeign adds the containers the operator must never touch and returns
// them as VMID → digest.
func addForeign(t *testing.T, sim *pvesim.Server) map[int]string {
	t.Helper()
	// Containers the operator must never touch, one stopped, one running.
	if err := sim.AddContainer("pve3", 9000, map[string]string{"hostname": "foreign", "memory": "256"}, false); err != nil {
		t.Fatal(err)
	}
	if err := sim.AddContainer("pve1", 9001, map[string]string{"hostname": "foreign-running", "memory": "512"}, true); err != nil {
		t.Fatal(err)
	}
	foreign := map[int]string{}
	for _, id := range []int{9000, 9001} {
		ct, _ := sim.Container(id)
		foreign[id] = ct.Digest
	}
	// One whose marker names an Application that is not ours.
	other, err := testenv.AddOwnedByOther(sim, "pve2", 9002, true)
	if err != nil {
		t.Fatal(err)
	}
	foreign[9002] = other
	return foreign
}

func (r *crashRun) start(t *testing.T) *testenv.ManagerProcess {
	t.Helper()
	p, err := testenv.StartManager(r.bin, r.kubeconfig, r.logPath)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// killLoop starts the manager, lets it work for a random while and
// SIGKILLs it, kills times, and returns how many kills interrupted Proxmox
// work.
func (r *crashRun) killLoop(t *testing.T, ctx context.Context, rng *rand.Rand, kills int) int {
	t.Helper()
	effective := 0
	for i := range kills {
		before := mutatingRequests(r.sim)
		p := r.start(t)
		// Kill at a random moment after it began talking to Proxmox: a kill
		// during start-up (cache sync) tests nothing.
		talking := totalRequests(r.sim)
		_ = testenv.Poll(ctx, 10*time.Second, func() (bool, error) { return totalRequests(r.sim) > talking, nil })
		time.Sleep(time.Duration(rng.IntN(4000)) * time.Millisecond)
		p.Kill()
		running := 0
		for _, tk := range r.sim.State().Tasks {
			if tk.Running {
				running++
			}
		}
		after := mutatingRequests(r.sim)
		if after > before || running > 0 {
			effective++
		}
		if i%20 == 19 {
			t.Logf("kill %d/%d: %d mutating requests so far, %d tasks running at the kill", i+1, kills, after, running)
		}
	}
	return effective
}

// converge runs one last manager until everything settles and checks the
// data invariants.
func (r *crashRun) converge(t *testing.T, ctx context.Context) {
	t.Helper()
	p := r.start(t)
	defer func() {
		if err := p.Stop(30 * time.Second); err != nil {
			t.Errorf("manager did not shut down cleanly: %v", err)
		}
	}()
	if err := testenv.Poll(ctx, 4*time.Minute, func() (bool, error) { return settled(ctx, r.k8s) }); err != nil {
		reportUnsettled(t, ctx, r.k8s)
		t.Fatalf("not converged after the last restart: %v", err)
	}
	reportOutcomes(t, ctx, r.k8s)
	if os.Getenv("CRASH_DEBUG") != "" {
		st := r.sim.State()
		for _, tk := range st.Tasks {
			t.Logf("task %s %s %s start %d end %d exit %q", tk.Type, tk.ID, tk.Node, tk.StartTime, tk.EndTime, tk.ExitStatus)
		}
		for _, ct := range st.Containers {
			t.Logf("ct %d tags %q snaps %+v", ct.VMID, ct.Config["tags"], ct.Snapshots)
		}
	}
	violations, err := testenv.CheckInvariants(ctx, r.k8s, r.sim, ns, r.foreign)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range violations {
		t.Error(v)
	}
	t.Logf("converged: %d invariant violations", len(violations))
}

// workload drives creates, deletes, backups and restores in rounds until
// stopped, never waiting for the operator longer than a few seconds: kills
// must land in the middle of everything.
type workload struct {
	k8s client.Client
	rng *rand.Rand

	mu                                       sync.Mutex
	apps, deletes, backups, restores, rounds int
}

func (w *workload) summary() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprintf("%d rounds, %d Applications created, %d deleted, %d Backups, %d Restores",
		w.rounds, w.apps, w.deletes, w.backups, w.restores)
}

func (w *workload) count(f *int) {
	w.mu.Lock()
	*f++
	w.mu.Unlock()
}

func (w *workload) run(ctx context.Context, t *testing.T) {
	create := func(o client.Object, counter *int) {
		if err := w.k8s.Create(ctx, o); err != nil && ctx.Err() == nil {
			t.Errorf("create %s: %v", o.GetName(), err)
			return
		}
		w.count(counter)
	}
	del := func(o client.Object) {
		if err := w.k8s.Delete(ctx, o); client.IgnoreNotFound(err) != nil && ctx.Err() == nil {
			t.Errorf("delete %s: %v", o.GetName(), err)
		}
	}
	restoring := map[int]bool{}
	for r := 0; ctx.Err() == nil; r++ {
		for i := range 3 {
			create(testenv.SmallApp(ns, appName(r, i), "pve"), &w.apps)
		}
		// Wait a little for the previous round's first app, then back it up
		// twice (archive and snapshot) and restore the round before's backup.
		if r > 0 {
			w.waitReady(ctx, appName(r-1, 0), 8*time.Second)
			create(backup(fmt.Sprintf("bk-%d", r-1), appName(r-1, 0), v1alpha1.BackupTypeArchive), &w.backups)
			create(backup(fmt.Sprintf("snap-%d", r-1), appName(r-1, 1), v1alpha1.BackupTypeSnapshot), &w.backups)
		}
		if r > 1 && w.rng.IntN(2) == 0 && w.waitBackup(ctx, fmt.Sprintf("bk-%d", r-2), 15*time.Second) {
			restoring[r-2] = true
			create(&v1alpha1.Restore{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("rs-%d", r-2), Namespace: ns},
				Spec:       v1alpha1.RestoreSpec{BackupRef: v1alpha1.LocalObjectReference{Name: fmt.Sprintf("bk-%d", r-2)}},
			}, &w.restores)
		}
		// Delete three rounds back: the Applications but the first (it has
		// the archive Backup, maybe a Restore) and, half the time when
		// nothing restores it, the archive Backup.
		if r > 2 {
			for i := 1; i < 3; i++ {
				del(&v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: appName(r-3, i), Namespace: ns}})
				w.count(&w.deletes)
			}
			if !restoring[r-3] && w.rng.IntN(2) == 0 {
				del(&v1alpha1.Backup{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bk-%d", r-3), Namespace: ns}})
			}
		}
		w.count(&w.rounds)
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(1000+w.rng.IntN(3000)) * time.Millisecond):
		}
	}
}

func (w *workload) waitReady(ctx context.Context, name string, d time.Duration) {
	_ = testenv.Poll(ctx, d, func() (bool, error) {
		// A failed read (the workload stopping, a create that did not
		// happen) only means not Ready yet: the workload goes on after d
		// either way, so it must not end the wait early.
		a := &v1alpha1.Application{}
		err := w.k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, a)
		return err == nil && meta.IsStatusConditionTrue(a.Status.Conditions, v1alpha1.ConditionReady), nil
	})
}

// waitBackup waits a little for a Backup to complete: a Restore of one
// that has not is refused at once and would exercise nothing.
func (w *workload) waitBackup(ctx context.Context, name string, d time.Duration) bool {
	return testenv.Poll(ctx, d, func() (bool, error) {
		// As in waitReady, a failed read is "not yet", not a reason to stop
		// waiting: the caller skips the Restore when the wait runs out.
		b := &v1alpha1.Backup{}
		err := w.k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, b)
		return err == nil && b.Status.Phase == v1alpha1.BackupPhaseCompleted, nil
	}) == nil
}

func appName(round, i int) string { return fmt.Sprintf("app-%d-%d", round, i) }

func backup(name, app string, typ v1alpha1.BackupType) *v1alpha1.Backup {
	return &v1alpha1.Backup{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.BackupSpec{
			ApplicationRef:   v1alpha1.LocalObjectReference{Name: app},
			BackupParameters: v1alpha1.BackupParameters{Type: typ},
		},
	}
}

// settled: every Application Ready or gone, every Backup and Restore in a
// final phase, nothing left mid-deletion.
func settled(ctx context.Context, k8s client.Client) (bool, error) {
	apps := &v1alpha1.ApplicationList{}
	backups := &v1alpha1.BackupList{}
	restores := &v1alpha1.RestoreList{}
	for _, l := range []client.ObjectList{apps, backups, restores} {
		if err := k8s.List(ctx, l, client.InNamespace(ns)); err != nil {
			return false, err
		}
	}
	for _, a := range apps.Items {
		if a.DeletionTimestamp != nil || !meta.IsStatusConditionTrue(a.Status.Conditions, v1alpha1.ConditionReady) {
			return false, nil
		}
	}
	for _, b := range backups.Items {
		final := b.Status.Phase == v1alpha1.BackupPhaseCompleted || b.Status.Phase == v1alpha1.BackupPhaseFailed
		// A Backup of an Application deleted before it ran waits for the
		// Application to come back; that is settled too.
		waiting := meta.IsStatusConditionPresentAndEqual(b.Status.Conditions, v1alpha1.ConditionReady, metav1.ConditionFalse) &&
			meta.FindStatusCondition(b.Status.Conditions, v1alpha1.ConditionReady).Reason == v1alpha1.ReasonApplicationNotFound
		if b.DeletionTimestamp != nil || (!final && !waiting) {
			return false, nil
		}
	}
	for _, r := range restores.Items {
		if r.Status.Phase != v1alpha1.RestorePhaseCompleted && r.Status.Phase != v1alpha1.RestorePhaseFailed {
			return false, nil
		}
	}
	return true, nil
}

// reportOutcomes logs the Backups and Restores that did not complete and
// why: a crash may fail one (a Backup of a container deleted meanwhile), and
// the log says so instead of hiding it.
func reportOutcomes(t *testing.T, ctx context.Context, k8s client.Client) {
	backups := &v1alpha1.BackupList{}
	restores := &v1alpha1.RestoreList{}
	_ = k8s.List(ctx, backups, client.InNamespace(ns))
	_ = k8s.List(ctx, restores, client.InNamespace(ns))
	done := 0
	for _, b := range backups.Items {
		if b.Status.Phase == v1alpha1.BackupPhaseCompleted {
			done++
		} else if c := meta.FindStatusCondition(b.Status.Conditions, v1alpha1.ConditionReady); c != nil {
			t.Logf("Backup %s (%s): %s: %s: %s", b.Name, b.Spec.Type, b.Status.Phase, c.Reason, c.Message)
		}
	}
	t.Logf("%d of %d Backups Completed", done, len(backups.Items))
	done = 0
	for _, r := range restores.Items {
		if r.Status.Phase == v1alpha1.RestorePhaseCompleted {
			done++
		} else if c := meta.FindStatusCondition(r.Status.Conditions, v1alpha1.ConditionReady); c != nil {
			t.Logf("Restore %s: %s: %s: %s", r.Name, r.Status.Phase, c.Reason, c.Message)
		}
	}
	t.Logf("%d of %d Restores Completed", done, len(restores.Items))
}

func reportUnsettled(t *testing.T, ctx context.Context, k8s client.Client) {
	apps := &v1alpha1.ApplicationList{}
	_ = k8s.List(ctx, apps, client.InNamespace(ns))
	for _, a := range apps.Items {
		if c := meta.FindStatusCondition(a.Status.Conditions, v1alpha1.ConditionReady); a.DeletionTimestamp != nil || c == nil || c.Status != metav1.ConditionTrue {
			t.Logf("Application %s (vmid %d, deleting %v): %v", a.Name, a.Status.VMID, a.DeletionTimestamp != nil, c)
		}
	}
	backups := &v1alpha1.BackupList{}
	_ = k8s.List(ctx, backups, client.InNamespace(ns))
	for _, b := range backups.Items {
		t.Logf("Backup %s: phase %s, deleting %v, %v", b.Name, b.Status.Phase, b.DeletionTimestamp != nil,
			meta.FindStatusCondition(b.Status.Conditions, v1alpha1.ConditionReady))
	}
	restores := &v1alpha1.RestoreList{}
	_ = k8s.List(ctx, restores, client.InNamespace(ns))
	for _, r := range restores.Items {
		t.Logf("Restore %s: phase %s, %v", r.Name, r.Status.Phase, meta.FindStatusCondition(r.Status.Conditions, v1alpha1.ConditionReady))
	}
}

func totalRequests(sim *pvesim.Server) int {
	n := 0
	for _, v := range sim.RequestCounts() {
		n += v
	}
	return n
}

func mutatingRequests(sim *pvesim.Server) int {
	n := 0
	for k, v := range sim.RequestCounts() {
		if !strings.HasPrefix(k, "GET ") {
			n += v
		}
	}
	return n
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a non-negative integer", name, v)
	}
	return n
}
