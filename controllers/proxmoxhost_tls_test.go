package controllers_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

// pinTLS replaces the CA bundle with a pinned fingerprint.
func pinTLS(fp string) func(*v1alpha1.ProxmoxHost) {
	return func(h *v1alpha1.ProxmoxHost) { h.Spec.TLS = &v1alpha1.TLSConfig{CertificateFingerprint: fp} }
}

// hostEvents lists the events about host with reason. The recorder folds
// repeats of one event into its series, so a repeat shows as a series, not
// as a second Event.
func hostEvents(host *v1alpha1.ProxmoxHost, reason string) []eventsv1.Event {
	evs := &eventsv1.EventList{}
	Expect(k8s.List(ctx, evs)).To(Succeed())
	var found []eventsv1.Event
	for _, e := range evs.Items {
		if e.Regarding.Name == host.Name && e.Regarding.Kind == "ProxmoxHost" && e.Reason == reason {
			found = append(found, e)
		}
	}
	return found
}

var _ = Describe("ProxmoxHost TLS", func() {
	It("connects when certificateFingerprint pins the server's certificate, in lower case too", func() {
		name := newHost(validToken(), pinTLS(strings.ToLower(sim.Fingerprint())))
		host := eventuallyReady(name, "True", v1alpha1.ReasonConnected)
		Expect(meta.FindStatusCondition(host.Status.Conditions, v1alpha1.ConditionInsecureTLS)).To(BeNil())
	})

	It("reports TLSVerificationFailed naming both fingerprints when certificateFingerprint pins another certificate", func() {
		other, err := pvesim.New(pvesim.DefaultOptions())
		Expect(err).NotTo(HaveOccurred())
		defer other.Close()
		Expect(other.Fingerprint()).NotTo(Equal(sim.Fingerprint()))
		name := newHost(validToken(), pinTLS(other.Fingerprint()))
		host := eventuallyReady(name, "False", v1alpha1.ReasonTLSVerificationFailed)
		msg := meta.FindStatusCondition(host.Status.Conditions, v1alpha1.ConditionReady).Message
		Expect(msg).To(ContainSubstring("differs from the pinned"))
		Expect(msg).To(ContainSubstring("fingerprint " + sim.Fingerprint()))
		Expect(msg).To(ContainSubstring("pins " + other.Fingerprint()))
	})

	It("warns with InsecureTLS while insecureSkipVerify is on, stays Ready, and drops the condition when it is off", func() {
		name := newHost(validToken(), func(h *v1alpha1.ProxmoxHost) {
			h.Spec.TLS = &v1alpha1.TLSConfig{InsecureSkipVerify: true}
		})
		host := eventuallyReady(name, "True", v1alpha1.ReasonConnected)
		c := meta.FindStatusCondition(host.Status.Conditions, v1alpha1.ConditionInsecureTLS)
		Expect(c).NotTo(BeNil())
		Expect(string(c.Status)).To(Equal("True"))
		Expect(c.Reason).To(Equal(v1alpha1.ReasonInsecureSkipVerify))
		Expect(c.Message).To(And(ContainSubstring("not verified"), ContainSubstring("caBundle"), ContainSubstring("certificateFingerprint")))

		// One warning, not one per sync: wait for the next sync, then count.
		synced := host.Status.LastSyncTime
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, host)).To(Succeed())
			g.Expect(host.Status.LastSyncTime.After(synced.Time)).To(BeTrue())
		}).Should(Succeed())
		Eventually(func() []eventsv1.Event { return hostEvents(host, v1alpha1.ReasonInsecureSkipVerify) }).Should(HaveLen(1))
		ev := hostEvents(host, v1alpha1.ReasonInsecureSkipVerify)[0]
		Expect(ev.Type).To(Equal(corev1.EventTypeWarning))
		Expect(ev.Series).To(BeNil(), "the warning was repeated on a later sync")
		Expect(meta.IsStatusConditionTrue(host.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue())

		host.Spec.TLS = &v1alpha1.TLSConfig{CABundle: string(sim.CACertPEM())}
		Expect(k8s.Update(ctx, host)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, host)).To(Succeed())
			g.Expect(host.Status.ObservedGeneration).To(Equal(host.Generation))
			g.Expect(meta.FindStatusCondition(host.Status.Conditions, v1alpha1.ConditionInsecureTLS)).To(BeNil())
		}).Should(Succeed())
		eventuallyReady(name, "True", v1alpha1.ReasonConnected)
	})
})
