package controllers_test

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/controllers"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

var nsSeq atomic.Int64

// handMadeSeq numbers the hand-made containers of the specs that need a
// fresh VMID each run (see handMadeVMID).
var handMadeSeq atomic.Int64

// handMadeVMID is a VMID at base that no other spec uses, whatever order
// the specs run in: base plus a count of such VMIDs handed out, which stays
// far below the fixed VMIDs the other specs pick (7120, 7200, ...). Adding
// the namespace counter instead ran into them once the suite grew to over
// 100 namespaces ("CT 7200 already exists").
func handMadeVMID(base int) int { return base + int(handMadeSeq.Add(1)) }

// appEnv is a namespace and a Ready host (with SSH) for one spec.
type appEnv struct {
	ns, host string
}

// readyAppEnv is a fresh namespace and connected host with one Ready
// Application in it, the start of most Backup and Restore specs.
func readyAppEnv() (appEnv, *v1alpha1.Application) {
	e := newAppEnv(nil)
	eventuallyReady(e.host, "True", v1alpha1.ReasonConnected)
	return e, eventuallyApp(e.app(nil), "True", v1alpha1.ReasonReconciled)
}

func newAppEnv(mutateHost func(*v1alpha1.ProxmoxHost)) appEnv {
	ns := fmt.Sprintf("team-%d", nsSeq.Add(1))
	Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
	sshSecret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-ssh", Namespace: credsNamespace},
		Data: map[string][]byte{
			"privateKey": sshPrivateKey,
			"knownHosts": []byte(sim.SSH().KnownHostsLine() + "\n"),
		},
	}
	Expect(k8s.Create(ctx, sshSecret)).To(Succeed())
	_, port, err := net.SplitHostPort(sim.SSH().Addr())
	Expect(err).NotTo(HaveOccurred())
	p, _ := strconv.Atoi(port)
	host := newHost(validToken(), func(h *v1alpha1.ProxmoxHost) {
		h.Spec.SSH = &v1alpha1.SSHConfig{
			CredentialsRef: v1alpha1.SecretReference{Name: sshSecret.Name, Namespace: credsNamespace},
			User:           "root", Port: int32(p),
		}
		// The adoption specs adopt hand-made containers with VMIDs 7000-7999.
		h.Spec.Grants = []v1alpha1.TenantGrant{{
			NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}},
			Adopt:             &v1alpha1.AdoptionGrant{VMIDRanges: []v1alpha1.VMIDRange{{From: 7000, To: 7999}}},
		}}
		if mutateHost != nil {
			mutateHost(h)
		}
	})
	return appEnv{ns: ns, host: host}
}

var appSeq atomic.Int64

// lastApplied is client-side kubectl apply's copy of what was applied.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

func (e appEnv) app(mutate func(*v1alpha1.Application)) *v1alpha1.Application {
	n := appSeq.Add(1)
	app := &v1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app%d", n), Namespace: e.ns},
		Spec: v1alpha1.ApplicationSpec{
			HostRef:  v1alpha1.LocalObjectReference{Name: e.host},
			Template: "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
			Resources: &v1alpha1.Resources{
				Cores: ptr.To[int32](1), Memory: ptr.To(resource.MustParse("512Mi")),
			},
			RootFS:  &v1alpha1.RootFS{Storage: "local-lvm", Size: resource.MustParse("4Gi")},
			Network: []v1alpha1.NetworkInterface{{Name: "eth0", Bridge: "vmbr0", IPv4: "dhcp"}},
			Tags:    []string{"Web"},
		},
	}
	if mutate != nil {
		mutate(app)
	}
	Expect(k8s.Create(ctx, app)).To(Succeed())
	return app
}

func getApp(app *v1alpha1.Application) *v1alpha1.Application {
	out := &v1alpha1.Application{}
	ExpectWithOffset(1, k8s.Get(ctx, client.ObjectKeyFromObject(app), out)).To(Succeed())
	return out
}

// eventuallyApp waits until the Ready condition has status and reason and
// returns the Application.
func eventuallyApp(app *v1alpha1.Application, status, reason string, timeout ...string) *v1alpha1.Application {
	within := "60s"
	if len(timeout) > 0 {
		within = timeout[0]
	}
	out := &v1alpha1.Application{}
	EventuallyWithOffset(1, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(app), out)).To(Succeed())
		c := meta.FindStatusCondition(out.Status.Conditions, v1alpha1.ConditionReady)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(reason), "Ready=%s %s: %s", c.Status, c.Reason, c.Message)
		g.Expect(string(c.Status)).To(Equal(status))
		if status == "True" {
			g.Expect(out.Status.ObservedGeneration).To(Equal(out.Generation))
		}
	}, within).Should(Succeed())
	return out
}

func simCT(vmid int32) pvesim.ContainerView {
	ct, ok := sim.Container(int(vmid))
	ExpectWithOffset(1, ok).To(BeTrue(), "container %d exists in the simulator", vmid)
	return ct
}

// ownedBy counts the simulator's containers carrying app's ownership tag.
// tasksOf lists the tasks of type typ (all types when empty) on the
// container now at vmid: those from the task that created it on. Specs share
// one simulator and VMIDs are reused once freed, so an earlier container's
// tasks must not count. A container is created by vzcreate or vzclone, or by
// a vzrestore that is the VMID's first task or follows a destroy (a restore
// in place is not a new container).
func tasksOf(typ string, vmid int32) []pvesim.TaskView {
	all := sim.Tasks("", strconv.Itoa(int(vmid)))
	start := 0
	for i, t := range all {
		created := t.Type == "vzcreate" || t.Type == "vzclone" ||
			(t.Type == "vzrestore" && (i == 0 || all[i-1].Type == "vzdestroy"))
		if created {
			start = i
		}
	}
	var out []pvesim.TaskView
	for _, t := range all[start:] {
		if typ == "" || t.Type == typ {
			out = append(out, t)
		}
	}
	return out
}

func ownedBy(app *v1alpha1.Application) int {
	n := 0
	for _, ct := range sim.State().Containers {
		if owner, ok := lxcconfig.OwnerOf(lxcconfig.SplitTags(ct.Config["tags"])); ok && owner == string(app.UID) {
			n++
		}
	}
	return n
}

func update(app *v1alpha1.Application, mutate func(*v1alpha1.Application)) {
	EventuallyWithOffset(1, func() error {
		cur := getApp(app)
		mutate(cur)
		return k8s.Update(ctx, cur)
	}).Should(Succeed())
}

var _ = Describe("Application", func() {
	var e appEnv
	BeforeEach(func() {
		e = newAppEnv(nil)
		eventuallyReady(e.host, "True", v1alpha1.ReasonConnected)
	})

	It("creates, starts and reports a container with its ownership marker", func() {
		app := e.app(func(a *v1alpha1.Application) {
			a.Annotations = map[string]string{lastApplied: `{"kind":"Application"}`}
		})
		got := eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
		Expect(got.Finalizers).To(ContainElement(controllers.ApplicationFinalizer))
		// The cache drops this annotation; writing the finalizer must not.
		Expect(got.Annotations).To(HaveKeyWithValue(lastApplied, `{"kind":"Application"}`))
		Expect(got.Status.VMID).To(BeNumerically(">=", 100))
		Expect(got.Status.Node).NotTo(BeEmpty())
		Expect(got.Status.State).To(Equal(v1alpha1.ContainerStateRunning))
		Expect(got.Status.Task).To(BeNil())
		Expect(got.Status.Usage).NotTo(BeNil())
		Expect(got.Status.Usage.MemoryTotal).NotTo(BeNil())
		ct := simCT(got.Status.VMID)
		Expect(ct.Status).To(Equal("running"))
		Expect(ct.Config).To(HaveKeyWithValue("hostname", app.Name))
		Expect(ct.Config).To(HaveKeyWithValue("memory", "512"))
		Expect(ct.Config["tags"]).To(ContainSubstring(lxcconfig.OwnerTag(string(got.UID))))
		Expect(ct.Config["description"]).To(ContainSubstring(string(got.UID)))
		Expect(ownedBy(got)).To(Equal(1))
		// DHCP leases arrive after start; the IP is then reported.
		Eventually(func() []string { return getApp(app).Status.IPAddresses }).ShouldNot(BeEmpty())
	})

	It("applies a spec change to cores and grows the root disk in place, never shrinking", func() {
		app := eventuallyApp(e.app(nil), "True", v1alpha1.ReasonReconciled)
		update(app, func(a *v1alpha1.Application) {
			a.Spec.Resources.Cores = ptr.To[int32](3)
			a.Spec.RootFS.Size = resource.MustParse("6Gi")
		})
		Eventually(func(g Gomega) {
			ct := simCT(app.Status.VMID)
			g.Expect(ct.Config).To(HaveKeyWithValue("cores", "3"))
			g.Expect(ct.Config["rootfs"]).To(ContainSubstring("size=6G"))
		}).Should(Succeed())
		got := eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
		Expect(got.Status.VMID).To(Equal(app.Status.VMID), "the container was not replaced")
		Expect(tasksOf("vzdestroy", app.Status.VMID)).To(BeEmpty())
	})

	It("leaves a change that needs a restart pending and says so", func() {
		app := eventuallyApp(e.app(nil), "True", v1alpha1.ReasonReconciled)
		update(app, func(a *v1alpha1.Application) {
			a.Spec.DNS = &v1alpha1.DNS{Nameservers: []string{"9.9.9.9"}, SearchDomain: "example.com"}
		})
		Eventually(func(g Gomega) {
			got := getApp(app)
			c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionRestartRequired)
			g.Expect(c).NotTo(BeNil(), "conditions: %+v; pending in Proxmox: %v", got.Status.Conditions, simCT(app.Status.VMID).Pending)
			g.Expect(c.Message).To(ContainSubstring("nameserver"))
		}).Should(Succeed())
		ct := simCT(app.Status.VMID)
		Expect(ct.Pending).To(HaveKeyWithValue("nameserver", "9.9.9.9"))
		Expect(ct.Status).To(Equal("running"), "the operator does not restart on its own")
		Expect(tasksOf("vzreboot", app.Status.VMID)).To(BeEmpty())
	})

	It("follows powerState and corrects an out-of-band stop", func() {
		app := eventuallyApp(e.app(nil), "True", v1alpha1.ReasonReconciled)
		update(app, func(a *v1alpha1.Application) { a.Spec.PowerState = v1alpha1.PowerStateStopped })
		Eventually(func() string { return simCT(app.Status.VMID).Status }).Should(Equal("stopped"))
		got := eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
		Expect(got.Status.State).To(Equal(v1alpha1.ContainerStateStopped))

		update(app, func(a *v1alpha1.Application) { a.Spec.PowerState = v1alpha1.PowerStateRunning })
		Eventually(func() string { return simCT(app.Status.VMID).Status }).Should(Equal("running"))
		eventuallyApp(app, "True", v1alpha1.ReasonReconciled)

		// Someone stops it in Proxmox: the next inventory sync notices and starts it again.
		Expect(sim.SetRunning(int(app.Status.VMID), false)).To(Succeed())
		Eventually(func() string { return simCT(app.Status.VMID).Status }, "30s").Should(Equal("running"))
	})

	It("lets only the first of two Applications racing for one hostname create a container", func() {
		a, b := firstClaim(
			e.app(func(a *v1alpha1.Application) { a.Spec.Hostname = "shared-name" }),
			e.app(func(a *v1alpha1.Application) { a.Spec.Hostname = "shared-name" }))
		eventuallyApp(a, "True", v1alpha1.ReasonReconciled)
		got := eventuallyApp(b, "False", v1alpha1.ReasonHostnameConflict)
		Expect(meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionStalled)).To(BeTrue())
		Consistently(func() int { return ownedBy(got) }, "2s").Should(BeZero())
	})

	It("lets only the first of two Applications claiming one explicit VMID create it", func() {
		a, b := firstClaim(
			e.app(func(a *v1alpha1.Application) { a.Spec.VMID = ptr.To[int32](7200) }),
			e.app(func(a *v1alpha1.Application) { a.Spec.VMID = ptr.To[int32](7200) }))
		eventuallyApp(a, "True", v1alpha1.ReasonReconciled)
		got := eventuallyApp(b, "False", v1alpha1.ReasonVMIDConflict)
		Expect(meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady).Message).To(ContainSubstring(a.Name))
		Expect(ownedBy(got)).To(BeZero())
		Expect(simCT(7200).Config["tags"]).To(ContainSubstring(lxcconfig.OwnerTag(string(getApp(a).UID))))
	})

	It("stalls with VMIDInUse instead of touching a foreign container with the same VMID", func() {
		Expect(sim.AddContainer("pve1", 7001, map[string]string{"hostname": "foreign", "cores": "1", "memory": "256"}, true)).To(Succeed())
		before := simCT(7001)
		app := e.app(func(a *v1alpha1.Application) { a.Spec.VMID = ptr.To[int32](7001) })
		eventuallyApp(app, "False", v1alpha1.ReasonVMIDInUse)
		Consistently(func() string { return simCT(7001).Digest }, "2s").Should(Equal(before.Digest))
	})

	It("picks another VMID when a foreign client takes the chosen one mid-create", func() {
		// Hold the create request while a foreign client takes the VMID the
		// operator has just recorded in status.
		sim.DelayRequests("POST", "/nodes/{node}/lxc", 1, 2*time.Second)
		app := e.app(nil)
		var taken int32
		Eventually(func() int32 { taken = getApp(app).Status.VMID; return taken }).ShouldNot(BeZero())
		Expect(sim.AddContainer("pve2", int(taken), map[string]string{"hostname": "intruder", "memory": "256"}, false)).To(Succeed())
		got := eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
		Expect(got.Status.VMID).NotTo(Equal(taken))
		Expect(simCT(taken).Config).To(HaveKeyWithValue("hostname", "intruder"))
		Expect(simCT(taken).Config).NotTo(HaveKey("tags"))
		Expect(ownedBy(got)).To(Equal(1))
	})

	It("creates exactly one container when the create answer is lost after Proxmox acted", func() {
		sim.DropAfterCommit("POST", "/nodes/{node}/lxc", 1)
		app := e.app(nil)
		got := eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
		Expect(ownedBy(got)).To(Equal(1))
	})

	It("adopts an existing container without restarting it and converges only declared fields", func() {
		Expect(sim.AddContainer("pve3", 7100, map[string]string{
			"hostname": "legacy", "cores": "1", "memory": "1024", "swap": "0", "tags": "prod", "unprivileged": "1",
			"rootfs": "local-lvm:vm-7100-disk-0,size=8G", "net0": "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=10.0.0.9/24,type=veth",
		}, true)).To(Succeed())
		app := e.app(func(a *v1alpha1.Application) {
			a.Name = "legacy"
			a.Spec = v1alpha1.ApplicationSpec{
				HostRef: a.Spec.HostRef, VMID: ptr.To[int32](7100), Adopt: true,
				Resources: &v1alpha1.Resources{Cores: ptr.To[int32](2)},
			}
		})
		got := eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
		Expect(got.Status.Adopted).To(BeTrue())
		ct := simCT(7100)
		Expect(ct.Config).To(HaveKeyWithValue("cores", "2"))
		Expect(ct.Config).To(HaveKeyWithValue("memory", "1024"), "undeclared fields are left alone")
		Expect(ct.Config["net0"]).To(ContainSubstring("hwaddr=BC:24:11:00:00:01"))
		Expect(ct.Config["tags"]).To(And(ContainSubstring("prod"), ContainSubstring(lxcconfig.OwnerTag(string(got.UID)))))
		for _, typ := range []string{"vzstop", "vzshutdown", "vzstart", "vzreboot", "vzdestroy", "vzcreate"} {
			Expect(sim.Tasks(typ, "7100")).To(BeEmpty(), "adoption ran %s", typ)
		}
		Expect(got.Status.IPAddresses).To(ContainElement("10.0.0.9"))

		// Deleting an adopted Application retains the container and releases it.
		Expect(k8s.Delete(ctx, got)).To(Succeed())
		Eventually(func() error { return k8s.Get(ctx, client.ObjectKeyFromObject(got), &v1alpha1.Application{}) }).Should(MatchError(ContainSubstring("not found")))
		ct = simCT(7100)
		Expect(ct.Status).To(Equal("running"))
		Expect(ct.Config["tags"]).To(Equal("prod"))
	})

	It("adopts a container named otherwise without renaming it when the spec declares no hostname", func() {
		Expect(sim.AddContainer("pve3", 7120, map[string]string{
			"hostname": "legacy-web", "cores": "1", "memory": "512", "tags": "prod", "unprivileged": "1",
			"rootfs": "local-lvm:vm-7120-disk-0,size=4G",
		}, true)).To(Succeed())
		mutations := sim.MutatingRequests(7120)
		app := e.app(func(a *v1alpha1.Application) {
			a.Spec = v1alpha1.ApplicationSpec{
				HostRef: a.Spec.HostRef, VMID: ptr.To[int32](7120), Adopt: true,
				Resources: &v1alpha1.Resources{Cores: ptr.To[int32](2)},
			}
		})
		Expect(app.Name).NotTo(Equal("legacy-web"))
		got := eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
		Expect(simCT(7120).Config).To(HaveKeyWithValue("cores", "2"), "declared fields still converge")
		// One config PUT carried every change: had it carried hostname, the
		// container would have the Application's name now.
		Expect(sim.MutatingRequests(7120) - mutations).To(Equal(1))
		Eventually(func() []string { return appliedKeys(got) }).Should(ConsistOf("cores, tags"))
		Consistently(func() string { return simCT(7120).Config["hostname"] }, "3s").Should(Equal("legacy-web"))
		// The name it holds on its host is the container's own.
		Expect(getApp(app).Status.Config).To(HaveKeyWithValue("hostname", "legacy-web"))
	})

	It("renames an adopted container to a declared hostname", func() {
		Expect(sim.AddContainer("pve3", 7121, map[string]string{
			"hostname": "legacy-api", "cores": "1", "memory": "512", "tags": "prod", "unprivileged": "1",
			"rootfs": "local-lvm:vm-7121-disk-0,size=4G",
		}, true)).To(Succeed())
		app := e.app(func(a *v1alpha1.Application) {
			a.Spec = v1alpha1.ApplicationSpec{HostRef: a.Spec.HostRef, VMID: ptr.To[int32](7121), Adopt: true, Hostname: "api"}
		})
		got := eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
		Expect(simCT(7121).Config).To(HaveKeyWithValue("hostname", "api"))
		Eventually(func() []string { return appliedKeys(got) }).Should(ConsistOf("hostname, tags"))
	})

	It("holds an adopted container's own hostname against later Applications, not the Application's name", func() {
		Expect(sim.AddContainer("pve3", 7122, map[string]string{
			"hostname": "legacy-cache", "cores": "1", "memory": "512", "unprivileged": "1",
			"rootfs": "local-lvm:vm-7122-disk-0,size=4G",
		}, true)).To(Succeed())
		adopted := eventuallyApp(e.app(func(a *v1alpha1.Application) {
			a.Spec = v1alpha1.ApplicationSpec{HostRef: a.Spec.HostRef, VMID: ptr.To[int32](7122), Adopt: true}
		}), "True", v1alpha1.ReasonReconciled)
		taker := e.app(func(a *v1alpha1.Application) { a.Spec.Hostname = "legacy-cache" })
		got := eventuallyApp(taker, "False", v1alpha1.ReasonHostnameConflict)
		Expect(meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady).Message).To(ContainSubstring(adopted.Name))
		Expect(ownedBy(got)).To(BeZero())
		// The Application's own name is free: the adopted container never took it.
		eventuallyApp(e.app(func(a *v1alpha1.Application) { a.Spec.Hostname = adopted.Name }), "True", v1alpha1.ReasonReconciled)
		Expect(simCT(7122).Config).To(HaveKeyWithValue("hostname", "legacy-cache"))
	})

	It("destroys the container on delete with the Delete policy", func() {
		app := eventuallyApp(e.app(nil), "True", v1alpha1.ReasonReconciled)
		Expect(k8s.Delete(ctx, app)).To(Succeed())
		Eventually(func() error { return k8s.Get(ctx, client.ObjectKeyFromObject(app), &v1alpha1.Application{}) }).Should(MatchError(ContainSubstring("not found")))
		_, exists := sim.Container(int(app.Status.VMID))
		Expect(exists).To(BeFalse())
	})

	It("keeps the container on delete with the Retain policy", func() {
		app := eventuallyApp(e.app(func(a *v1alpha1.Application) { a.Spec.DeletionPolicy = v1alpha1.DeletionPolicyRetain }), "True", v1alpha1.ReasonReconciled)
		Expect(k8s.Delete(ctx, app)).To(Succeed())
		Eventually(func() error { return k8s.Get(ctx, client.ObjectKeyFromObject(app), &v1alpha1.Application{}) }).Should(MatchError(ContainSubstring("not found")))
		ct := simCT(app.Status.VMID)
		Expect(ct.Status).To(Equal("running"))
		Expect(ct.Config["tags"]).NotTo(ContainSubstring("pve-operator"))
	})

	It("is blocked from deleting a protected container until protection is lifted", func() {
		app := eventuallyApp(e.app(func(a *v1alpha1.Application) { a.Spec.Protection = ptr.To(true) }), "True", v1alpha1.ReasonReconciled)
		Expect(simCT(app.Status.VMID).Config).To(HaveKeyWithValue("protection", "1"))
		Expect(k8s.Delete(ctx, app)).To(Succeed())
		Eventually(func(g Gomega) {
			got := getApp(app)
			g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionStalled)).To(BeTrue())
			g.Expect(meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionStalled).Message).To(ContainSubstring("protection"))
		}).Should(Succeed())
		Expect(sim.SetConfigValue(int(app.Status.VMID), "protection", "0")).To(Succeed())
		Eventually(func() error { return k8s.Get(ctx, client.ObjectKeyFromObject(app), &v1alpha1.Application{}) }, "90s").Should(MatchError(ContainSubstring("not found")))
	})

	It("waits out a container locked by Proxmox", func() {
		app := eventuallyApp(e.app(nil), "True", v1alpha1.ReasonReconciled)
		Expect(sim.SetLock(int(app.Status.VMID), "backup")).To(Succeed())
		update(app, func(a *v1alpha1.Application) { a.Spec.Resources.Cores = ptr.To[int32](2) })
		eventuallyApp(app, "False", v1alpha1.ReasonLocked)
		Expect(simCT(app.Status.VMID).Config).To(HaveKeyWithValue("cores", "1"))
		Expect(sim.SetLock(int(app.Status.VMID), "")).To(Succeed())
		eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
		Expect(simCT(app.Status.VMID).Config).To(HaveKeyWithValue("cores", "2"))
	})

	It("follows a container migrated to another node instead of recreating it", func() {
		app := eventuallyApp(e.app(nil), "True", v1alpha1.ReasonReconciled)
		from := app.Status.Node
		to := "pve1"
		if from == to {
			to = "pve2"
		}
		// Migrate it as an admin (or HA) would, through the API.
		req, err := http.NewRequest("POST", fmt.Sprintf("%s/nodes/%s/lxc/%d/migrate", sim.URL(), from, app.Status.VMID),
			strings.NewReader("target="+to+"&restart=1"))
		Expect(err).NotTo(HaveOccurred())
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "PVEAPIToken="+pvesim.DefaultTokenID+"="+pvesim.DefaultTokenSecret)
		resp, err := sim.HTTPClient().Do(req)
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Body.Close()).To(Succeed())
		Expect(resp.StatusCode).To(Equal(http.StatusOK), resp.Status)
		Eventually(func() string { return getApp(app).Status.Node }, "30s").Should(Equal(to))
		got := eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
		Expect(got.Status.VMID).To(Equal(app.Status.VMID))
		Expect(tasksOf("vzcreate", app.Status.VMID)).To(HaveLen(1), "never recreated")
		Expect(ownedBy(got)).To(Equal(1))
	})

	It("recreates a container deleted out of band, reporting ContainerMissing", func() {
		app := eventuallyApp(e.app(nil), "True", v1alpha1.ReasonReconciled)
		Expect(deleteInSim(app.Status.VMID)).To(Succeed())
		Eventually(func() []string { return eventReasons(app) }, "30s").Should(ContainElement(v1alpha1.ReasonContainerMissing))
		got := eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
		Expect(ownedBy(got)).To(Equal(1))
	})

	It("runs the provision script and records its result", func() {
		app := e.app(func(a *v1alpha1.Application) {
			a.Spec.Provision = &v1alpha1.Provision{Script: "echo provisioned-$((20+22)); pwd >/dev/null"}
		})
		got := eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
		Expect(got.Status.Provision).NotTo(BeNil())
		Expect(got.Status.Provision.ExitCode).To(HaveValue(BeZero()))
		Expect(got.Status.Provision.OutputTail).To(ContainSubstring("provisioned-42"))
		Expect(meta.IsStatusConditionTrue(got.Status.Conditions, controllers.ConditionProvisioned)).To(BeTrue())
	})

	It("reports a failing provision script and does not loop it hot", func() {
		app := e.app(func(a *v1alpha1.Application) {
			a.Spec.Provision = &v1alpha1.Provision{Script: "echo about to fail; exit 3"}
		})
		got := eventuallyApp(app, "False", v1alpha1.ReasonProvisionFailed)
		Expect(got.Status.Provision.ExitCode).To(HaveValue(BeEquivalentTo(3)))
		Expect(meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady).Message).To(ContainSubstring("exited with 3"))
		finished := got.Status.Provision.FinishedAt
		Consistently(func() *metav1.Time { return getApp(app).Status.Provision.FinishedAt }, "3s").Should(Equal(finished))
	})

	It("reports a provision script that times out", func() {
		app := e.app(func(a *v1alpha1.Application) {
			a.Spec.Provision = &v1alpha1.Provision{Script: "sleep 30", Timeout: &metav1.Duration{Duration: time.Second}}
		})
		got := eventuallyApp(app, "False", v1alpha1.ReasonProvisionFailed)
		Expect(got.Status.Provision.ExitCode).To(BeNil())
		Expect(got.Status.Provision.OutputTail).To(ContainSubstring("timed out"))
	})
})

var _ = Describe("Application tenancy", func() {
	It("refuses a namespace the host does not allow, creating nothing", func() {
		e := newAppEnv(func(h *v1alpha1.ProxmoxHost) {
			h.Spec.AllowedNamespaces = &metav1.LabelSelector{MatchLabels: map[string]string{"proxmox-allowed": "true"}}
		})
		creates := sim.RequestCount("POST /nodes/{node}/lxc")
		app := e.app(nil)
		got := eventuallyApp(app, "False", v1alpha1.ReasonNamespaceNotAllowed)
		Expect(meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionStalled)).To(BeTrue())
		Expect(ownedBy(got)).To(BeZero())
		Expect(sim.RequestCount("POST /nodes/{node}/lxc")).To(Equal(creates))
	})

	// A tenant must not learn which host names exist: a host that is not
	// there and one that excludes the namespace read the same, reason and
	// message, in the conditions and the events.
	DescribeTable("tells a tenant no more about a missing host than about one that excludes it",
		func(refusedHost func() (host, ns string)) {
			host, ns := refusedHost()
			creates := sim.RequestCount("POST /nodes/{node}/lxc")
			app := appEnv{ns: ns, host: host}.app(nil)
			got := eventuallyApp(app, "False", v1alpha1.ReasonNamespaceNotAllowed)
			want := controllers.HostUnavailableMessage(host, ns)
			for _, typ := range []string{v1alpha1.ConditionReady, v1alpha1.ConditionStalled} {
				c := meta.FindStatusCondition(got.Status.Conditions, typ)
				Expect(c).NotTo(BeNil(), typ)
				Expect(c.Reason).To(Equal(v1alpha1.ReasonNamespaceNotAllowed), typ)
				Expect(c.Message).To(Equal(want), typ)
			}
			Eventually(func() []string { return eventReasons(app) }).Should(ContainElement(v1alpha1.ReasonNamespaceNotAllowed))
			Expect(eventReasons(app)).NotTo(ContainElement(v1alpha1.ReasonHostNotFound))
			Expect(sim.RequestCount("POST /nodes/{node}/lxc")).To(Equal(creates))
		},
		Entry("a host that does not exist", missingHost),
		Entry("a host whose allowedNamespaces excludes the namespace", excludingHost),
	)
})

// missingHost is a fresh namespace and the name of a ProxmoxHost that does
// not exist.
func missingHost() (host, ns string) {
	e := newAppEnv(nil)
	return e.host + "-missing", e.ns
}

// excludingHost is a fresh namespace and a ProxmoxHost whose
// allowedNamespaces excludes it.
func excludingHost() (host, ns string) {
	e := newAppEnv(func(h *v1alpha1.ProxmoxHost) {
		h.Spec.AllowedNamespaces = &metav1.LabelSelector{MatchLabels: map[string]string{"proxmox-allowed": "true"}}
	})
	return e.host, e.ns
}

func eventReasons(app *v1alpha1.Application) []string {
	var reasons []string
	evs := &corev1.EventList{}
	Expect(k8s.List(ctx, evs, client.InNamespace(app.Namespace))).To(Succeed())
	for _, e := range evs.Items {
		if e.InvolvedObject.Name == app.Name {
			reasons = append(reasons, e.Reason)
		}
	}
	return reasons
}

// appliedKeys lists the keys of each config PUT the operator reported for
// app, one "k1, k2" string per Updating event.
func appliedKeys(app *v1alpha1.Application) []string {
	var out []string
	evs := &corev1.EventList{}
	Expect(k8s.List(ctx, evs, client.InNamespace(app.Namespace))).To(Succeed())
	for _, e := range evs.Items {
		if e.InvolvedObject.UID == app.UID && e.Reason == v1alpha1.ReasonUpdating {
			keys, _, _ := strings.Cut(strings.TrimPrefix(e.Message, "applied "), " to container")
			out = append(out, keys)
		}
	}
	return out
}

func deleteInSim(vmid int32) error { return sim.RemoveContainer(int(vmid)) }

// firstClaim orders two rival Applications as the operator does: the older
// wins, and creation timestamps have one-second resolution, so two created
// in the same second are ordered by namespace/name ("app10" before "app9").
func firstClaim(x, y *v1alpha1.Application) (winner, loser *v1alpha1.Application) {
	gx, gy := getApp(x), getApp(y)
	if controllers.ClaimsFirst(gy, gx) {
		return y, x
	}
	return x, y
}
