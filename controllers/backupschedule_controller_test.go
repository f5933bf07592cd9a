package controllers_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/controllers"
)

// The schedule is driven by its own reconciler with a fake clock, called
// directly against the apiserver; the suite's manager (real clock) runs
// alongside and takes the Backups it creates. The schedule fires once a
// year (1 January, 03:00 Berlin time), so the real-clock reconciler never
// finds a run due while the fake clock jumps from one year to the next.
var _ = Describe("BackupSchedule", func() {
	It("creates Backups on schedule, prunes the oldest, honours suspend and skips runs missed beyond the deadline", func() {
		e := newAppEnv(nil)
		eventuallyReady(e.host, "True", v1alpha1.ReasonConnected)
		app := eventuallyApp(e.app(nil), "True", v1alpha1.ReasonReconciled)

		sc := &v1alpha1.BackupSchedule{
			ObjectMeta: metav1.ObjectMeta{
				Name: "nightly", Namespace: app.Namespace,
				// What Argo CD puts on the objects it tracks.
				Labels:      map[string]string{"app.kubernetes.io/instance": "gitops-app", "team": "a"},
				Annotations: map[string]string{"argocd.argoproj.io/tracking-id": "gitops-app:proxmox.pve-operator.io/BackupSchedule:" + app.Namespace + "/nightly"},
			},
			Spec: v1alpha1.BackupScheduleSpec{
				Schedule:       "0 3 1 1 *",
				TimeZone:       "Europe/Berlin",
				ApplicationRef: &v1alpha1.LocalObjectReference{Name: app.Name},
				KeepLast:       ptr.To[int32](2),
			},
		}
		Expect(k8s.Create(ctx, sc)).To(Succeed())
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(sc), sc)).To(Succeed())

		berlin, err := time.LoadLocation("Europe/Berlin")
		Expect(err).NotTo(HaveOccurred())
		// The n-th run after the schedule's creation: 1 January 03:00 in
		// Berlin is 02:00 UTC.
		run := func(n int) time.Time {
			return time.Date(sc.CreationTimestamp.In(berlin).Year()+n, 1, 1, 3, 0, 0, 0, berlin)
		}
		Expect(run(1).UTC().Hour()).To(Equal(2))

		var now time.Time
		rec := events.NewFakeRecorder(100)
		r := &controllers.BackupScheduleReconciler{Client: k8s, Recorder: rec, Now: func() time.Time { return now }}
		reconcile := func() {
			GinkgoHelper()
			Eventually(func() error {
				_, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(sc)})
				return err
			}).Should(Succeed())
		}
		owned := func() []v1alpha1.Backup {
			GinkgoHelper()
			list := &v1alpha1.BackupList{}
			Expect(k8s.List(ctx, list, client.InNamespace(sc.Namespace))).To(Succeed())
			var out []v1alpha1.Backup
			for _, b := range list.Items {
				if metav1.IsControlledBy(&b, sc) && b.DeletionTimestamp.IsZero() {
					out = append(out, b)
				}
			}
			return out
		}
		names := func() []string {
			var out []string
			for _, b := range owned() {
				out = append(out, b.Name)
			}
			return out
		}
		nameFor := func(n int) string { return "nightly-" + run(n).UTC().Format("20060102150405") }
		completeRun := func(n int) *v1alpha1.Backup {
			GinkgoHelper()
			return eventuallyBackup(&v1alpha1.Backup{ObjectMeta: metav1.ObjectMeta{Name: nameFor(n), Namespace: sc.Namespace}}, v1alpha1.BackupPhaseCompleted)
		}
		schedule := func() *v1alpha1.BackupSchedule {
			GinkgoHelper()
			out := &v1alpha1.BackupSchedule{}
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(sc), out)).To(Succeed())
			return out
		}

		By("doing nothing before the first run")
		now = run(1).Add(-time.Minute)
		reconcile()
		Expect(owned()).To(BeEmpty())
		Expect(schedule().Status.NextScheduleTime.Time).To(BeTemporally("==", run(1)))
		Expect(meta.FindStatusCondition(schedule().Status.Conditions, v1alpha1.ConditionReady)).To(HaveField("Reason", v1alpha1.ReasonScheduled))

		By("creating the first run's Backup, owned by the schedule and without its GitOps tracking")
		now = run(1).Add(30 * time.Second)
		reconcile()
		reconcile() // a repeated pass creates nothing more
		Expect(names()).To(ConsistOf(nameFor(1)))
		b1 := owned()[0]
		Expect(metav1.GetControllerOf(&b1)).To(HaveField("UID", sc.UID))
		Expect(b1.Labels).To(HaveKeyWithValue(controllers.LabelSchedule, "nightly"))
		Expect(b1.Labels).NotTo(HaveKey("app.kubernetes.io/instance"))
		Expect(b1.Labels).NotTo(HaveKey("team"))
		for k := range b1.Annotations {
			Expect(k).NotTo(HavePrefix("argocd.argoproj.io/"))
		}
		Expect(b1.Spec.ApplicationRef.Name).To(Equal(app.Name))
		Expect(b1.Spec.Type).To(Equal(v1alpha1.BackupTypeArchive))
		Expect(schedule().Status.LastScheduleTime.Time).To(BeTemporally("==", run(1)))
		completeRun(1)

		By("keeping the last two Completed Backups")
		now = run(2).Add(time.Minute)
		reconcile()
		completeRun(2)
		now = run(3).Add(time.Minute)
		reconcile()
		third := completeRun(3)
		reconcile()
		Eventually(names).Should(ConsistOf(nameFor(2), nameFor(3)))
		Eventually(func() bool { return archiveExists(app.Status.VMID, b1.Status.VolID) }).Should(BeFalse(), "the pruned Backup's archive is deleted (its deletionPolicy)")
		Expect(schedule().Status.LastSuccessfulTime).NotTo(BeNil())
		Expect(schedule().Status.LastSuccessfulTime.Time).To(BeTemporally("==", third.Status.CompletionTime.Time))
		Eventually(func() *v1alpha1.LastBackup { return getApp(app).Status.LastBackup }).Should(HaveField("Name", third.Name))

		By("creating nothing while suspended")
		cur := schedule()
		cur.Spec.Suspend = true
		Expect(k8s.Update(ctx, cur)).To(Succeed())
		now = run(4).Add(time.Minute)
		reconcile()
		Expect(names()).To(ConsistOf(nameFor(2), nameFor(3)))
		Expect(meta.FindStatusCondition(schedule().Status.Conditions, v1alpha1.ConditionReady)).To(HaveField("Reason", v1alpha1.ReasonSuspended))
		Expect(schedule().Status.NextScheduleTime).To(BeNil())

		By("skipping runs missed by more than the starting deadline")
		cur = schedule()
		cur.Spec.Suspend = false
		Expect(k8s.Update(ctx, cur)).To(Succeed())
		now = run(5).Add(2 * time.Hour)
		reconcile()
		Expect(names()).To(ConsistOf(nameFor(2), nameFor(3)))
		Expect(drain(rec)).To(ContainElement(And(ContainSubstring(v1alpha1.ReasonMissedSchedule), ContainSubstring("skipped"))))

		By("catching up with a run missed by less than the deadline")
		now = run(6).Add(10 * time.Minute)
		reconcile()
		Expect(names()).To(ContainElement(nameFor(6)))
		Expect(schedule().Status.LastScheduleTime.Time).To(BeTemporally("==", run(6)))
		completeRun(6)
		reconcile()
		Eventually(names).Should(ConsistOf(nameFor(3), nameFor(6)))
	})

	DescribeTable("refuses a missing host exactly as one that excludes the namespace",
		func(refusedHost func() (host, ns string)) {
			host, ns := refusedHost()
			app := appEnv{ns: ns, host: host}.app(nil)
			sc := &v1alpha1.BackupSchedule{
				ObjectMeta: metav1.ObjectMeta{Name: "refused", Namespace: ns},
				Spec:       v1alpha1.BackupScheduleSpec{Schedule: "@daily", ApplicationRef: &v1alpha1.LocalObjectReference{Name: app.Name}},
			}
			Expect(k8s.Create(ctx, sc)).To(Succeed())
			eventuallyScheduleStalled(sc, v1alpha1.ReasonNamespaceNotAllowed, controllers.HostUnavailableMessage(host, ns))
		},
		Entry("a host that does not exist", missingHost),
		Entry("a host whose allowedNamespaces excludes the namespace", excludingHost),
	)

	It("reports an invalid time zone as Stalled", func() {
		e := newAppEnv(nil)
		sc := &v1alpha1.BackupSchedule{
			ObjectMeta: metav1.ObjectMeta{Name: "bad-tz", Namespace: e.ns},
			Spec: v1alpha1.BackupScheduleSpec{
				Schedule: "@daily", TimeZone: "Mars/Olympus_Mons",
				ApplicationRef: &v1alpha1.LocalObjectReference{Name: "whatever"},
			},
		}
		Expect(k8s.Create(ctx, sc)).To(Succeed())
		eventuallyScheduleStalled(sc, v1alpha1.ReasonInvalidSchedule, "")
	})
})

// eventuallyScheduleStalled waits until sc is Stalled for reason, with
// message too unless it is empty.
func eventuallyScheduleStalled(sc *v1alpha1.BackupSchedule, reason, message string) {
	EventuallyWithOffset(1, func(g Gomega) {
		got := &v1alpha1.BackupSchedule{}
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(sc), got)).To(Succeed())
		c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionStalled)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(reason))
		if message != "" {
			g.Expect(c.Message).To(Equal(message))
		}
	}).Should(Succeed())
}

// drain returns the events a FakeRecorder holds.
func drain(rec *events.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}
