package controllers_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// countReason counts app's events with reason.
func countReason(app *v1alpha1.Application, reason string) int {
	n := 0
	for _, r := range eventReasons(app) {
		if r == reason {
			n++
		}
	}
	return n
}

// eventuallyStalled waits for Stalled=True with reason and returns the
// Application.
func eventuallyStalled(app *v1alpha1.Application, reason string) *v1alpha1.Application {
	got := eventuallyApp(app, "False", reason)
	ExpectWithOffset(1, meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionStalled)).To(BeTrue())
	ExpectWithOffset(1, meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReconciling)).To(BeNil())
	return got
}

var _ = Describe("Application create failures", func() {
	var e appEnv
	BeforeEach(func() { e = newAppEnv(nil) })

	It("stalls a missing template on the first attempt, keeps its VMID, and recovers once the template is uploaded", func() {
		creates := sim.RequestCount("POST /nodes/{node}/lxc")
		app := e.app(func(a *v1alpha1.Application) { a.Spec.Template = "local:vztmpl/missing-1.0_amd64.tar.zst" })
		got := eventuallyStalled(app, v1alpha1.ReasonCreateFailed)
		Expect(meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady).Message).To(ContainSubstring("does not exist"))
		vmid := got.Status.VMID
		Expect(vmid).NotTo(BeZero())
		// No hot loop: the failure's own status write does not create again.
		touched := sim.MutatingRequests(int(vmid))
		Consistently(func() int { return sim.MutatingRequests(int(vmid)) }, "5s").Should(Equal(touched))
		Expect(sim.RequestCount("POST /nodes/{node}/lxc")).To(Equal(creates + 1))
		Expect(getApp(app).Status.VMID).To(Equal(vmid))
		Expect(countReason(app, v1alpha1.ReasonCreateFailed)).To(Equal(1), "events: %v", eventReasons(app))

		// The fix is an upload, which wakes nothing: the slow retry finds it.
		Expect(sim.AddTemplate(app.Spec.Template)).To(Succeed())
		got = eventuallyApp(app, "True", v1alpha1.ReasonReconciled, "4m")
		Expect(got.Status.VMID).To(Equal(vmid))
		Expect(ownedBy(got)).To(Equal(1))
	})

	It("stalls a rootFS larger than the storage on the first attempt", func() {
		creates := sim.RequestCount("POST /nodes/{node}/lxc")
		app := e.app(func(a *v1alpha1.Application) {
			a.Spec.RootFS = &v1alpha1.RootFS{Storage: "local-lvm", Size: resource.MustParse("1000Gi")}
		})
		got := eventuallyStalled(app, v1alpha1.ReasonCreateFailed)
		touched := sim.MutatingRequests(int(got.Status.VMID))
		Consistently(func() int { return sim.MutatingRequests(int(got.Status.VMID)) }, "3s").Should(Equal(touched))
		Expect(sim.RequestCount("POST /nodes/{node}/lxc")).To(Equal(creates + 1))
		Expect(getApp(app).Status.VMID).To(Equal(got.Status.VMID))
		Expect(ownedBy(got)).To(BeZero())
	})

	It("stalls a storage no node has as NoSuitableNode, creating nothing", func() {
		creates := sim.RequestCount("POST /nodes/{node}/lxc")
		app := e.app(func(a *v1alpha1.Application) {
			a.Spec.RootFS = &v1alpha1.RootFS{Storage: "nowhere", Size: resource.MustParse("4Gi")}
		})
		eventuallyStalled(app, v1alpha1.ReasonNoSuitableNode)
		Expect(sim.RequestCount("POST /nodes/{node}/lxc")).To(Equal(creates))
		// One verdict, one Warning: the retries restate it without news.
		warned := countReason(app, v1alpha1.ReasonNoSuitableNode)
		Expect(warned).To(BeNumerically(">=", 1))
		Consistently(func() int { return countReason(app, v1alpha1.ReasonNoSuitableNode) }, "5s").Should(Equal(warned))
	})

	It("backs off exponentially on a create PVE keeps failing with 500, and converges once it stops", func() {
		fault := sim.FailRequests("POST", "/nodes/{node}/lxc", 1000, 500, "unable to create CT - simulated server error")
		defer sim.RemoveFault(fault)
		creates := sim.RequestCount("POST /nodes/{node}/lxc")
		app := e.app(nil)
		eventuallyApp(app, "False", v1alpha1.ReasonCreateFailed)
		time.Sleep(12 * time.Second)
		// Waits of 2, 4 and 8 s fit at most four attempts (and a spare) in
		// those seconds; a hot loop would have made a dozen.
		Expect(sim.RequestCount("POST /nodes/{node}/lxc") - creates).To(BeNumerically("<=", 5))
		got := getApp(app)
		Expect(meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionReconciling)).To(BeTrue())
		vmid := got.Status.VMID
		sim.RemoveFault(fault)
		got = eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
		Expect(got.Status.VMID).To(Equal(vmid))
	})
})
