package controllers_test

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/controllers"
	"github.com/pve-operator/pve-operator/internal/proxmox"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

var backupSeq atomic.Int64

// backup creates a Backup of app.
func backup(app *v1alpha1.Application, mutate func(*v1alpha1.Backup)) *v1alpha1.Backup {
	return created(&v1alpha1.Backup{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bk%d", backupSeq.Add(1)), Namespace: app.Namespace},
		Spec:       v1alpha1.BackupSpec{ApplicationRef: v1alpha1.LocalObjectReference{Name: app.Name}},
	}, mutate)
}

// created applies mutate to obj and creates it.
func created[T client.Object](obj T, mutate func(T)) T {
	if mutate != nil {
		mutate(obj)
	}
	ExpectWithOffset(2, k8s.Create(ctx, obj)).To(Succeed())
	return obj
}

func getBackup(b *v1alpha1.Backup) *v1alpha1.Backup {
	out := &v1alpha1.Backup{}
	ExpectWithOffset(1, k8s.Get(ctx, client.ObjectKeyFromObject(b), out)).To(Succeed())
	return out
}

// eventuallyBackup waits for a phase and returns the Backup.
func eventuallyBackup(b *v1alpha1.Backup, phase v1alpha1.BackupPhase, timeout ...any) *v1alpha1.Backup {
	out := &v1alpha1.Backup{}
	if len(timeout) == 0 {
		timeout = []any{"60s"}
	}
	EventuallyWithOffset(1, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(b), out)).To(Succeed())
		ready := meta.FindStatusCondition(out.Status.Conditions, v1alpha1.ConditionReady)
		g.Expect(out.Status.Phase).To(Equal(phase), "Ready: %+v", ready)
	}, timeout...).Should(Succeed())
	return out
}

func eventuallyGone(o client.Object) {
	EventuallyWithOffset(1, func() error {
		return k8s.Get(ctx, client.ObjectKeyFromObject(o), o.DeepCopyObject().(client.Object))
	}, "60s").Should(MatchError(ContainSubstring("not found")))
}

func archiveExists(vmid int32, volid string) bool {
	for _, v := range sim.Backups(int(vmid)) {
		if v.Volid == volid {
			return true
		}
	}
	return false
}

func archive(vmid int32, volid string) pvesim.VolumeView {
	for _, v := range sim.Backups(int(vmid)) {
		if v.Volid == volid {
			return v
		}
	}
	Fail("archive " + volid + " not found")
	return pvesim.VolumeView{}
}

// objectEventReasons lists the reasons of the events about o.
func objectEventReasons(o client.Object) []string {
	var reasons []string
	evs := &corev1.EventList{}
	Expect(k8s.List(ctx, evs, client.InNamespace(o.GetNamespace()))).To(Succeed())
	for _, e := range evs.Items {
		if e.InvolvedObject.Name == o.GetName() {
			reasons = append(reasons, e.Reason)
		}
	}
	return reasons
}

// metricValue reads a counter or gauge of the operator's metrics.
func metricValue(name string, labels map[string]string) float64 {
	m, err := controllers.GatherMetric(name, labels)
	Expect(err).NotTo(HaveOccurred())
	switch {
	case m == nil:
		return 0
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}

func simClient() proxmox.Client {
	c, err := proxmox.New(proxmox.Config{
		Endpoint:    sim.URL(),
		Credentials: proxmox.Credentials{TokenID: pvesim.DefaultTokenID, TokenSecret: pvesim.DefaultTokenSecret},
		CABundle:    sim.CACertPEM(),
	})
	Expect(err).NotTo(HaveOccurred())
	return c
}

var _ = Describe("Backup", func() {
	var (
		e   appEnv
		app *v1alpha1.Application
	)
	BeforeEach(func() { e, app = readyAppEnv() })

	It("completes an archive and records its own volid even when a newer backup of the container exists", func() {
		foreign, err := sim.AddBackup(pvesim.BackupSpec{
			Storage: "local", Node: app.Status.Node, VMID: int(app.Status.VMID),
			Time: time.Now().Add(time.Hour).Unix(), Notes: "taken by a PVE backup job",
		})
		Expect(err).NotTo(HaveOccurred())
		completedBefore := metricValue("pve_operator_backup_outcomes_total", map[string]string{"namespace": app.Namespace, "application": app.Name, "outcome": "completed"})

		b := backup(app, func(b *v1alpha1.Backup) {
			b.Annotations = map[string]string{lastApplied: `{"kind":"Backup"}`}
		})
		got := eventuallyBackup(b, v1alpha1.BackupPhaseCompleted)
		Expect(got.Finalizers).To(ContainElement(controllers.BackupFinalizer))
		Expect(got.Annotations).To(HaveKeyWithValue(controllers.AnnotationBackupHost, e.host))
		Expect(got.Annotations).To(HaveKeyWithValue(lastApplied, `{"kind":"Backup"}`))
		Expect(got.Status.VolID).To(HavePrefix("local:backup/vzdump-lxc-" + strconv.Itoa(int(app.Status.VMID)) + "-"))
		Expect(got.Status.VolID).NotTo(Equal(foreign), "the newest archive is someone else's")
		Expect(archive(app.Status.VMID, got.Status.VolID).Notes).To(ContainSubstring(string(got.UID)))
		Expect(got.Status.Size).To(BeNumerically(">", 0))
		Expect(got.Status.VMID).To(Equal(app.Status.VMID))
		Expect(got.Status.Node).To(Equal(app.Status.Node))
		Expect(got.Status.StartTime).NotTo(BeNil())
		Expect(got.Status.CompletionTime).NotTo(BeNil())
		Expect(got.Status.Task).To(BeNil())
		Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
		Expect(meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue())
		Expect(meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReconciling)).To(BeNil())
		Expect(tasksOf("vzdump", app.Status.VMID)).To(HaveLen(1))

		Eventually(func() *v1alpha1.LastBackup { return getApp(app).Status.LastBackup }).Should(
			HaveField("Name", b.Name))
		Expect(metricValue("pve_operator_backup_outcomes_total", map[string]string{"namespace": app.Namespace, "application": app.Name, "outcome": "completed"})).To(Equal(completedBefore + 1))
		Expect(metricValue("pve_operator_backup_last_success_timestamp_seconds", map[string]string{"namespace": app.Namespace, "application": app.Name})).
			To(BeNumerically("==", got.Status.CompletionTime.Unix()))
	})

	It("resumes after losing track of its dump mid-backup and never starts a second one", func() {
		vmid := strconv.Itoa(int(app.Status.VMID))
		sim.StallTasks("vzdump", vmid, 1)
		DeferCleanup(func() { sim.ReleaseTasks() })
		b := backup(app, nil)
		running := eventuallyBackup(b, v1alpha1.BackupPhaseRunning)
		Expect(running.Status.Task).NotTo(BeNil())
		Expect(running.Status.Task.Type).To(Equal("vzdump"))

		// The worst restart: the operator crashed after PVE accepted the dump
		// but before the task reached status. Simulated by erasing it.
		Eventually(func() error {
			cur := getBackup(b)
			before := cur.DeepCopy()
			cur.Status.Task = nil
			cur.Status.Phase = v1alpha1.BackupPhasePending
			return k8s.Status().Patch(ctx, cur, client.MergeFrom(before))
		}).Should(Succeed())
		Eventually(func() string {
			c := meta.FindStatusCondition(getBackup(b).Status.Conditions, v1alpha1.ConditionReady)
			return c.Message
		}).Should(ContainSubstring("already running"))
		Consistently(func() int { return len(tasksOf("vzdump", app.Status.VMID)) }, "3s").Should(Equal(1))

		sim.ReleaseTasks()
		got := eventuallyBackup(b, v1alpha1.BackupPhaseCompleted)
		Expect(tasksOf("vzdump", app.Status.VMID)).To(HaveLen(1), "exactly one dump ran")
		Expect(archive(app.Status.VMID, got.Status.VolID).Notes).To(ContainSubstring(string(got.UID)))
	})

	It("reports a failed dump as Failed and Stalled with Proxmox' reason", func() {
		sim.FailTasks("vzdump", strconv.Itoa(int(app.Status.VMID)), 1, "unable to create temporary directory '/var/tmp/vzdumptmp123'")
		b := backup(app, nil)
		got := eventuallyBackup(b, v1alpha1.BackupPhaseFailed)
		st := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionStalled)
		Expect(st).NotTo(BeNil())
		Expect(st.Status).To(Equal(metav1.ConditionTrue))
		Expect(st.Message).To(ContainSubstring("unable to create temporary directory"))
		Expect(meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionReady)).To(BeFalse())
		Expect(got.Status.VolID).To(BeEmpty())
		Eventually(func() []string { return objectEventReasons(b) }).Should(ContainElement(v1alpha1.ReasonTaskFailed))
		Expect(metricValue("pve_operator_backup_outcomes_total", map[string]string{"namespace": app.Namespace, "application": app.Name, "outcome": "failed"})).To(Equal(1.0))
		// Failed is final: nothing is retried behind the user's back.
		Consistently(func() int { return len(tasksOf("vzdump", app.Status.VMID)) }, "3s").Should(Equal(1))
	})

	It("waits for a container locked by another operation instead of failing", func() {
		Expect(sim.SetLock(int(app.Status.VMID), "snapshot")).To(Succeed())
		b := backup(app, nil)
		Eventually(func(g Gomega) {
			got := getBackup(b)
			c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReconciling)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal(v1alpha1.ReasonLocked))
			g.Expect(c.Message).To(ContainSubstring("snapshot"))
		}).Should(Succeed())
		Consistently(func() v1alpha1.BackupPhase { return getBackup(b).Status.Phase }, "3s").ShouldNot(Equal(v1alpha1.BackupPhaseFailed))
		Expect(sim.SetLock(int(app.Status.VMID), "")).To(Succeed())
		got := eventuallyBackup(b, v1alpha1.BackupPhaseCompleted, "90s")
		Expect(got.Status.VolID).NotTo(BeEmpty())
	})

	It("warns when Proxmox falls back from snapshot to suspend mode", func() {
		Expect(sim.AddContainer("pve2", 7300, map[string]string{
			"hostname": "on-dir", "memory": "256", "rootfs": "local:7300/vm-7300-disk-0.raw,size=4G", "unprivileged": "1",
		}, true)).To(Succeed())
		adopted := eventuallyApp(e.app(func(a *v1alpha1.Application) {
			a.Name = "on-dir"
			a.Spec = v1alpha1.ApplicationSpec{HostRef: a.Spec.HostRef, VMID: ptr.To[int32](7300), Adopt: true}
		}), "True", v1alpha1.ReasonReconciled)
		b := backup(adopted, func(b *v1alpha1.Backup) { b.Spec.Mode = "snapshot" })
		got := eventuallyBackup(b, v1alpha1.BackupPhaseCompleted)
		Expect(meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady).Message).To(ContainSubstring("suspend"))
		Eventually(func() []string { return objectEventReasons(b) }).Should(ContainElement(v1alpha1.ReasonSnapshotModeFallback))
	})

	It("takes a snapshot, and deletes it with the Backup", func() {
		b := backup(app, func(b *v1alpha1.Backup) { b.Spec.Type = v1alpha1.BackupTypeSnapshot })
		got := eventuallyBackup(b, v1alpha1.BackupPhaseCompleted)
		Expect(got.Status.SnapshotName).To(MatchRegexp(`^[a-z][a-z0-9_-]+$`))
		Expect(len(got.Status.SnapshotName)).To(BeNumerically("<=", 40))
		snaps := simCT(app.Status.VMID).Snapshots
		Expect(snaps).To(HaveLen(1))
		Expect(snaps[0].Name).To(Equal(got.Status.SnapshotName))
		Expect(snaps[0].SnapState).To(BeEmpty())

		Expect(k8s.Delete(ctx, got)).To(Succeed())
		eventuallyGone(got)
		Expect(simCT(app.Status.VMID).Snapshots).To(BeEmpty())
	})

	It("leaves no snapshot behind when the snapshot task fails", func() {
		vmid := strconv.Itoa(int(app.Status.VMID))
		sim.FailTasks("vzsnapshot", vmid, 1, "snapshot feature is not available")
		b := backup(app, func(b *v1alpha1.Backup) { b.Spec.Type = v1alpha1.BackupTypeSnapshot })
		got := eventuallyBackup(b, v1alpha1.BackupPhaseFailed)
		Expect(meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionStalled).Message).To(ContainSubstring("snapshot feature is not available"))
		Eventually(func() []pvesim.SnapshotView { return simCT(app.Status.VMID).Snapshots }).Should(BeEmpty())
	})

	It("removes a half-made snapshot (snapstate prepare) an interrupted attempt left behind", func() {
		vmid := app.Status.VMID
		sim.StallTasks("vzsnapshot", strconv.Itoa(int(vmid)), 1)
		DeferCleanup(func() { sim.ReleaseTasks() })
		b := backup(app, func(b *v1alpha1.Backup) { b.Spec.Type = v1alpha1.BackupTypeSnapshot })
		running := eventuallyBackup(b, v1alpha1.BackupPhaseRunning)
		Expect(simCT(vmid).Snapshots).To(ConsistOf(HaveField("SnapState", "prepare")))
		// The worker died with the node: PVE forgot the task, an admin
		// cleared the lock, the half-made snapshot stayed.
		Expect(sim.ForgetTask(running.Status.Task.UPID)).To(BeTrue())
		Expect(sim.SetLock(int(vmid), "")).To(Succeed())

		got := eventuallyBackup(b, v1alpha1.BackupPhaseFailed)
		Expect(meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionStalled).Message).To(ContainSubstring("incomplete"))
		Eventually(func() []pvesim.SnapshotView { return simCT(vmid).Snapshots }).Should(BeEmpty())
		Eventually(func() string { return getBackup(b).Status.SnapshotName }).Should(BeEmpty())
		Eventually(func() []string { return objectEventReasons(b) }).Should(ContainElement(v1alpha1.ReasonSnapshotRemoved))
	})

	It("deletes the archive with deletionPolicy Delete and keeps it with Retain", func() {
		del := eventuallyBackup(backup(app, nil), v1alpha1.BackupPhaseCompleted)
		keep := eventuallyBackup(backup(app, func(b *v1alpha1.Backup) { b.Spec.DeletionPolicy = v1alpha1.DeletionPolicyRetain }), v1alpha1.BackupPhaseCompleted)
		Expect(archiveExists(app.Status.VMID, del.Status.VolID)).To(BeTrue())
		Expect(archiveExists(app.Status.VMID, keep.Status.VolID)).To(BeTrue())
		Eventually(func() *v1alpha1.LastBackup { return getApp(app).Status.LastBackup }).Should(HaveField("Name", keep.Name))

		Expect(k8s.Delete(ctx, del)).To(Succeed())
		Expect(k8s.Delete(ctx, keep)).To(Succeed())
		eventuallyGone(del)
		eventuallyGone(keep)
		Expect(archiveExists(app.Status.VMID, del.Status.VolID)).To(BeFalse())
		Expect(archiveExists(app.Status.VMID, keep.Status.VolID)).To(BeTrue())
		Eventually(func() *v1alpha1.LastBackup { return getApp(app).Status.LastBackup }).Should(BeNil())
	})

	It("treats an archive already deleted in Proxmox as deleted", func() {
		b := eventuallyBackup(backup(app, nil), v1alpha1.BackupPhaseCompleted)
		_, err := simClient().DeleteVolume(ctx, b.Status.Node, "local", b.Status.VolID)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() bool { return archiveExists(app.Status.VMID, b.Status.VolID) }).Should(BeFalse())
		Expect(k8s.Delete(ctx, b)).To(Succeed())
		eventuallyGone(b)
	})

	It("stalls deleting a protected archive, without a hot loop, until the protection is lifted", func() {
		b := eventuallyBackup(backup(app, func(b *v1alpha1.Backup) { b.Spec.Protected = true }), v1alpha1.BackupPhaseCompleted)
		Expect(archive(app.Status.VMID, b.Status.VolID).Protected).To(BeTrue())
		Expect(k8s.Delete(ctx, b)).To(Succeed())
		Eventually(func(g Gomega) {
			got := getBackup(b)
			g.Expect(got.Status.Phase).To(Equal(v1alpha1.BackupPhaseDeleting))
			c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionStalled)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal(v1alpha1.ReasonArchiveProtected))
			g.Expect(c.Message).To(And(ContainSubstring(b.Status.VolID), ContainSubstring("protected")))
		}).Should(Succeed())
		sim.ResetRequestCounts()
		Consistently(func() bool { return archiveExists(app.Status.VMID, b.Status.VolID) }, "3s").Should(BeTrue())
		Expect(sim.RequestCount("GET /nodes/{node}/storage/{storage}/content")).To(BeNumerically("<=", 2), "no hot loop")
		Expect(sim.Tasks("imgdel", fmt.Sprintf("%d@local", app.Status.VMID))).To(BeEmpty())

		Expect(simClient().SetVolumeProtected(ctx, b.Status.Node, "local", b.Status.VolID, false)).To(Succeed())
		// The stalled deletion looks again once a minute; a touch wakes it now.
		Expect(k8s.Patch(ctx, getBackup(b), client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"annotations":{"touch":"1"}}}`)))).To(Succeed())
		eventuallyGone(b)
		Expect(archiveExists(app.Status.VMID, b.Status.VolID)).To(BeFalse())
	})

	It("deletes an expired Backup (ttl), honouring its deletionPolicy", func() {
		b := eventuallyBackup(backup(app, func(b *v1alpha1.Backup) { b.Spec.TTL = &metav1.Duration{Duration: time.Minute} }), v1alpha1.BackupPhaseCompleted)
		Expect(b.Status.ExpiresAt).NotTo(BeNil())
		Expect(b.Status.ExpiresAt.Time).To(Equal(b.CreationTimestamp.Add(time.Minute)))

		// A reconciler whose clock is past expiresAt, instead of a minute of sleep.
		later := &controllers.BackupReconciler{Client: k8s, Now: func() time.Time { return b.Status.ExpiresAt.Add(time.Second) }}
		_, err := later.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(b)})
		Expect(err).NotTo(HaveOccurred())
		eventuallyGone(b)
		Expect(archiveExists(app.Status.VMID, b.Status.VolID)).To(BeFalse())
	})

	It("keeps Backups and their archives when the Application is deleted", func() {
		b := eventuallyBackup(backup(app, nil), v1alpha1.BackupPhaseCompleted)
		Expect(k8s.Delete(ctx, app)).To(Succeed())
		eventuallyGone(app)
		Consistently(func() v1alpha1.BackupPhase { return getBackup(b).Status.Phase }, "2s").Should(Equal(v1alpha1.BackupPhaseCompleted))
		Expect(archiveExists(b.Status.VMID, b.Status.VolID)).To(BeTrue())
		// Deleting the Backup later still removes its archive: the host is
		// recorded on the Backup.
		Expect(k8s.Delete(ctx, b)).To(Succeed())
		eventuallyGone(b)
		Expect(archiveExists(b.Status.VMID, b.Status.VolID)).To(BeFalse())
	})

	It("waits in Pending, Stalled, for an Application that does not exist", func() {
		b := backup(app, func(b *v1alpha1.Backup) { b.Spec.ApplicationRef.Name = "nope" })
		Eventually(func(g Gomega) {
			got := getBackup(b)
			g.Expect(got.Status.Phase).To(Equal(v1alpha1.BackupPhasePending))
			g.Expect(meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionStalled)).To(HaveField("Reason", v1alpha1.ReasonApplicationNotFound))
		}).Should(Succeed())
		Eventually(func() []string { return objectEventReasons(b) }).Should(ContainElement(v1alpha1.ReasonApplicationNotFound))
	})
})
