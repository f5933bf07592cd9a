package deploy

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// The Argo CD health check, run on objects the operator itself put in each
// state (in envtest, against the Proxmox simulator): what Argo CD will see.
// Each case waits for the controller's state, judged from conditions and
// phase alone, then asks Argo CD's verdict (health.lua, or Argo CD's own for
// a deleting object) and holds kstatus to it under argoVerdictsOf.
func TestArgoCDHealthOfRealObjects(t *testing.T) {
	f := newHealthFixture(t)
	runningU := f.hostAndApplicationCases(t)
	if runningU == nil {
		t.Fatal("the running Application never became Ready; the Backup and Restore cases need it")
	}
	if err := f.admin.Get(f.ctx, client.ObjectKeyFromObject(f.running), f.running); err != nil {
		t.Fatal(err)
	}
	f.backupAndRestoreCases(t)
	f.scheduleCases(t)
	f.deletionCase(t)
}

// healthFixture holds every object the health cases judge. All are
// created up front, so the operator works on them at once rather than one
// case after the other.
type healthFixture struct {
	ctx   context.Context
	o     *operator
	admin client.Client
	ns    string

	host, noSecret, unreachable, restricted *v1alpha1.ProxmoxHost

	running                                        *v1alpha1.Application
	stopped, refused, waiting, doomed              client.Object
	orphanBackup, badSchedule, schedule, suspended client.Object
	backupOfWaiting                                client.Object
}

func newHealthFixture(t *testing.T) *healthFixture {
	t.Helper()
	f := &healthFixture{o: runningOperator(t), ctx: t.Context(), admin: adminClient(t)}
	f.ns = createNamespace(t, f.admin, nil)
	f.createHosts(t)
	f.createObjects(t)
	return f
}

// createHosts creates a connected host, one whose Secret is missing, an
// unreachable one and one that admits no namespace, and waits for the two
// that must become Ready.
func (f *healthFixture) createHosts(t *testing.T) {
	t.Helper()
	f.host = createHost(t, f.admin, f.o, nil)
	// Named in the create itself: an update after it would race the
	// operator's first status write.
	f.noSecret = createHost(t, f.admin, f.o, func(h *v1alpha1.ProxmoxHost, s *corev1.Secret) {
		s.Name = ""
		h.Spec.CredentialsRef.Name = "missing"
	})
	f.unreachable = createHost(t, f.admin, f.o, func(h *v1alpha1.ProxmoxHost, _ *corev1.Secret) { h.Spec.Endpoint = "https://" + closedAddr(t) })
	f.restricted = createHost(t, f.admin, f.o, func(h *v1alpha1.ProxmoxHost, _ *corev1.Secret) {
		h.Spec.AllowedNamespaces = &metav1.LabelSelector{MatchLabels: map[string]string{"nobody": "here"}}
	})
	waitReady(t, f.admin, f.host)
	waitReady(t, f.admin, f.restricted)
}

func (f *healthFixture) createObjects(t *testing.T) {
	t.Helper()
	ns := f.ns
	f.running = f.create(t, newApplication(ns, f.host.Name, nil)).(*v1alpha1.Application)
	f.stopped = f.create(t, newApplication(ns, f.host.Name, func(a *v1alpha1.Application) { a.Spec.PowerState = v1alpha1.PowerStateStopped }))
	f.refused = f.create(t, newApplication(ns, f.restricted.Name, nil))
	f.waiting = f.create(t, newApplication(ns, f.unreachable.Name, nil))
	f.doomed = f.create(t, newApplication(ns, f.host.Name, nil))
	f.backupOfWaiting = f.create(t, &v1alpha1.Backup{
		ObjectMeta: metav1.ObjectMeta{Name: "of-waiting", Namespace: ns},
		Spec:       v1alpha1.BackupSpec{ApplicationRef: v1alpha1.LocalObjectReference{Name: f.waiting.GetName()}},
	})
	f.orphanBackup = f.create(t, &v1alpha1.Backup{
		ObjectMeta: metav1.ObjectMeta{Name: "of-nothing", Namespace: ns},
		Spec:       v1alpha1.BackupSpec{ApplicationRef: v1alpha1.LocalObjectReference{Name: "does-not-exist"}},
	})
	f.badSchedule = f.create(t, &v1alpha1.BackupSchedule{
		ObjectMeta: metav1.ObjectMeta{Name: "bad-tz", Namespace: ns},
		Spec: v1alpha1.BackupScheduleSpec{Schedule: "@daily", TimeZone: "Mars/Olympus_Mons",
			ApplicationRef: &v1alpha1.LocalObjectReference{Name: f.running.Name}},
	})
	f.schedule = f.create(t, &v1alpha1.BackupSchedule{
		ObjectMeta: metav1.ObjectMeta{Name: "yearly", Namespace: ns},
		Spec:       v1alpha1.BackupScheduleSpec{Schedule: "0 3 1 1 *", ApplicationRef: &v1alpha1.LocalObjectReference{Name: f.running.Name}},
	})
	f.suspended = f.create(t, &v1alpha1.BackupSchedule{
		ObjectMeta: metav1.ObjectMeta{Name: "paused", Namespace: ns},
		Spec:       v1alpha1.BackupScheduleSpec{Schedule: "0 3 1 1 *", Suspend: true, ApplicationRef: &v1alpha1.LocalObjectReference{Name: f.running.Name}},
	})
}

func (f *healthFixture) create(t *testing.T, obj client.Object) client.Object {
	t.Helper()
	if err := f.admin.Create(f.ctx, obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

// check waits until obj is in the state, then asks Argo CD's verdict and
// kstatus's.
func (f *healthFixture) check(t *testing.T, obj client.Object, what string, state func(*unstructured.Unstructured) bool, want string) *unstructured.Unstructured {
	t.Helper()
	u := waitState(t, f.admin, obj, what, state)
	got, msg := health(t, u)
	if got != want {
		t.Errorf("%s (%s) is %s (%q), want %s", key(u), describeStatus(u), got, msg, want)
	}
	checkKstatus(t, u, got, msg)
	return u
}

// hostAndApplicationCases returns the running Application as the health
// script saw it, nil if it never became Ready.
func (f *healthFixture) hostAndApplicationCases(t *testing.T) *unstructured.Unstructured {
	t.Run("a connected ProxmoxHost is Healthy", func(t *testing.T) {
		f.check(t, f.host, "Ready Connected", ready("True", v1alpha1.ReasonConnected), "Healthy")
	})
	t.Run("a ProxmoxHost whose Secret is missing is Degraded", func(t *testing.T) {
		f.check(t, f.noSecret, "Stalled CredentialsNotFound", stalledWith(v1alpha1.ReasonCredentialsNotFound), "Degraded")
	})
	t.Run("an unreachable ProxmoxHost is Progressing: it may come back", func(t *testing.T) {
		f.check(t, f.unreachable, "Ready=False Unreachable", ready("False", v1alpha1.ReasonUnreachable), "Progressing")
	})
	var runningU *unstructured.Unstructured
	t.Run("a running Application is Healthy", func(t *testing.T) {
		runningU = f.check(t, f.running, "Ready Reconciled", ready("True", v1alpha1.ReasonReconciled), "Healthy")
	})
	t.Run("an Application stopped as declared is Suspended", func(t *testing.T) {
		f.check(t, f.stopped, "Ready and stopped", func(u *unstructured.Unstructured) bool {
			state, _, _ := unstructured.NestedString(u.Object, "status", "state")
			return ready("True", v1alpha1.ReasonReconciled)(u) && state == "stopped"
		}, "Suspended")
	})
	t.Run("an Application its host refuses is Degraded", func(t *testing.T) {
		f.check(t, f.refused, "Stalled NamespaceNotAllowed", stalledWith(v1alpha1.ReasonNamespaceNotAllowed), "Degraded")
	})
	t.Run("an Application waiting for its host is Progressing", func(t *testing.T) {
		f.check(t, f.waiting, "Ready=False HostNotReady", ready("False", v1alpha1.ReasonHostNotReady), "Progressing")
	})
	t.Run("an Application whose spec edit is not yet observed is Progressing", func(t *testing.T) {
		if runningU == nil {
			t.Skip("no running Application")
		}
		// The moment between `kubectl apply` and the operator's next status
		// write: the apiserver has bumped generation, status is the old one.
		u := runningU.DeepCopy()
		u.SetGeneration(u.GetGeneration() + 1)
		got, msg := health(t, u)
		if got != "Progressing" {
			t.Errorf("got %s (%q)", got, msg)
		}
		checkKstatus(t, u, got, msg)
	})
	return runningU
}

// backupAndRestoreCases need the running Application, read back with its
// VMID: the Backup faults are injected for its container.
func (f *healthFixture) backupAndRestoreCases(t *testing.T) {
	ns, running := f.ns, f.running
	completed, rollback := f.heldBackupCases(t)
	t.Run("a completed Backup is Healthy", func(t *testing.T) {
		f.check(t, completed, "phase Completed", phase(v1alpha1.BackupPhaseCompleted), "Healthy")
	})
	t.Run("a completed Restore is Healthy", func(t *testing.T) {
		f.check(t, rollback, "phase Completed", phase(v1alpha1.BackupPhase(v1alpha1.RestorePhaseCompleted)), "Healthy")
	})
	t.Run("a failed Backup is Degraded", func(t *testing.T) {
		f.o.sim.FailTasks("vzdump", strconv.Itoa(int(running.Status.VMID)), 1, "unable to create temporary directory")
		b := f.create(t, &v1alpha1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "failing", Namespace: ns},
			Spec: v1alpha1.BackupSpec{ApplicationRef: v1alpha1.LocalObjectReference{Name: running.Name}}})
		f.check(t, b, "phase Failed", phase(v1alpha1.BackupPhaseFailed), "Degraded")
	})
	t.Run("a Backup of a missing Application is Degraded", func(t *testing.T) {
		f.check(t, f.orphanBackup, "Stalled ApplicationNotFound", stalledWith(v1alpha1.ReasonApplicationNotFound), "Degraded")
	})
	t.Run("a Backup of an Application without a container yet is Progressing", func(t *testing.T) {
		f.check(t, f.backupOfWaiting, "Ready=False ApplicationNotReady", ready("False", v1alpha1.ReasonApplicationNotReady), "Progressing")
	})
	t.Run("a Restore of a Backup that did not complete is Degraded", func(t *testing.T) {
		r := f.create(t, &v1alpha1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "from-nothing", Namespace: ns},
			Spec: v1alpha1.RestoreSpec{BackupRef: v1alpha1.LocalObjectReference{Name: f.orphanBackup.GetName()}}})
		f.check(t, r, "Stalled", stalledWith(""), "Degraded")
	})
}

// heldBackupCases judge what there is to see while a Backup's vzdump is
// held running: the Backup, its Application, and a Restore applied
// together with the Backup, which waits for it. It returns the Backup and
// the Restore, both left to complete once the task is released.
func (f *healthFixture) heldBackupCases(t *testing.T) (held, rollback client.Object) {
	ns, running := f.ns, f.running
	f.o.sim.StallTasks("vzdump", strconv.Itoa(int(running.Status.VMID)), 1)
	defer f.o.sim.ReleaseTasks()
	held = f.create(t, &v1alpha1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "held", Namespace: ns},
		Spec: v1alpha1.BackupSpec{ApplicationRef: v1alpha1.LocalObjectReference{Name: running.Name}}})
	t.Run("a running Backup is Progressing", func(t *testing.T) {
		f.check(t, held, "phase Running", phase(v1alpha1.BackupPhaseRunning), "Progressing")
	})
	t.Run("an Application during its own Backup stays Healthy", func(t *testing.T) {
		f.check(t, running, "Ready, Reconciling=False Locked", busyWith(v1alpha1.ReasonLocked), "Healthy")
	})
	rollback = f.create(t, &v1alpha1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "rollback", Namespace: ns},
		Spec: v1alpha1.RestoreSpec{BackupRef: v1alpha1.LocalObjectReference{Name: held.GetName()}, Start: ptr.To(true)}})
	t.Run("a Restore waiting for a running Backup is Progressing", func(t *testing.T) {
		f.check(t, rollback, "Ready=False BackupNotCompleted", ready("False", v1alpha1.ReasonBackupNotCompleted), "Progressing")
	})
	return held, rollback
}

func (f *healthFixture) scheduleCases(t *testing.T) {
	t.Run("a BackupSchedule is Healthy", func(t *testing.T) {
		f.check(t, f.schedule, "Ready Scheduled", ready("True", v1alpha1.ReasonScheduled), "Healthy")
	})
	t.Run("a suspended BackupSchedule is Suspended", func(t *testing.T) {
		f.check(t, f.suspended, "Ready Suspended", ready("True", v1alpha1.ReasonSuspended), "Suspended")
	})
	t.Run("a BackupSchedule with an unknown time zone is Degraded", func(t *testing.T) {
		f.check(t, f.badSchedule, "Stalled InvalidSchedule", stalledWith(v1alpha1.ReasonInvalidSchedule), "Degraded")
	})
}

// deletionCase holds the doomed Application's deletion up with the lock of
// its own running Backup, and judges it while the finalizer waits.
func (f *healthFixture) deletionCase(t *testing.T) {
	t.Run("an Application whose deletion waits for a lock is Progressing, and the script names the lock", func(t *testing.T) {
		u := waitState(t, f.admin, f.doomed, "Ready Reconciled", ready("True", v1alpha1.ReasonReconciled))
		vmid, _, _ := unstructured.NestedInt64(u.Object, "status", "vmid")
		f.o.sim.StallTasks("vzdump", strconv.FormatInt(vmid, 10), 1)
		defer f.o.sim.ReleaseTasks()
		b := f.create(t, &v1alpha1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "last-words", Namespace: f.ns},
			Spec: v1alpha1.BackupSpec{ApplicationRef: v1alpha1.LocalObjectReference{Name: f.doomed.GetName()}}})
		waitState(t, f.admin, b, "phase Running", phase(v1alpha1.BackupPhaseRunning))
		if err := f.admin.Delete(f.ctx, f.doomed); err != nil {
			t.Fatal(err)
		}
		u = f.check(t, f.doomed, "deleting, Ready=False Locked", deletingWith(v1alpha1.ReasonLocked), "Progressing")
		if res := computeKstatus(t, u); res.Status != kstatus.TerminatingStatus {
			t.Errorf("kstatus says %s (%q), want Terminating", res.Status, res.Message)
		}
		// Argo CD shows "Pending deletion"; the cause is in Ready, which the
		// script's own deletion branch repeats.
		if got, msg := luaHealth(t, u); got != "Progressing" || !strings.HasPrefix(msg, "Deleting: Locked: ") {
			t.Errorf("health.lua says %s (%q), want Progressing (\"Deleting: Locked: ...\")", got, msg)
		}
		f.o.sim.ReleaseTasks()
		// The lock gone, the deletion must go through: the finalizer did
		// wait for the lock, not for nothing.
		waitGone(t, f.admin, f.doomed)
	})
}

func waitReady(t *testing.T, c client.Client, h *v1alpha1.ProxmoxHost) {
	t.Helper()
	ctx := t.Context()
	waitFor(ctx, t, c, h, 60*time.Second, "Ready=True Connected", func(h *v1alpha1.ProxmoxHost) bool {
		return readyIs(h.Status.Conditions, metav1.ConditionTrue, v1alpha1.ReasonConnected)
	})
}

// waitState polls obj, as unstructured, until state holds, and returns it.
func waitState(t *testing.T, c client.Client, obj client.Object, what string, state func(*unstructured.Unstructured) bool) *unstructured.Unstructured {
	t.Helper()
	gvks, _, err := c.Scheme().ObjectKinds(obj)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvks[0])
	deadline := time.Now().Add(90 * time.Second)
	for {
		err := c.Get(t.Context(), client.ObjectKeyFromObject(obj), u)
		if err == nil && state(u) {
			return u
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s never reached %s (%v): %s", gvks[0].Kind, client.ObjectKeyFromObject(obj), what, err, describeStatus(u))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func conditions(u *unstructured.Unstructured) []metav1.Condition {
	raw, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var out []metav1.Condition
	for _, r := range raw {
		m := r.(map[string]any)
		c := metav1.Condition{}
		c.Type, _ = m["type"].(string)
		s, _ := m["status"].(string)
		c.Status = metav1.ConditionStatus(s)
		c.Reason, _ = m["reason"].(string)
		out = append(out, c)
	}
	return out
}

// observed: the conditions speak for the current generation. (The
// Application controller writes status.observedGeneration only once a
// generation has settled or stalled; its conditions always carry theirs.)
func observed(u *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m := c.(map[string]any)
		if m["type"] == v1alpha1.ConditionReady {
			g, _ := m["observedGeneration"].(int64)
			return g == u.GetGeneration()
		}
	}
	return false
}

func ready(status, reason string) func(*unstructured.Unstructured) bool {
	return func(u *unstructured.Unstructured) bool {
		return observed(u) && readyIs(conditions(u), metav1.ConditionStatus(status), reason)
	}
}

func stalledWith(reason string) func(*unstructured.Unstructured) bool {
	return func(u *unstructured.Unstructured) bool {
		c := meta.FindStatusCondition(conditions(u), v1alpha1.ConditionStalled)
		return observed(u) && c != nil && c.Status == metav1.ConditionTrue && (reason == "" || c.Reason == reason)
	}
}

// busyWith: Ready, and Reconciling=False with reason, for the current
// generation (routine work on an object that is in place).
func busyWith(reason string) func(*unstructured.Unstructured) bool {
	return func(u *unstructured.Unstructured) bool {
		c := meta.FindStatusCondition(conditions(u), v1alpha1.ConditionReconciling)
		return ready("True", v1alpha1.ReasonReconciled)(u) && c != nil && c.Status == metav1.ConditionFalse && c.Reason == reason
	}
}

// deletingWith: deletionTimestamp set and Ready=False with reason, the cause
// the deletion waits on.
func deletingWith(reason string) func(*unstructured.Unstructured) bool {
	return func(u *unstructured.Unstructured) bool {
		return u.GetDeletionTimestamp() != nil && ready("False", reason)(u)
	}
}

func phase(p v1alpha1.BackupPhase) func(*unstructured.Unstructured) bool {
	return func(u *unstructured.Unstructured) bool {
		got, _, _ := unstructured.NestedString(u.Object, "status", "phase")
		return observed(u) && got == string(p)
	}
}

// closedAddr is a local address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}
