package testenv

import (
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pve-operator/pve-operator/internal/pvesim"
)

// StartSimulated starts a control plane, a client for it and a simulator
// with the default options, all stopped when t ends: what every test that
// drives the operator (or the plugin) against Proxmox begins with.
func StartSimulated(t testing.TB) (*Env, *pvesim.Server, client.Client) {
	t.Helper()
	env, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	sim, err := pvesim.New(pvesim.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	// Start registered the API types in client-go's scheme, the default.
	k8s, err := client.New(env.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return env, sim, k8s
}
