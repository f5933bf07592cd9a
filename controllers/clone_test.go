package controllers_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/pvesim"
	"github.com/pve-operator/pve-operator/internal/testenv"
)

// simAPI makes one call to the simulator as its admin would (creating a
// pool, say), outside the operator.
func simAPI(method, path string, form url.Values) {
	req, err := http.NewRequest(method, sim.URL()+path, strings.NewReader(form.Encode()))
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	req.Header.Set("Authorization", "PVEAPIToken="+pvesim.DefaultTokenID+"="+pvesim.DefaultTokenSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := sim.HTTPClient().Do(req)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	_ = resp.Body.Close()
	ExpectWithOffset(1, resp.StatusCode).To(Equal(http.StatusOK), "%s %s: %s", method, path, resp.Status)
}

// seedTemplate adds an admin's template container (no owner) on pve1.
func seedTemplate(vmid int) {
	ExpectWithOffset(1, sim.AddContainer("pve1", vmid, map[string]string{
		"hostname": "golden", "template": "1", "memory": "256",
		"rootfs": fmt.Sprintf("local-lvm:base-%d-disk-0,size=4G", vmid),
		"net0":   "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=dhcp,type=veth",
	}, false)).To(Succeed())
	DeferCleanup(func() { _ = sim.RemoveContainer(vmid) })
}

// cloneOf is an Application cloned from src instead of a template.
func cloneOf(src v1alpha1.CloneSource, mutate func(*v1alpha1.Application)) func(*v1alpha1.Application) {
	return func(a *v1alpha1.Application) {
		a.Spec.Template = ""
		a.Spec.CloneFrom = &src
		if mutate != nil {
			mutate(a)
		}
	}
}

// cloneTaskLog is the log of the newest vzclone task of source.
func cloneTaskLog(source int) string {
	tasks := sim.Tasks(pvesim.TaskClone, strconv.Itoa(source))
	ExpectWithOffset(1, tasks).NotTo(BeEmpty())
	return strings.Join(tasks[len(tasks)-1].Log, "\n")
}

// expectOwnedClone checks that app alone owns its container, by tags and
// by the description's marker.
func expectOwnedClone(app *v1alpha1.Application) pvesim.ContainerView {
	got := getApp(app)
	ct := simCT(got.Status.VMID)
	ExpectWithOffset(1, ownedBy(got)).To(Equal(1))
	ExpectWithOffset(1, lxcconfig.OwnedBy(lxcconfig.SplitTags(ct.Config["tags"]), string(got.UID))).To(BeTrue(), "tags %q", ct.Config["tags"])
	ExpectWithOffset(1, lxcconfig.MarkedFor(ct.Config["description"], string(got.UID))).To(BeTrue())
	return ct
}

func withPools(pools ...string) func(*v1alpha1.ProxmoxHost) {
	return func(h *v1alpha1.ProxmoxHost) { h.Spec.Grants[0].Pools = pools }
}

var _ = Describe("Application clones", func() {
	var e appEnv
	var pool string
	BeforeEach(func() {
		pool = fmt.Sprintf("clones%d", nsSeq.Load()+1)
		simAPI("POST", "/pools", url.Values{"poolid": {pool}})
		e = newAppEnv(withPools(pool))
	})

	It("clones a template container linked and full, in a pool, each clone owned only by its Application", func() {
		tmpl := handMadeVMID(8100)
		seedTemplate(tmpl)
		linked := e.app(cloneOf(v1alpha1.CloneSource{VMID: ptr.To(int32(tmpl))}, func(a *v1alpha1.Application) {
			a.Spec.Pool = pool
			// Grown after the clone, as any rootFS would be.
			a.Spec.RootFS = &v1alpha1.RootFS{Storage: "local-lvm", Size: resource.MustParse("6Gi")}
		}))
		full := e.app(cloneOf(v1alpha1.CloneSource{VMID: ptr.To(int32(tmpl)), Full: ptr.To(true)}, nil))
		for _, app := range []*v1alpha1.Application{linked, full} {
			eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
		}
		ct := expectOwnedClone(linked)
		Expect(ct.Pool).To(Equal(pool))
		Expect(ct.Config["rootfs"]).To(ContainSubstring("size=6G"))
		Expect(getApp(linked).Status.Pool).To(Equal(pool))
		expectOwnedClone(full)
		// The two clones ran concurrently, in either order.
		var logs []string
		for _, t := range sim.Tasks(pvesim.TaskClone, strconv.Itoa(tmpl)) {
			logs = append(logs, strings.Join(t.Log, "\n"))
		}
		Expect(logs).To(ConsistOf(ContainSubstring("create linked clone of mount point rootfs"), ContainSubstring("create full clone of mountpoint rootfs")))
		// The template is the admin's and stays as it was.
		src := simCT(int32(tmpl))
		Expect(src.Template).To(BeTrue())
		Expect(src.Config["tags"]).To(BeEmpty())
	})

	It("clones another Application's container from a snapshot, and a clone seen before its tags are fixed is recovered by its owner alone", func() {
		source := eventuallyApp(e.app(nil), "True", v1alpha1.ReasonReconciled)
		srcVMID := int(source.Status.VMID)
		upid, err := simClient().CreateSnapshot(ctx, source.Status.Node, srcVMID, "s1", "")
		Expect(err).NotTo(HaveOccurred())
		_, err = sim.WaitTask(ctx, upid.String())
		Expect(err).NotTo(HaveOccurred())

		sim.StallTasks(pvesim.TaskClone, strconv.Itoa(srcVMID), 1)
		clone := e.app(cloneOf(v1alpha1.CloneSource{ApplicationRef: &v1alpha1.LocalObjectReference{Name: source.Name}, Snapshot: "s1"}, nil))
		var task *v1alpha1.TaskReference
		Eventually(func() *v1alpha1.TaskReference { task = getApp(clone).Status.Task; return task }).ShouldNot(BeNil())
		// Mid-copy the clone carries the source's owner tag, as PVE copies
		// it, and the cloner's marker in its description.
		inFlight := simCT(getApp(clone).Status.VMID)
		Expect(inFlight.Lock).To(Equal("create"))
		Expect(lxcconfig.OwnedBy(lxcconfig.SplitTags(inFlight.Config["tags"]), string(source.UID))).To(BeTrue())
		Expect(lxcconfig.MarkedFor(inFlight.Config["description"], string(clone.UID))).To(BeTrue())

		// The operator loses the task (as after a restart that lost it):
		// only the container at the clone's VMID, and its marker, remain.
		sim.ForgetTask(task.UPID)
		poke(clone, 1)
		Eventually(func() string { return readyMessage(clone) }).Should(ContainSubstring("is being cloned (lock create)"))
		Expect(sim.ReleaseTask(task.UPID)).To(BeTrue())
		eventuallyApp(clone, "True", v1alpha1.ReasonReconciled)
		Expect(countReason(clone, "Cloned")).To(Equal(1))

		expectOwnedClone(clone)
		Expect(cloneTaskLog(srcVMID)).To(ContainSubstring("create full clone of mountpoint rootfs"))
		got := eventuallyApp(source, "True", v1alpha1.ReasonReconciled)
		Expect(got.Status.VMID).To(Equal(int32(srcVMID)))
		Expect(ownedBy(got)).To(Equal(1))
		Expect(lxcconfig.OwnedBy(lxcconfig.SplitTags(simCT(int32(srcVMID)).Config["tags"]), string(source.UID))).To(BeTrue())
	})

	It("never lets the source's owner take a clone that still carries its tag, even when it looks for its container by tag", func() {
		source := eventuallyApp(e.app(func(a *v1alpha1.Application) { a.Spec.PowerState = v1alpha1.PowerStateStopped }), "True", v1alpha1.ReasonReconciled)
		srcVMID := int(source.Status.VMID)
		sim.StallTasks(pvesim.TaskClone, strconv.Itoa(srcVMID), 1)
		clone := e.app(cloneOf(v1alpha1.CloneSource{ApplicationRef: &v1alpha1.LocalObjectReference{Name: source.Name}}, nil))
		var task *v1alpha1.TaskReference
		Eventually(func() *v1alpha1.TaskReference { task = getApp(clone).Status.Task; return task }).ShouldNot(BeNil())
		cloneVMID := getApp(clone).Status.VMID

		// Someone strips the source's container of its tags: it no longer
		// proves to be the source's, which gives up its VMID and looks for
		// its container by tag. The only one carrying the tag is the clone
		// in flight, which it must pass over.
		Expect(sim.SetConfigValue(srcVMID, "tags", "")).To(Succeed())
		DeferCleanup(func() { _ = sim.RemoveContainer(srcVMID) })

		// While the clone is still being copied the source makes itself a
		// new container rather than taking the clone.
		Eventually(func() int32 { return getApp(source).Status.VMID }).ShouldNot(BeElementOf(int32(srcVMID), int32(0)))
		got := eventuallyApp(source, "True", v1alpha1.ReasonReconciled)
		Expect(got.Status.VMID).NotTo(Equal(cloneVMID))
		Expect(simCT(cloneVMID).Lock).To(Equal("create"))
		Expect(sim.ReleaseTask(task.UPID)).To(BeTrue())
		eventuallyApp(clone, "True", v1alpha1.ReasonReconciled)
		Expect(getApp(clone).Status.VMID).To(Equal(cloneVMID))
		expectOwnedClone(clone)
		Expect(ownedBy(got)).To(Equal(1))
	})

	It("stalls a linked clone PVE refuses from a normal container with PVE's words, retrying on one VMID", func() {
		vmid := handMadeVMID(7100)
		Expect(sim.AddContainer("pve1", vmid, map[string]string{"hostname": "plain", "memory": "256"}, false)).To(Succeed())
		DeferCleanup(func() { _ = sim.RemoveContainer(vmid) })
		clones := sim.RequestCount("POST /nodes/{node}/lxc/{vmid}/clone")
		app := e.app(cloneOf(v1alpha1.CloneSource{VMID: ptr.To(int32(vmid)), Full: ptr.To(false)}, nil))
		got := eventuallyStalled(app, v1alpha1.ReasonCreateFailed)
		Expect(readyMessage(app)).To(ContainSubstring(fmt.Sprintf("Linked clone feature for 'local-lvm:vm-%d-disk-0' is not available", vmid)))
		newid := got.Status.VMID
		Expect(newid).NotTo(BeZero())
		clock.Advance(2*time.Minute + time.Second)
		poke(app, 1)
		Eventually(func() int { return sim.RequestCount("POST /nodes/{node}/lxc/{vmid}/clone") - clones }, "20s").Should(Equal(2))
		got = eventuallyStalled(app, v1alpha1.ReasonCreateFailed)
		Expect(got.Status.VMID).To(Equal(newid))
		_, exists := sim.Container(int(newid))
		Expect(exists).To(BeFalse())
	})

	DescribeTable("stalls a clone source the namespace may not use, sending nothing and saying the same whether it exists or not",
		func(addSource func(vmid int)) {
			vmid := handMadeVMID(6300)
			addSource(vmid)
			DeferCleanup(func() { _ = sim.RemoveContainer(vmid) })
			clones := sim.RequestCount("POST /nodes/{node}/lxc/{vmid}/clone")
			app := e.app(cloneOf(v1alpha1.CloneSource{VMID: ptr.To(int32(vmid))}, nil))
			got := eventuallyStalled(app, v1alpha1.ReasonCloneSourceNotAllowed)
			Expect(got.Status.VMID).To(BeZero())
			Expect(meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady).Message).To(Equal(fmt.Sprintf(
				"container %d does not exist on ProxmoxHost %q or namespace %q may not clone it (only a template, a container an Application of this namespace owns, or one the host's spec.grants[].adopt covers); nothing was touched",
				vmid, e.host, e.ns)))
			Expect(sim.RequestCount("POST /nodes/{node}/lxc/{vmid}/clone")).To(Equal(clones))
		},
		Entry("no container at the VMID", func(int) {}),
		Entry("a container outside the adoption grant", func(vmid int) {
			Expect(sim.AddContainer("pve1", vmid, map[string]string{"hostname": "theirs", "memory": "256"}, false)).To(Succeed())
		}),
		Entry("a container another namespace's Application owns", func(vmid int) {
			_, err := testenv.AddOwnedByOther(sim, "pve1", vmid, false)
			Expect(err).NotTo(HaveOccurred())
		}),
	)

	It("converts a stopped Application into a template that is cloned linked and never started, and both are deleted", func() {
		tmpl := e.app(func(a *v1alpha1.Application) {
			a.Spec.PowerState = v1alpha1.PowerStateStopped
			a.Spec.ConvertToTemplate = true
		})
		got := eventuallyApp(tmpl, "True", v1alpha1.ReasonReconciled)
		Eventually(func() bool { return getApp(tmpl).Status.Template }).Should(BeTrue())
		Expect(simCT(got.Status.VMID).Template).To(BeTrue())
		Expect(tasksOf("vzstart", got.Status.VMID)).To(BeEmpty())

		clone := e.app(cloneOf(v1alpha1.CloneSource{ApplicationRef: &v1alpha1.LocalObjectReference{Name: tmpl.Name}}, nil))
		eventuallyApp(clone, "True", v1alpha1.ReasonReconciled)
		expectOwnedClone(clone)
		Expect(cloneTaskLog(int(got.Status.VMID))).To(ContainSubstring("create linked clone of mount point rootfs"))

		for _, app := range []*v1alpha1.Application{clone, tmpl} {
			vmid := getApp(app).Status.VMID
			Expect(k8s.Delete(ctx, app)).To(Succeed())
			Eventually(func() bool {
				return client.IgnoreNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(app), &v1alpha1.Application{})) == nil &&
					func() bool { _, ok := sim.Container(int(vmid)); return !ok }()
			}, "60s").Should(BeTrue())
		}
	})
})

var _ = Describe("Application pools", func() {
	It("creates in a granted pool, moves to another, leaves it, leaves an admin's pool and other members alone, and stalls a pool no grant names", func() {
		seq := nsSeq.Load() + 1
		a, b := fmt.Sprintf("pool%da", seq), fmt.Sprintf("pool%db", seq)
		for _, p := range []string{a, b} {
			simAPI("POST", "/pools", url.Values{"poolid": {p}})
		}
		e := newAppEnv(withPools(a, b))
		other := 6400 + int(seq)
		Expect(sim.AddContainers([]pvesim.ContainerSpec{{Node: "pve2", VMID: other, Pool: a}})).To(Succeed())
		DeferCleanup(func() { _ = sim.RemoveContainer(other) })

		app := e.app(func(x *v1alpha1.Application) { x.Spec.Pool = a })
		vmid := eventuallyApp(app, "True", v1alpha1.ReasonReconciled).Status.VMID
		Expect(simCT(vmid).Pool).To(Equal(a))
		for _, want := range []string{b, ""} {
			update(app, func(x *v1alpha1.Application) { x.Spec.Pool = want })
			Eventually(func(g Gomega) {
				got := getApp(app)
				g.Expect(simCT(vmid).Pool).To(Equal(want))
				g.Expect(got.Status.Pool).To(Equal(want))
				g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
			}).Should(Succeed())
		}
		Expect(simCT(int32(other)).Pool).To(Equal(a))

		// A pool no grant names is an admin's: the container stays in it.
		admin := fmt.Sprintf("pool%dadmin", seq)
		simAPI("POST", "/pools", url.Values{"poolid": {admin}})
		simAPI("PUT", "/pools", url.Values{"poolid": {admin}, "vms": {strconv.Itoa(int(vmid))}})
		Eventually(func() string { return getApp(app).Status.Pool }).Should(Equal(admin))
		Expect(eventuallyApp(app, "True", v1alpha1.ReasonReconciled).Status.Pool).To(Equal(admin))
		Expect(simCT(vmid).Pool).To(Equal(admin))

		creates := sim.RequestCount("POST /nodes/{node}/lxc")
		denied := e.app(func(x *v1alpha1.Application) { x.Spec.Pool = "not-granted" })
		got := eventuallyStalled(denied, v1alpha1.ReasonPoolNotAllowed)
		Expect(got.Status.VMID).To(BeZero())
		Expect(sim.RequestCount("POST /nodes/{node}/lxc")).To(Equal(creates))
	})
})
