package controllers

import (
	"context"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/proxmox"
	"github.com/pve-operator/pve-operator/internal/proxmox/inventory"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

// scrape returns the metric of family name whose labels include want, or nil.
func scrape(t *testing.T, name string, want map[string]string) *dto.Metric {
	t.Helper()
	m, err := gatherMetric(name, want)
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	return m
}

// gatherMetric finds, in the operator's registry, the metric of family
// name whose labels include want (nil when there is none).
func gatherMetric(name string, want map[string]string) (*dto.Metric, error) {
	families, err := metrics.Registry.Gather()
	if err != nil {
		return nil, err
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if hasLabels(m, want) {
				return m, nil
			}
		}
	}
	return nil, nil
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	got := map[string]string{}
	for _, l := range m.GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

func requestCount(t *testing.T, labels map[string]string) (count float64, observations uint64) {
	t.Helper()
	if m := scrape(t, "pve_operator_proxmox_requests_total", labels); m != nil {
		count = m.GetCounter().GetValue()
	}
	if m := scrape(t, "pve_operator_proxmox_request_duration_seconds", labels); m != nil {
		observations = m.GetHistogram().GetSampleCount()
	}
	return count, observations
}

// TestProxmoxRequestMetrics makes real calls through the client, over HTTPS
// to pvesim, with the Observe hook the host reconciler installs, and checks
// the counter and the latency histogram moved under the expected labels.
func TestProxmoxRequestMetrics(t *testing.T) {
	srv, err := pvesim.New(pvesim.DefaultOptions())
	if err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	defer func() { _ = srv.Close() }()
	if err := srv.AddContainer("pve1", 120, map[string]string{"hostname": "m1"}, true); err != nil {
		t.Fatalf("seed: %v", err)
	}
	const host = "metrics-test-host"
	c, err := proxmox.New(proxmox.Config{
		Endpoint:    srv.URL(),
		CABundle:    srv.CACertPEM(),
		Credentials: proxmox.Credentials{TokenID: pvesim.DefaultTokenID, TokenSecret: pvesim.DefaultTokenSecret},
		Observe:     proxmoxObserver(host),
	})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	defer c.Close()
	defer forgetHostMetrics(host)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	for _, tc := range []struct {
		name    string
		call    func() error
		method  string
		route   string
		outcome string
	}{
		{"status of an existing container", func() error { _, err := c.ContainerStatus(ctx, "pve1", 120); return err },
			"GET", "/nodes/{node}/lxc/{vmid}/status/current", "success"},
		{"status of a missing container", func() error { _, err := c.ContainerStatus(ctx, "pve1", 999); return err },
			"GET", "/nodes/{node}/lxc/{vmid}/status/current", "not_found"},
		{"version", func() error { _, err := c.Version(ctx); return err },
			"GET", "/version", "success"},
		{"start a running container", func() error { _, err := c.StartContainer(ctx, "pve1", 120); return err },
			"POST", "/nodes/{node}/lxc/{vmid}/status/start", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			labels := map[string]string{"host": host, "method": tc.method, "route": tc.route}
			if tc.outcome != "" {
				labels["outcome"] = tc.outcome
			}
			count0, obs0 := requestCount(t, labels)
			err := tc.call()
			if tc.outcome == "success" && err != nil {
				t.Fatalf("call: %v", err)
			}
			if tc.outcome != "" && tc.outcome != "success" && proxmox.Outcome(err) != tc.outcome {
				t.Fatalf("call error %v classified %q, want %q", err, proxmox.Outcome(err), tc.outcome)
			}
			if tc.outcome == "" {
				labels["outcome"] = proxmox.Outcome(err)
			}
			count1, obs1 := requestCount(t, labels)
			if count1 != count0+1 || obs1 != obs0+1 {
				t.Fatalf("labels %v: requests %v -> %v, latency observations %d -> %d; want both +1", labels, count0, count1, obs0, obs1)
			}
		})
	}

	forgetHostMetrics(host)
	if m := scrape(t, "pve_operator_proxmox_requests_total", map[string]string{"host": host}); m != nil {
		t.Fatalf("series left after forgetHostMetrics: %v", m)
	}
}

func TestContainerCounts(t *testing.T) {
	owned := []string{lxcconfig.OwnerTag("0b5e6a0c-1f2d-4c3b-9a8e-7d6c5b4a3f21")}
	for _, tc := range []struct {
		name string
		in   map[int]proxmox.ContainerSummary
		want map[containerKey]int
	}{
		{"empty", nil, map[containerKey]int{}},
		{"mixed", map[int]proxmox.ContainerSummary{
			100: {VMID: 100, Status: "running", Tags: owned},
			101: {VMID: 101, Status: "stopped", Tags: owned},
			102: {VMID: 102, Status: "running"},
			103: {VMID: 103, Status: "running", Tags: owned},
			104: {VMID: 104, Status: "stopped", Template: true},
			105: {VMID: 105},
		}, map[containerKey]int{
			{"running", true}: 2, {"stopped", true}: 1, {"running", false}: 1, {"unknown", false}: 1,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := containerCounts(tc.in)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for k, n := range tc.want {
				if got[k] != n {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestSetContainerMetricsDropsVanishedStates(t *testing.T) {
	const host = "gauge-test-host"
	defer forgetHostMetrics(host)
	owned := []string{lxcconfig.OwnerTag("0b5e6a0c-1f2d-4c3b-9a8e-7d6c5b4a3f21")}
	setContainerMetrics(host, &inventory.Snapshot{Containers: map[int]proxmox.ContainerSummary{
		1: {Status: "running", Tags: owned}, 2: {Status: "stopped"},
	}})
	if m := scrape(t, "pve_operator_containers", map[string]string{"host": host, "state": "stopped", "managed": "false"}); m == nil || m.GetGauge().GetValue() != 1 {
		t.Fatalf("stopped/unmanaged series: %v", m)
	}
	setContainerMetrics(host, &inventory.Snapshot{Containers: map[int]proxmox.ContainerSummary{
		1: {Status: "running", Tags: owned}, 3: {Status: "running", Tags: owned},
	}})
	if m := scrape(t, "pve_operator_containers", map[string]string{"host": host, "state": "stopped"}); m != nil {
		t.Fatalf("stale series kept: %v", m)
	}
	if m := scrape(t, "pve_operator_containers", map[string]string{"host": host, "state": "running", "managed": "true"}); m == nil || m.GetGauge().GetValue() != 2 {
		t.Fatalf("running/managed series: %v", m)
	}
}
