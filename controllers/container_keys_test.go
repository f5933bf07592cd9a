package controllers_test

import (
	"maps"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

// restartRequired is the RestartRequired message, "" when there is none.
func restartRequired(app *v1alpha1.Application) string {
	c := meta.FindStatusCondition(getApp(app).Status.Conditions, v1alpha1.ConditionRestartRequired)
	if c == nil {
		return ""
	}
	return c.Message
}

// lifeCycleTasks counts the tasks that would mean the container was
// replaced or restarted.
func lifeCycleTasks(vmid int32) map[string]int {
	out := map[string]int{}
	for _, typ := range []string{"vzcreate", "vzdestroy", "vzstart", "vzstop", "vzshutdown", "vzreboot"} {
		out[typ] = len(tasksOf(typ, vmid))
	}
	return out
}

// patchSpec merge-patches app: the typed client drops an empty list, which
// the spec needs to say "none" rather than "left as found".
func patchSpec(app *v1alpha1.Application, patch string) {
	ExpectWithOffset(1, k8s.Patch(ctx, getApp(app), client.RawPatch(types.MergePatchType, []byte(patch)))).To(Succeed())
}

// volumeExists reports whether the simulator's storage still holds volid.
func volumeExists(volid string) bool {
	for _, v := range sim.State().Volumes {
		if v.Volid == volid {
			return true
		}
	}
	return false
}

// restartOutOfBand stops the container as a crash would; the operator
// starts it again, which applies what was pending.
func restartOutOfBand(app *v1alpha1.Application) {
	vmid := getApp(app).Status.VMID
	starts := len(tasksOf("vzstart", vmid))
	ExpectWithOffset(1, sim.SetRunning(int(vmid), false)).To(Succeed())
	EventuallyWithOffset(1, func() int { return len(tasksOf("vzstart", vmid)) }, "30s").Should(BeNumerically(">", starts))
	EventuallyWithOffset(1, func() string { return simCT(vmid).Status }).Should(Equal("running"))
}

// expectNoDrift checks that the spec matches the container as PVE now
// stores it (pending values folded in, as the operator reads it): what
// the operator wrote and PVE normalised must not look like a change, or
// every drift check would write it again.
func expectNoDrift(app *v1alpha1.Application) {
	ct := simCT(getApp(app).Status.VMID)
	cfg := maps.Clone(ct.Config)
	maps.Copy(cfg, ct.Pending)
	for _, k := range ct.PendingDelete {
		delete(cfg, k)
	}
	ch := lxcconfig.Diff(getApp(app), cfg, nil)
	ExpectWithOffset(1, ch.Empty()).To(BeTrue(), "drift against PVE's own forms: set %v, delete %v, resize %v", ch.Set, ch.Delete, ch.Resizes)
}

// contentKeys declares the keys an API token may set (the root-only ones
// are covered by lxcconfig's unit tests and the root-credential specs).
func contentKeys(a *v1alpha1.Application) {
	s := &a.Spec
	s.Resources.CPULimit = ptr.To(resource.MustParse("1500m"))
	s.Resources.CPUUnits = ptr.To[int32](200)
	s.Resources.Swap = ptr.To(resource.MustParse("256Mi"))
	s.StartOnBoot = ptr.To(true)
	s.RootFS.VolumeOptions = v1alpha1.VolumeOptions{ACL: ptr.To(true), MountOptions: []string{"noatime"}}
	s.MountPoints = []v1alpha1.MountPoint{{Name: "mp0", Storage: "local-lvm", Size: ptr.To(resource.MustParse("1Gi")), Path: "/srv",
		Backup: true, KeepAttrs: true, VolumeOptions: v1alpha1.VolumeOptions{Replicate: ptr.To(false), MountOptions: []string{"nodev", "noatime"}}}}
	s.Network[0].MACAddress = "BC:24:11:5A:00:01"
	s.Network[0].Rate = ptr.To(resource.MustParse("12.5"))
	s.Network[0].Trunks = []int32{20, 10}
	s.Network[0].IPv6 = "manual"
	s.Network[0].HostManaged = ptr.To(true)
	s.Features = &v1alpha1.Features{Nesting: true}
	s.Startup = &v1alpha1.Startup{Order: ptr.To[int32](2), UpDelaySeconds: ptr.To[int32](5)}
	s.Timezone = "Europe/Vienna"
	s.OSType = "debian"
	s.Arch = "amd64"
	s.Console = ptr.To(false)
	s.ConsoleMode = "shell"
	s.TTYs = ptr.To[int32](3)
	s.Debug = ptr.To(true)
	s.Description = ptr.To("Web frontend of team A.")
}

var _ = Describe("Application container keys", func() {
	var e appEnv
	BeforeEach(func() {
		// The adopted container below reaches the node: the host allows it.
		e = newAppEnv(func(h *v1alpha1.ProxmoxHost) {
			h.Spec.Grants[0].HostPaths = []string{"/tank"}
			h.Spec.Grants[0].Devices = []string{"/dev/dri/"}
			h.Spec.Grants[0].Hookscripts = []string{"local:snippets/hook.sh"}
		})
		eventuallyReady(e.host, "True", v1alpha1.ReasonConnected)
	})

	It("creates with every token-settable key, applies hot keys at once and the rest after a restart, and removes them", func() {
		app := eventuallyApp(e.app(contentKeys), "True", v1alpha1.ReasonReconciled)
		vmid := app.Status.VMID
		ct := simCT(vmid)
		Expect(ct.Config).To(HaveKeyWithValue("cpulimit", "1.5"))
		Expect(ct.Config).To(HaveKeyWithValue("cpuunits", "200"))
		Expect(ct.Config["rootfs"]).To(And(ContainSubstring("acl=1"), ContainSubstring("mountoptions=noatime"), ContainSubstring("size=4G")))
		Expect(ct.Config["mp0"]).To(And(ContainSubstring("mp=/srv"), ContainSubstring("backup=1"), ContainSubstring("keepattrs=1"),
			ContainSubstring("replicate=0"), ContainSubstring("mountoptions=noatime;nodev"), ContainSubstring("size=1G")))
		Expect(ct.Config["net0"]).To(And(ContainSubstring("hwaddr=BC:24:11:5A:00:01"), ContainSubstring("rate=12.5"),
			ContainSubstring("trunks=10;20"), ContainSubstring("ip6=manual"), ContainSubstring("host-managed=1")))
		Expect(ct.Config).To(And(HaveKeyWithValue("swap", "256"), HaveKeyWithValue("onboot", "1"), HaveKeyWithValue("arch", "amd64")))
		Expect(ct.Config).To(HaveKeyWithValue("features", "nesting=1"))
		Expect(ct.Config).To(HaveKeyWithValue("startup", "order=2,up=5"))
		for k, v := range map[string]string{"timezone": "Europe/Vienna", "ostype": "debian", "console": "0", "cmode": "shell", "tty": "3", "debug": "1"} {
			Expect(ct.Config).To(HaveKeyWithValue(k, v))
		}
		Expect(ct.Config["description"]).To(HavePrefix("Web frontend of team A.\n\n"))
		Expect(lxcconfig.MarkedFor(ct.Config["description"], string(app.UID))).To(BeTrue(), "the ownership note survives the user's text")
		Expect(app.Status.Config).To(HaveKeyWithValue("cpulimit", "1.5"))
		Expect(app.Status.Config).NotTo(HaveKey("digest"))
		expectNoDrift(app)
		mutations := sim.MutatingRequests(int(vmid))

		By("changing hot and pending keys on the running container")
		update(app, func(a *v1alpha1.Application) {
			a.Spec.Resources.CPULimit = ptr.To(resource.MustParse("2"))
			a.Spec.Resources.CPUUnits = ptr.To[int32](300)
			a.Spec.Startup.Order = ptr.To[int32](3)
			a.Spec.Network[0].Rate = ptr.To(resource.MustParse("25"))
			a.Spec.Network[0].LinkDown = true
			a.Spec.Resources.Swap = ptr.To(resource.MustParse("512Mi"))
			a.Spec.StartOnBoot = ptr.To(false)
			a.Spec.OSType = "ubuntu"
			a.Spec.Arch = "arm64"
			a.Spec.Console = ptr.To(true)
			a.Spec.Description = ptr.To("Web frontend of team B.")
			a.Spec.Timezone = "UTC"
			a.Spec.TTYs = ptr.To[int32](4)
			a.Spec.ConsoleMode = "tty"
			a.Spec.Debug = ptr.To(false)
			a.Spec.Features = &v1alpha1.Features{}
		})
		Eventually(restartRequired).WithArguments(app).Should(And(ContainSubstring("timezone"), ContainSubstring("tty"),
			ContainSubstring("cmode"), ContainSubstring("debug"), ContainSubstring("features"), ContainSubstring("ostype"),
			ContainSubstring("arch"), ContainSubstring("console")))
		ct = simCT(vmid)
		Expect(ct.Config).To(And(HaveKeyWithValue("cpulimit", "2"), HaveKeyWithValue("cpuunits", "300"), HaveKeyWithValue("startup", "order=3,up=5")))
		Expect(ct.Config["net0"]).To(And(ContainSubstring("rate=25"), ContainSubstring("link_down=1"), ContainSubstring("hwaddr=BC:24:11:5A:00:01")))
		Expect(ct.Config).To(And(HaveKeyWithValue("swap", "512"), HaveKeyWithValue("onboot", "0")))
		Expect(ct.Config["description"]).To(HavePrefix("Web frontend of team B.\n\n"))
		Expect(ct.Config).To(HaveKeyWithValue("timezone", "Europe/Vienna"), "timezone waits for the restart")
		Expect(ct.Pending).To(And(HaveKeyWithValue("timezone", "UTC"), HaveKeyWithValue("tty", "4"), HaveKeyWithValue("cmode", "tty")))
		Expect(ct.PendingDelete).To(ContainElement("features"))
		Expect(sim.MutatingRequests(int(vmid))).To(Equal(mutations+1), "one config PUT carries every change")
		expectNoDrift(app)

		By("restarting the container")
		restartOutOfBand(app)
		Eventually(restartRequired).WithArguments(app).Should(BeEmpty())
		ct = simCT(vmid)
		Expect(ct.Config).To(And(HaveKeyWithValue("timezone", "UTC"), HaveKeyWithValue("tty", "4"), HaveKeyWithValue("debug", "0"),
			HaveKeyWithValue("cmode", "tty"), HaveKeyWithValue("ostype", "ubuntu"), HaveKeyWithValue("arch", "arm64"), HaveKeyWithValue("console", "1")))
		Expect(ct.Config).NotTo(HaveKey("features"))
		expectNoDrift(app)

		By("removing what can be removed")
		update(app, func(a *v1alpha1.Application) {
			a.Spec.Resources.CPULimit = ptr.To(resource.MustParse("0"))
			a.Spec.Network[0].Rate, a.Spec.Network[0].Trunks = nil, nil
			a.Spec.Description = nil
		})
		Eventually(func() map[string]string { return simCT(vmid).Config }).ShouldNot(HaveKey("cpulimit"))
		Eventually(func() string { return simCT(vmid).Config["net0"] }).ShouldNot(Or(ContainSubstring("rate="), ContainSubstring("trunks=")))
		eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
		Expect(simCT(vmid).Config["description"]).To(HavePrefix("Web frontend of team B."), "an omitted description is left as found")
	})

	It("adds, grows, re-options and detaches mount points of a running container without replacing or restarting it", func() {
		app := eventuallyApp(e.app(func(a *v1alpha1.Application) {
			a.Spec.MountPoints = []v1alpha1.MountPoint{{Name: "mp0", Storage: "local-lvm", Size: ptr.To(resource.MustParse("1Gi")), Path: "/data"}}
		}), "True", v1alpha1.ReasonReconciled)
		vmid := app.Status.VMID
		volume := lxcconfig.ParseProps(simCT(vmid).Config["mp0"])[""]
		before := lifeCycleTasks(vmid)

		update(app, func(a *v1alpha1.Application) {
			a.Spec.MountPoints[0].Size = ptr.To(resource.MustParse("3Gi"))
			a.Spec.MountPoints[0].ReadOnly = true
			a.Spec.MountPoints[0].MountOptions = []string{"noexec"}
			a.Spec.RootFS.MountOptions = []string{"noatime"}
			a.Spec.MountPoints = append(a.Spec.MountPoints, v1alpha1.MountPoint{Name: "mp1", Storage: "local-lvm", Size: ptr.To(resource.MustParse("1Gi")), Path: "/logs"})
		})
		Eventually(restartRequired).WithArguments(app).Should(And(ContainSubstring("mp0"), ContainSubstring("rootfs")))
		got := eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
		ct := simCT(vmid)
		Expect(ct.Config["mp0"]).To(And(HavePrefix(volume+","), ContainSubstring("size=3G")), "grown in place")
		Expect(ct.Pending["mp0"]).To(And(HavePrefix(volume+","), ContainSubstring("ro=1"), ContainSubstring("mountoptions=noexec"), ContainSubstring("size=3G")),
			"new options wait for the restart, with the grown size")
		Expect(ct.Config["mp1"]).To(ContainSubstring("mp=/logs"), "a new mount point is hotplugged")
		Expect(got.Status.VMID).To(Equal(vmid))
		Expect(ct.Status).To(Equal("running"))
		Expect(lifeCycleTasks(vmid)).To(Equal(before), "never recreated, never restarted")
		expectNoDrift(app)

		By("growing it again while its options wait in pending")
		update(app, func(a *v1alpha1.Application) { a.Spec.MountPoints[0].Size = ptr.To(resource.MustParse("4Gi")) })
		Eventually(func(g Gomega) {
			ct := simCT(vmid)
			g.Expect(ct.Config["mp0"]).To(ContainSubstring("size=4G"))
			g.Expect(ct.Pending["mp0"]).To(ContainSubstring("size=4G"), "the next start must not bring the old size back")
		}).Should(Succeed())
		eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
		expectNoDrift(app)

		By("detaching a mount point removed from the spec")
		mp1 := lxcconfig.ParseProps(ct.Config["mp1"])[""]
		update(app, func(a *v1alpha1.Application) { a.Spec.MountPoints = a.Spec.MountPoints[:1] })
		Eventually(restartRequired).WithArguments(app).Should(ContainSubstring("mp1"))
		Expect(simCT(vmid).PendingDelete).To(ContainElement("mp1"))
		restartOutOfBand(app)
		Eventually(restartRequired).WithArguments(app).Should(BeEmpty())
		ct = simCT(vmid)
		Expect(ct.Config).NotTo(HaveKey("mp1"))
		Expect(ct.Config).To(HaveKeyWithValue("unused0", mp1), "the detached volume is kept")
		Expect(ct.Config["mp0"]).To(And(HavePrefix(volume+","), ContainSubstring("ro=1"), ContainSubstring("size=4G")))
		Expect(ct.Config["rootfs"]).To(And(ContainSubstring("mountoptions=noatime"), ContainSubstring("size=4G")))
	})

	It("destroys a detached mount point's volume when detachedVolumes is Delete", func() {
		app := eventuallyApp(e.app(func(a *v1alpha1.Application) {
			a.Spec.PowerState = v1alpha1.PowerStateStopped
			a.Spec.DetachedVolumes = v1alpha1.DetachedVolumesDelete
			a.Spec.MountPoints = []v1alpha1.MountPoint{{Name: "mp0", Storage: "local-lvm", Size: ptr.To(resource.MustParse("1Gi")), Path: "/scratch"}}
		}), "True", v1alpha1.ReasonReconciled)
		vmid := app.Status.VMID
		volume := lxcconfig.ParseProps(simCT(vmid).Config["mp0"])[""]
		Expect(volumeExists(volume)).To(BeTrue())

		patchSpec(app, `{"spec":{"mountPoints":[]}}`)
		Eventually(func(g Gomega) {
			cfg := simCT(vmid).Config
			g.Expect(cfg).NotTo(HaveKey("mp0"))
			for k := range cfg {
				g.Expect(k).NotTo(HavePrefix("unused"), "the detached volume is not kept")
			}
		}).Should(Succeed())
		Expect(volumeExists(volume)).To(BeFalse(), "the volume is destroyed")
		eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
	})

	It("adopts a container using every content key and leaves each as found, showing them in status", func() {
		seeded := map[string]string{
			"hostname": "keys-legacy", "memory": "1024", "cores": "2", "cpulimit": "1.5", "cpuunits": "512", "unprivileged": "1",
			"rootfs":   "local-lvm:vm-7610-disk-0,acl=0,mountoptions=noatime,size=8G",
			"mp0":      "local-lvm:vm-7610-disk-1,mp=/srv,backup=1,keepattrs=1,replicate=0,size=2G",
			"mp1":      "/tank/media,mp=/media,ro=1",
			"net0":     "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:5A:76:10,ip=dhcp,link_down=1,rate=7.5,trunks=10;20,type=veth",
			"dev0":     "/dev/dri/renderD128,gid=44,mode=0660",
			"features": "nesting=1,mount=nfs", "startup": "order=4,up=10", "hookscript": "local:snippets/hook.sh",
			"timezone": "Europe/Berlin", "ostype": "ubuntu", "console": "0", "cmode": "console", "tty": "1", "debug": "1",
			"description": "Hand-made by ops.", "protection": "1", "onboot": "1",
		}
		Expect(sim.AddContainer("pve1", 7610, seeded, true)).To(Succeed())
		app := e.app(func(a *v1alpha1.Application) {
			a.Spec = v1alpha1.ApplicationSpec{HostRef: a.Spec.HostRef, VMID: ptr.To[int32](7610), Adopt: true, Hostname: "keys-legacy"}
		})
		got := eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
		after := maps.Clone(simCT(7610).Config)
		Expect(after["tags"]).To(ContainSubstring(lxcconfig.OwnerTag(string(got.UID))))
		delete(after, "tags")
		for k, v := range seeded {
			Expect(after).To(HaveKeyWithValue(k, v), "adoption left %s untouched", k)
		}
		for k, v := range seeded {
			Expect(got.Status.Config).To(HaveKeyWithValue(k, v), "status.config shows %s", k)
		}
		Expect(lifeCycleTasks(7610)).To(HaveKeyWithValue("vzstart", 0))
	})

	It("converges bind mounts, devices, a hookscript and root-only features with root credentials, from create through change to removal", func() {
		hook1, hook2 := newSnippet(), newSnippet()
		patchHost(e.host, func(h *v1alpha1.ProxmoxHost) {
			h.Spec.RootCredentialsRef = rootCredentials(pvesim.DefaultRootPassword)
			grantHostAccess(e.ns, nil, nil, []string{hook1, hook2})(h)
		})
		eventuallyRootCredentials(e.host, "True", v1alpha1.ReasonConnected)
		app := eventuallyApp(e.app(func(a *v1alpha1.Application) {
			a.Spec.MountPoints = []v1alpha1.MountPoint{{Name: "mp0", HostPath: "/tank/media", Path: "/media", VolumeOptions: v1alpha1.VolumeOptions{ReadOnly: true}}}
			a.Spec.Devices = []v1alpha1.Device{{Name: "dev0", Path: "/dev/dri/renderD128", Mode: "0660", GID: ptr.To[int64](44)}}
			a.Spec.Hookscript = hook1
			a.Spec.Features = &v1alpha1.Features{Nesting: true, Mknod: true, Mount: []string{"nfs"}}
		}), "True", v1alpha1.ReasonReconciled)
		vmid := app.Status.VMID
		ct := simCT(vmid)
		Expect(ct.Config).To(HaveKeyWithValue("mp0", "/tank/media,mp=/media,ro=1"), "a bind mount has no size")
		Expect(lxcconfig.ParseProps(ct.Config["dev0"])).To(Equal(lxcconfig.Props{"": "/dev/dri/renderD128", "mode": "0660", "gid": "44"}))
		Expect(ct.Config).To(HaveKeyWithValue("hookscript", hook1))
		Expect(lxcconfig.ParseProps(ct.Config["features"])).To(Equal(lxcconfig.Props{"nesting": "1", "mknod": "1", "mount": "nfs"}))

		By("changing them on the running container")
		update(app, func(a *v1alpha1.Application) {
			a.Spec.MountPoints[0].HostPath = "/tank/video"
			a.Spec.Devices[0].Mode = "0666"
			a.Spec.Devices = append(a.Spec.Devices, v1alpha1.Device{Name: "dev1", Path: "/dev/dri/card0", DenyWrite: true})
			a.Spec.Hookscript = hook2
			a.Spec.Features.Mount = []string{"nfs", "cifs"}
		})
		Eventually(restartRequired).WithArguments(app).Should(And(ContainSubstring("mp0"), ContainSubstring("dev0"), ContainSubstring("features")))
		ct = simCT(vmid)
		Expect(ct.Config).To(HaveKeyWithValue("hookscript", hook2), "a hookscript applies at once")
		Expect(ct.Config["dev1"]).To(ContainSubstring("/dev/dri/card0"), "a new device is hotplugged")
		restartOutOfBand(app)
		Eventually(restartRequired).WithArguments(app).Should(BeEmpty())
		ct = simCT(vmid)
		Expect(ct.Config["mp0"]).To(HavePrefix("/tank/video,"))
		Expect(ct.Config["dev0"]).To(ContainSubstring("mode=0666"))
		Expect(ct.Config["features"]).To(ContainSubstring("mount=cifs;nfs"))
		expectNoDrift(app)

		By("removing the bind mount and the devices")
		// An empty list, not an omitted one (which leaves them as found);
		// the typed client would drop an empty slice, so it is patched.
		patchSpec(app, `{"spec":{"mountPoints":[],"devices":[]}}`)
		Eventually(restartRequired).WithArguments(app).Should(And(ContainSubstring("mp0"), ContainSubstring("dev0"), ContainSubstring("dev1")))
		restartOutOfBand(app)
		Eventually(restartRequired).WithArguments(app).Should(BeEmpty())
		ct = simCT(vmid)
		Expect(ct.Config).NotTo(Or(HaveKey("mp0"), HaveKey("dev0"), HaveKey("dev1"), HaveKey("unused0")), "a bind mount leaves no volume behind")
	})

	It("stalls with InvalidSpec, sending nothing, for a value Proxmox would refuse", func() {
		creates := sim.RequestCount("POST /nodes/{node}/lxc")
		bad := e.app(func(a *v1alpha1.Application) { a.Spec.Timezone = "Mars/Olympus_Mons" })
		got := eventuallyStalled(bad, v1alpha1.ReasonInvalidSpec)
		Expect(meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady).Message).To(ContainSubstring("invalid time zone 'Mars/Olympus_Mons'"))
		Expect(sim.RequestCount("POST /nodes/{node}/lxc")).To(Equal(creates))
		Expect(ownedBy(got)).To(BeZero())

		By("fixing the spec")
		update(bad, func(a *v1alpha1.Application) { a.Spec.Timezone = "Europe/Vienna" })
		got = eventuallyApp(bad, "True", v1alpha1.ReasonReconciled)

		By("breaking it again on the existing container")
		mutations := sim.MutatingRequests(int(got.Status.VMID))
		update(bad, func(a *v1alpha1.Application) { a.Spec.Timezone = "Atlantis/Capital" })
		eventuallyStalled(bad, v1alpha1.ReasonInvalidSpec)
		Expect(sim.MutatingRequests(int(got.Status.VMID))).To(Equal(mutations))
		Expect(simCT(got.Status.VMID).Config).To(HaveKeyWithValue("timezone", "Europe/Vienna"))
	})
})
