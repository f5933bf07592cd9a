package restart_test

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/manager"
	"github.com/pve-operator/pve-operator/internal/pvesim"
	"github.com/pve-operator/pve-operator/internal/testenv"
)

// TestRestartBetweenCreateAndStatusWrite stops the operator right after
// Proxmox accepted a create whose answer never arrived (so no task was
// recorded), starts a fresh operator, and checks that exactly one container
// results and the Application becomes Ready.
func TestRestartBetweenCreateAndStatusWrite(t *testing.T) {
	ctx := context.Background()
	env, sim, k8s := start(t)

	// The create lands in Proxmox but its answer is lost: the operator has
	// recorded the VMID, not the task.
	sim.DropAfterCommit("POST", "/nodes/{node}/lxc", 1)
	stop := startManager(t, env)
	app := &v1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "team"},
		Spec: v1alpha1.ApplicationSpec{
			HostRef:   v1alpha1.LocalObjectReference{Name: "pve"},
			Template:  pvesim.DebianTemplate,
			Resources: &v1alpha1.Resources{Memory: ptr.To(resource.MustParse("256Mi"))},
			RootFS:    &v1alpha1.RootFS{Storage: "local-lvm", Size: resource.MustParse("1Gi")},
		},
	}
	if err := k8s.Create(ctx, app); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the create request", func() bool { return sim.RequestCount("POST /nodes/{node}/lxc") >= 1 })
	stop()

	cur := &v1alpha1.Application{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(app), cur); err != nil {
		t.Fatal(err)
	}
	if cur.Status.Task != nil {
		t.Fatalf("the lost answer still recorded a task: %+v", cur.Status.Task)
	}

	stop = startManager(t, env)
	defer stop()
	waitFor(t, "the Application to become Ready", func() bool {
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(app), cur)
		return meta.IsStatusConditionTrue(cur.Status.Conditions, v1alpha1.ConditionReady)
	})
	owned := 0
	for _, ct := range sim.State().Containers {
		if owner, ok := lxcconfig.OwnerOf(lxcconfig.SplitTags(ct.Config["tags"])); ok && owner == string(cur.UID) {
			owned++
		}
	}
	if owned != 1 || sim.RequestCount("POST /nodes/{node}/lxc") != 1 {
		t.Fatalf("want exactly one container from one create, got %d containers from %d creates", owned, sim.RequestCount("POST /nodes/{node}/lxc"))
	}
}

// start brings up a control plane and a simulator, stopped when the test
// ends, with a ProxmoxHost "pve" that namespace "team" may use.
func start(t *testing.T) (*testenv.Env, *pvesim.Server, client.Client) {
	t.Helper()
	env, sim, k8s := testenv.StartSimulated(t)
	if err := testenv.CreateHost(context.Background(), k8s, sim, testenv.HostFixture{Name: "pve", Namespaces: []string{"team"}}); err != nil {
		t.Fatal(err)
	}
	return env, sim, k8s
}

// startManager runs a fresh operator (empty caches, no memory of earlier
// runs) and returns a function that stops it and waits for it to end.
func startManager(t *testing.T, env *testenv.Env) func() {
	t.Helper()
	mgr, err := manager.New(env.Config, manager.Options{SkipNameValidation: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			t.Error(err)
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
