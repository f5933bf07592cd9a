package adoptgen

import (
	"maps"
	"slices"
	"strings"
	"testing"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
)

const testUID = "8f14e45f-ceea-467f-a0e6-3c6b1b1d2a10"

// specCases are configs as PVE returns them, from a bare one to one using
// every key the generator declares, plus ones it must leave partly alone.
var specCases = []struct {
	name string
	cfg  map[string]string
	// undeclared are config keys the spec must leave out (notes name them).
	undeclared []string
}{
	{name: "a bare container with only PVE's defaults", cfg: map[string]string{
		"hostname": "bare", "arch": "amd64", "memory": "512", "swap": "512", "ostype": "debian", "unprivileged": "1",
		"rootfs": "local-lvm:vm-100-disk-0,size=8G",
	}},
	{name: "a container using every declarable key", cfg: map[string]string{
		"hostname": "keys-legacy", "memory": "1024", "cores": "2", "cpulimit": "1.5", "cpuunits": "512", "swap": "256", "unprivileged": "1",
		"rootfs":   "local-lvm:vm-7610-disk-0,acl=0,mountoptions=noatime;nodev,size=8G",
		"mp0":      "local-lvm:vm-7610-disk-1,mp=/srv,backup=1,keepattrs=1,replicate=0,size=2G",
		"mp1":      "local-lvm:vm-7610-disk-2,mp=/var/lib/data,ro=1,quota=0,size=16G",
		"net0":     "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:5A:76:10,ip=dhcp,link_down=1,rate=7.5,trunks=10;20,type=veth",
		"net1":     "name=eth1,bridge=vmbr1,firewall=1,gw=10.1.0.1,hwaddr=bc:24:11:5a:76:11,ip=10.1.0.7/24,ip6=auto,mtu=9000,tag=42,type=veth",
		"features": "nesting=1,keyctl=1,mount=nfs;cifs", "startup": "order=4,up=10,down=30",
		"timezone": "Europe/Berlin", "ostype": "ubuntu", "arch": "arm64", "console": "0", "cmode": "console", "tty": "1", "debug": "1",
		"description": "Hand-made by ops.\n", "protection": "1", "onboot": "1", "tags": "prod;web",
		"nameserver": "1.1.1.1 2606:4700::1111", "searchdomain": "example.com",
	}},
	{name: "a privileged stopped container with a static address and no limit", cfg: map[string]string{
		"hostname": "db1", "memory": "4096", "cores": "4", "cpulimit": "0", "unprivileged": "0",
		"rootfs": "tank:subvol-300-disk-0,size=32G,replicate=1",
		"net0":   "name=eth0,bridge=vmbr0,gw=192.168.1.1,hwaddr=BC:24:11:00:03:00,ip=192.168.1.30/24,gw6=fd00::1,ip6=fd00::30/64,type=veth",
		"tags":   "db", "onboot": "0",
	}},
	{name: "a container with a bind mount, a device and a hookscript, which stay undeclared", cfg: map[string]string{
		"hostname": "media", "memory": "2048", "unprivileged": "1", "rootfs": "local-lvm:vm-400-disk-0,size=8G",
		"mp0":        "local-lvm:vm-400-disk-1,mp=/data,size=4G",
		"mp1":        "/tank/media,mp=/media,ro=1",
		"dev0":       "/dev/dri/renderD128,gid=44,mode=0660",
		"hookscript": "local:snippets/hook.sh",
		"unused0":    "local-lvm:vm-400-disk-9",
		"net0":       "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:04:00,ip=dhcp,type=veth",
	}, undeclared: []string{"mp1", "dev0", "hookscript", "unused0"}},
	{name: "a container whose interface is not named after its key, which leaves the network alone", cfg: map[string]string{
		"hostname": "odd-net", "memory": "512", "unprivileged": "1", "rootfs": "local-lvm:vm-500-disk-0,size=4G",
		"net0": "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:05:00,ip=dhcp,type=veth",
		"net1": "name=lan,bridge=vmbr1,hwaddr=BC:24:11:00:05:01,ip=manual,type=veth",
	}, undeclared: []string{"net1"}},
	{name: "a container with values outside what the spec accepts, which are left as found", cfg: map[string]string{
		"hostname": "odd-values", "memory": "512", "unprivileged": "1", "rootfs": "local-lvm:vm-600-disk-0,size=1536M",
		"features": "nesting=1,mystery=1", "startup": "order=1,weird=2", "tags": "ok;Upper", "env": "A=1", "cpulimit": "-1", "tty": "9",
	}, undeclared: []string{"rootfs", "features", "startup", "env", "cpulimit", "tty"}},
	{name: "a container with empty values, which stay as found", cfg: map[string]string{
		"hostname": "empty", "memory": "512", "unprivileged": "1", "features": "", "nameserver": "", "searchdomain": "", "tags": "", "description": "",
	}},
	{name: "a container that a previous Application released, whose old ownership note is dropped", cfg: map[string]string{
		"hostname": "released", "memory": "512", "unprivileged": "1", "rootfs": "local-lvm:vm-700-disk-0,size=8G",
		"description": "Ops notes.\n\n" + lxcconfig.Description("old", "app", "1234") + "\n", "tags": "pve-operator;keep",
	}},
}

func TestGeneratedSpecsChangeNothingButTheOwnershipMarking(t *testing.T) {
	for _, tc := range specCases {
		t.Run(tc.name, func(t *testing.T) {
			spec, notes, err := SpecFromConfig("pve", 100, "pve1", tc.cfg, true)
			if err != nil {
				t.Fatal(err)
			}
			app := &v1alpha1.Application{Spec: spec}
			app.Name, app.Namespace = "gen", "team"
			plan := PlanFor(app, tc.cfg, testUID)
			if !plan.Empty() || len(plan.Other.Notes) > 0 || plan.Invalid != "" {
				t.Fatalf("the first reconcile would change more than the marking:\n%s\nnotes: %v", strings.Join(plan.Lines(tc.cfg), "\n"), notes)
			}
			for k := range plan.Marking {
				if k != "tags" && k != "description" {
					t.Errorf("marking sets %s", k)
				}
			}
			if _, ok := plan.Marking["tags"]; !ok {
				t.Error("the marking does not write the ownership tags")
			}
			// Once marked, the container matches the spec exactly.
			marked := maps.Clone(tc.cfg)
			maps.Copy(marked, plan.Marking)
			app.UID = testUID
			if ch := lxcconfig.Diff(app, marked, nil); !ch.Empty() {
				t.Errorf("after the marking Diff still changes %v", ch.Keys())
			}
			if tc.undeclared == nil && len(notes) > 0 && !strings.Contains(tc.name, "privileged") {
				t.Errorf("unexpected notes: %v", notes)
			}
			for _, k := range tc.undeclared {
				if !slices.ContainsFunc(notes, func(n string) bool { return strings.HasPrefix(n, k+" ") || strings.HasPrefix(n, k+":") }) {
					t.Errorf("no note names undeclared %s: %v", k, notes)
				}
			}
		})
	}
}

func TestSpecFromConfigDeclaresWhatTheConfigSays(t *testing.T) {
	spec, _, err := SpecFromConfig("pve", 7610, "pve2", specCases[1].cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"adopts the VMID on its node and host", spec.Adopt && *spec.VMID == 7610 && spec.Node == "pve2" && spec.HostRef.Name == "pve"},
		{"keeps a stopped container stopped", spec.PowerState == v1alpha1.PowerStateStopped},
		{"declares no template", spec.Template == "" && spec.Image == nil},
		{"declares memory in MiB", spec.Resources.Memory.String() == "1Gi" && spec.Resources.Swap.String() == "256Mi"},
		{"declares the cpu limit", spec.Resources.CPULimit.String() == "1500m"},
		{"declares both mount points", len(spec.MountPoints) == 2 && spec.MountPoints[1].ReadOnly},
		{"declares both interfaces", len(spec.Network) == 2 && *spec.Network[1].VLAN == 42 && spec.Network[1].Firewall},
		{"declares the user's tags", slices.Equal(spec.Tags, []string{"prod", "web"})},
		{"declares the description without its trailing newline", *spec.Description == "Hand-made by ops."},
		{"declares the features", spec.Features.Nesting && spec.Features.Keyctl && len(spec.Features.Mount) == 2},
		{"declares dns", len(spec.DNS.Nameservers) == 2 && spec.DNS.SearchDomain == "example.com"},
		{"declares the startup order", *spec.Startup.Order == 4 && *spec.Startup.DownTimeoutSeconds == 30},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("SpecFromConfig %s: %+v", c.name, spec)
		}
	}
}

func TestAHostnameTheSpecCannotTakeIsNotedAndKept(t *testing.T) {
	cfg := map[string]string{"hostname": "Web.Example.com", "memory": "512", "unprivileged": "1"}
	spec, notes, err := SpecFromConfig("pve", 100, "pve1", cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Hostname != "" || !slices.ContainsFunc(notes, func(n string) bool { return strings.HasPrefix(n, "hostname ") }) {
		t.Errorf("hostname declared as %q, notes %v", spec.Hostname, notes)
	}
	app := &v1alpha1.Application{Spec: spec}
	app.Name = SanitizeName(cfg["hostname"], "ct-100")
	// An adopted container keeps an undeclared hostname: nothing renames it.
	if plan := PlanFor(app, cfg, testUID); plan.Other.Set["hostname"] != "" {
		t.Errorf("plan %v renames the container", plan.Lines(cfg))
	}
}

func TestSpecFromConfigRefusesWhatCannotBeAdopted(t *testing.T) {
	cases := []struct {
		name string
		cfg  map[string]string
	}{
		{"a template", map[string]string{"hostname": "tpl", "template": "1"}},
		{"a container an Application owns", map[string]string{"hostname": "owned", "tags": "pve-operator;" + lxcconfig.OwnerTag(testUID)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := SpecFromConfig("pve", 100, "pve1", tc.cfg, true); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestSanitizeNameMakesDNSLabels(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"a valid hostname is kept", "web-1", "web-1"},
		{"upper case and dots are folded", "Web.Example.COM", "web-example-com"},
		{"leading and trailing junk is dropped", "--_db_--", "db"},
		{"nothing usable falls back", "___", "ct-100"},
		{"a long name is cut to 63", strings.Repeat("a", 70), strings.Repeat("a", 63)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := SanitizeName(tc.in, "ct-100"); got != tc.want {
				t.Errorf("SanitizeName(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestUserDescriptionKeepsOnlyTheUsersText(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"plain text loses its trailing newline", "Ops notes.\n", "Ops notes."},
		{"an old ownership note is dropped", "Ops notes.\n\n" + lxcconfig.Description("old", "app", "1234") + "\n", "Ops notes."},
		{"a description that is only an old note leaves nothing", lxcconfig.Description("old", "app", "1234"), ""},
		{"a mention of the operator in the text is kept", "Managed by pve-operator soon.", "Managed by pve-operator soon."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := userDescription(tc.in); got != tc.want {
				t.Errorf("userDescription(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
