package faults_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/manager"
	"github.com/pve-operator/pve-operator/internal/pvesim"
	"github.com/pve-operator/pve-operator/internal/testenv"
)

// apps is how many Applications (and Backups) the suite runs: 12 in
// `make test`, FAULT_APPS (e.g. 60 in `make test-faults`) when set.
var apps = func() int {
	if n, err := strconv.Atoi(os.Getenv("FAULT_APPS")); err == nil && n >= 3 {
		return n
	}
	return 12
}()

// taskDeadline is short so that a stalled task is reported within the test.
const taskDeadline = 5 * time.Second

// TestConvergesUnderFaults creates Applications while Proxmox fails 10% of
// all mutating calls and some chosen ones with 5xx, drops answers after committing, fails and stalls tasks, races
// digests, loses a node and revokes the token for a while; everything must
// converge and the ownership invariants must hold, through creation, a spec
// change and deletion.
func TestConvergesUnderFaults(t *testing.T) {
	ctx := context.Background()
	k8s, sim := startSuite(t, ctx)
	injectBackgroundFaults(t, sim)
	foreign := addForeignContainers(t, sim)

	createUnderFaults(t, ctx, k8s, sim)
	if t.Failed() {
		return
	}
	checkInvariants(t, ctx, k8s, sim, foreign)

	changed := changeSpecUnderFaults(t, ctx, k8s, sim)
	checkInvariants(t, ctx, k8s, sim, foreign)

	backupsUnderFaults(t, ctx, k8s, sim, changed, foreign)
	if t.Failed() {
		return
	}
	deleteUnderFaults(t, ctx, k8s, sim, foreign)
}

// startSuite starts the control plane, the simulator and the manager (with
// a short task deadline), and creates the ProxmoxHost "pve" for namespace
// "team". Everything is stopped when the test ends.
func startSuite(t *testing.T, ctx context.Context) (client.Client, *pvesim.Server) {
	t.Helper()
	env, sim, k8s := testenv.StartSimulated(t)
	mgr, err := manager.New(env.Config, manager.Options{SkipNameValidation: true, TaskDeadline: taskDeadline}) //nolint:contextcheck // New only registers controllers, indexes and watches; the manager gets its context from Start
	if err != nil {
		t.Fatal(err)
	}
	mctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	go func() { _ = mgr.Start(mctx) }()
	if err := testenv.CreateHost(ctx, k8s, sim, testenv.HostFixture{Name: "pve", Namespaces: []string{"team"}, SyncInterval: 5 * time.Second,
		Images: &v1alpha1.ImageGrant{Registries: []string{"docker.io/library"}, Storages: []string{"local"}}}); err != nil {
		t.Fatal(err)
	}
	return k8s, sim
}

// injectBackgroundFaults makes one mutating call in ten fail with a 5xx for
// the whole run (seeded: the same calls fail on every run with the same
// order of requests).
func injectBackgroundFaults(t *testing.T, sim *pvesim.Server) {
	t.Helper()
	for _, m := range []string{"POST", "PUT", "DELETE"} {
		if _, err := sim.InjectFault(pvesim.RequestFault{
			Method: m, Count: -1, Probability: 0.1, Action: pvesim.FaultError, Status: 500, Message: "simulated server error",
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// addForeignContainers adds the containers the operator must never touch
// and returns them as VMID → digest.
func addForeignContainers(t *testing.T, sim *pvesim.Server) map[int]string {
	t.Helper()
	// A container the operator must never touch.
	if err := sim.AddContainer("pve3", 9000, map[string]string{"hostname": "foreign", "memory": "256"}, true); err != nil {
		t.Fatal(err)
	}
	ct9000, _ := sim.Container(9000)
	// And one whose marker names an Application that is not ours.
	other, err := testenv.AddOwnedByOther(sim, "pve1", 9002, true)
	if err != nil {
		t.Fatal(err)
	}
	return map[int]string{9000: ct9000.Digest, 9002: other}
}

// createUnderFaults creates the Applications while creates and starts fail,
// lose their answers or stall, a node goes offline and the token is revoked
// for a while, and waits until every Application is Ready.
func createUnderFaults(t *testing.T, ctx context.Context, k8s client.Client, sim *pvesim.Server) {
	t.Helper()
	sim.FailRequests("POST", "/nodes/{node}/lxc", 2, 500, "unable to create CT - simulated server error")
	sim.DropAfterCommit("POST", "/nodes/{node}/lxc", 2)
	sim.FailRequests("POST", "/nodes/{node}/lxc/{vmid}/status/start", 2, 503, "Service Unavailable")
	sim.DropAfterCommit("POST", "/nodes/{node}/lxc/{vmid}/status/start", 1)
	sim.FailTasks("vzcreate", "", 1, "unable to create CT - simulated failure")
	stall := sim.StallTasks("vzstart", "", 2)
	for i := range apps {
		if err := k8s.Create(ctx, testenv.SmallApp("team", fmt.Sprintf("app-%d", i), "pve")); err != nil {
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
	// Two starts stall and outlive the task deadline (one of them may be the
	// start whose answer was dropped, so the operator never learnt its
	// UPID): an Application that knows its task must say so (Stalled,
	// TaskStuck); both must go on once the tasks end.
	waitFor(t, ctx, "an Application to report its stuck task", time.Minute, func() bool {
		l := &v1alpha1.ApplicationList{}
		_ = k8s.List(ctx, l, client.InNamespace("team"))
		for _, a := range l.Items {
			c := meta.FindStatusCondition(a.Status.Conditions, v1alpha1.ConditionStalled)
			if c != nil && c.Status == metav1.ConditionTrue && c.Reason == v1alpha1.ReasonTaskStuck {
				t.Logf("%s: %s", a.Name, c.Message)
				return true
			}
		}
		return false
	})
	// A start that has not come by now would take what is left of the
	// stall fault later, after the release, and never end: disarm it first.
	sim.RemoveFault(stall)
	sim.ReleaseTasks()
	waitAllReady(t, ctx, k8s)
}

// changeSpecUnderFaults changes every Application's cores while config
// writes time out on the lock and Proxmox edits race them (digest changes),
// waits until every container has the new value, and returns the
// Applications as listed before the change.
func changeSpecUnderFaults(t *testing.T, ctx context.Context, k8s client.Client, sim *pvesim.Server) []v1alpha1.Application {
	t.Helper()
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
	return list.Items
}

// deleteUnderFaults deletes with failures: everything the operator created
// goes, nothing else; Backups first (their archives with them), then
// Applications.
func deleteUnderFaults(t *testing.T, ctx context.Context, k8s client.Client, sim *pvesim.Server, foreign map[int]string) {
	t.Helper()
	sim.FailRequests("DELETE", "/nodes/{node}/storage/{storage}/content/{volume...}", 1, 500, "simulated server error")
	sim.DropAfterCommit("DELETE", "/nodes/{node}/storage/{storage}/content/{volume...}", 1)
	if err := k8s.DeleteAllOf(ctx, &v1alpha1.Backup{}, client.InNamespace("team")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "all Backups deleted", 2*time.Minute, func() bool {
		l := &v1alpha1.BackupList{}
		_ = k8s.List(ctx, l, client.InNamespace("team"))
		return len(l.Items) == 0
	})
	checkInvariants(t, ctx, k8s, sim, foreign)
	sim.FailRequests("DELETE", "/nodes/{node}/lxc/{vmid}", 2, 500, "CT is locked (backup)")
	if err := k8s.DeleteAllOf(ctx, &v1alpha1.Application{}, client.InNamespace("team")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "all Applications deleted", 2*time.Minute, func() bool {
		l := &v1alpha1.ApplicationList{}
		_ = k8s.List(ctx, l, client.InNamespace("team"))
		return len(l.Items) == 0
	})
	for _, ct := range sim.State().Containers {
		if _, owned := lxcconfig.OwnerOf(lxcconfig.SplitTags(ct.Config["tags"])); owned && foreign[ct.VMID] == "" {
			t.Errorf("container %d is left behind after its Application was deleted", ct.VMID)
		}
	}
	checkInvariants(t, ctx, k8s, sim, foreign)
}

// backupsUnderFaults backs up every Application (archives, and snapshots
// of every third) while vzdump requests fail or lose their answers, one
// container holds a stale lock for a while and one vzdump task fails inside
// Proxmox: every Backup must end Completed except the one whose task
// failed, which must say why; the archives and snapshots must be there.
func backupsUnderFaults(t *testing.T, ctx context.Context, k8s client.Client, sim *pvesim.Server, apps []v1alpha1.Application, foreign map[int]string) {
	t.Helper()
	create := func(i int, a v1alpha1.Application) {
		typ := v1alpha1.BackupTypeArchive
		if i%3 == 1 {
			typ = v1alpha1.BackupTypeSnapshot
		}
		b := &v1alpha1.Backup{
			ObjectMeta: metav1.ObjectMeta{Name: "bk-" + a.Name, Namespace: "team"},
			Spec: v1alpha1.BackupSpec{
				ApplicationRef:   v1alpha1.LocalObjectReference{Name: a.Name},
				BackupParameters: v1alpha1.BackupParameters{Type: typ},
			},
		}
		if err := k8s.Create(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	// First alone, so that no other fault (a lost answer, after which the
	// operator cannot know the task failed and rightly tries again) hides
	// it: a vzdump task failing inside Proxmox.
	sim.FailTasks("vzdump", strconv.Itoa(int(apps[0].Status.VMID)), 1, "job errors")
	create(0, apps[0])
	waitFor(t, ctx, "the first Backup to fail", time.Minute, func() bool {
		b := &v1alpha1.Backup{}
		_ = k8s.Get(ctx, client.ObjectKey{Namespace: "team", Name: "bk-" + apps[0].Name}, b)
		return b.Status.Phase == v1alpha1.BackupPhaseFailed
	})
	sim.FailRequests("POST", "/nodes/{node}/vzdump", 2, 500, "simulated server error")
	sim.DropAfterCommit("POST", "/nodes/{node}/vzdump", 1)
	sim.FailRequests("POST", "/nodes/{node}/lxc/{vmid}/snapshot", 1, 503, "Service Unavailable")
	sim.DropAfterCommit("POST", "/nodes/{node}/lxc/{vmid}/snapshot", 1)
	locked := int(apps[len(apps)-1].Status.VMID)
	if err := sim.SetLock(locked, "backup"); err != nil {
		t.Fatal(err)
	}
	for i, a := range apps[1:] {
		create(i+1, a)
	}
	time.Sleep(3 * time.Second)
	if err := sim.SetLock(locked, ""); err != nil {
		t.Fatal(err)
	}
	var completed, failed, running []v1alpha1.Backup
	waitFor(t, ctx, "all Backups to finish", 2*time.Minute, func() bool {
		l := &v1alpha1.BackupList{}
		if err := k8s.List(ctx, l, client.InNamespace("team")); err != nil {
			return false
		}
		completed, failed, running = nil, nil, nil
		for _, b := range l.Items {
			switch b.Status.Phase {
			case v1alpha1.BackupPhaseCompleted:
				completed = append(completed, b)
			case v1alpha1.BackupPhaseFailed:
				failed = append(failed, b)
			default:
				running = append(running, b)
			}
		}
		return len(completed)+len(failed) == len(apps)
	})
	reportUnfinished(t, sim, running)
	if len(failed) != 1 {
		for _, b := range failed {
			t.Logf("Backup %s failed: %v", b.Name, meta.FindStatusCondition(b.Status.Conditions, v1alpha1.ConditionReady))
		}
		for _, tk := range sim.Tasks("vzdump", "") {
			t.Logf("vzdump task %s: exit %q", tk.UPID, tk.ExitStatus)
		}
		t.Errorf("%d Backups failed, want exactly the one whose vzdump task failed", len(failed))
	} else if c := meta.FindStatusCondition(failed[0].Status.Conditions, v1alpha1.ConditionReady); c == nil || !strings.Contains(c.Message, "job errors") {
		t.Errorf("the failed Backup does not say why: %v", c)
	}
	t.Logf("%d Backups Completed, %d Failed (the injected task failure)", len(completed), len(failed))
	checkInvariants(t, ctx, k8s, sim, foreign)
}

// reportUnfinished logs the Backups that did not finish with what the
// simulator says of their tasks and of every task still running.
func reportUnfinished(t *testing.T, sim *pvesim.Server, running []v1alpha1.Backup) {
	t.Helper()
	for _, b := range running {
		t.Logf("Backup %s is still %q: %v", b.Name, b.Status.Phase, meta.FindStatusCondition(b.Status.Conditions, v1alpha1.ConditionReady))
		if b.Status.Task != nil {
			tk, _ := sim.Task(b.Status.Task.UPID)
			t.Logf("  its task in the simulator: running %t, stalled %t, exit %q, log %q", tk.Running, tk.Stalled, tk.ExitStatus, tk.Log)
		}
	}
	if len(running) == 0 {
		return
	}
	for _, tk := range sim.Tasks("", "") {
		if tk.Running {
			t.Logf("  running in the simulator: %s (stalled %t)", tk.UPID, tk.Stalled)
		}
	}
}

// checkInvariants fails the test on every violation of the data invariants
// (see testenv.CheckInvariants).
func checkInvariants(t *testing.T, ctx context.Context, k8s client.Client, sim *pvesim.Server, foreign map[int]string) {
	t.Helper()
	violations, err := testenv.CheckInvariants(ctx, k8s, sim, "team", foreign)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range violations {
		t.Error(v)
	}
}

func waitAllReady(t *testing.T, ctx context.Context, k8s client.Client) { waitReady(t, ctx, k8s, apps) }

// waitFor polls cond until it holds and fails the test (without stopping
// it) if it does not within timeout.
func waitFor(t *testing.T, ctx context.Context, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	if err := testenv.Poll(ctx, timeout, func() (bool, error) { return cond(), nil }); err != nil {
		t.Errorf("waiting for %s: %v", what, err)
	}
}
