package controllers_test

import (
	"fmt"
	"net"
	"strings"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/controllers"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

var hostSeq atomic.Int64

// newHost creates a credentials Secret and a ProxmoxHost pointing at the
// simulator and returns the host's name.
func newHost(secretData map[string]string, mutate func(*v1alpha1.ProxmoxHost)) string {
	name := fmt.Sprintf("host-%d", hostSeq.Add(1))
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-creds", Namespace: credsNamespace},
		StringData: secretData,
	}
	Expect(k8s.Create(ctx, secret)).To(Succeed())
	host := &v1alpha1.ProxmoxHost{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.ProxmoxHostSpec{
			Endpoint:       sim.URL(),
			CredentialsRef: v1alpha1.SecretReference{Name: secret.Name, Namespace: credsNamespace},
			TLS:            &v1alpha1.TLSConfig{CABundle: string(sim.CACertPEM())},
			SyncInterval:   &metav1.Duration{Duration: 5e9},
		},
	}
	if mutate != nil {
		mutate(host)
	}
	Expect(k8s.Create(ctx, host)).To(Succeed())
	DeferCleanup(func() {
		// Specs leave their Applications behind: forcing with Retain lets
		// the host go at once instead of syncing until the suite ends.
		forced := client.MergeFrom(host.DeepCopy())
		host.Annotations = map[string]string{controllers.AnnotationForceDelete: "Retain"}
		Expect(client.IgnoreNotFound(k8s.Patch(ctx, host, forced))).To(Succeed())
		Expect(client.IgnoreNotFound(k8s.Delete(ctx, host))).To(Succeed())
		Expect(client.IgnoreNotFound(k8s.Delete(ctx, secret))).To(Succeed())
	})
	return name
}

func validToken() map[string]string {
	return map[string]string{"tokenID": pvesim.DefaultTokenID, "tokenSecret": pvesim.DefaultTokenSecret}
}

// eventuallyReady polls the host until its Ready condition has status and
// reason.
func eventuallyReady(name, status, reason string) *v1alpha1.ProxmoxHost {
	return eventuallyHostCondition(name, v1alpha1.ConditionReady, status, reason)
}

// eventuallyHostCondition polls the host until its condition of type typ
// has status and reason.
func eventuallyHostCondition(name, typ, status, reason string) *v1alpha1.ProxmoxHost {
	host := &v1alpha1.ProxmoxHost{}
	EventuallyWithOffset(2, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, host)).To(Succeed())
		c := meta.FindStatusCondition(host.Status.Conditions, typ)
		g.Expect(c).NotTo(BeNil())
		g.Expect(string(c.Status)).To(Equal(status), "%s=%s %s: %s", typ, c.Status, c.Reason, c.Message)
		g.Expect(c.Reason).To(Equal(reason), c.Message)
	}).Should(Succeed())
	return host
}

var _ = Describe("ProxmoxHost", func() {
	It("becomes Ready with version, nodes, storages and container counts", func() {
		Expect(sim.AddContainer("pve2", 4242, map[string]string{"hostname": "handmade", "memory": "512"}, true)).To(Succeed())
		name := newHost(validToken(), nil)
		host := eventuallyReady(name, "True", v1alpha1.ReasonConnected)
		Expect(host.Status.Version).To(MatchRegexp(`^\d+\.\d+`))
		Expect(host.Status.ObservedGeneration).To(Equal(host.Generation))
		Expect(host.Status.Nodes).To(HaveLen(3))
		Expect(host.Status.Nodes[0].Name).To(Equal("pve1"))
		Expect(host.Status.Nodes[0].Status).To(Equal("online"))
		Expect(host.Status.Nodes[0].MemoryTotal).NotTo(BeNil())
		Expect(host.Status.Storages).NotTo(BeEmpty())
		Expect(host.Status.Containers).NotTo(BeNil())
		Expect(host.Status.Containers.Unmanaged).To(BeNumerically(">=", 1))
		Expect(host.Status.UnmanagedContainers).To(ContainElement(v1alpha1.UnmanagedContainer{VMID: 4242, Node: "pve2", Name: "handmade", Status: "running"}))
		Expect(host.Status.LastSyncTime).NotTo(BeNil())
		Expect(meta.FindStatusCondition(host.Status.Conditions, v1alpha1.ConditionReconciling)).To(BeNil())
		Expect(meta.FindStatusCondition(host.Status.Conditions, v1alpha1.ConditionStalled)).To(BeNil())
	})

	It("reports AuthenticationFailed for a wrong token, and recovers when the Secret is rotated", func() {
		name := newHost(map[string]string{"tokenID": pvesim.DefaultTokenID, "tokenSecret": "wrong-secret-b7c1"}, nil)
		host := eventuallyReady(name, "False", v1alpha1.ReasonAuthenticationFailed)
		Expect(meta.IsStatusConditionTrue(host.Status.Conditions, v1alpha1.ConditionStalled)).To(BeTrue())
		Expect(meta.FindStatusCondition(host.Status.Conditions, v1alpha1.ConditionReconciling)).To(BeNil())

		secret := &corev1.Secret{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: credsNamespace, Name: name + "-creds"}, secret)).To(Succeed())
		secret.Data["tokenSecret"] = []byte(pvesim.DefaultTokenSecret)
		Expect(k8s.Update(ctx, secret)).To(Succeed())
		eventuallyReady(name, "True", v1alpha1.ReasonConnected)
	})

	It("logs in with a username and password", func() {
		name := newHost(map[string]string{"username": "root@pam", "password": pvesim.DefaultRootPassword}, nil)
		eventuallyReady(name, "True", v1alpha1.ReasonConnected)
	})

	It("reports AuthenticationFailed for a wrong password", func() {
		name := newHost(map[string]string{"username": "root@pam", "password": "not-the-password-9d2e"}, nil)
		eventuallyReady(name, "False", v1alpha1.ReasonAuthenticationFailed)
	})

	It("reports TLSVerificationFailed when the CA bundle is not the server's", func() {
		other, err := pvesim.New(pvesim.DefaultOptions())
		Expect(err).NotTo(HaveOccurred())
		defer other.Close()
		name := newHost(validToken(), func(h *v1alpha1.ProxmoxHost) {
			h.Spec.TLS.CABundle = string(other.CACertPEM())
		})
		host := eventuallyReady(name, "False", v1alpha1.ReasonTLSVerificationFailed)
		Expect(meta.FindStatusCondition(host.Status.Conditions, v1alpha1.ConditionReady).Message).To(ContainSubstring("caBundle"))
		Expect(meta.IsStatusConditionTrue(host.Status.Conditions, v1alpha1.ConditionStalled)).To(BeTrue())
	})

	It("reports TLSVerificationFailed without a CA bundle: verification is on by default", func() {
		name := newHost(validToken(), func(h *v1alpha1.ProxmoxHost) { h.Spec.TLS = nil })
		eventuallyReady(name, "False", v1alpha1.ReasonTLSVerificationFailed)
	})

	It("reports Unreachable for a closed port", func() {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		addr := l.Addr().String()
		Expect(l.Close()).To(Succeed())
		name := newHost(validToken(), func(h *v1alpha1.ProxmoxHost) { h.Spec.Endpoint = "https://" + addr })
		eventuallyReady(name, "False", v1alpha1.ReasonUnreachable)
	})

	It("reports CredentialsNotFound and Stalled when the Secret is missing", func() {
		name := newHost(validToken(), func(h *v1alpha1.ProxmoxHost) { h.Spec.CredentialsRef.Name = "does-not-exist" })
		host := eventuallyReady(name, "False", v1alpha1.ReasonCredentialsNotFound)
		Expect(meta.IsStatusConditionTrue(host.Status.Conditions, v1alpha1.ConditionStalled)).To(BeTrue())
	})

	It("reports CredentialsInvalid when the Secret lacks the keys", func() {
		name := newHost(map[string]string{"token": "x"}, nil)
		eventuallyReady(name, "False", v1alpha1.ReasonCredentialsInvalid)
	})

	It("reports Forbidden when the token lacks a privilege", func() {
		Expect(sim.DropPrivilege(pvesim.DefaultTokenID, "/", "Sys.Audit")).To(Succeed())
		DeferCleanup(func() { Expect(sim.RestorePrivileges(pvesim.DefaultTokenID)).To(Succeed()) })
		name := newHost(validToken(), nil)
		eventuallyReady(name, "False", v1alpha1.ReasonForbidden)
	})
})

// Runs last (Ginkgo randomizes within a suite, so it is in its own ordered
// container that inspects everything the suite produced so far).
var _ = Describe("Secrets", Ordered, func() {
	It("never appear in any status, event or log line", func() {
		// Produce every kind of failure once more with known secrets.
		newHost(map[string]string{"tokenID": pvesim.DefaultTokenID, "tokenSecret": "leak-canary-token-7f3a"}, nil)
		newHost(map[string]string{"username": "root@pam", "password": "leak-canary-pass-1c9e"}, nil)
		Eventually(func() string { return logs.String() }).Should(ContainSubstring("AuthenticationFailed"))

		secrets := []string{pvesim.DefaultTokenSecret, pvesim.DefaultRootPassword, "leak-canary-token-7f3a", "leak-canary-pass-1c9e", "wrong-secret-b7c1", "not-the-password-9d2e"}
		hosts := &v1alpha1.ProxmoxHostList{}
		Expect(k8s.List(ctx, hosts)).To(Succeed())
		evs := &eventsv1.EventList{}
		Expect(k8s.List(ctx, evs)).To(Succeed())
		coreEvs := &corev1.EventList{}
		Expect(k8s.List(ctx, coreEvs)).To(Succeed())
		Expect(len(evs.Items)+len(coreEvs.Items)).To(BeNumerically(">", 0), "the controller records events")

		var haystack strings.Builder
		for _, h := range hosts.Items {
			fmt.Fprintf(&haystack, "%+v\n", h.Status)
		}
		for _, e := range evs.Items {
			fmt.Fprintf(&haystack, "%s %s\n", e.Reason, e.Note)
		}
		for _, e := range coreEvs.Items {
			fmt.Fprintf(&haystack, "%s %s\n", e.Reason, e.Message)
		}
		haystack.WriteString(logs.String())
		for _, s := range secrets {
			Expect(haystack.String()).NotTo(ContainSubstring(s))
		}
	})
})
