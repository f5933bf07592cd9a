package controllers_test

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/controllers"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

// poke wakes the operator for app without changing its spec, as any
// metadata edit would: a retry the moved clock made due happens now
// instead of at the real-time requeue.
func poke(app *v1alpha1.Application, n int) {
	got := getApp(app)
	patch := client.MergeFrom(got.DeepCopy())
	got.SetAnnotations(map[string]string{"test.pve-operator.io/poke": string(rune('a' + n))})
	ExpectWithOffset(1, k8s.Patch(ctx, got, patch)).To(Succeed())
}

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

// slowRetryCreates moves the clock past the slow retry of app's stalled
// create (a fix made in Proxmox wakes nothing) and expects the retry to
// create the container at the VMID the failed attempts used.
func slowRetryCreates(app *v1alpha1.Application, vmid int32) {
	clock.Advance(2*time.Minute + time.Second)
	poke(app, 1)
	got := eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
	ExpectWithOffset(1, got.Status.VMID).To(Equal(vmid))
	ExpectWithOffset(1, ownedBy(got)).To(Equal(1))
}

// eventuallyStorageFull waits until host's status shows storage with no
// free space on any node.
func eventuallyStorageFull(host, storage string) {
	EventuallyWithOffset(1, func(g Gomega) {
		h := &v1alpha1.ProxmoxHost{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Name: host}, h)).To(Succeed())
		seen := 0
		for _, st := range h.Status.Storages {
			if st.Name != storage {
				continue
			}
			seen++
			g.Expect(st.Total).NotTo(BeNil())
			g.Expect(st.Used).NotTo(BeNil())
			g.Expect(st.Used.Cmp(*st.Total)).To(BeNumerically(">=", 0), "%s on %s: %s of %s used", storage, st.Node, st.Used, st.Total)
		}
		g.Expect(seen).To(BeNumerically(">", 0))
	}, "30s").Should(Succeed())
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

		// The fix is an upload, which wakes nothing: the slow retry (two
		// minutes, here moved on by the clock) finds it.
		Expect(sim.AddTemplate(app.Spec.Template)).To(Succeed())
		slowRetryCreates(app, vmid)
	})

	It("touches one VMID and warns once across ten minutes of the clock retrying a missing template", func() {
		creates := sim.RequestCount("POST /nodes/{node}/lxc")
		app := e.app(func(a *v1alpha1.Application) { a.Spec.Template = "local:vztmpl/missing-2.0_amd64.tar.zst" })
		vmid := eventuallyStalled(app, v1alpha1.ReasonCreateFailed).Status.VMID
		// VMIDs are reused once freed, so an earlier spec's container at
		// this VMID counts too: count from here, less the first create.
		earlier := sim.MutatingRequests(int(vmid)) - 1
		// Five slow retries of two minutes each: ten minutes in all.
		for i := 1; i <= 5; i++ {
			clock.Advance(2*time.Minute + time.Second)
			poke(app, i)
			Eventually(func() int { return sim.RequestCount("POST /nodes/{node}/lxc") - creates }, "20s").Should(Equal(i + 1))
			eventuallyStalled(app, v1alpha1.ReasonCreateFailed)
		}
		// Every attempt named the one VMID, and the failed tasks left
		// nothing behind on it (PVE's create worker removes its own half).
		Expect(sim.MutatingRequests(int(vmid)) - earlier).To(Equal(6))
		Expect(getApp(app).Status.VMID).To(Equal(vmid))
		_, exists := sim.Container(int(vmid))
		Expect(exists).To(BeFalse())
		Expect(ownedBy(app)).To(BeZero())
		// One Warning, its repeats aggregated into the same Event.
		Expect(countReason(app, v1alpha1.ReasonCreateFailed)).To(Equal(1), "events: %v", eventReasons(app))
	})

	It("places nothing on a storage with no room for the rootFS, and creates it once room is made", func() {
		// Fill local-lvm on every node, as other volumes would, and wait
		// until the operator's inventory has seen it.
		for _, n := range sim.State().Nodes {
			Expect(sim.SetStorageExtraUsed("local-lvm", n.Name, 500<<30)).To(Succeed())
			DeferCleanup(sim.SetStorageExtraUsed, "local-lvm", n.Name, uint64(0))
		}
		eventuallyStorageFull(e.host, "local-lvm")
		creates := sim.RequestCount("POST /nodes/{node}/lxc")
		app := e.app(nil)
		eventuallyStalled(app, v1alpha1.ReasonNoSuitableNode)
		Expect(readyMessage(app)).To(ContainSubstring("no online node has room for a 4Gi rootFS"))
		Consistently(func() int { return sim.RequestCount("POST /nodes/{node}/lxc") }, "3s").Should(Equal(creates))
		Expect(ownedBy(app)).To(BeZero())

		// An admin frees the space, which wakes nothing: placement is
		// looked at again within half a minute, once the inventory has it.
		for _, n := range sim.State().Nodes {
			Expect(sim.SetStorageExtraUsed("local-lvm", n.Name, 0)).To(Succeed())
		}
		got := eventuallyApp(app, "True", v1alpha1.ReasonReconciled, "90s")
		Expect(ownedBy(got)).To(Equal(1))
	})

	It("leaves alone a container a dead create left locked at its VMID, and says how to clear it once the lock outlasts the bound", func() {
		vmid := handMadeVMID(6100)
		Expect(sim.AddContainer("pve1", vmid, map[string]string{"hostname": "half-made", "memory": "256"}, false)).To(Succeed())
		Expect(sim.SetLock(vmid, "create")).To(Succeed())
		DeferCleanup(func() { _ = sim.SetLock(vmid, ""); _ = sim.RemoveContainer(vmid) })
		app := e.app(func(a *v1alpha1.Application) { a.Spec.VMID = ptr.To(int32(vmid)) })
		eventuallyApp(app, "False", v1alpha1.ReasonCreating)
		clock.Advance(controllers.ForeignLockBound + time.Minute)
		poke(app, 1)
		eventuallyStalled(app, v1alpha1.ReasonLocked)
		Expect(readyMessage(app)).To(ContainSubstring(fmt.Sprintf("pct unlock %d", vmid)))
		Expect(sim.MutatingRequests(vmid)).To(BeZero())
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

var _ = Describe("Applications on a host that needs a person", func() {
	DescribeTable("are Stalled on the first attempt with the host's reason, create nothing, and go on once the host is fixed",
		func(hostReason string, breakHost func(*v1alpha1.ProxmoxHost), fix func(host string)) {
			creates := sim.RequestCount("POST /nodes/{node}/lxc")
			e := newAppEnv(breakHost)
			eventuallyReady(e.host, "False", hostReason)
			app := e.app(nil)
			got := eventuallyStalled(app, v1alpha1.ReasonHostNotReady)
			Expect(readyMessage(app)).To(ContainSubstring(hostReason))
			Expect(got.Status.VMID).To(BeZero())
			Expect(sim.RequestCount("POST /nodes/{node}/lxc")).To(Equal(creates))
			fix(e.host)
			eventuallyApp(app, "True", v1alpha1.ReasonReconciled, "90s")
		},
		Entry("a token Proxmox rejects, until the Secret holds the right one", v1alpha1.ReasonAuthenticationFailed,
			func(h *v1alpha1.ProxmoxHost) {
				bad := &corev1.Secret{}
				bad.Name, bad.Namespace = h.Name+"-wrong", credsNamespace
				bad.StringData = map[string]string{"tokenID": pvesim.DefaultTokenID, "tokenSecret": "not-the-token-4f1a"}
				Expect(k8s.Create(ctx, bad)).To(Succeed())
				h.Spec.CredentialsRef.Name = bad.Name
			},
			func(host string) {
				secret := &corev1.Secret{}
				Expect(k8s.Get(ctx, client.ObjectKey{Namespace: credsNamespace, Name: host + "-wrong"}, secret)).To(Succeed())
				secret.Data["tokenSecret"] = []byte(pvesim.DefaultTokenSecret)
				Expect(k8s.Update(ctx, secret)).To(Succeed())
			}),
		Entry("a certificate signed by a CA the host does not trust, until caBundle names the right CA", v1alpha1.ReasonTLSVerificationFailed,
			func(h *v1alpha1.ProxmoxHost) {
				other, err := pvesim.New(pvesim.DefaultOptions())
				Expect(err).NotTo(HaveOccurred())
				DeferCleanup(other.Close)
				h.Spec.TLS.CABundle = string(other.CACertPEM())
			},
			func(host string) {
				h := &v1alpha1.ProxmoxHost{}
				Expect(k8s.Get(ctx, client.ObjectKey{Name: host}, h)).To(Succeed())
				h.Spec.TLS.CABundle = string(sim.CACertPEM())
				Expect(k8s.Update(ctx, h)).To(Succeed())
			}),
	)
})
