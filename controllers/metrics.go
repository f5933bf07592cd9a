package controllers

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/proxmox"
	"github.com/pve-operator/pve-operator/internal/proxmox/inventory"
)

// Operator metrics beyond controller-runtime's, served on the manager's
// /metrics endpoint and documented in docs/metrics.md. They are registered
// once per process (init), so several managers in one test binary share
// them. The backup metrics live in backup_metrics.go.
var (
	proxmoxRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pve_operator_proxmox_requests_total",
		Help: "HTTP requests to the Proxmox VE API by ProxmoxHost, HTTP method, route template, and outcome (success or an error class).",
	}, []string{"host", "method", "route", "outcome"})

	proxmoxRequestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "pve_operator_proxmox_request_duration_seconds",
		Help:    "Latency of HTTP requests to the Proxmox VE API (rate-limit waits excluded) by ProxmoxHost, HTTP method, route template, and outcome.",
		Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
	}, []string{"host", "method", "route", "outcome"})

	taskDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "pve_operator_task_duration_seconds",
		Help: "Time from the operator starting a Proxmox task to it seeing the task finished, by PVE worker type and outcome (succeeded, failed, lost).",
		// Tasks range from a one-second start to multi-hour vzdumps.
		Buckets: []float64{1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400},
		// "outcome", as in every other metric here, so one label name means
		// "how it ended" across the operator's series.
	}, []string{"type", "outcome"})

	containersGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "pve_operator_containers",
		Help: "LXC containers (templates excluded) seen in the last inventory of each ProxmoxHost, by PVE state and whether the operator manages them.",
	}, []string{"host", "state", "managed"})
)

func init() {
	metrics.Registry.MustRegister(proxmoxRequests, proxmoxRequestDuration, taskDuration, containersGauge)
}

// proxmoxObserver returns the proxmox.Config.Observe hook for one host.
func proxmoxObserver(host string) func(method, route string, code int, outcome string, d time.Duration) {
	return func(method, route string, _ int, outcome string, d time.Duration) {
		proxmoxRequests.WithLabelValues(host, method, route, outcome).Inc()
		proxmoxRequestDuration.WithLabelValues(host, method, route, outcome).Observe(d.Seconds())
	}
}

// observeTask records a finished task's duration. It is called where a
// controller sees the task end, so the duration includes up to one poll
// interval (pollAfter, at most 10 s) of lag; a task seen finished by more
// than one reconcile (a status write conflict) is observed again.
func observeTask(ref *v1alpha1.TaskReference, res taskResult, now time.Time) {
	if ref == nil || ref.StartedAt == nil {
		return
	}
	var ended string
	switch res {
	case taskSucceeded:
		ended = "succeeded"
	case taskFailed:
		ended = "failed"
	case taskLost:
		ended = "lost"
	default:
		return
	}
	typ := ref.Type
	if typ == "" {
		typ = "unknown"
	}
	taskDuration.WithLabelValues(typ, ended).Observe(now.Sub(ref.StartedAt.Time).Seconds())
}

// containerKey is one series of pve_operator_containers.
type containerKey struct {
	State   string
	Managed bool
}

// containerCounts counts a snapshot's containers (templates excluded, as in
// the host's status) by state and ownership.
func containerCounts(containers map[int]proxmox.ContainerSummary) map[containerKey]int {
	counts := map[containerKey]int{}
	for _, c := range containers {
		if c.Template {
			continue
		}
		_, owned := lxcconfig.OwnerOf(c.Tags)
		state := c.Status
		if state == "" {
			state = "unknown"
		}
		counts[containerKey{State: state, Managed: owned}]++
	}
	return counts
}

// containerSeries remembers which pve_operator_containers series each host
// has, so a state that disappears is deleted without a gap in the others.
var containerSeries = struct {
	sync.Mutex
	byHost map[string]map[containerKey]bool
}{byHost: map[string]map[containerKey]bool{}}

// setContainerMetrics replaces host's pve_operator_containers series with
// the counts of snap; a nil snapshot leaves them alone.
func setContainerMetrics(host string, snap *inventory.Snapshot) {
	if snap == nil {
		return
	}
	counts := containerCounts(snap.Containers)
	containerSeries.Lock()
	defer containerSeries.Unlock()
	for k := range containerSeries.byHost[host] {
		if _, ok := counts[k]; !ok {
			containersGauge.DeleteLabelValues(host, k.State, strconv.FormatBool(k.Managed))
		}
	}
	seen := make(map[containerKey]bool, len(counts))
	for k, n := range counts {
		containersGauge.WithLabelValues(host, k.State, strconv.FormatBool(k.Managed)).Set(float64(n))
		seen[k] = true
	}
	containerSeries.byHost[host] = seen
}

// forgetHostMetrics drops the per-host series of a deleted ProxmoxHost.
func forgetHostMetrics(host string) {
	containerSeries.Lock()
	delete(containerSeries.byHost, host)
	containerSeries.Unlock()
	containersGauge.DeletePartialMatch(prometheus.Labels{"host": host})
	proxmoxRequests.DeletePartialMatch(prometheus.Labels{"host": host})
	proxmoxRequestDuration.DeletePartialMatch(prometheus.Labels{"host": host})
}
