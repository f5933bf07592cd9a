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
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/pvesim"
	"github.com/pve-operator/pve-operator/internal/testenv"
)

const namespace = "bench"

// bench is one run: the control plane, the simulators and the manager
// process, plus where the current phase started.
type bench struct {
	ctx        context.Context
	c          config
	k8s        client.Client
	hosts      []*simHost
	bin        string
	kubeconfig string
	logPath    string
	mgr        *testenv.ManagerProcess
	nodes      int
	r          *report

	// What managers stopped before the current one used: the restart phase
	// replaces the process, and the run's totals cover both.
	pastPeakRSS int64
	pastCPU     float64

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
	hosts, err := startSims(c)
	if err != nil {
		return nil, err
	}
	defer closeSims(hosts)
	// testenv.Start registered the API types in client-go's scheme, the
	// client's default.
	k8s, err := client.New(env.Config, client.Options{})
	if err != nil {
		return nil, err
	}
	b := &bench{
		ctx: ctx, c: c, k8s: k8s, hosts: hosts, bin: bin, kubeconfig: kubeconfig,
		logPath: filepath.Join(dir, "manager.log"), nodes: len(simOptions(c).Nodes),
		r: &report{Date: time.Now().UTC().Format(time.RFC3339), Config: c, Nodes: len(simOptions(c).Nodes)},
	}
	if b.mgr, err = testenv.StartManager(bin, kubeconfig, b.logPath, managerFlags(c)...); err != nil {
		return nil, err
	}
	// Runs before env.Stop (defers are LIFO): a manager outliving its
	// apiserver would only fill the log with connection errors. A no-op
	// after a clean Stop; b.mgr is read at return, after a restart.
	defer func() { b.mgr.Kill() }()
	if err := createHosts(ctx, k8s, hosts, c); err != nil {
		return nil, err
	}
	for _, step := range []func() error{b.create, b.steady, b.restart, b.specChanges, b.backups, b.delete} {
		if err := step(); err != nil {
			// What the earlier phases measured is still worth printing.
			return b.r, err
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
	var extra []string
	if c.Pprof != "" {
		extra = append(extra, "--pprof-bind-address="+pprofAddr)
	}
	return append(extra,
		"--application-concurrency="+strconv.Itoa(c.Workers),
		"--backup-concurrency="+strconv.Itoa(c.BackupWorkers),
		"--proxmox-qps="+strconv.FormatFloat(c.QPS, 'g', -1, 64),
		"--proxmox-burst="+strconv.Itoa(c.Burst),
		"--max-tasks-per-host="+strconv.Itoa(c.MaxTasks),
		"--drift-interval="+c.DriftInterval.String(),
		"--drift-reads-per-second="+strconv.FormatFloat(c.DriftRate, 'g', -1, 64),
	)
}

// finish stops the manager and records what the whole run cost it.
func (b *bench) finish() (*report, error) {
	u, err := b.stopManager()
	if err != nil {
		return nil, err
	}
	b.r.ManagerPeakRSSMiB = float64(max(b.pastPeakRSS, u.PeakRSSBytes)) / (1 << 20)
	b.r.ManagerCPUSeconds = b.pastCPU + u.CPUSeconds
	return b.r, nil
}

// stopManager sends SIGTERM, waits for the exit and returns the process's
// usage. After exit that is wait4's rusage, whose maxrss is the peak of the
// process's whole life; /proc's VmHWM sampled earlier could miss the end.
func (b *bench) stopManager() (testenv.Usage, error) {
	if err := b.mgr.Stop(30 * time.Second); err != nil {
		return testenv.Usage{}, fmt.Errorf("manager shutdown on SIGTERM: %w", err)
	}
	return b.mgr.Usage()
}

// begin starts a phase: request counts from zero, CPU from now.
func (b *bench) begin() error {
	u, err := b.mgr.Usage()
	if err != nil {
		return fmt.Errorf("manager usage: %w", err)
	}
	for _, h := range b.hosts {
		h.sim.ResetRequestCounts()
	}
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
	p := b.phase(name, d, u.CPUSeconds-b.phaseCPU)
	b.r.Phases = append(b.r.Phases, p)
	return p, nil
}

// phase sums the simulators' request counters, keeping each host's total.
func (b *bench) phase(name string, d time.Duration, cpu float64) phase {
	// Rounded to the 10 ms clock tick CPU time is counted in; more digits
	// are float noise.
	p := phase{Name: name, Seconds: d.Seconds(), Requests: map[string]int{}, ManagerCPUSeconds: math.Round(cpu*100) / 100}
	for _, h := range b.hosts {
		total := 0
		for k, v := range h.sim.RequestCounts() {
			p.Requests[k] += v
			total += v
		}
		p.HostTotals = append(p.HostTotals, total)
		p.Total += total
	}
	return p
}

// sim is the simulator Application i lives on.
func (b *bench) sim(i int) *pvesim.Server { return b.hosts[appHost(b.c, i)].sim }

// poll is testenv.Poll that gives up as soon as the manager is gone, rather
// than after the whole timeout.
// poll calls cond until it holds; listed is how many objects each call
// lists, which spaces the calls (listInterval).
func (b *bench) poll(timeout time.Duration, listed int, cond func() (bool, error)) error {
	return testenv.PollEvery(b.ctx, timeout, listInterval(listed), func() (bool, error) {
		if b.mgr.Exited() {
			return false, errors.New("the manager exited; see its log")
		}
		return cond()
	})
}

// listInterval spaces the bench's own listings of n objects: one of
// 10,000 Applications is some 40 MB of JSON for the apiserver to encode,
// and every 200 ms it took more of the 2 cores than the operator did (and
// slowed the run it measured). 0.2 s up to 200 objects, 1 s at 1,000, 5 s
// from 5,000 on: under 1 % of the phases that list that many.
func listInterval(n int) time.Duration {
	return min(max(time.Duration(n)*time.Millisecond, 200*time.Millisecond), 5*time.Second)
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
	profiled := b.profileCPU(2 * b.c.SyncInterval)
	time.Sleep(2 * b.c.SyncInterval)
	if err := <-profiled; err != nil {
		return err
	}
	p, err := b.end("steady (2 sync intervals)")
	if err != nil {
		return err
	}
	b.r.SteadyPerSync = float64(p.Total) / 2
	b.r.SteadyPerSyncPerHost = b.r.SteadyPerSync / float64(b.c.Hosts)
	b.r.SteadyCPUPerSync = p.ManagerCPUSeconds / 2
	return nil
}

// specChanges times cores 1 -> 2, one Application at a time, up to the
// simulator's config: that is when the change has taken effect in Proxmox.
// They take the first of the measured Applications, so they alternate
// between hosts.
func (b *bench) specChanges() error {
	apps := activeApps(b.c)
	n := min(b.c.Changes, len(apps))
	if n == 0 {
		return nil
	}
	if err := b.begin(); err != nil {
		return err
	}
	var lat []float64
	for _, i := range apps[:n] {
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
			if ct, ok := b.sim(i).Container(int(app.Status.VMID)); ok && ct.Config["cores"] == "2" {
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

// delete removes the Backups first: deleting an Application leaves its
// Backups (and archives) behind by design, so a clean teardown must ask for
// them explicitly, and their deletionPolicy Delete costs Proxmox requests
// that belong in this phase. It deletes every Application, the slow host's
// too.
func (b *bench) delete() error {
	if err := b.begin(); err != nil {
		return err
	}
	if b.c.Backups > 0 {
		if err := b.deleteEach(&v1alpha1.BackupList{}); err != nil {
			return err
		}
		if err := b.waitGone(&v1alpha1.BackupList{}, "Backups"); err != nil {
			return err
		}
	}
	if err := b.deleteEach(&v1alpha1.ApplicationList{}); err != nil {
		return err
	}
	if err := b.waitGone(&v1alpha1.ApplicationList{}, "Applications"); err != nil {
		return err
	}
	if _, err := b.end("delete"); err != nil {
		return err
	}
	// Every Backup had deletionPolicy Delete: an archive left is a leak.
	for _, h := range b.hosts {
		b.r.ArchivesLeft += len(h.sim.Backups(0))
	}
	if b.r.ArchivesLeft > 0 {
		fmt.Fprintf(os.Stderr, "pvebench: %d backup archives left in the simulator after deleting every Backup\n", b.r.ArchivesLeft)
	}
	return nil
}

// deleteEach deletes every object of list's kind in the namespace, one
// request each, 16 at a time: a single deletecollection of 10,000
// Applications outlasts the apiserver's request timeout.
func (b *bench) deleteEach(list client.ObjectList) error {
	if err := b.k8s.List(b.ctx, list, client.InNamespace(namespace)); err != nil {
		return err
	}
	objs, err := meta.ExtractList(list)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(b.ctx)
	g.SetLimit(16)
	for _, o := range objs {
		obj, ok := o.(client.Object)
		if !ok {
			continue
		}
		g.Go(func() error { return client.IgnoreNotFound(b.k8s.Delete(ctx, obj)) })
	}
	return g.Wait()
}

func (b *bench) waitGone(list client.ObjectList, what string) error {
	var left int
	err := b.poll(30*time.Minute, b.c.N, func() (bool, error) {
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
