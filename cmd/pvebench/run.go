package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/pvesim"
	"github.com/pve-operator/pve-operator/internal/testenv"
)

const (
	namespace = "bench"
	hostName  = "bench"
)

// bench is one run: the control plane, the simulator and the manager
// process, plus where the current phase started.
type bench struct {
	ctx   context.Context
	c     config
	k8s   client.Client
	sim   *pvesim.Server
	mgr   *testenv.ManagerProcess
	nodes int
	r     *report

	phaseStart time.Time
	phaseCPU   float64
}

func run(c config, dir string) (*report, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Built first: a compile error should not cost an apiserver start.
	progressNow("building cmd/manager")
	bin, err := testenv.BuildManager(dir)
	if err != nil {
		return nil, err
	}
	env, err := testenv.Start()
	if err != nil {
		return nil, err
	}
	defer func() { _ = env.Stop() }()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		return nil, err
	}
	opts := simOptions(c)
	sim, err := pvesim.New(opts)
	if err != nil {
		return nil, err
	}
	defer sim.Close()
	// testenv.Start registered the API types in client-go's scheme, the
	// client's default.
	k8s, err := client.New(env.Config, client.Options{})
	if err != nil {
		return nil, err
	}
	mgr, err := testenv.StartManager(bin, kubeconfig, filepath.Join(dir, "manager.log"), managerFlags(c)...)
	if err != nil {
		return nil, err
	}
	// Runs before env.Stop (defers are LIFO): a manager outliving its
	// apiserver would only fill the log with connection errors. A no-op
	// after a clean Stop.
	defer mgr.Kill()
	if err := createHost(ctx, k8s, sim, c); err != nil {
		return nil, err
	}

	b := &bench{
		ctx: ctx, c: c, k8s: k8s, sim: sim, mgr: mgr, nodes: len(opts.Nodes),
		r: &report{Date: time.Now().UTC().Format(time.RFC3339), Config: c, Nodes: len(opts.Nodes)},
	}
	for _, step := range []func() error{b.create, b.steady, b.specChanges, b.backups, b.delete} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return b.finish()
}

// simOptions are the simulator's defaults with the task durations of c.
func simOptions(c config) pvesim.Options {
	opts := pvesim.DefaultOptions()
	// Thin pools big enough for N 1 GiB root disks (the default 500 GiB per
	// node holds 1,500): the bench measures the operator, not a full disk.
	for i := range opts.Storages {
		if opts.Storages[i].ID == "local-lvm" {
			opts.Storages[i].Total = max(opts.Storages[i].Total, uint64(c.N)*(1<<30))
		}
	}
	opts.Durations = pvesim.TaskDurations{
		pvesim.TaskCreate: {Min: c.Create, Max: c.Create},
		pvesim.TaskStart:  {Min: c.Start, Max: c.Start},
		pvesim.TaskVzdump: {Min: c.Vzdump, Max: c.Vzdump},
	}
	return opts
}

func managerFlags(c config) []string {
	return []string{
		"--application-concurrency=" + strconv.Itoa(c.Workers),
		"--backup-concurrency=" + strconv.Itoa(c.BackupWorkers),
		"--proxmox-qps=" + strconv.FormatFloat(c.QPS, 'g', -1, 64),
		"--proxmox-burst=" + strconv.Itoa(c.Burst),
		"--max-tasks-per-host=" + strconv.Itoa(c.MaxTasks),
		"--drift-interval=" + c.DriftInterval.String(),
		"--drift-reads-per-second=" + strconv.FormatFloat(c.DriftRate, 'g', -1, 64),
	}
}

// createHost creates the bench's ProxmoxHost and waits until it is Ready.
func createHost(ctx context.Context, k8s client.Client, sim *pvesim.Server, c config) error {
	if err := testenv.CreateHost(ctx, k8s, sim, testenv.HostFixture{
		Name: hostName, Namespaces: []string{namespace}, SyncInterval: c.SyncInterval,
	}); err != nil {
		return err
	}
	if err := testenv.WaitHostReady(ctx, k8s, hostName, time.Minute); err != nil {
		return fmt.Errorf("ProxmoxHost %s never became Ready: %w", hostName, err)
	}
	return nil
}

// finish stops the manager and records what the whole run cost it.
func (b *bench) finish() (*report, error) {
	if err := b.mgr.Stop(30 * time.Second); err != nil {
		return nil, fmt.Errorf("manager shutdown on SIGTERM: %w", err)
	}
	// After exit the usage is wait4's rusage, whose maxrss is the peak of the
	// whole run; /proc's VmHWM sampled earlier could miss the end.
	u, err := b.mgr.Usage()
	if err != nil {
		return nil, err
	}
	b.r.ManagerPeakRSSMiB = float64(u.PeakRSSBytes) / (1 << 20)
	b.r.ManagerCPUSeconds = u.CPUSeconds
	return b.r, nil
}

// begin starts a phase: request counts from zero, CPU from now.
func (b *bench) begin() error {
	u, err := b.mgr.Usage()
	if err != nil {
		return fmt.Errorf("manager usage: %w", err)
	}
	b.sim.ResetRequestCounts()
	b.phaseStart, b.phaseCPU = time.Now(), u.CPUSeconds
	return nil
}

// end records the phase begun last.
func (b *bench) end(name string) (phase, error) {
	d := time.Since(b.phaseStart)
	u, err := b.mgr.Usage()
	if err != nil {
		return phase{}, fmt.Errorf("manager usage: %w", err)
	}
	// Rounded to the 10 ms clock tick CPU time is counted in; more digits
	// are float noise.
	cpu := math.Round((u.CPUSeconds-b.phaseCPU)*100) / 100
	p := phase{Name: name, Seconds: d.Seconds(), Requests: b.sim.RequestCounts(), ManagerCPUSeconds: cpu}
	for _, v := range p.Requests {
		p.Total += v
	}
	b.r.Phases = append(b.r.Phases, p)
	return p, nil
}

// poll is testenv.Poll that gives up as soon as the manager is gone, rather
// than after the whole timeout.
func (b *bench) poll(timeout time.Duration, cond func() (bool, error)) error {
	return testenv.Poll(b.ctx, timeout, func() (bool, error) {
		if b.mgr.Exited() {
			return false, errors.New("the manager exited; see its log")
		}
		return cond()
	})
}

func appName(i int) string { return fmt.Sprintf("app-%d", i) }

func (b *bench) create() error {
	c := b.c
	if err := b.begin(); err != nil {
		return err
	}
	for i := range c.N {
		if err := b.k8s.Create(b.ctx, benchApp(c, i)); err != nil {
			return err
		}
	}
	if err := b.waitAllReady(30 * time.Minute); err != nil {
		return err
	}
	p, err := b.end("create")
	if err != nil {
		return err
	}
	b.r.ReadySeconds = p.Seconds
	// The schedule bound: every container needs a create then a start task,
	// and each node runs c.MaxTasks of them at a time.
	rounds := math.Ceil(float64(c.N) / float64(b.nodes*c.MaxTasks))
	b.r.BoundSeconds = rounds * (c.Create + c.Start).Seconds()
	b.r.BoundRatio = b.r.ReadySeconds / b.r.BoundSeconds
	return nil
}

func (b *bench) waitAllReady(timeout time.Duration) error {
	n := b.c.N
	err := b.poll(timeout, func() (bool, error) {
		list := &v1alpha1.ApplicationList{}
		if err := b.k8s.List(b.ctx, list, client.InNamespace(namespace)); err != nil {
			return false, err
		}
		ready := 0
		reasons := map[string]int{}
		for _, a := range list.Items {
			if meta.IsStatusConditionTrue(a.Status.Conditions, v1alpha1.ConditionReady) {
				ready++
			} else if c := meta.FindStatusCondition(a.Status.Conditions, v1alpha1.ConditionReady); c != nil {
				reasons[c.Reason+": "+c.Message]++
			}
		}
		if ready == n {
			return true, nil
		}
		progress("%d/%d Applications Ready; others: %v", ready, n, reasons)
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %d Applications Ready: %w", n, err)
	}
	return nil
}

// steady measures what N Ready Applications cost when nothing changes.
func (b *bench) steady() error {
	// Start once in-flight IP polls have settled and every Application is
	// due for its periodic drift read: steady state includes those reads,
	// which the manager paces per host (--drift-reads-per-second), so they
	// must not grow with N either.
	time.Sleep(max(b.c.SyncInterval, b.c.DriftInterval+b.c.SyncInterval))
	if err := b.begin(); err != nil {
		return err
	}
	time.Sleep(2 * b.c.SyncInterval)
	p, err := b.end("steady (2 sync intervals)")
	if err != nil {
		return err
	}
	b.r.SteadyPerSync = float64(p.Total) / 2
	b.r.SteadyCPUPerSync = p.ManagerCPUSeconds / 2
	return nil
}

// specChanges times cores 1 -> 2, one Application at a time, up to the
// simulator's config: that is when the change has taken effect in Proxmox.
func (b *bench) specChanges() error {
	n := min(b.c.Changes, b.c.N)
	if n == 0 {
		return nil
	}
	if err := b.begin(); err != nil {
		return err
	}
	var lat []float64
	for i := range n {
		app := &v1alpha1.Application{}
		if err := b.k8s.Get(b.ctx, client.ObjectKey{Namespace: namespace, Name: appName(i)}, app); err != nil {
			return err
		}
		app.Spec.Resources.Cores = ptr.To[int32](2)
		start := time.Now()
		if err := b.k8s.Update(b.ctx, app); err != nil {
			return err
		}
		// A tight loop, not poll's 200 ms: the latency is what is measured.
		for {
			if ct, ok := b.sim.Container(int(app.Status.VMID)); ok && ct.Config["cores"] == "2" {
				break
			}
			if b.mgr.Exited() {
				return errors.New("the manager exited during the spec changes; see its log")
			}
			if time.Since(start) > time.Minute {
				return fmt.Errorf("spec change of %s never reached Proxmox", app.Name)
			}
			time.Sleep(2 * time.Millisecond)
		}
		lat = append(lat, float64(time.Since(start).Microseconds())/1000)
	}
	if _, err := b.end(fmt.Sprintf("spec change (%d, one at a time)", n)); err != nil {
		return err
	}
	sort.Float64s(lat)
	b.r.ChangeP50Millis = lat[len(lat)/2]
	b.r.ChangeP99Millis = lat[int(math.Ceil(0.99*float64(len(lat))))-1]
	return nil
}

// backups takes c.Backups Archive backups at once, spread over the
// Applications. PVE runs one vzdump per node at a time, so the best
// possible is ceil(backups/nodes) dumps back to back.
func (b *bench) backups() error {
	c := b.c
	if c.Backups == 0 {
		return nil
	}
	if err := b.begin(); err != nil {
		return err
	}
	for i := range c.Backups {
		bk := &v1alpha1.Backup{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("backup-%d", i), Namespace: namespace},
			Spec:       v1alpha1.BackupSpec{ApplicationRef: v1alpha1.LocalObjectReference{Name: appName(i % c.N)}},
		}
		if err := b.k8s.Create(b.ctx, bk); err != nil {
			return err
		}
	}
	bound := math.Ceil(float64(c.Backups)/float64(b.nodes)) * c.Vzdump.Seconds()
	if err := b.waitBackups(10*time.Minute + time.Duration(10*bound*float64(time.Second))); err != nil {
		return err
	}
	p, err := b.end(fmt.Sprintf("backup (%d)", c.Backups))
	if err != nil {
		return err
	}
	b.r.BackupSeconds = p.Seconds
	b.r.BackupVzdumpSeconds = c.Vzdump.Seconds()
	b.r.BackupBoundSeconds = bound
	b.r.BackupBoundRatio = p.Seconds / bound
	return nil
}

// waitBackups waits for every Backup to complete. Failed is terminal, so
// one is enough to stop; what is reported is what the operator says about
// the ones that did not complete.
func (b *bench) waitBackups(timeout time.Duration) error {
	n := b.c.Backups
	var list v1alpha1.BackupList
	err := b.poll(timeout, func() (bool, error) {
		list = v1alpha1.BackupList{}
		if err := b.k8s.List(b.ctx, &list, client.InNamespace(namespace)); err != nil {
			return false, err
		}
		phases := backupPhases(list.Items)
		if phases[v1alpha1.BackupPhaseCompleted] == n {
			return true, nil
		}
		if phases[v1alpha1.BackupPhaseFailed] > 0 {
			return false, errors.New("a Backup failed")
		}
		progress("%d/%d Backups Completed; by phase: %v", phases[v1alpha1.BackupPhaseCompleted], n, phases)
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %d Backups Completed: %w; by phase: %v; not completed: %s",
			n, err, backupPhases(list.Items), stuckBackups(list.Items))
	}
	return nil
}

func backupPhases(items []v1alpha1.Backup) map[v1alpha1.BackupPhase]int {
	m := map[v1alpha1.BackupPhase]int{}
	for _, bk := range items {
		ph := bk.Status.Phase
		if ph == "" {
			ph = "(none)"
		}
		m[ph]++
	}
	return m
}

// stuckBackups describes the first few Backups that are not Completed by
// their Ready condition: the operator's own account of why.
func stuckBackups(items []v1alpha1.Backup) string {
	const show = 10
	var out []string
	stuck := 0
	for _, bk := range items {
		if bk.Status.Phase == v1alpha1.BackupPhaseCompleted {
			continue
		}
		stuck++
		if len(out) == show {
			continue
		}
		s := fmt.Sprintf("%s (%s, vmid %d on %q): no Ready condition", bk.Name, bk.Status.Phase, bk.Status.VMID, bk.Status.Node)
		if c := meta.FindStatusCondition(bk.Status.Conditions, v1alpha1.ConditionReady); c != nil {
			s = fmt.Sprintf("%s (%s, vmid %d on %q): Ready=%s %s: %s", bk.Name, bk.Status.Phase, bk.Status.VMID, bk.Status.Node, c.Status, c.Reason, c.Message)
		}
		out = append(out, s)
	}
	if stuck > show {
		out = append(out, fmt.Sprintf("and %d more", stuck-show))
	}
	return strings.Join(out, "; ")
}

// delete removes the Backups first: deleting an Application leaves its
// Backups (and archives) behind by design, so a clean teardown must ask for
// them explicitly, and their deletionPolicy Delete costs Proxmox requests
// that belong in this phase.
func (b *bench) delete() error {
	if err := b.begin(); err != nil {
		return err
	}
	if b.c.Backups > 0 {
		if err := b.k8s.DeleteAllOf(b.ctx, &v1alpha1.Backup{}, client.InNamespace(namespace)); err != nil {
			return err
		}
		if err := b.waitGone(&v1alpha1.BackupList{}, "Backups"); err != nil {
			return err
		}
	}
	if err := b.k8s.DeleteAllOf(b.ctx, &v1alpha1.Application{}, client.InNamespace(namespace)); err != nil {
		return err
	}
	if err := b.waitGone(&v1alpha1.ApplicationList{}, "Applications"); err != nil {
		return err
	}
	if _, err := b.end("delete"); err != nil {
		return err
	}
	// Every Backup had deletionPolicy Delete: an archive left is a leak.
	b.r.ArchivesLeft = len(b.sim.Backups(0))
	if b.r.ArchivesLeft > 0 {
		fmt.Fprintf(os.Stderr, "pvebench: %d backup archives left in the simulator after deleting every Backup\n", b.r.ArchivesLeft)
	}
	return nil
}

func (b *bench) waitGone(list client.ObjectList, what string) error {
	var left int
	err := b.poll(30*time.Minute, func() (bool, error) {
		if err := b.k8s.List(b.ctx, list, client.InNamespace(namespace)); err != nil {
			return false, err
		}
		left = meta.LenList(list)
		if left > 0 {
			progress("%d %s still deleting", left, what)
		}
		return left == 0, nil
	})
	if err != nil {
		return fmt.Errorf("%d %s still deleting: %w", left, what, err)
	}
	return nil
}

var lastProgress time.Time

// progress prints to stderr at most every 5 s, so long runs show life.
func progress(format string, args ...any) {
	if time.Since(lastProgress) < 5*time.Second {
		return
	}
	progressNow(format, args...)
}

func progressNow(format string, args ...any) {
	lastProgress = time.Now()
	fmt.Fprintf(os.Stderr, "pvebench: "+format+"\n", args...)
}
