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

// runningCreate waits for the create task about vmid to run and returns it.
func runningCreate(vmid int) pvesim.TaskView {
	var running pvesim.TaskView
	EventuallyWithOffset(1, func() bool {
		for _, t := range sim.Tasks(pvesim.TaskCreate, strconv.Itoa(vmid)) {
			if t.Running {
				running = t
				return true
			}
		}
		return false
	}, "30s").Should(BeTrue())
	return running
}

var _ = Describe("Application half-made containers", func() {
	var e appEnv
	BeforeEach(func() { e = newAppEnv(nil) })

	cases := []struct {
		name string
		// loseAnswer drops the create's answer, as a crash between the call
		// and recording its UPID would.
		loseAnswer bool
	}{
		{"whose UPID was recorded", false},
		{"whose answer was lost before its UPID was recorded", true},
	}
	for _, c := range cases {
		It(fmt.Sprintf("proves its own create %s died with the node, touches nothing, and creates again at the same VMID once the half is removed", c.name), func() {
			vmid := handMadeVMID(6200)
			_, err := sim.InjectTaskFault(pvesim.TaskFault{Type: pvesim.TaskCreate, ID: strconv.Itoa(vmid), Action: pvesim.TaskFaultStall})
			Expect(err).NotTo(HaveOccurred())
			if c.loseAnswer {
				sim.DropAfterCommit("POST", "/nodes/{node}/lxc", 1)
			}
			creates := sim.RequestCount("POST /nodes/{node}/lxc")
			app := e.app(func(a *v1alpha1.Application) { a.Spec.VMID = ptr.To(int32(vmid)) })
			task := runningCreate(vmid)
			Expect(sim.KillTask(task.UPID)).To(BeTrue())
			DeferCleanup(func() { _ = sim.SetLock(vmid, ""); _ = sim.RemoveContainer(vmid) })

			// Proved: stalled at once, with the commands, and nothing sent
			// to the half (PVE's API can neither unlock nor destroy it).
			got := eventuallyStalled(app, v1alpha1.ReasonHalfMadeContainer)
			Expect(readyMessage(app)).To(ContainSubstring(fmt.Sprintf("pct unlock %d && pct destroy %d", vmid, vmid)))
			Expect(readyMessage(app)).To(ContainSubstring(task.UPID))
			Expect(got.Status.VMID).To(Equal(int32(vmid)))
			Consistently(func() int { return sim.MutatingRequests(vmid) }, "3s").Should(Equal(1))
			Expect(sim.RequestCount("POST /nodes/{node}/lxc")).To(Equal(creates + 1))
			ct, _ := sim.Container(vmid)
			Expect(ct.Lock).To(Equal("create"))

			// A person runs the commands on the node; the operator creates
			// the container again, at the same VMID, with one more call.
			Expect(sim.SetLock(vmid, "")).To(Succeed())
			Expect(sim.RemoveContainer(vmid)).To(Succeed())
			poke(app, 1)
			got = eventuallyApp(app, "True", v1alpha1.ReasonReconciled, "90s")
			Expect(got.Status.VMID).To(Equal(int32(vmid)))
			Expect(got.Status.VMIDReservedAt).To(BeNil())
			Expect(sim.RequestCount("POST /nodes/{node}/lxc")).To(Equal(creates + 2))
			Expect(ownedBy(got)).To(Equal(1))
		})
	}

	It("leaves untouched a container locked create at its VMID by a create it cannot prove it made", func() {
		vmid := handMadeVMID(6300)
		// A stranger's create died at the VMID: the config PVE writes first,
		// holding only the lock, and no task of the operator's about it.
		Expect(sim.AddContainer("pve1", vmid, map[string]string{}, false)).To(Succeed())
		Expect(sim.SetLock(vmid, "create")).To(Succeed())
		DeferCleanup(func() { _ = sim.SetLock(vmid, ""); _ = sim.RemoveContainer(vmid) })
		app := e.app(func(a *v1alpha1.Application) { a.Spec.VMID = ptr.To(int32(vmid)) })
		eventuallyApp(app, "False", v1alpha1.ReasonCreating)
		Consistently(func() string {
			return meta.FindStatusCondition(getApp(app).Status.Conditions, v1alpha1.ConditionReady).Reason
		}, "3s").Should(Equal(v1alpha1.ReasonCreating))
		Expect(sim.MutatingRequests(vmid)).To(BeZero())
		ct, _ := sim.Container(vmid)
		Expect(ct.Lock).To(Equal("create"))
	})
})
