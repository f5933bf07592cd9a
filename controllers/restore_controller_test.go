package controllers_test

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/controllers"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

var restoreSeq atomic.Int64

func restore(b *v1alpha1.Backup, mutate func(*v1alpha1.Restore)) *v1alpha1.Restore {
	return created(&v1alpha1.Restore{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("rs%d", restoreSeq.Add(1)), Namespace: b.Namespace},
		Spec:       v1alpha1.RestoreSpec{BackupRef: v1alpha1.LocalObjectReference{Name: b.Name}},
	}, mutate)
}

func eventuallyRestore(rs *v1alpha1.Restore, phase v1alpha1.RestorePhase) *v1alpha1.Restore {
	out := &v1alpha1.Restore{}
	EventuallyWithOffset(1, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(rs), out)).To(Succeed())
		g.Expect(out.Status.Phase).To(Equal(phase), "Ready: %+v", meta.FindStatusCondition(out.Status.Conditions, v1alpha1.ConditionReady))
	}, "60s").Should(Succeed())
	return out
}

// taskTypes lists the types of the simulator's tasks about vmid, in order
// (of every container that had it: callers compare before and after).
func taskTypes(vmid int32) []string {
	var types []string
	for _, t := range sim.Tasks("", strconv.Itoa(int(vmid))) {
		types = append(types, t.Type)
	}
	return types
}

var _ = Describe("Restore", func() {
	var (
		e   appEnv
		app *v1alpha1.Application
	)
	BeforeEach(func() { e, app = readyAppEnv() })

	It("restores an archive in place: the backup's config comes back, the Application keeps owning it and is not fought", func() {
		vmid := app.Status.VMID
		b := eventuallyBackup(backup(app, nil), v1alpha1.BackupPhaseCompleted)
		// Changes made after the backup, outside what the Application declares.
		Expect(sim.SetConfigValue(int(vmid), "onboot", "1")).To(Succeed())
		Expect(sim.SetConfigValue(int(vmid), "cpulimit", "2")).To(Succeed())
		before := taskTypes(vmid)
		// Widen the gap between the stop and PVE's restore lock well past an
		// inventory sync (5 s), so the Application controller sees the
		// container stopped and unlocked in it.
		sim.DelayRequests("POST", "/nodes/{node}/lxc", 1, 7*time.Second)

		rs := eventuallyRestore(restore(b, nil), v1alpha1.RestorePhaseCompleted)
		Expect(meta.IsStatusConditionTrue(rs.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue())
		Expect(rs.Status.VMID).To(Equal(vmid))
		Expect(rs.Status.CompletionTime).NotTo(BeNil())

		ct := simCT(vmid)
		Expect(ct.Config).NotTo(HaveKey("onboot"), "the config is the backup's")
		Expect(ct.Config).NotTo(HaveKey("cpulimit"), "the config is the backup's")
		Expect(ct.Config["tags"]).To(ContainSubstring(lxcconfig.OwnerTag(string(app.UID))), "the Application still owns it")
		Expect(ct.Config["description"]).To(ContainSubstring(string(app.UID)))
		Eventually(func() string { return simCT(vmid).Status }).Should(Equal("running"))

		// Between the stop and the restore nothing else touched the container:
		// the Application controller did not start it in the gap.
		after := taskTypes(vmid)[len(before):]
		Expect(len(after)).To(BeNumerically(">=", 2), "tasks after the restore began: %v", after)
		Expect(after[:2]).To(Equal([]string{"vzstop", "vzrestore"}), "tasks after the restore began: %v", after)

		got := eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
		Expect(got.Status.VMID).To(Equal(vmid))
		Expect(ownedBy(got)).To(Equal(1))
		// Counted from the restore on: an earlier spec may have freed and
		// reused this VMID.
		Expect(taskTypes(vmid)[len(before):]).NotTo(ContainElement("vzcreate"), "the container was not recreated")
	})

	It("restores an archive with start: false and lets the Application's powerState decide afterwards", func() {
		stopped := eventuallyApp(e.app(func(a *v1alpha1.Application) { a.Spec.PowerState = v1alpha1.PowerStateStopped }), "True", v1alpha1.ReasonReconciled)
		b := eventuallyBackup(backup(stopped, nil), v1alpha1.BackupPhaseCompleted)
		eventuallyRestore(restore(b, func(r *v1alpha1.Restore) { r.Spec.Start = ptr.To(false) }), v1alpha1.RestorePhaseCompleted)
		Expect(simCT(stopped.Status.VMID).Status).To(Equal("stopped"))
		Expect(tasksOf("vzstop", stopped.Status.VMID)).To(BeEmpty(), "a stopped container is restored without a stop")
		eventuallyApp(stopped, "True", v1alpha1.ReasonReconciled)
	})

	It("rolls back to a snapshot", func() {
		vmid := app.Status.VMID
		b := eventuallyBackup(backup(app, func(b *v1alpha1.Backup) { b.Spec.Type = v1alpha1.BackupTypeSnapshot }), v1alpha1.BackupPhaseCompleted)
		Expect(sim.SetConfigValue(int(vmid), "onboot", "1")).To(Succeed())

		eventuallyRestore(restore(b, nil), v1alpha1.RestorePhaseCompleted)
		ct := simCT(vmid)
		Expect(ct.Config).NotTo(HaveKey("onboot"))
		Expect(ct.Config).To(HaveKeyWithValue("parent", b.Status.SnapshotName))
		Expect(ct.Config["tags"]).To(ContainSubstring(lxcconfig.OwnerTag(string(app.UID))))
		Expect(tasksOf("vzrollback", vmid)).To(HaveLen(1))
		Eventually(func() string { return simCT(vmid).Status }).Should(Equal("running"))
		eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
	})

	It("refuses a Backup that failed, touching nothing", func() {
		vmid := app.Status.VMID
		sim.FailTasks("vzdump", strconv.Itoa(int(vmid)), 1, "unable to create temporary directory")
		b := eventuallyBackup(backup(app, nil), v1alpha1.BackupPhaseFailed)
		before := taskTypes(vmid)
		rs := eventuallyRestore(restore(b, nil), v1alpha1.RestorePhaseFailed)
		c := meta.FindStatusCondition(rs.Status.Conditions, v1alpha1.ConditionStalled)
		Expect(c).NotTo(BeNil())
		Expect(c.Reason).To(Equal(v1alpha1.ReasonBackupNotCompleted))
		Eventually(func() []string { return objectEventReasons(rs) }).Should(ContainElement(v1alpha1.ReasonBackupNotCompleted))
		Consistently(func() []string { return taskTypes(vmid) }, "2s").Should(Equal(before))
	})

	It("refuses a Backup taken on another host, touching nothing", func() {
		vmid := app.Status.VMID
		// A Backup recorded as taken on another ProxmoxHost (its Application is gone).
		b := backup(app, func(b *v1alpha1.Backup) {
			b.Spec.ApplicationRef.Name = "gone"
			b.Spec.DeletionPolicy = v1alpha1.DeletionPolicyRetain
			b.Annotations = map[string]string{controllers.AnnotationBackupHost: "elsewhere"}
		})
		Eventually(func() v1alpha1.BackupPhase { return getBackup(b).Status.Phase }).Should(Equal(v1alpha1.BackupPhasePending))
		Eventually(func() error {
			cur := getBackup(b)
			cur.Status.Phase = v1alpha1.BackupPhaseCompleted
			cur.Status.VolID = "local:backup/vzdump-lxc-999-2026_01_01-00_00_00.tar.zst"
			cur.Status.VMID = 999
			return k8s.Status().Update(ctx, cur)
		}).Should(Succeed())
		before := taskTypes(vmid)
		rs := eventuallyRestore(restore(b, func(r *v1alpha1.Restore) {
			r.Spec.ApplicationRef = &v1alpha1.LocalObjectReference{Name: app.Name}
		}), v1alpha1.RestorePhaseFailed)
		Expect(meta.FindStatusCondition(rs.Status.Conditions, v1alpha1.ConditionStalled)).To(HaveField("Reason", v1alpha1.ReasonHostMismatch))
		Consistently(func() []string { return taskTypes(vmid) }, "2s").Should(Equal(before))
	})
})

var _ = Describe("Application from a Backup", func() {
	It("creates a new container from a Completed archive, owned by the new Application, then converges it", func() {
		e := newAppEnv(nil)
		eventuallyReady(e.host, "True", v1alpha1.ReasonConnected)
		src := eventuallyApp(e.app(nil), "True", v1alpha1.ReasonReconciled)
		// Something the source has that the new Application does not declare.
		Expect(sim.SetConfigValue(int(src.Status.VMID), "onboot", "1")).To(Succeed())
		b := eventuallyBackup(backup(src, nil), v1alpha1.BackupPhaseCompleted)

		clone := e.app(func(a *v1alpha1.Application) {
			a.Spec.Template = ""
			a.Spec.RestoreFrom = &v1alpha1.RestoreSource{BackupRef: v1alpha1.LocalObjectReference{Name: b.Name}}
			a.Spec.Resources.Cores = ptr.To[int32](2)
		})
		got := eventuallyApp(clone, "True", v1alpha1.ReasonReconciled)
		Expect(got.Status.VMID).NotTo(Equal(src.Status.VMID))
		Expect(tasksOf(pvesim.TaskRestore, got.Status.VMID)).To(HaveLen(1))
		ct := simCT(got.Status.VMID)
		Expect(ct.Config).To(HaveKeyWithValue("onboot", "1"), "the config came from the archive")
		Expect(ct.Config).To(HaveKeyWithValue("hostname", clone.Name))
		Expect(ct.Config).To(HaveKeyWithValue("cores", "2"), "declared fields converge")
		Expect(ct.Config["tags"]).To(ContainSubstring(lxcconfig.OwnerTag(string(got.UID))))
		Expect(ct.Config["tags"]).NotTo(ContainSubstring(lxcconfig.OwnerTag(string(src.UID))))
		Expect(ct.Config["net0"]).NotTo(Equal(simCT(src.Status.VMID).Config["net0"]), "MAC addresses are regenerated")
		Expect(ownedBy(got)).To(Equal(1))
		Expect(ownedBy(src)).To(Equal(1))
		Expect(simCT(src.Status.VMID).Status).To(Equal("running"), "the source is untouched")
	})

	It("waits for a Backup that does not exist yet, creating nothing", func() {
		e := newAppEnv(nil)
		eventuallyReady(e.host, "True", v1alpha1.ReasonConnected)
		creates := sim.RequestCount("POST /nodes/{node}/lxc")
		app := e.app(func(a *v1alpha1.Application) {
			a.Spec.Template = ""
			a.Spec.RestoreFrom = &v1alpha1.RestoreSource{BackupRef: v1alpha1.LocalObjectReference{Name: "later"}}
		})
		eventuallyApp(app, "False", v1alpha1.ReasonBackupNotFound)
		Expect(sim.RequestCount("POST /nodes/{node}/lxc")).To(Equal(creates))
	})
})
