package controllers_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

var rootSeq atomic.Int64

// rootCredentials creates a Secret with root@pam and password and returns
// a reference to it.
func rootCredentials(password string) *v1alpha1.SecretReference {
	name := fmt.Sprintf("root-creds-%d", rootSeq.Add(1))
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: credsNamespace},
		StringData: map[string]string{"username": "root@pam", "password": password},
	}
	ExpectWithOffset(1, k8s.Create(ctx, secret)).To(Succeed())
	DeferCleanup(func() { Expect(client.IgnoreNotFound(k8s.Delete(ctx, secret))).To(Succeed()) })
	return &v1alpha1.SecretReference{Name: name, Namespace: credsNamespace}
}

// newSnippet puts a fresh hookscript volume on the simulator's local
// storage and returns its volid.
func newSnippet() string {
	volid := fmt.Sprintf("local:snippets/hook-%d.sh", rootSeq.Add(1))
	ExpectWithOffset(1, sim.AddSnippet(volid)).To(Succeed())
	return volid
}

// grantHostAccess lets the env's namespace reach what the lists name,
// besides the adoption grant newAppEnv gives.
func grantHostAccess(ns string, paths, devices, hooks []string) func(*v1alpha1.ProxmoxHost) {
	return func(h *v1alpha1.ProxmoxHost) {
		h.Spec.Grants = append(h.Spec.Grants, v1alpha1.TenantGrant{
			NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}},
			HostPaths:         paths, Devices: devices, Hookscripts: hooks,
		})
	}
}

// patchHost changes a ProxmoxHost's spec.
func patchHost(name string, mutate func(*v1alpha1.ProxmoxHost)) {
	h := &v1alpha1.ProxmoxHost{}
	ExpectWithOffset(1, k8s.Get(ctx, client.ObjectKey{Name: name}, h)).To(Succeed())
	patch := client.MergeFrom(h.DeepCopy())
	mutate(h)
	ExpectWithOffset(1, k8s.Patch(ctx, h, patch)).To(Succeed())
}

// eventuallyRootCredentials waits for the host's RootCredentials condition.
func eventuallyRootCredentials(name, status, reason string) *v1alpha1.ProxmoxHost {
	return eventuallyHostCondition(name, v1alpha1.ConditionRootCredentials, status, reason)
}

func readyMessageOf(app *v1alpha1.Application) string {
	return meta.FindStatusCondition(getApp(app).Status.Conditions, v1alpha1.ConditionReady).Message
}

// configValue is key's value in the simulator: pending if a restart is
// due, else current.
func configValue(vmid int32, key string) string {
	ct := simCT(vmid)
	if v, ok := ct.Pending[key]; ok {
		return v
	}
	return ct.Config[key]
}

// hostPowered is a container declaring a bind mount, a device, a
// hookscript and keyctl: everything only root@pam may set.
func hostPowered(vmid int32, hook string) func(*v1alpha1.Application) {
	return func(a *v1alpha1.Application) {
		a.Spec.VMID = ptr.To(vmid)
		a.Spec.MountPoints = []v1alpha1.MountPoint{{Name: "mp0", HostPath: "/srv/data/app", Path: "/data"}}
		a.Spec.Devices = []v1alpha1.Device{{Name: "dev0", Path: "/dev/fuse"}}
		a.Spec.Hookscript = hook
		a.Spec.Features = &v1alpha1.Features{Nesting: true, Keyctl: true}
	}
}

var _ = Describe("Root-only settings", func() {
	It("stalls RootRequired naming the keys without sending anything, and creates the container once root credentials are added", func() {
		hook := newSnippet()
		e := newAppEnv(nil)
		patchHost(e.host, grantHostAccess(e.ns, []string{"/srv/data"}, []string{"/dev/fuse"}, []string{hook}))
		eventuallyReady(e.host, "True", v1alpha1.ReasonConnected)
		const vmid = 9401
		creates := sim.RequestCount("POST /nodes/{node}/lxc")
		app := e.app(hostPowered(vmid, hook))

		got := eventuallyStalled(app, v1alpha1.ReasonRootRequired)
		msg := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady).Message
		Expect(msg).To(SatisfyAll(ContainSubstring("dev0"), ContainSubstring("features"), ContainSubstring("hookscript"),
			ContainSubstring("mp0"), ContainSubstring("spec.rootCredentialsRef")))
		// Nothing reached Proxmox, and the verdict's own status write does
		// not try again: no 403, no loop.
		Consistently(func() int { return sim.MutatingRequests(vmid) }, "3s").Should(BeZero())
		Expect(sim.RequestCount("POST /nodes/{node}/lxc")).To(Equal(creates))
		Expect(got.Status.VMID).To(BeZero(), "no VMID was taken")
		Expect(countReason(app, v1alpha1.ReasonRootRequired)).To(Equal(1), "events: %v", eventReasons(app))

		patchHost(e.host, func(h *v1alpha1.ProxmoxHost) { h.Spec.RootCredentialsRef = rootCredentials(pvesim.DefaultRootPassword) })
		eventuallyRootCredentials(e.host, "True", v1alpha1.ReasonConnected)
		eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
		Expect(sim.MutatingRequests(vmid)).To(BeNumerically(">=", 1))
		ct := simCT(vmid)
		Expect(ct.Config["mp0"]).To(HavePrefix("/srv/data/app,"))
		Expect(ct.Config["mp0"]).To(ContainSubstring("mp=/data"))
		Expect(ct.Config["dev0"]).To(ContainSubstring("/dev/fuse"))
		Expect(ct.Config["hookscript"]).To(Equal(hook))
		Expect(ct.Config["features"]).To(ContainSubstring("keyctl=1"))
		// The one create carried the owner and went through root@pam.
		tasks := tasksOf(pvesim.TaskCreate, int32(vmid))
		Expect(tasks).To(HaveLen(1))
		Expect(tasks[0].User).To(Equal("root@pam"))
		Expect(ownedBy(app)).To(Equal(1))
	})

	It("applies ordinary keys through the token and stalls only the root-only rest, which root credentials then apply", func() {
		e := newAppEnv(nil)
		patchHost(e.host, grantHostAccess(e.ns, []string{"/srv/data"}, []string{"/dev/dri/"}, nil))
		eventuallyReady(e.host, "True", v1alpha1.ReasonConnected)
		const vmid = 9402
		app := eventuallyApp(e.app(func(a *v1alpha1.Application) { a.Spec.VMID = ptr.To[int32](vmid) }), "True", v1alpha1.ReasonReconciled)

		update(app, func(a *v1alpha1.Application) {
			a.Spec.Resources.Memory = ptr.To(resource.MustParse("1Gi"))
			a.Spec.MountPoints = []v1alpha1.MountPoint{{Name: "mp1", HostPath: "/srv/data/shared", Path: "/shared", VolumeOptions: v1alpha1.VolumeOptions{ReadOnly: true}}}
			a.Spec.Devices = []v1alpha1.Device{{Name: "dev0", Path: "/dev/dri/renderD128", GID: ptr.To[int64](44)}}
		})
		eventuallyStalled(app, v1alpha1.ReasonRootRequired)
		Expect(readyMessageOf(app)).To(SatisfyAll(ContainSubstring("dev0"), ContainSubstring("mp1"), Not(ContainSubstring("memory"))))
		Expect(configValue(vmid, "memory")).To(Equal("1024"), "the token applied the ordinary key")
		Expect(configValue(vmid, "mp1")).To(BeEmpty())
		Expect(configValue(vmid, "dev0")).To(BeEmpty())

		patchHost(e.host, func(h *v1alpha1.ProxmoxHost) { h.Spec.RootCredentialsRef = rootCredentials(pvesim.DefaultRootPassword) })
		eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
		Expect(configValue(vmid, "mp1")).To(SatisfyAll(HavePrefix("/srv/data/shared,"), ContainSubstring("ro=1")))
		Expect(configValue(vmid, "dev0")).To(SatisfyAll(ContainSubstring("/dev/dri/renderD128"), ContainSubstring("gid=44")))
	})

	DescribeTable("root credentials that do not work leave the host Ready, say why root-only changes wait, and never show the password",
		func(data map[string]string, reason string) {
			e := newAppEnv(nil)
			ref := &v1alpha1.SecretReference{Name: fmt.Sprintf("root-creds-%d", rootSeq.Add(1)), Namespace: credsNamespace}
			if data != nil {
				secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: ref.Name, Namespace: ref.Namespace}, StringData: data}
				Expect(k8s.Create(ctx, secret)).To(Succeed())
				DeferCleanup(func() { Expect(client.IgnoreNotFound(k8s.Delete(ctx, secret))).To(Succeed()) })
			}
			patchHost(e.host, func(h *v1alpha1.ProxmoxHost) {
				h.Spec.RootCredentialsRef = ref
				grantHostAccess(e.ns, nil, []string{"/dev/fuse"}, nil)(h)
			})
			host := eventuallyRootCredentials(e.host, "False", reason)
			Expect(meta.IsStatusConditionTrue(host.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue(), "the token still works")
			app := e.app(func(a *v1alpha1.Application) { a.Spec.Devices = []v1alpha1.Device{{Name: "dev0", Path: "/dev/fuse"}} })
			eventuallyStalled(app, v1alpha1.ReasonRootRequired)
			Expect(readyMessageOf(app)).To(SatisfyAll(ContainSubstring("dev0"), ContainSubstring("do not work"), ContainSubstring(reason)))
			Expect(hostEvents(host, reason)).NotTo(BeEmpty(), "the failing root credentials were an event")

			var haystack strings.Builder
			for _, st := range []any{host.Status, getApp(app).Status} {
				b, err := json.Marshal(st)
				Expect(err).NotTo(HaveOccurred())
				haystack.Write(b)
			}
			for _, ev := range hostEvents(host, reason) {
				haystack.WriteString(ev.Note)
			}
			haystack.WriteString(logs.String())
			if pw := data["password"]; pw != "" {
				Expect(haystack.String()).NotTo(ContainSubstring(pw))
			}
		},
		Entry("a wrong password", map[string]string{"username": "root@pam", "password": "Wr0ng-r00t-pw-4711"}, v1alpha1.ReasonAuthenticationFailed),
		Entry("a user other than root@pam", map[string]string{"username": "admin@pve", "password": "Adm1n-pw-0815"}, v1alpha1.ReasonCredentialsInvalid),
		Entry("a Secret that does not exist", nil, v1alpha1.ReasonCredentialsNotFound),
	)
})

var _ = Describe("Tenancy for host-level power", func() {
	It("denies a bind mount outside the granted host paths, a sibling prefix included, before anything is sent, and stops changes once the grant is revoked", func() {
		e := newAppEnv(nil)
		patchHost(e.host, func(h *v1alpha1.ProxmoxHost) { h.Spec.RootCredentialsRef = rootCredentials(pvesim.DefaultRootPassword) })
		eventuallyRootCredentials(e.host, "True", v1alpha1.ReasonConnected)
		const vmid = 9403
		creates := sim.RequestCount("POST /nodes/{node}/lxc")
		app := e.app(func(a *v1alpha1.Application) {
			a.Spec.VMID = ptr.To[int32](vmid)
			a.Spec.MountPoints = []v1alpha1.MountPoint{{Name: "mp0", HostPath: "/srv/data2/x", Path: "/data"}}
		})
		eventuallyStalled(app, v1alpha1.ReasonHostPathNotAllowed)
		Expect(readyMessageOf(app)).To(SatisfyAll(ContainSubstring("/srv/data2/x"), ContainSubstring("allows none")))

		// Granting /srv/data does not let /srv/data2 through.
		patchHost(e.host, grantHostAccess(e.ns, []string{"/srv/data"}, nil, nil))
		Eventually(func() string { return readyMessageOf(app) }).Should(ContainSubstring("allows /srv/data"))
		eventuallyStalled(app, v1alpha1.ReasonHostPathNotAllowed)
		Expect(sim.MutatingRequests(vmid)).To(BeZero())
		Expect(sim.RequestCount("POST /nodes/{node}/lxc")).To(Equal(creates))

		update(app, func(a *v1alpha1.Application) { a.Spec.MountPoints[0].HostPath = "/srv/data/x" })
		eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
		Expect(simCT(vmid).Config["mp0"]).To(HavePrefix("/srv/data/x,"))

		// Revoked: nothing more is changed, and nothing already there is taken away.
		patchHost(e.host, func(h *v1alpha1.ProxmoxHost) { h.Spec.Grants = h.Spec.Grants[:1] })
		eventuallyStalled(app, v1alpha1.ReasonHostPathNotAllowed)
		update(app, func(a *v1alpha1.Application) { a.Spec.Resources.Cores = ptr.To[int32](2) })
		Consistently(func() string { return configValue(vmid, "cores") }, "2s").Should(Equal("1"))
		Expect(simCT(vmid).Config["mp0"]).To(HavePrefix("/srv/data/x,"))
	})

	It("allows only the granted devices and hookscripts, and still asks a grant for privileged containers", func() {
		allowed, other := newSnippet(), newSnippet()
		e := newAppEnv(nil)
		patchHost(e.host, func(h *v1alpha1.ProxmoxHost) {
			h.Spec.RootCredentialsRef = rootCredentials(pvesim.DefaultRootPassword)
			grantHostAccess(e.ns, nil, []string{"/dev/dri/"}, []string{allowed})(h)
		})
		eventuallyRootCredentials(e.host, "True", v1alpha1.ReasonConnected)
		const vmid = 9404
		app := e.app(func(a *v1alpha1.Application) {
			a.Spec.VMID = ptr.To[int32](vmid)
			a.Spec.Devices = []v1alpha1.Device{{Name: "dev0", Path: "/dev/sda"}}
		})
		eventuallyStalled(app, v1alpha1.ReasonDeviceNotAllowed)
		Expect(readyMessageOf(app)).To(SatisfyAll(ContainSubstring("dev0"), ContainSubstring("/dev/sda"), ContainSubstring("/dev/dri/")))

		update(app, func(a *v1alpha1.Application) {
			a.Spec.Devices[0].Path = "/dev/dri/renderD128"
			a.Spec.Hookscript = other
		})
		eventuallyStalled(app, v1alpha1.ReasonHookscriptNotAllowed)
		Expect(readyMessageOf(app)).To(ContainSubstring(other))
		Expect(sim.MutatingRequests(vmid)).To(BeZero())

		update(app, func(a *v1alpha1.Application) { a.Spec.Hookscript = allowed })
		eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
		Expect(simCT(vmid).Config["dev0"]).To(ContainSubstring("/dev/dri/renderD128"))
		Expect(simCT(vmid).Config["hookscript"]).To(Equal(allowed))

		privileged := e.app(func(a *v1alpha1.Application) { a.Spec.Unprivileged = ptr.To(false) })
		eventuallyStalled(privileged, v1alpha1.ReasonPrivilegeNotAllowed)
	})
})
