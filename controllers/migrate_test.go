package controllers_test

import (
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/utils/ptr"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/proxmox"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

// otherNode is a node of the default simulator other than node.
func otherNode(node string) string {
	for _, n := range pvesim.DefaultNodes() {
		if n.Name != node {
			return n.Name
		}
	}
	Fail("the simulator has one node only")
	return ""
}

// eventuallyOn waits until app is Ready on node and returns it.
func eventuallyOn(app *v1alpha1.Application, node string) *v1alpha1.Application {
	EventuallyWithOffset(1, func(g Gomega) {
		got := getApp(app)
		g.Expect(got.Status.Node).To(Equal(node))
		g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue())
		g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
	}, "60s").Should(Succeed())
	return getApp(app)
}

var _ = Describe("Application migration", func() {
	var e appEnv
	BeforeEach(func() {
		e = newAppEnv(nil)
		eventuallyReady(e.host, "True", v1alpha1.ReasonConnected)
	})

	DescribeTable("moves the container to the declared node, keeping its VMID and never recreating it",
		func(power v1alpha1.PowerState, how string) {
			app := eventuallyApp(e.app(func(a *v1alpha1.Application) { a.Spec.PowerState = power }), "True", v1alpha1.ReasonReconciled)
			from, vmid := app.Status.Node, app.Status.VMID
			to := otherNode(from)
			update(app, func(a *v1alpha1.Application) { a.Spec.Node = to })

			got := eventuallyOn(app, to)
			Expect(got.Status.VMID).To(Equal(vmid))
			ct := simCT(vmid)
			Expect(ct.Node).To(Equal(to))
			Expect(ct.Status).To(Equal(map[v1alpha1.PowerState]string{v1alpha1.PowerStateRunning: "running", v1alpha1.PowerStateStopped: "stopped"}[power]))
			Expect(ownedBy(got)).To(Equal(1))
			Expect(tasksOf("vzcreate", vmid)).To(HaveLen(1), "the container was not recreated")
			Expect(tasksOf("vzdestroy", vmid)).To(BeEmpty())
			migrations := tasksOf("vzmigrate", vmid)
			Expect(migrations).To(HaveLen(1))
			Expect(migrations[0].Node).To(Equal(from))
			log := strings.Join(migrations[0].Log, "\n")
			if how == "restart" {
				Expect(log).To(ContainSubstring("shutdown CT %d", vmid))
			} else {
				Expect(log).NotTo(ContainSubstring("shutdown CT"))
				Expect(tasksOf("vzstart", vmid)).To(BeEmpty(), "a stopped container stays stopped")
			}
			Expect(eventReasons(app)).To(ContainElement(v1alpha1.ReasonMigrating))
		},
		Entry("a running container by a restart migration", v1alpha1.PowerStateRunning, "restart"),
		Entry("a stopped container offline", v1alpha1.PowerStateStopped, "offline"),
	)

	It("refuses to move a container with a local bind mount and a passed-through device, naming them, and sends nothing", func() {
		Expect(sim.AddContainer("pve1", 7350, map[string]string{
			"hostname": "pinned", "memory": "512", "unprivileged": "1",
			"rootfs": "local-lvm:vm-7350-disk-0,size=4G",
			"mp0":    "/srv/data,mp=/data",
			"dev0":   "/dev/ttyUSB0,mode=0660",
		}, true)).To(Succeed())
		DeferCleanup(func() { _ = sim.RemoveContainer(7350) })
		posts := sim.RequestCount("POST /nodes/{node}/lxc/{vmid}/migrate")
		app := e.app(func(a *v1alpha1.Application) {
			a.Spec = v1alpha1.ApplicationSpec{HostRef: a.Spec.HostRef, VMID: ptr.To[int32](7350), Adopt: true, Node: "pve2"}
		})
		got := eventuallyStalled(app, v1alpha1.ReasonMigrationBlocked)
		msg := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady).Message
		Expect(msg).To(ContainSubstring("cannot migrate local bind mount point 'mp0'"))
		Expect(msg).To(ContainSubstring("dev0 passes through /dev/ttyUSB0"))
		Expect(got.Status.Node).To(Equal("pve1"))

		poke(app, 1)
		Consistently(func() string { return simCT(7350).Node }, "1s").Should(Equal("pve1"))
		Expect(tasksOf("vzmigrate", 7350)).To(BeEmpty())
		Expect(sim.RequestCount("POST /nodes/{node}/lxc/{vmid}/migrate")).To(Equal(posts))
		Expect(countReason(app, v1alpha1.ReasonMigrationBlocked)).To(Equal(1), "said once, not retried in a loop")
	})
})

var _ = Describe("Application HA", func() {
	var e appEnv
	BeforeEach(func() {
		e = newAppEnv(nil)
		eventuallyReady(e.host, "True", v1alpha1.ReasonConnected)
	})

	It("follows a container HA has moved, and neither migrates it back nor recreates it", func() {
		app := eventuallyApp(e.app(func(a *v1alpha1.Application) {
			a.Spec.Node = "pve1"
			a.Spec.HA = &v1alpha1.HighAvailability{}
		}), "True", v1alpha1.ReasonReconciled)
		vmid := app.Status.VMID
		Eventually(func() string { return getApp(app).Status.HA }).Should(Equal("started"))
		create := tasksOf("vzcreate", vmid)
		Expect(create).To(HaveLen(1))
		Expect(create[0].Log).To(ContainElement("Add as HA resource"), "created with ha-managed")

		Expect(sim.HAMove(int(vmid), "pve3")).To(Succeed())
		got := eventuallyOn(app, "pve3")
		Expect(got.Status.VMID).To(Equal(vmid))
		Expect(got.Status.State).To(Equal(v1alpha1.ContainerStateRunning))
		Expect(simCT(vmid).Node).To(Equal("pve3"))
		poke(app, 1)
		Consistently(func() string { return simCT(vmid).Node }, "1s").Should(Equal("pve3"))
		Expect(tasksOf("vzmigrate", vmid)).To(BeEmpty(), "never migrated back to spec.node")
		Expect(tasksOf("vzcreate", vmid)).To(HaveLen(1), "never recreated")
		Expect(ownedBy(got)).To(Equal(1))
		Expect(eventReasons(app)).To(ContainElement("NotApplied"))

		By("deleting it: PVE's purge takes it out of HA too")
		Expect(k8s.Delete(ctx, got)).To(Succeed())
		Eventually(func() bool { _, ok := sim.Container(int(vmid)); return ok }).Should(BeFalse())
		_, err := simClient().HAResource(ctx, proxmox.ContainerSID(int(vmid)))
		Expect(proxmox.IsNotFound(err)).To(BeTrue(), "%v", err)
	})

	It("declares the HA resource and node-affinity rule, changes them, and removes what it made", func() {
		c := simClient()
		app := eventuallyApp(e.app(func(a *v1alpha1.Application) {
			a.Spec.HA = &v1alpha1.HighAvailability{
				MaxRestart: ptr.To[int32](2),
				NodeAffinity: &v1alpha1.HANodeAffinity{Strict: true, Nodes: []v1alpha1.HANodePriority{
					{Name: "pve1", Priority: ptr.To[int32](2)}, {Name: "pve2"},
				}},
			}
		}), "True", v1alpha1.ReasonReconciled)
		vmid := int(app.Status.VMID)
		sid, ruleID := proxmox.ContainerSID(vmid), "pve-operator-"+strconv.Itoa(vmid)
		res, err := c.HAResource(ctx, sid)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.State).To(Equal("started"))
		Expect(res.MaxRestart).To(HaveValue(Equal(2)))
		Expect(res.Comment).To(ContainSubstring(string(app.UID)))
		rule, err := c.HARule(ctx, ruleID)
		Expect(err).NotTo(HaveOccurred())
		Expect(rule.Resources).To(Equal([]string{sid}))
		Expect(proxmox.FormatHANodes(rule.Nodes)).To(Equal("pve1:2,pve2"))
		Expect(rule.Strict).To(BeTrue())

		By("stopping it through HA's requested state and changing the options")
		update(app, func(a *v1alpha1.Application) {
			a.Spec.PowerState = v1alpha1.PowerStateStopped
			a.Spec.HA.MaxRestart = ptr.To[int32](3)
			a.Spec.HA.NodeAffinity.Nodes = []v1alpha1.HANodePriority{{Name: "pve3"}}
		})
		Eventually(func(g Gomega) {
			got := getApp(app)
			g.Expect(got.Status.State).To(Equal(v1alpha1.ContainerStateStopped))
			g.Expect(got.Status.HA).To(Equal("stopped"))
			g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue())
		}, "60s").Should(Succeed())
		res, err = c.HAResource(ctx, sid)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.State).To(Equal("stopped"))
		Expect(res.MaxRestart).To(HaveValue(Equal(3)))
		rule, err = c.HARule(ctx, ruleID)
		Expect(err).NotTo(HaveOccurred())
		Expect(proxmox.FormatHANodes(rule.Nodes)).To(Equal("pve3"))
		Expect(tasksOf("vzshutdown", int32(vmid))).NotTo(BeEmpty())
		Expect(tasksOf("vzshutdown", int32(vmid))[0].User).To(Equal("root@pam"), "HA's LRM stopped it, not the operator")

		By("removing the rule with nodeAffinity, then the resource with spec.ha")
		update(app, func(a *v1alpha1.Application) { a.Spec.HA.NodeAffinity = nil })
		Eventually(func() bool { _, err := c.HARule(ctx, ruleID); return proxmox.IsNotFound(err) }).Should(BeTrue())
		_, err = c.HAResource(ctx, sid)
		Expect(err).NotTo(HaveOccurred())
		update(app, func(a *v1alpha1.Application) { a.Spec.HA = nil })
		Eventually(func() bool { _, err := c.HAResource(ctx, sid); return proxmox.IsNotFound(err) }).Should(BeTrue())
		Eventually(func() string { return getApp(app).Status.HA }).Should(BeEmpty())
		eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
		Expect(simCT(int32(vmid)).Status).To(Equal("stopped"))
	})
})
