package main

import (
	"context"
	"fmt"
	"math"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/pvesim"
	"github.com/pve-operator/pve-operator/internal/testenv"
)

// simHost is one simulated PVE cluster and the ProxmoxHost pointing at it.
type simHost struct {
	name string
	sim  *pvesim.Server
	log  *requestLog
}

// hostName keeps the single host's historical name "bench", so one-host
// runs read as before.
func hostName(c config, h int) string {
	if c.Hosts == 1 {
		return "bench"
	}
	return fmt.Sprintf("bench-%d", h)
}

// appHost is the host the i-th Application is placed on: round-robin.
func appHost(c config, i int) int { return i % c.Hosts }

// appsOnHost is how many of the N Applications host h gets.
func appsOnHost(c config, h int) int {
	n := c.N / c.Hosts
	if h < c.N%c.Hosts {
		n++
	}
	return n
}

// startSims starts one simulator per host, all with the same options. With
// -slow-host, host 0 delays every request (empty method and path match all,
// a negative count never runs out) for the whole run.
func startSims(c config) ([]*simHost, error) {
	var hosts []*simHost
	for h := range c.Hosts {
		log := &requestLog{}
		opts := simOptions(c)
		opts.Logf = log.logf
		sim, err := pvesim.New(opts)
		if err != nil {
			closeSims(hosts)
			return nil, fmt.Errorf("start simulator %d: %w", h, err)
		}
		hosts = append(hosts, &simHost{name: hostName(c, h), sim: sim, log: log})
		if h == 0 && c.SlowHost > 0 {
			sim.DelayRequests("", "", -1, c.SlowHost)
		}
	}
	return hosts, nil
}

func closeSims(hosts []*simHost) {
	for _, h := range hosts {
		h.sim.Close()
	}
}

// createHosts creates a ProxmoxHost per simulator and waits until all are
// Ready. testenv.CreateHost makes the namespace and the token Secret with the
// first host; every simulator accepts the same default token, so the others
// share that Secret.
func createHosts(ctx context.Context, k8s client.Client, hosts []*simHost, c config) error {
	if err := testenv.CreateHost(ctx, k8s, hosts[0].sim, testenv.HostFixture{
		Name: hosts[0].name, Namespaces: []string{namespace}, SyncInterval: c.SyncInterval,
	}); err != nil {
		return err
	}
	for _, h := range hosts[1:] {
		if err := k8s.Create(ctx, proxmoxHost(h, c)); err != nil {
			return fmt.Errorf("create ProxmoxHost %s: %w", h.name, err)
		}
	}
	// A slow host answers each of its setup requests late.
	timeout := time.Minute + 100*c.SlowHost
	for _, h := range hosts {
		if err := testenv.WaitHostReady(ctx, k8s, h.name, timeout); err != nil {
			return fmt.Errorf("ProxmoxHost %s never became Ready: %w", h.name, err)
		}
	}
	return nil
}

// proxmoxHost is what testenv.CreateHost makes for a further simulator.
func proxmoxHost(h *simHost, c config) *v1alpha1.ProxmoxHost {
	host := &v1alpha1.ProxmoxHost{
		ObjectMeta: metav1.ObjectMeta{Name: h.name},
		Spec: v1alpha1.ProxmoxHostSpec{
			Endpoint:       h.sim.URL(),
			CredentialsRef: v1alpha1.SecretReference{Name: "creds", Namespace: testenv.CredentialsNamespace},
			TLS:            &v1alpha1.TLSConfig{CABundle: string(h.sim.CACertPEM())},
		},
	}
	if c.SyncInterval > 0 {
		host.Spec.SyncInterval = &metav1.Duration{Duration: c.SyncInterval}
	}
	return host
}

// scheduleBound is the time a perfect scheduler needs for n containers on
// one host: each needs a create then a start task, and each node runs
// c.MaxTasks of them at a time.
func scheduleBound(c config, nodes, n int) float64 {
	rounds := math.Ceil(float64(n) / float64(nodes*c.MaxTasks))
	return rounds * (c.Create + c.Start).Seconds()
}

// measured says whether host h's Applications take part in the phases after
// create: with -slow-host, host 0's may never all be Ready.
func measured(c config, h int) bool { return c.SlowHost == 0 || h != 0 }

// activeApps are the indices of the Applications the later phases use, in
// index order, so consecutive ones are on different hosts.
func activeApps(c config) []int {
	var out []int
	for i := range c.N {
		if measured(c, appHost(c, i)) {
			out = append(out, i)
		}
	}
	return out
}
