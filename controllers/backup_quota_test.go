package controllers_test

import (
	"fmt"
	"strconv"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/utils/ptr"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

var _ = Describe("Backup quota", func() {
	It("fails the Backups past the host's pendingBackups quota at once, without a Proxmox request, and admits new ones once the others end", func() {
		e := newAppEnv(func(h *v1alpha1.ProxmoxHost) {
			h.Spec.Grants[0].Quota = &v1alpha1.TenantQuota{PendingBackups: ptr.To[int32](2)}
		})
		eventuallyReady(e.host, "True", v1alpha1.ReasonConnected)
		app := eventuallyApp(e.app(nil), "True", v1alpha1.ReasonReconciled)
		// The first dump is held, so the second waits behind it in the
		// Application's lane: two Backups that have not ended.
		sim.StallTasks(pvesim.TaskVzdump, strconv.Itoa(int(app.Status.VMID)), 1)
		DeferCleanup(func() { sim.ReleaseTasks() })
		sim.ResetRequestCounts()
		named := func(i int) func(*v1alpha1.Backup) {
			return func(b *v1alpha1.Backup) { b.Name = fmt.Sprintf("quota-%d", i) }
		}
		// One after the other: the Application's lane admits whichever
		// Backup is reconciled first, not the first by name.
		first := backup(app, named(1))
		eventuallyBackup(first, v1alpha1.BackupPhaseRunning)
		second := backup(app, named(2))
		eventuallyQueued(second, e.ns+"/quota-1")

		for i := 3; i <= 4; i++ {
			over := eventuallyBackup(backup(app, named(i)), v1alpha1.BackupPhaseFailed)
			ready := meta.FindStatusCondition(over.Status.Conditions, v1alpha1.ConditionReady)
			Expect(ready.Reason).To(Equal(v1alpha1.ReasonQuotaExceeded))
			Expect(ready.Message).To(ContainSubstring(fmt.Sprintf(
				"namespace %q already has 2 Backups on ProxmoxHost %q that have not ended, the most its quota allows (spec.grants[].quota.pendingBackups: 2)", e.ns, e.host)))
			Expect(meta.IsStatusConditionTrue(over.Status.Conditions, v1alpha1.ConditionStalled)).To(BeTrue())
		}
		Expect(sim.RequestCount("POST /nodes/{node}/vzdump")).To(Equal(1), "only the first Backup has posted its dump")

		sim.ReleaseTasks()
		eventuallyBackup(first, v1alpha1.BackupPhaseCompleted, "90s")
		eventuallyBackup(second, v1alpha1.BackupPhaseCompleted, "90s")
		eventuallyBackup(backup(app, named(5)), v1alpha1.BackupPhaseCompleted, "90s")
		Expect(sim.RequestCount("POST /nodes/{node}/vzdump")).To(Equal(3), "one dump per admitted Backup")
	})
})
