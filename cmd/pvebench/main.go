// Command pvebench measures the operator against the Proxmox simulator: it
// starts kube-apiserver + etcd (the envtest binaries), the simulator with
// chosen task durations, and the operator's manager, then applies N
// Applications and reports time to all Ready against the schedule bound,
// Proxmox requests by route per phase (create, steady state per sync
// interval, delete), and the latency from a spec change to the Proxmox PUT.
//
//	go run ./cmd/pvebench -n 100 -json
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/manager"
	"github.com/pve-operator/pve-operator/internal/pvesim"
	"github.com/pve-operator/pve-operator/internal/testenv"
)

type config struct {
	N            int
	Create       time.Duration
	Start        time.Duration
	SyncInterval time.Duration
	QPS          float64
	Burst        int
	MaxTasks     int
	Workers      int
	Changes      int
	JSON         bool
}

type phase struct {
	Name     string         `json:"name"`
	Seconds  float64        `json:"seconds"`
	Requests map[string]int `json:"requests"`
	Total    int            `json:"total"`
}

type report struct {
	Date            string  `json:"date"`
	Config          config  `json:"config"`
	ReadySeconds    float64 `json:"readySeconds"`
	BoundSeconds    float64 `json:"scheduleBoundSeconds"`
	BoundRatio      float64 `json:"readyOverBound"`
	SteadyPerSync   float64 `json:"steadyRequestsPerSyncInterval"`
	ChangeP50Millis float64 `json:"specChangeP50Millis"`
	ChangeP99Millis float64 `json:"specChangeP99Millis"`
	Phases          []phase `json:"phases"`
}

func main() {
	var c config
	flag.IntVar(&c.N, "n", 100, "Applications to create.")
	flag.DurationVar(&c.Create, "create", 500*time.Millisecond, "Simulated vzcreate duration.")
	flag.DurationVar(&c.Start, "start", 200*time.Millisecond, "Simulated vzstart duration.")
	flag.DurationVar(&c.SyncInterval, "sync-interval", 10*time.Second, "ProxmoxHost syncInterval.")
	flag.Float64Var(&c.QPS, "qps", 50, "Operator's Proxmox requests per second per host.")
	flag.IntVar(&c.Burst, "burst", 100, "Operator's Proxmox request burst per host.")
	flag.IntVar(&c.MaxTasks, "max-tasks", 8, "Operator's mutating requests in flight per host.")
	flag.IntVar(&c.Workers, "workers", 16, "Parallel Application reconciles.")
	flag.IntVar(&c.Changes, "changes", 30, "Spec changes to time (cores), one at a time.")
	flag.BoolVar(&c.JSON, "json", false, "Print JSON instead of a table.")
	flag.Parse()
	logTo := io.Discard
	if os.Getenv("PVEBENCH_LOG") != "" {
		logTo = os.Stderr
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(logTo)))
	r, err := run(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pvebench:", err)
		os.Exit(1)
	}
	if c.JSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(r)
		return
	}
	printTable(r)
}

func run(c config) (*report, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env, err := testenv.Start()
	if err != nil {
		return nil, err
	}
	defer func() { _ = env.Stop() }()
	opts := pvesim.DefaultOptions()
	opts.Durations = pvesim.TaskDurations{
		pvesim.TaskCreate: {Min: c.Create, Max: c.Create},
		pvesim.TaskStart:  {Min: c.Start, Max: c.Start},
	}
	sim, err := pvesim.New(opts)
	if err != nil {
		return nil, err
	}
	defer sim.Close()
	k8s, err := client.New(env.Config, client.Options{Scheme: manager.Scheme})
	if err != nil {
		return nil, err
	}
	mgr, err := manager.New(env.Config, manager.Options{
		ApplicationConcurrency: c.Workers, ProxmoxQPS: c.QPS, ProxmoxBurst: c.Burst, MaxTasksPerHost: c.MaxTasks,
	})
	if err != nil {
		return nil, err
	}
	go func() { _ = mgr.Start(ctx) }()
	if err := setupHost(ctx, k8s, sim, c.SyncInterval); err != nil {
		return nil, err
	}

	r := &report{Date: time.Now().UTC().Format(time.RFC3339), Config: c}
	// Create phase.
	sim.ResetRequestCounts()
	t0 := time.Now()
	for i := range c.N {
		if err := k8s.Create(ctx, benchApp(i)); err != nil {
			return nil, err
		}
	}
	if err := waitAll(ctx, k8s, c.N, 30*time.Minute); err != nil {
		return nil, err
	}
	r.ReadySeconds = time.Since(t0).Seconds()
	r.Phases = append(r.Phases, snapshotPhase("create", time.Since(t0), sim))
	// The schedule bound: 3 nodes, tasks of create+start each, run c.MaxTasks at a time per node.
	rounds := math.Ceil(float64(c.N) / float64(3*c.MaxTasks))
	r.BoundSeconds = rounds * (c.Create + c.Start).Seconds()
	r.BoundRatio = r.ReadySeconds / r.BoundSeconds

	// Steady state: two sync intervals with nothing to do.
	time.Sleep(c.SyncInterval) // let in-flight IP polls settle
	sim.ResetRequestCounts()
	t1 := time.Now()
	time.Sleep(2 * c.SyncInterval)
	steady := snapshotPhase("steady (2 sync intervals)", time.Since(t1), sim)
	r.Phases = append(r.Phases, steady)
	r.SteadyPerSync = float64(steady.Total) / 2

	// Spec change latency: cores 1 -> 2, measured to the simulator's config.
	var lat []float64
	for i := range min(c.Changes, c.N) {
		app := &v1alpha1.Application{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: "bench", Name: fmt.Sprintf("app-%d", i)}, app); err != nil {
			return nil, err
		}
		app.Spec.Resources.Cores = ptr.To[int32](2)
		start := time.Now()
		if err := k8s.Update(ctx, app); err != nil {
			return nil, err
		}
		for {
			if ct, ok := sim.Container(int(app.Status.VMID)); ok && ct.Config["cores"] == "2" {
				break
			}
			if time.Since(start) > time.Minute {
				return nil, fmt.Errorf("spec change of %s never reached Proxmox", app.Name)
			}
			time.Sleep(2 * time.Millisecond)
		}
		lat = append(lat, float64(time.Since(start).Microseconds())/1000)
	}
	sort.Float64s(lat)
	if len(lat) > 0 {
		r.ChangeP50Millis = lat[len(lat)/2]
		r.ChangeP99Millis = lat[int(math.Ceil(0.99*float64(len(lat))))-1]
	}

	// Delete phase.
	sim.ResetRequestCounts()
	t2 := time.Now()
	if err := k8s.DeleteAllOf(ctx, &v1alpha1.Application{}, client.InNamespace("bench")); err != nil {
		return nil, err
	}
	for {
		list := &v1alpha1.ApplicationList{}
		if err := k8s.List(ctx, list, client.InNamespace("bench")); err != nil {
			return nil, err
		}
		if len(list.Items) == 0 {
			break
		}
		if time.Since(t2) > 30*time.Minute {
			return nil, fmt.Errorf("%d Applications still deleting", len(list.Items))
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.Phases = append(r.Phases, snapshotPhase("delete", time.Since(t2), sim))
	return r, nil
}

func setupHost(ctx context.Context, k8s client.Client, sim *pvesim.Server, interval time.Duration) error {
	for _, ns := range []string{"pve-operator-system", "bench"} {
		if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return err
		}
	}
	if err := k8s.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "pve-operator-system"},
		StringData: map[string]string{"tokenID": pvesim.DefaultTokenID, "tokenSecret": pvesim.DefaultTokenSecret},
	}); err != nil {
		return err
	}
	host := &v1alpha1.ProxmoxHost{
		ObjectMeta: metav1.ObjectMeta{Name: "bench"},
		Spec: v1alpha1.ProxmoxHostSpec{
			Endpoint:       sim.URL(),
			CredentialsRef: v1alpha1.SecretReference{Name: "creds", Namespace: "pve-operator-system"},
			TLS:            &v1alpha1.TLSConfig{CABundle: string(sim.CACertPEM())},
			SyncInterval:   &metav1.Duration{Duration: interval},
		},
	}
	if err := k8s.Create(ctx, host); err != nil {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(host), host); err == nil &&
			meta.IsStatusConditionTrue(host.Status.Conditions, v1alpha1.ConditionReady) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("host never became Ready")
}

func benchApp(i int) *v1alpha1.Application {
	return &v1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%d", i), Namespace: "bench"},
		Spec: v1alpha1.ApplicationSpec{
			HostRef:   v1alpha1.LocalObjectReference{Name: "bench"},
			Template:  pvesim.DebianTemplate,
			Resources: &v1alpha1.Resources{Cores: ptr.To[int32](1), Memory: ptr.To(resource.MustParse("256Mi"))},
			RootFS:    &v1alpha1.RootFS{Storage: "local-lvm", Size: resource.MustParse("1Gi")},
		},
	}
}

func waitAll(ctx context.Context, k8s client.Client, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		list := &v1alpha1.ApplicationList{}
		if err := k8s.List(ctx, list, client.InNamespace("bench")); err != nil {
			return err
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
			return nil
		}
		progress("%d/%d Applications Ready; others: %v", ready, n, reasons)
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("not all %d Applications Ready within %s", n, timeout)
}

var lastProgress time.Time

// progress prints to stderr at most every 5 s, so long runs show life.
func progress(format string, args ...any) {
	if time.Since(lastProgress) < 5*time.Second {
		return
	}
	lastProgress = time.Now()
	fmt.Fprintf(os.Stderr, "pvebench: "+format+"\n", args...)
}

func snapshotPhase(name string, d time.Duration, sim *pvesim.Server) phase {
	p := phase{Name: name, Seconds: d.Seconds(), Requests: sim.RequestCounts()}
	for _, v := range p.Requests {
		p.Total += v
	}
	return p
}

func printTable(r *report) {
	c := r.Config
	fmt.Printf("pvebench %s: N=%d, 3 nodes, create=%s start=%s, max-tasks=%d, qps=%.0f, workers=%d, sync=%s\n\n",
		r.Date, c.N, c.Create, c.Start, c.MaxTasks, c.QPS, c.Workers, c.SyncInterval)
	fmt.Printf("time to all Ready      %8.1fs   (schedule bound %.1fs, ratio %.2f)\n", r.ReadySeconds, r.BoundSeconds, r.BoundRatio)
	fmt.Printf("steady requests/sync   %8.1f\n", r.SteadyPerSync)
	fmt.Printf("spec change -> PUT     p50 %.0fms  p99 %.0fms\n\n", r.ChangeP50Millis, r.ChangeP99Millis)
	for _, p := range r.Phases {
		fmt.Printf("%s: %d requests in %.1fs\n", p.Name, p.Total, p.Seconds)
		keys := make([]string, 0, len(p.Requests))
		for k := range p.Requests {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Printf("  %6d  %s\n", p.Requests[k], strings.TrimSpace(k))
		}
	}
}
