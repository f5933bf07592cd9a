package controllers_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/controllers"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
)

var _ = Describe("ProxmoxHost deletion", func() {
	var (
		e   appEnv
		app *v1alpha1.Application
	)
	BeforeEach(func() {
		e, app = readyAppEnv()
		app = getApp(app)
	})

	It("names its users in InUse, waits for them when deleted, and goes once they are gone", func() {
		used := eventuallyHostCondition(e.host, v1alpha1.ConditionInUse, "True", v1alpha1.ReasonInUse)
		Expect(meta.FindStatusCondition(used.Status.Conditions, v1alpha1.ConditionInUse).Message).To(
			Equal("used by 1 Application (" + e.ns + "/" + app.Name + ")"))
		touched := sim.MutatingRequests(int(app.Status.VMID))

		Expect(k8s.Delete(ctx, used)).To(Succeed())
		blocked := eventuallyHostCondition(e.host, v1alpha1.ConditionInUse, "True", v1alpha1.ReasonDeletionBlocked)
		Expect(meta.FindStatusCondition(blocked.Status.Conditions, v1alpha1.ConditionInUse).Message).To(And(
			ContainSubstring("the deletion waits for 1 Application ("+e.ns+"/"+app.Name+")"),
			ContainSubstring(controllers.AnnotationForceDelete+"=Retain"), ContainSubstring(controllers.AnnotationForceDelete+"=Release")))
		Expect(meta.IsStatusConditionTrue(blocked.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue(), "the host still serves its Applications")

		late := e.app(nil)
		got := eventuallyApp(late, "False", v1alpha1.ReasonHostDeleting)
		Expect(got.Status.VMID).To(BeZero(), "no VMID is taken on a host being deleted")
		eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
		Expect(sim.MutatingRequests(int(app.Status.VMID))).To(Equal(touched), "the blocked deletion touched no container")

		Expect(k8s.Delete(ctx, late)).To(Succeed())
		Expect(k8s.Delete(ctx, app)).To(Succeed())
		eventuallyHostGone(e.host)
		_, exists := sim.Container(int(app.Status.VMID))
		Expect(exists).To(BeFalse(), "the Application's own deletion destroyed its container before the host went")
	})

	DescribeTable("a forced deletion lets the host go while in use",
		func(mode string, ownerTagStays bool) {
			eventuallyHostCondition(e.host, v1alpha1.ConditionInUse, "True", v1alpha1.ReasonInUse)
			touched := sim.MutatingRequests(int(app.Status.VMID))
			host := &v1alpha1.ProxmoxHost{}
			Expect(k8s.Get(ctx, client.ObjectKey{Name: e.host}, host)).To(Succeed())
			Expect(k8s.Delete(ctx, host)).To(Succeed())
			eventuallyHostCondition(e.host, v1alpha1.ConditionInUse, "True", v1alpha1.ReasonDeletionBlocked)

			Expect(k8s.Get(ctx, client.ObjectKey{Name: e.host}, host)).To(Succeed())
			forced := client.MergeFrom(host.DeepCopy())
			host.Annotations = map[string]string{controllers.AnnotationForceDelete: mode}
			Expect(k8s.Patch(ctx, host, forced)).To(Succeed())
			eventuallyHostGone(e.host)

			tags := simCT(app.Status.VMID).Config["tags"]
			Expect(strings.ToLower(tags)).To(ContainSubstring("web"), "the user's tags stay")
			owner := lxcconfig.OwnerTag(string(app.UID))
			want := 0
			if ownerTagStays {
				Expect(tags).To(ContainSubstring(owner))
			} else {
				Expect(tags).NotTo(ContainSubstring(owner))
				want = 1
			}
			Expect(sim.MutatingRequests(int(app.Status.VMID))-touched).To(Equal(want), "mutating calls on the container")
			eventuallyApp(app, "False", v1alpha1.ReasonNamespaceNotAllowed)
		},
		Entry("Retain leaves the container as it is, still tagged as the Application's", "Retain", true),
		Entry("Release removes the operator's tags in one call, so the container can be adopted again", "Release", false),
	)

	It("tells an admin who sets an unknown force-delete value that it does nothing", func() {
		host := &v1alpha1.ProxmoxHost{}
		Expect(k8s.Get(ctx, client.ObjectKey{Name: e.host}, host)).To(Succeed())
		forced := client.MergeFrom(host.DeepCopy())
		host.Annotations = map[string]string{controllers.AnnotationForceDelete: "yes"}
		Expect(k8s.Patch(ctx, host, forced)).To(Succeed())
		Expect(k8s.Delete(ctx, host)).To(Succeed())
		got := eventuallyHostCondition(e.host, v1alpha1.ConditionInUse, "True", v1alpha1.ReasonDeletionBlocked)
		Expect(meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionInUse).Message).To(
			HavePrefix(`the annotation ` + controllers.AnnotationForceDelete + `="yes" is neither Retain nor Release`))
	})
})

// eventuallyHostGone waits until the host object no longer exists.
func eventuallyHostGone(name string) {
	EventuallyWithOffset(1, func() bool {
		return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Name: name}, &v1alpha1.ProxmoxHost{}))
	}, "60s").Should(BeTrue(), "ProxmoxHost %s is deleted", name)
}
