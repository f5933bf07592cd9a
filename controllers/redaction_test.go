package controllers_test

import (
	"encoding/json"
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/manager"
	"github.com/pve-operator/pve-operator/internal/pvesim"
	"github.com/pve-operator/pve-operator/internal/redact"
)

var _ = Describe("A secret Proxmox echoes later", func() {
	It("is redacted from status, events and logs", func() {
		const password = "Sup3r-s3cret-pw"
		const vmid = 9170
		e := newAppEnv(nil)
		Expect(k8s.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "root-pw", Namespace: e.ns},
			Data:       map[string][]byte{"password": []byte(password)},
		})).To(Succeed())
		// The task status poll that reads this exit status never saw the
		// password, so the client layer cannot scrub it. Every attempt
		// fails: the next reconcile tries a failed create again, so
		// CreateFailed may last only until then (hence the watch).
		fault := sim.FailTasks(pvesim.TaskCreate, fmt.Sprint(vmid), -1, "unable to set password '"+pvesim.PasswordPlaceholder+"'")
		DeferCleanup(func() { sim.RemoveFault(fault) })
		statuses := watchStatuses(e.ns)
		app := e.app(func(a *v1alpha1.Application) {
			a.Spec.VMID = ptr.To[int32](vmid)
			a.Spec.RootPasswordSecretRef = &v1alpha1.SecretKeySelector{Name: "root-pw", Key: "password"}
		})
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8s.Delete(ctx, app))).To(Succeed()) })

		var got v1alpha1.ApplicationStatus
		Eventually(statuses, "60s").Should(Receive(&got, WithTransform(readyReason, Equal(v1alpha1.ReasonCreateFailed))))
		Expect(meta.IsStatusConditionTrue(got.Conditions, v1alpha1.ConditionStalled)).To(BeTrue())
		Expect(sim.Tasks(pvesim.TaskCreate, fmt.Sprint(vmid))).NotTo(BeEmpty(), "the simulator ran the failing create")
		// Positive control: the echo went through the path and was scrubbed.
		ready := meta.FindStatusCondition(got.Conditions, v1alpha1.ConditionReady)
		Expect(ready.Message).To(ContainSubstring("unable to set password '" + redact.Placeholder + "'"))

		// The installed logger scrubs controller-runtime and klog lines alike.
		ctrl.Log.WithName("redaction-probe").V(1).Info("probe "+password, "value", password, "err", fmt.Errorf("echo %s", password))
		klog.InfoS("klog probe", "value", password)
		klog.Flush()
		Eventually(logs.String).Should(SatisfyAll(
			ContainSubstring("probe "+redact.Placeholder), ContainSubstring("klog probe")))
		// The suite asks for V(10); client-go would dump every Secret it
		// reads from V(8) on.
		Expect(logs.String()).NotTo(ContainSubstring("Response Body"))

		var haystack strings.Builder
		for _, st := range []v1alpha1.ApplicationStatus{got, getApp(app).Status} {
			status, err := json.Marshal(st)
			Expect(err).NotTo(HaveOccurred())
			haystack.Write(status)
		}
		Eventually(func(g Gomega) {
			evs := &eventsv1.EventList{}
			g.Expect(k8s.List(ctx, evs, client.InNamespace(e.ns))).To(Succeed())
			var notes []string
			for _, ev := range evs.Items {
				if ev.Regarding.Name == app.Name && ev.Reason == v1alpha1.ReasonCreateFailed {
					notes = append(notes, ev.Note)
				}
			}
			g.Expect(notes).To(ContainElement(ContainSubstring(redact.Placeholder)), "the Warning event was recorded")
		}).Should(Succeed())
		evs := &eventsv1.EventList{}
		Expect(k8s.List(ctx, evs, client.InNamespace(e.ns))).To(Succeed())
		coreEvs := &corev1.EventList{}
		Expect(k8s.List(ctx, coreEvs, client.InNamespace(e.ns))).To(Succeed())
		for _, ev := range evs.Items {
			fmt.Fprintf(&haystack, "%s %s\n", ev.Reason, ev.Note)
		}
		for _, ev := range coreEvs.Items {
			fmt.Fprintf(&haystack, "%s %s\n", ev.Reason, ev.Message)
		}
		haystack.WriteString(logs.String())
		Expect(haystack.String()).NotTo(ContainSubstring(password))
	})
})

// watchStatuses sends every status the Applications of ns go through, so a
// state that lasts only until the next reconcile is seen too.
func watchStatuses(ns string) <-chan v1alpha1.ApplicationStatus {
	wc, err := client.NewWithWatch(env.Config, client.Options{Scheme: manager.Scheme})
	Expect(err).NotTo(HaveOccurred())
	w, err := wc.Watch(ctx, &v1alpha1.ApplicationList{}, client.InNamespace(ns))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(w.Stop)
	out := make(chan v1alpha1.ApplicationStatus, 1024)
	go func() {
		for ev := range w.ResultChan() {
			if app, ok := ev.Object.(*v1alpha1.Application); ok {
				select {
				case out <- app.Status:
				default:
				}
			}
		}
	}()
	return out
}

func readyReason(st v1alpha1.ApplicationStatus) string {
	if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady); c != nil {
		return c.Reason
	}
	return ""
}
