package controllers_test

import (
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/controllers"
)

// readyMessage is the Ready condition's message of the live Application.
func readyMessage(app *v1alpha1.Application) string {
	if c := meta.FindStatusCondition(getApp(app).Status.Conditions, v1alpha1.ConditionReady); c != nil {
		return c.Message
	}
	return ""
}

// stalledBackup creates a Backup of app whose vzdump task keeps the
// container locked until released, and returns it once Running.
func stalledBackup(app *v1alpha1.Application) *v1alpha1.Backup {
	sim.StallTasks("vzdump", strconv.Itoa(int(app.Status.VMID)), 1)
	b := eventuallyBackup(backup(app, nil), v1alpha1.BackupPhaseRunning)
	Eventually(func() string { return simCT(app.Status.VMID).Lock }).Should(Equal("backup"))
	return b
}

var _ = Describe("Ready contract", func() {
	var (
		e   appEnv
		app *v1alpha1.Application
	)
	BeforeEach(func() { e, app = readyAppEnv() })

	It("keeps an Application Ready through its own backup, with the backup shown in Reconciling=False and status.activity", func() {
		statuses := watchStatuses(app.Namespace)
		b := stalledBackup(app)
		Eventually(func(g Gomega) {
			got := getApp(app)
			g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue())
			// False: kstatus reads Reconciling=True as not in place yet.
			c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReconciling)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(v1alpha1.ReasonLocked))
			g.Expect(c.Message).To(ContainSubstring(b.Name))
			g.Expect(got.Status.Activity).To(ContainSubstring(b.Name))
		}, "30s").Should(Succeed())
		sim.ReleaseTasks()
		eventuallyBackup(b, v1alpha1.BackupPhaseCompleted)
		Eventually(func(g Gomega) {
			got := getApp(app)
			g.Expect(meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReconciling)).To(BeNil())
			g.Expect(got.Status.Activity).To(BeEmpty())
		}, "30s").Should(Succeed())

		// Every status the Application went through, not only the sampled ones.
		seen := 0
		for {
			select {
			case st := <-statuses:
				seen++
				c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady)
				Expect(c).NotTo(BeNil())
				Expect(c.Status).To(Equal(metav1.ConditionTrue), "Ready went %s (%s: %s) during the backup", c.Status, c.Reason, c.Message)
				continue
			default:
			}
			break
		}
		Expect(seen).To(BeNumerically(">", 0))
	})

	It("keeps an Application Ready through a foreign lock until it outlasts the bound, and says so then", func() {
		Expect(sim.SetLock(int(app.Status.VMID), "backup")).To(Succeed())
		DeferCleanup(func() { _ = sim.SetLock(int(app.Status.VMID), "") })
		Eventually(func(g Gomega) {
			got := getApp(app)
			g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue())
			g.Expect(got.Status.Activity).To(ContainSubstring("not by one of its Backups"))
		}, "30s").Should(Succeed())
		clock.Advance(controllers.ForeignLockBound + time.Minute)
		poke(app, 0)
		got := eventuallyApp(app, "False", v1alpha1.ReasonLocked)
		Expect(readyMessage(got)).To(ContainSubstring("longer than"))
		Expect(sim.SetLock(int(app.Status.VMID), "")).To(Succeed())
		eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
	})

	It("waits with a Restore applied before its Backup completed, and restores once it has", func() {
		b := stalledBackup(app)
		rs := restore(b, nil)
		Eventually(func(g Gomega) {
			got := &v1alpha1.Restore{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(rs), got)).To(Succeed())
			g.Expect(got.Status.Phase).To(Equal(v1alpha1.RestorePhasePending))
			g.Expect(meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReconciling)).To(HaveField("Reason", v1alpha1.ReasonBackupNotCompleted))
		}).Should(Succeed())
		Consistently(func() v1alpha1.RestorePhase { return getRestore(rs).Status.Phase }, "2s").Should(Equal(v1alpha1.RestorePhasePending))
		sim.ReleaseTasks()
		eventuallyBackup(b, v1alpha1.BackupPhaseCompleted)
		eventuallyRestore(rs, v1alpha1.RestorePhaseCompleted)
	})

	It("fails a waiting Restore when its Backup then fails", func() {
		b := stalledBackup(app)
		rs := restore(b, nil)
		Eventually(func() v1alpha1.RestorePhase { return getRestore(rs).Status.Phase }).Should(Equal(v1alpha1.RestorePhasePending))
		Expect(sim.StopTask(getBackup(b).Status.Task.UPID)).To(BeTrue())
		eventuallyBackup(b, v1alpha1.BackupPhaseFailed)
		got := eventuallyRestore(rs, v1alpha1.RestorePhaseFailed)
		Expect(meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionStalled)).To(HaveField("Reason", v1alpha1.ReasonBackupNotCompleted))
	})

	It("says in Ready that a deletion waits for a lock, and finishes once it is lifted", func() {
		Expect(sim.SetLock(int(app.Status.VMID), "backup")).To(Succeed())
		Expect(k8s.Delete(ctx, app)).To(Succeed())
		Eventually(func() string { return readyMessage(app) }, "30s").Should(ContainSubstring("locked"))
		Consistently(func() string { return readyMessage(app) }, "6s").Should(ContainSubstring("locked"))
		Expect(sim.SetLock(int(app.Status.VMID), "")).To(Succeed())
		eventuallyGone(app)
	})

	It("says in Ready that a deletion waits for Proxmox protection to be lifted", func() {
		protected := eventuallyApp(e.app(func(a *v1alpha1.Application) { a.Spec.Protection = ptr.To(true) }), "True", v1alpha1.ReasonReconciled)
		Expect(k8s.Delete(ctx, protected)).To(Succeed())
		Eventually(func() string { return readyMessage(protected) }, "30s").Should(ContainSubstring("protection"))
		Consistently(func() string { return readyMessage(protected) }, "6s").Should(ContainSubstring("protection"))
		Expect(sim.SetConfigValue(int(protected.Status.VMID), "protection", "0")).To(Succeed())
		Eventually(func() error { return k8s.Get(ctx, client.ObjectKeyFromObject(protected), &v1alpha1.Application{}) }, "90s").Should(Not(Succeed()))
	})
})

func getRestore(rs *v1alpha1.Restore) *v1alpha1.Restore {
	out := &v1alpha1.Restore{}
	ExpectWithOffset(1, k8s.Get(ctx, client.ObjectKeyFromObject(rs), out)).To(Succeed())
	return out
}
