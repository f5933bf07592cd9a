package deploy

import (
	"net"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// The Argo CD health check, run on objects the operator itself put in each
// state (in envtest, against the Proxmox simulator): what Argo CD will see.
// Each case waits for the controller's state, judged from conditions and
// phase alone, and then asks the Lua script.
func TestArgoCDHealthOfRealObjects(t *testing.T) {
	o := runningOperator(t)
	ctx := t.Context()
	admin := adminClient(t)
	ns := createNamespace(t, admin, nil)

	host := createHost(t, admin, o, nil)
	noSecret := createHost(t, admin, o, func(_ *v1alpha1.ProxmoxHost, s *corev1.Secret) { s.Name = "" })
	noSecret.Spec.CredentialsRef.Name = "missing"
	if err := admin.Update(ctx, noSecret); err != nil {
		t.Fatal(err)
	}
	unreachable := createHost(t, admin, o, func(h *v1alpha1.ProxmoxHost, _ *corev1.Secret) { h.Spec.Endpoint = "https://" + closedAddr(t) })
	restricted := createHost(t, admin, o, func(h *v1alpha1.ProxmoxHost, _ *corev1.Secret) {
		h.Spec.AllowedNamespaces = &metav1.LabelSelector{MatchLabels: map[string]string{"nobody": "here"}}
	})
	waitReady(t, admin, host)
	waitReady(t, admin, restricted)

	create := func(obj client.Object) client.Object {
		t.Helper()
		if err := admin.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
		return obj
	}
	running := create(newApplication(ns, host.Name, nil)).(*v1alpha1.Application)
	stopped := create(newApplication(ns, host.Name, func(a *v1alpha1.Application) { a.Spec.PowerState = v1alpha1.PowerStateStopped }))
	refused := create(newApplication(ns, restricted.Name, nil))
	waiting := create(newApplication(ns, unreachable.Name, nil))
	orphanBackup := create(&v1alpha1.Backup{
		ObjectMeta: metav1.ObjectMeta{Name: "of-nothing", Namespace: ns},
		Spec:       v1alpha1.BackupSpec{ApplicationRef: v1alpha1.LocalObjectReference{Name: "does-not-exist"}},
	})
	badSchedule := create(&v1alpha1.BackupSchedule{
		ObjectMeta: metav1.ObjectMeta{Name: "bad-tz", Namespace: ns},
		Spec: v1alpha1.BackupScheduleSpec{Schedule: "@daily", TimeZone: "Mars/Olympus_Mons",
			ApplicationRef: &v1alpha1.LocalObjectReference{Name: running.Name}},
	})
	schedule := create(&v1alpha1.BackupSchedule{
		ObjectMeta: metav1.ObjectMeta{Name: "yearly", Namespace: ns},
		Spec:       v1alpha1.BackupScheduleSpec{Schedule: "0 3 1 1 *", ApplicationRef: &v1alpha1.LocalObjectReference{Name: running.Name}},
	})
	suspended := create(&v1alpha1.BackupSchedule{
		ObjectMeta: metav1.ObjectMeta{Name: "paused", Namespace: ns},
		Spec:       v1alpha1.BackupScheduleSpec{Schedule: "0 3 1 1 *", Suspend: true, ApplicationRef: &v1alpha1.LocalObjectReference{Name: running.Name}},
	})

	check := func(t *testing.T, obj client.Object, what string, state func(*unstructured.Unstructured) bool, want string) *unstructured.Unstructured {
		t.Helper()
		u := waitState(t, admin, obj, what, state)
		if got, msg := health(t, u); got != want {
			t.Errorf("%s (%s) is %s (%q), want %s", key(u), describeStatus(u), got, msg, want)
		}
		return u
	}

	t.Run("a connected ProxmoxHost is Healthy", func(t *testing.T) {
		check(t, host, "Ready Connected", ready("True", v1alpha1.ReasonConnected), "Healthy")
	})
	t.Run("a ProxmoxHost whose Secret is missing is Degraded", func(t *testing.T) {
		check(t, noSecret, "Stalled CredentialsNotFound", stalledWith(v1alpha1.ReasonCredentialsNotFound), "Degraded")
	})
	t.Run("an unreachable ProxmoxHost is Progressing: it may come back", func(t *testing.T) {
		check(t, unreachable, "Ready=False Unreachable", ready("False", v1alpha1.ReasonUnreachable), "Progressing")
	})
	var runningU *unstructured.Unstructured
	t.Run("a running Application is Healthy", func(t *testing.T) {
		runningU = check(t, running, "Ready Reconciled", ready("True", v1alpha1.ReasonReconciled), "Healthy")
	})
	t.Run("an Application stopped as declared is Suspended", func(t *testing.T) {
		check(t, stopped, "Ready and stopped", func(u *unstructured.Unstructured) bool {
			state, _, _ := unstructured.NestedString(u.Object, "status", "state")
			return ready("True", v1alpha1.ReasonReconciled)(u) && state == "stopped"
		}, "Suspended")
	})
	t.Run("an Application its host refuses is Degraded", func(t *testing.T) {
		check(t, refused, "Stalled NamespaceNotAllowed", stalledWith(v1alpha1.ReasonNamespaceNotAllowed), "Degraded")
	})
	t.Run("an Application waiting for its host is Progressing", func(t *testing.T) {
		check(t, waiting, "Ready=False HostNotReady", ready("False", v1alpha1.ReasonHostNotReady), "Progressing")
	})
	t.Run("an Application whose spec edit is not yet observed is Progressing", func(t *testing.T) {
		if runningU == nil {
			t.Skip("no running Application")
		}
		// The moment between `kubectl apply` and the operator's next status
		// write: the apiserver has bumped generation, status is the old one.
		u := runningU.DeepCopy()
		u.SetGeneration(u.GetGeneration() + 1)
		if got, _ := health(t, u); got != "Progressing" {
			t.Errorf("got %s", got)
		}
	})

	if runningU == nil {
		t.Fatal("the running Application never became Ready; the Backup and Restore cases need it")
	}
	if err := admin.Get(ctx, client.ObjectKeyFromObject(running), running); err != nil {
		t.Fatal(err)
	}
	vmid := strconv.Itoa(int(running.Status.VMID))

	var completed *v1alpha1.Backup
	t.Run("a running Backup is Progressing", func(t *testing.T) {
		o.sim.StallTasks("vzdump", vmid, 1)
		b := create(&v1alpha1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "held", Namespace: ns},
			Spec: v1alpha1.BackupSpec{ApplicationRef: v1alpha1.LocalObjectReference{Name: running.Name}}})
		check(t, b, "phase Running", phase(v1alpha1.BackupPhaseRunning), "Progressing")
		o.sim.ReleaseTasks()
		completed = b.(*v1alpha1.Backup)
	})
	t.Run("a completed Backup is Healthy", func(t *testing.T) {
		if completed == nil {
			completed = create(&v1alpha1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "done", Namespace: ns},
				Spec: v1alpha1.BackupSpec{ApplicationRef: v1alpha1.LocalObjectReference{Name: running.Name}}}).(*v1alpha1.Backup)
		}
		check(t, completed, "phase Completed", phase(v1alpha1.BackupPhaseCompleted), "Healthy")
	})
	t.Run("a failed Backup is Degraded", func(t *testing.T) {
		o.sim.FailTasks("vzdump", vmid, 1, "unable to create temporary directory")
		b := create(&v1alpha1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "failing", Namespace: ns},
			Spec: v1alpha1.BackupSpec{ApplicationRef: v1alpha1.LocalObjectReference{Name: running.Name}}})
		check(t, b, "phase Failed", phase(v1alpha1.BackupPhaseFailed), "Degraded")
	})
	t.Run("a Backup of a missing Application is Degraded", func(t *testing.T) {
		check(t, orphanBackup, "Stalled ApplicationNotFound", stalledWith(v1alpha1.ReasonApplicationNotFound), "Degraded")
	})
	t.Run("a completed Restore is Healthy", func(t *testing.T) {
		r := create(&v1alpha1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "rollback", Namespace: ns},
			Spec: v1alpha1.RestoreSpec{BackupRef: v1alpha1.LocalObjectReference{Name: completed.Name}, Start: ptr.To(true)}})
		check(t, r, "phase Completed", phase(v1alpha1.BackupPhase(v1alpha1.RestorePhaseCompleted)), "Healthy")
	})
	t.Run("a Restore of a Backup that did not complete is Degraded", func(t *testing.T) {
		r := create(&v1alpha1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "from-nothing", Namespace: ns},
			Spec: v1alpha1.RestoreSpec{BackupRef: v1alpha1.LocalObjectReference{Name: orphanBackup.GetName()}}})
		check(t, r, "Stalled", stalledWith(""), "Degraded")
	})
	t.Run("a BackupSchedule is Healthy", func(t *testing.T) {
		check(t, schedule, "Ready Scheduled", ready("True", v1alpha1.ReasonScheduled), "Healthy")
	})
	t.Run("a suspended BackupSchedule is Suspended", func(t *testing.T) {
		check(t, suspended, "Ready Suspended", ready("True", v1alpha1.ReasonSuspended), "Suspended")
	})
	t.Run("a BackupSchedule with an unknown time zone is Degraded", func(t *testing.T) {
		check(t, badSchedule, "Stalled InvalidSchedule", stalledWith(v1alpha1.ReasonInvalidSchedule), "Degraded")
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
