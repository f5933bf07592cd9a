package lxcconfig

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/pveparams"
)

// everyKey declares every content key the spec has beyond the basics.
func everyKey(s *v1alpha1.ApplicationSpec) {
	s.Resources.CPULimit = ptr.To(resource.MustParse("1500m"))
	s.Resources.CPUUnits = ptr.To[int32](2048)
	s.RootFS.VolumeOptions = v1alpha1.VolumeOptions{ACL: ptr.To(true), MountOptions: []string{"noatime", "discard"}, Replicate: ptr.To(false)}
	s.MountPoints = []v1alpha1.MountPoint{
		{Name: "mp0", Storage: "local-lvm", Size: ptr.To(resource.MustParse("4Gi")), Path: "/srv", Backup: true, KeepAttrs: true,
			VolumeOptions: v1alpha1.VolumeOptions{Quota: true, Shared: true, ReadOnly: true, MountOptions: []string{"nosuid", "nodev"}}},
		{Name: "mp1", HostPath: "/tank/media", Path: "/media", VolumeOptions: v1alpha1.VolumeOptions{ReadOnly: true}},
	}
	s.Network[0] = v1alpha1.NetworkInterface{
		Name: "eth0", Bridge: "vmbr1", MACAddress: "BC:24:11:AA:BB:CC", IPv4: "manual", IPv6: "manual",
		Rate: ptr.To(resource.MustParse("12.5")), Trunks: []int32{20, 10}, LinkDown: true, HostManaged: ptr.To(true),
	}
	s.Devices = []v1alpha1.Device{{Name: "dev0", Path: "/dev/dri/renderD128", Mode: "0660", UID: ptr.To[int64](0), GID: ptr.To[int64](44), DenyWrite: true}}
	s.Features = &v1alpha1.Features{Nesting: true, Mknod: true, ForceRWSys: true, Mount: []string{"nfs", "cifs"}}
	s.Startup = &v1alpha1.Startup{Order: ptr.To[int32](2), UpDelaySeconds: ptr.To[int32](30), DownTimeoutSeconds: ptr.To[int32](60)}
	s.Hookscript = "local:snippets/hook.sh"
	s.Timezone = "Europe/Vienna"
	s.OSType = "debian"
	s.Arch = "arm64"
	s.Console = ptr.To(false)
	s.ConsoleMode = "shell"
	s.TTYs = ptr.To[int32](4)
	s.Debug = ptr.To(true)
	s.Description = ptr.To("Web frontend.\nOwned by team A.")
}

func TestCreateParamsRenderEveryKeyAsPVEWritesIt(t *testing.T) {
	got := paramMap(CreateParams(app(everyKey)))
	want := map[string]string{
		"cpulimit": "1.5", "cpuunits": "2048",
		"rootfs":   "local-lvm:8,acl=1,mountoptions=discard;noatime,replicate=0",
		"mp0":      "local-lvm:4,mp=/srv,backup=1,ro=1,keepattrs=1,mountoptions=nodev;nosuid,quota=1,shared=1",
		"mp1":      "/tank/media,mp=/media,ro=1",
		"net0":     "name=eth0,bridge=vmbr1,hwaddr=BC:24:11:AA:BB:CC,ip=manual,ip6=manual,type=veth,host-managed=1,link_down=1,rate=12.5,trunks=10;20",
		"dev0":     "/dev/dri/renderD128,deny-write=1,gid=44,mode=0660,uid=0",
		"features": "force_rw_sys=1,mknod=1,mount=cifs;nfs,nesting=1",
		"startup":  "order=2,up=30,down=60", "hookscript": "local:snippets/hook.sh", "timezone": "Europe/Vienna",
		"ostype": "debian", "arch": "arm64", "console": "0", "cmode": "shell", "tty": "4", "debug": "1",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if d := got["description"]; !strings.HasPrefix(d, "Web frontend.\nOwned by team A.\n\n") || !strings.HasSuffix(d, Description("team-a", "web1", uid)) {
		t.Errorf("description = %q: want the user's text, then the ownership note", d)
	}
	if err := ValidateCreate(CreateParams(app(everyKey))); err != nil {
		t.Errorf("PVE's schema refuses the rendered create parameters: %v", err)
	}
}

func TestCreateParamsRenderQuantitiesAsPlainNumbers(t *testing.T) {
	cases := []struct {
		name, limit, want string
	}{
		{"a milli quantity is a fraction of a core", "500m", "0.5"},
		{"whole cores have no decimals", "2", "2"},
		{"a decimal stays as written", "0.25", "0.25"},
		{"0 is no limit and is not sent", "0", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := paramMap(CreateParams(app(func(s *v1alpha1.ApplicationSpec) { s.Resources.CPULimit = ptr.To(resource.MustParse(tc.limit)) })))
			if got["cpulimit"] != tc.want {
				t.Errorf("cpulimit = %q, want %q", got["cpulimit"], tc.want)
			}
		})
	}
}

func TestValidationRefusesWhatPVERefuses(t *testing.T) {
	cases := []struct {
		name  string
		spec  func(*v1alpha1.ApplicationSpec)
		param string
	}{
		{"a zone PVE does not know", func(s *v1alpha1.ApplicationSpec) { s.Timezone = "Mars/Olympus_Mons" }, "timezone"},
		{"a description too long with the ownership note beneath it", func(s *v1alpha1.ApplicationSpec) { s.Description = ptr.To(strings.Repeat("x", 8150)) }, "description"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := app(tc.spec)
			for _, err := range []error{ValidateCreate(CreateParams(a)), ValidateUpdate(Diff(a, observedFor(), nil).Set, nil)} {
				var inv *InvalidError
				if !errors.As(err, &inv) || inv.Params[tc.param] == "" {
					t.Fatalf("error = %v, want PVE's words for %s", err, tc.param)
				}
			}
		})
	}
	if err := ValidateUpdate(map[string]string{"timezone": "host"}, []string{"cpulimit", "mp3"}); err != nil {
		t.Errorf("a valid update is refused: %v", err)
	}
}

// pveForms is what PVE prints back for everyKey: property strings in its
// own key order and spelling, numbers as written, lists as written, the
// description with a newline after its last line.
func pveForms(o map[string]string) {
	o["cpulimit"] = "1.50"
	o["cpuunits"] = "2048"
	o["rootfs"] = "local-lvm:vm-100-disk-0,acl=1,mountoptions=noatime;discard,replicate=0,size=8G"
	o["mp0"] = "local-lvm:vm-100-disk-1,mp=/srv,backup=1,keepattrs=1,mountoptions=nosuid;nodev,quota=1,ro=1,shared=1,size=4G"
	o["mp1"] = "/tank/media,mp=/media,ro=1"
	o["net0"] = "name=eth0,bridge=vmbr1,host-managed=1,hwaddr=bc:24:11:aa:bb:cc,ip=manual,ip6=manual,link_down=1,rate=12.50,trunks=20;10,type=veth"
	o["dev0"] = "path=/dev/dri/renderD128,deny-write=1,gid=44,mode=0660,uid=0"
	o["features"] = "force_rw_sys=1,mknod=1,mount=nfs;cifs,nesting=1"
	o["startup"] = "up=30,order=2,down=60"
	o["hookscript"] = "local:snippets/hook.sh"
	o["timezone"] = "Europe/Vienna"
	o["ostype"] = "debian"
	o["arch"] = "arm64"
	o["console"] = "0"
	o["cmode"] = "shell"
	o["tty"] = "4"
	o["debug"] = "1"
	o["description"] = "Web frontend.\nOwned by team A.\n\n" + Description("team-a", "web1", uid) + "\n"
}

func TestDiffOfEveryKey(t *testing.T) {
	for _, tt := range append(noDriftCases(), keyDiffCases()...) {
		t.Run(tt.name, func(t *testing.T) { checkDiff(t, tt) })
	}
}

// noDriftCases are containers that already match: PVE's spellings of what
// the spec says must not look like changes.
func noDriftCases() []diffCase {
	return []diffCase{
		{name: "every key as PVE prints it back is no drift", spec: everyKey, observed: pveForms},
		{
			name:     "an adopted container's keys are left as found when the spec declares none",
			spec:     func(s *v1alpha1.ApplicationSpec) { s.Resources, s.RootFS, s.Network = nil, nil, nil },
			observed: pveForms,
		},
		{
			name: "declaring PVE's defaults on a container without those keys is no change",
			spec: func(s *v1alpha1.ApplicationSpec) {
				s.Console, s.TTYs, s.ConsoleMode, s.Debug, s.Arch = ptr.To(true), ptr.To[int32](2), "tty", ptr.To(false), "amd64"
			},
		},
		{
			name: "flags written off are the same as flags left out",
			spec: func(s *v1alpha1.ApplicationSpec) {
				s.MountPoints = []v1alpha1.MountPoint{{Name: "mp0", Storage: "local-lvm", Size: ptr.To(resource.MustParse("4Gi")), Path: "/srv"}}
				s.Devices = []v1alpha1.Device{{Name: "dev0", Path: "/dev/ttyUSB0"}}
			},
			observed: func(o map[string]string) {
				o["mp0"] = "local-lvm:vm-100-disk-1,mp=/srv,backup=0,ro=0,size=4G"
				o["net0"] = "name=eth0,bridge=vmbr0,firewall=0,hwaddr=BC:24:11:2E:C5:7E,ip=dhcp,link_down=0,type=veth"
				o["dev0"] = "path=/dev/ttyUSB0,deny-write=0"
			},
		},
	}
}

// keyDiffCases change, add or remove keys.
func keyDiffCases() []diffCase {
	return []diffCase{
		{
			name: "changed numbers, options and lists are set",
			spec: func(s *v1alpha1.ApplicationSpec) {
				everyKey(s)
				s.Resources.CPULimit = ptr.To(resource.MustParse("2"))
				s.Startup.Order = ptr.To[int32](3)
				s.Timezone = "UTC"
				s.Network[0].Trunks = []int32{10}
			},
			observed: pveForms,
			set: map[string]string{
				"cpulimit": "2", "startup": "order=3,up=30,down=60", "timezone": "UTC",
				"net0": "name=eth0,bridge=vmbr1,hwaddr=BC:24:11:AA:BB:CC,ip=manual,ip6=manual,type=veth,host-managed=1,link_down=1,rate=12.5,trunks=10",
			},
		},
		{
			name:     "a cpuLimit of 0 removes the limit",
			spec:     func(s *v1alpha1.ApplicationSpec) { everyKey(s); s.Resources.CPULimit = ptr.To(resource.MustParse("0")) },
			observed: pveForms,
			del:      []string{"cpulimit"},
		},
		{
			name: "devices removed from a declared list are removed, a changed one is set",
			spec: func(s *v1alpha1.ApplicationSpec) {
				everyKey(s)
				s.Devices = []v1alpha1.Device{{Name: "dev0", Path: "/dev/dri/renderD128"}}
			},
			observed: func(o map[string]string) { pveForms(o); o["dev1"] = "/dev/ttyUSB0" },
			set:      map[string]string{"dev0": "/dev/dri/renderD128"},
			del:      []string{"dev1"},
		},
		{
			name: "re-optioned volumes keep their volume and size",
			spec: func(s *v1alpha1.ApplicationSpec) {
				everyKey(s)
				s.RootFS.VolumeOptions = v1alpha1.VolumeOptions{}
				s.MountPoints[0].VolumeOptions = v1alpha1.VolumeOptions{MountOptions: []string{"noatime"}}
				s.MountPoints[1].HostPath = "/tank/video"
			},
			observed: pveForms,
			set: map[string]string{
				"rootfs": "local-lvm:vm-100-disk-0,size=8G",
				"mp0":    "local-lvm:vm-100-disk-1,mp=/srv,backup=1,size=4G,keepattrs=1,mountoptions=noatime",
				"mp1":    "/tank/video,mp=/media,ro=1",
			},
		},
		{
			name:     "a new description keeps the ownership note beneath it",
			spec:     func(s *v1alpha1.ApplicationSpec) { everyKey(s); s.Description = ptr.To("Moved to team B.") },
			observed: pveForms,
			set:      map[string]string{"description": "Moved to team B.\n\n" + Description("team-a", "web1", uid)},
		},
		{
			name:     "omitted NIC keys keep the generated MAC, declared ones replace it",
			spec:     func(s *v1alpha1.ApplicationSpec) { s.Network[0].MACAddress = "BC:24:11:00:00:01" },
			observed: nil,
			set:      map[string]string{"net0": "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=dhcp,type=veth"},
		},
	}
}

func paramMap(p pveparams.List) map[string]string {
	out := map[string]string{}
	for _, kv := range p {
		out[kv.Key] = kv.Value
	}
	return out
}

func TestPendingSizeRepair(t *testing.T) {
	const current = "local-lvm:vm-100-disk-1,mp=/srv,size=5G"
	cases := []struct {
		name, pending, want string
		repair              bool
	}{
		{"options pending with the old size get the grown size", "local-lvm:vm-100-disk-1,mp=/srv,ro=1,size=3G", "local-lvm:vm-100-disk-1,mp=/srv,ro=1,size=5G", true},
		{"a pending value with the current size needs nothing", "local-lvm:vm-100-disk-1,mp=/srv,ro=1,size=5G", "", false},
		{"nothing pending needs nothing", "", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := PendingSizeRepair(Resize{Disk: "mp0", Size: "5G"}, current, tc.pending)
			if ok != tc.repair || got != tc.want {
				t.Errorf("PendingSizeRepair = %q, %v; want %q, %v", got, ok, tc.want, tc.repair)
			}
		})
	}
	if _, ok := PendingSizeRepair(Resize{Disk: "mp0", Size: "8G"}, current, "local-lvm:vm-100-disk-1,mp=/srv,size=3G"); ok {
		t.Error("a volume still smaller than declared is resized, not repaired")
	}
}
