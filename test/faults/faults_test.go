package faults_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
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

const apps = 12

// TestConvergesUnderFaults creates Applications while Proxmox fails calls
// with 5xx, drops answers after committing, fails and stalls tasks, races
// digests, loses a node and revokes the token for a while; everything must
// converge and the ownership invariants must hold, through creation, a spec
// change and deletion.
func TestConvergesUnderFaults(t *testing.T) {
	ctx := context.Background()
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	sim, err := pvesim.New(pvesim.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sim.Close() }()
	k8s, err := client.New(env.Config, client.Options{Scheme: manager.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := manager.New(env.Config, manager.Options{SkipNameValidation: true})
	if err != nil {
		t.Fatal(err)
	}
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = mgr.Start(mctx) }()
	setup(t, ctx, k8s, sim)

	// A container the operator must never touch.
	if err := sim.AddContainer("pve3", 9000, map[string]string{"hostname": "foreign", "memory": "256"}, true); err != nil {
		t.Fatal(err)
	}
	foreign, _ := sim.Container(9000)

	// Faults during creation.
	sim.FailRequests("POST", "/nodes/{node}/lxc", 2, 500, "unable to create CT - simulated server error")
	sim.DropAfterCommit("POST", "/nodes/{node}/lxc", 2)
	sim.FailRequests("POST", "/nodes/{node}/lxc/{vmid}/status/start", 2, 503, "Service Unavailable")
	sim.DropAfterCommit("POST", "/nodes/{node}/lxc/{vmid}/status/start", 1)
	sim.FailTasks("vzcreate", "", 1, "unable to create CT - simulated failure")
	stalled := sim.StallTasks("vzstart", "", 1)
	for i := range apps {
		if err := k8s.Create(ctx, app(i)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(2 * time.Second)
	if err := sim.SetNodeOnline("pve2", false); err != nil {
		t.Fatal(err)
	}
	if err := sim.RevokeToken(pvesim.DefaultTokenID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if err := sim.RestoreToken(pvesim.DefaultTokenID); err != nil {
		t.Fatal(err)
	}
	if err := sim.SetNodeOnline("pve2", true); err != nil {
		t.Fatal(err)
	}
	// The stalled start ends (as a slow task would) once it has been seen.
	_ = stalled
	waitFor(t, "the stalled start task", time.Minute, func() bool {
		for _, tk := range sim.Tasks("vzstart", "") {
			if tk.Stalled {
				return true
			}
		}
		return false
	})
	time.Sleep(2 * time.Second)
	sim.ReleaseTasks()
	waitAllReady(t, ctx, k8s)
	if t.Failed() {
		return
	}
	checkInvariants(t, ctx, k8s, sim, foreign.Digest)

	// A spec change racing concurrent edits in Proxmox (digest changes).
	list := &v1alpha1.ApplicationList{}
	if err := k8s.List(ctx, list, client.InNamespace("team")); err != nil {
		t.Fatal(err)
	}
	sim.FailRequests("PUT", "/nodes/{node}/lxc/{vmid}/config", 2, 500, "can't lock file '/run/lock/lxc/pve-config-100.lock' - got timeout")
	for i := range list.Items {
		a := &list.Items[i]
		a.Spec.Resources.Cores = ptr.To[int32](2)
		if err := k8s.Update(ctx, a); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			_ = sim.BumpDigest(int(a.Status.VMID))
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for _, a := range list.Items {
		for {
			ct, ok := sim.Container(int(a.Status.VMID))
			if ok && ct.Config["cores"] == "2" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cores never reached container %d of %s", a.Status.VMID, a.Name)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	checkInvariants(t, ctx, k8s, sim, foreign.Digest)

	// Deletion with failures: everything the operator created goes, nothing else.
	sim.FailRequests("DELETE", "/nodes/{node}/lxc/{vmid}", 2, 500, "CT is locked (backup)")
	if err := k8s.DeleteAllOf(ctx, &v1alpha1.Application{}, client.InNamespace("team")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "all Applications deleted", 2*time.Minute, func() bool {
		l := &v1alpha1.ApplicationList{}
		_ = k8s.List(ctx, l, client.InNamespace("team"))
		return len(l.Items) == 0
	})
	for _, ct := range sim.State().Containers {
		if _, owned := lxcconfig.OwnerOf(lxcconfig.SplitTags(ct.Config["tags"])); owned {
			t.Errorf("container %d is left behind after its Application was deleted", ct.VMID)
		}
	}
	if ct, ok := sim.Container(9000); !ok || ct.Digest != foreign.Digest {
		t.Errorf("the foreign container was modified or deleted")
	}
}

// checkInvariants: every Application maps to exactly one container, which is
// the one in its status; every owned container belongs to an existing
// Application; the foreign container is unchanged.
func checkInvariants(t *testing.T, ctx context.Context, k8s client.Client, sim *pvesim.Server, foreignDigest string) {
	t.Helper()
	list := &v1alpha1.ApplicationList{}
	if err := k8s.List(ctx, list, client.InNamespace("team")); err != nil {
		t.Fatal(err)
	}
	byUID := map[string]v1alpha1.Application{}
	for _, a := range list.Items {
		byUID[string(a.UID)] = a
	}
	owned := map[string][]int{}
	for _, ct := range sim.State().Containers {
		uid, ok := lxcconfig.OwnerOf(lxcconfig.SplitTags(ct.Config["tags"]))
		if !ok {
			continue
		}
		if _, exists := byUID[uid]; !exists {
			t.Errorf("container %d is owned by no existing Application (orphan)", ct.VMID)
		}
		owned[uid] = append(owned[uid], ct.VMID)
	}
	for uid, a := range byUID {
		if got := owned[uid]; len(got) != 1 || got[0] != int(a.Status.VMID) {
			t.Errorf("Application %s owns containers %v, status says %d", a.Name, got, a.Status.VMID)
		}
	}
	if ct, ok := sim.Container(9000); !ok || ct.Digest != foreignDigest {
		t.Errorf("the foreign container was modified or deleted")
	}
}

func app(i int) *v1alpha1.Application {
	return &v1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%d", i), Namespace: "team"},
		Spec: v1alpha1.ApplicationSpec{
			HostRef:   v1alpha1.LocalObjectReference{Name: "pve"},
			Template:  pvesim.DebianTemplate,
			Resources: &v1alpha1.Resources{Cores: ptr.To[int32](1), Memory: ptr.To(resource.MustParse("256Mi"))},
			RootFS:    &v1alpha1.RootFS{Storage: "local-lvm", Size: resource.MustParse("1Gi")},
		},
	}
}

func setup(t *testing.T, ctx context.Context, k8s client.Client, sim *pvesim.Server) {
	t.Helper()
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "pve-operator-system"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "pve-operator-system"},
			StringData: map[string]string{"tokenID": pvesim.DefaultTokenID, "tokenSecret": pvesim.DefaultTokenSecret},
		},
		&v1alpha1.ProxmoxHost{
			ObjectMeta: metav1.ObjectMeta{Name: "pve"},
			Spec: v1alpha1.ProxmoxHostSpec{
				Endpoint:       sim.URL(),
				CredentialsRef: v1alpha1.SecretReference{Name: "creds", Namespace: "pve-operator-system"},
				TLS:            &v1alpha1.TLSConfig{CABundle: string(sim.CACertPEM())},
				SyncInterval:   &metav1.Duration{Duration: 5 * time.Second},
			},
		},
	} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
}

func waitAllReady(t *testing.T, ctx context.Context, k8s client.Client) {
	t.Helper()
	defer func() {
		if t.Failed() {
			l := &v1alpha1.ApplicationList{}
			_ = k8s.List(ctx, l, client.InNamespace("team"))
			for _, a := range l.Items {
				if c := meta.FindStatusCondition(a.Status.Conditions, v1alpha1.ConditionReady); c != nil && c.Status != metav1.ConditionTrue {
					t.Logf("%s: vmid %d task %+v: %s %s", a.Name, a.Status.VMID, a.Status.Task, c.Reason, c.Message)
				}
			}
		}
	}()
	waitFor(t, "all Applications Ready", 3*time.Minute, func() bool {
		l := &v1alpha1.ApplicationList{}
		if err := k8s.List(ctx, l, client.InNamespace("team")); err != nil || len(l.Items) != apps {
			return false
		}
		for _, a := range l.Items {
			if !meta.IsStatusConditionTrue(a.Status.Conditions, v1alpha1.ConditionReady) {
				return false
			}
		}
		return true
	})
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Errorf("timed out waiting for %s", what)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}
