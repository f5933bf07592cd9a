package lxcconfig

import (
	"maps"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

const uid = "0b1c2d3e-aaaa-bbbb-cccc-0123456789ab"

func app(mut func(*v1alpha1.ApplicationSpec)) *v1alpha1.Application {
	a := &v1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: "web1", Namespace: "team-a", UID: uid},
		Spec: v1alpha1.ApplicationSpec{
			HostRef:  v1alpha1.LocalObjectReference{Name: "dev"},
			Template: "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
			Resources: &v1alpha1.Resources{
				Cores:  ptr.To[int32](2),
				Memory: ptr.To(resource.MustParse("1Gi")),
				Swap:   ptr.To(resource.MustParse("512Mi")),
			},
			RootFS: &v1alpha1.RootFS{Storage: "local-lvm", Size: resource.MustParse("8Gi")},
			Network: []v1alpha1.NetworkInterface{
				{Name: "eth0", Bridge: "vmbr0", IPv4: "dhcp"},
			},
			Tags: []string{"Web", "k8s"},
		},
	}
	if mut != nil {
		mut(&a.Spec)
	}
	return a
}

// observedFor is what Proxmox would report right after creating app.
func observedFor() map[string]string {
	return map[string]string{
		"arch":         "amd64",
		"cores":        "2",
		"memory":       "1024",
		"swap":         "512",
		"hostname":     "web1",
		"net0":         "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:2E:C5:7E,ip=dhcp,type=veth",
		"rootfs":       "local-lvm:vm-100-disk-0,size=8G",
		"tags":         "k8s;pve-operator;pve-operator-owner." + uid + ";web",
		"unprivileged": "1",
		"digest":       "abc",
	}
}

func TestCreateParamsCarryOwnershipAndSpec(t *testing.T) {
	p := CreateParams(app(func(s *v1alpha1.ApplicationSpec) {
		s.Template = "local:vztmpl/x.tar.zst"
		s.MountPoints = []v1alpha1.MountPoint{{Name: "mp0", Storage: "local-lvm", Size: ptr.To(resource.MustParse("4Gi")), Path: "/srv", Backup: true}}
		s.SSHPublicKeys = []string{"ssh-ed25519 AAAA a", "ssh-ed25519 BBBB b"}
		s.RootPasswordSecretRef = &v1alpha1.SecretKeySelector{Name: "root-pw", Key: "password"}
	}))
	got := map[string]string{}
	for _, kv := range p {
		got[kv.Key] = kv.Value
	}
	want := map[string]string{
		"ostemplate": "local:vztmpl/x.tar.zst", "hostname": "web1",
		"tags": "k8s;pve-operator;pve-operator-owner." + uid + ";web", "unprivileged": "1",
		"rootfs": "local-lvm:8", "cores": "2", "memory": "1024", "swap": "512",
		"net0": "name=eth0,bridge=vmbr0,ip=dhcp,type=veth", "mp0": "local-lvm:4,mp=/srv,backup=1",
		"ssh-public-keys": "ssh-ed25519 AAAA a\nssh-ed25519 BBBB b",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if got["description"] == "" || !strings.Contains(got["description"], uid) {
		t.Errorf("description %q does not carry the owner UID", got["description"])
	}
	for _, k := range []string{"vmid", "password"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s is among the parameters; the client sends it", k)
		}
	}
	if p[0].Key != "ostemplate" || p[1].Key != "hostname" {
		t.Errorf("parameters are not in a stable order: %v", p[:2])
	}
}

func TestRestoreParamsOverrideOnlyIdentityAndKeys(t *testing.T) {
	a := app(func(s *v1alpha1.ApplicationSpec) { s.SSHPublicKeys = []string{"ssh-ed25519 AAAA a"} })
	p := RestoreParams(a)
	var keys []string
	for _, kv := range p {
		keys = append(keys, kv.Key)
	}
	if want := []string{"hostname", "description", "tags", "ssh-public-keys"}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("restore keys = %v, want %v", keys, want)
	}
	create := map[string]string{}
	for _, kv := range CreateParams(a) {
		create[kv.Key] = kv.Value
	}
	for _, kv := range p {
		if create[kv.Key] != kv.Value {
			t.Errorf("restore %s = %q, create sends %q", kv.Key, kv.Value, create[kv.Key])
		}
	}
}

// diffCase is one spec edit or observed drift and the change Diff must
// compute for it, starting from a freshly created container.
type diffCase struct {
	name     string
	spec     func(*v1alpha1.ApplicationSpec)
	observed func(map[string]string)
	set      map[string]string
	del      []string
	resizes  []Resize
	notes    int
}

func TestDiff(t *testing.T) {
	for _, tt := range append(append(configDiffCases(), hostnameDiffCases()...), volumeDiffCases()...) {
		t.Run(tt.name, func(t *testing.T) { checkDiff(t, tt) })
	}
}

// configDiffCases change config keys only.
func configDiffCases() []diffCase {
	return []diffCase{
		{name: "a freshly created container has no drift"},
		{
			name:     "tags differing only in case and order are equal",
			observed: func(o map[string]string) { o["tags"] = "WEB;k8s;pve-operator-owner." + uid + ";pve-operator" },
		},
		{
			name: "changed cores and memory are set",
			spec: func(s *v1alpha1.ApplicationSpec) {
				s.Resources.Cores = ptr.To[int32](4)
				s.Resources.Memory = ptr.To(resource.MustParse("2Gi"))
			},
			set: map[string]string{"cores": "4", "memory": "2048"},
		},
		{
			name:     "a NIC change keeps the MAC address",
			spec:     func(s *v1alpha1.ApplicationSpec) { s.Network[0].VLAN = ptr.To[int32](20) },
			set:      map[string]string{"net0": "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:2E:C5:7E,ip=dhcp,tag=20,type=veth"},
			observed: nil,
		},
		{
			name:     "an undeclared NIC is removed",
			observed: func(o map[string]string) { o["net1"] = "name=eth1,bridge=vmbr1,ip=dhcp,type=veth" },
			del:      []string{"net1"},
		},
		{
			name:     "omitted tags keep the container's own and add the operator's",
			spec:     func(s *v1alpha1.ApplicationSpec) { s.Tags = nil },
			observed: func(o map[string]string) { o["tags"] = "legacy;prod" },
			set:      map[string]string{"tags": "legacy;prod;pve-operator;pve-operator-owner." + uid},
		},
		{
			name: "declared features replace every flag, the mount list too",
			spec: func(s *v1alpha1.ApplicationSpec) { s.Features = &v1alpha1.Features{Nesting: true} },
			observed: func(o map[string]string) {
				o["features"] = "keyctl=1,mount=nfs"
			},
			set: map[string]string{"features": "nesting=1"},
		},
		{
			name: "dns without a search domain deletes it",
			spec: func(s *v1alpha1.ApplicationSpec) {
				s.DNS = &v1alpha1.DNS{Nameservers: []string{"1.1.1.1", "9.9.9.9"}}
			},
			observed: func(o map[string]string) {
				o["nameserver"] = "1.1.1.1  9.9.9.9"
				o["searchdomain"] = "old.example"
			},
			del: []string{"searchdomain"},
		},
		{
			name:     "startOnBoot and protection are managed only when declared",
			spec:     func(s *v1alpha1.ApplicationSpec) { s.StartOnBoot = ptr.To(true) },
			observed: func(o map[string]string) { o["protection"] = "1" },
			set:      map[string]string{"onboot": "1"},
		},
	}
}

// volumeDiffCases change the root disk or mount points.
func volumeDiffCases() []diffCase {
	return []diffCase{
		{
			name:    "a larger rootFS is a resize, not a config change",
			spec:    func(s *v1alpha1.ApplicationSpec) { s.RootFS.Size = resource.MustParse("16Gi") },
			resizes: []Resize{{Disk: "rootfs", Size: "16G"}},
		},
		{
			name:     "a smaller rootFS than observed is only noted",
			observed: func(o map[string]string) { o["rootfs"] = "local-lvm:vm-100-disk-0,size=20G" },
			notes:    1,
		},
		{
			name: "a new mount point is allocated through the config",
			spec: func(s *v1alpha1.ApplicationSpec) {
				s.MountPoints = []v1alpha1.MountPoint{{Name: "mp0", Storage: "local-lvm", Size: ptr.To(resource.MustParse("2Gi")), Path: "/data"}}
			},
			set: map[string]string{"mp0": "local-lvm:2,mp=/data"},
		},
		{
			name: "a grown mount point with a new path is resized first and re-optioned on the next pass",
			spec: func(s *v1alpha1.ApplicationSpec) {
				s.MountPoints = []v1alpha1.MountPoint{{Name: "mp0", Storage: "local-lvm", Size: ptr.To(resource.MustParse("8Gi")), Path: "/srv", VolumeOptions: v1alpha1.VolumeOptions{ReadOnly: true}}}
			},
			observed: func(o map[string]string) { o["mp0"] = "local-lvm:vm-100-disk-1,mp=/data,size=4G" },
			resizes:  []Resize{{Disk: "mp0", Size: "8G"}},
		},
		{
			name: "the same mount point at its size gets its new path and options",
			spec: func(s *v1alpha1.ApplicationSpec) {
				s.MountPoints = []v1alpha1.MountPoint{{Name: "mp0", Storage: "local-lvm", Size: ptr.To(resource.MustParse("8Gi")), Path: "/srv", VolumeOptions: v1alpha1.VolumeOptions{ReadOnly: true}}}
			},
			observed: func(o map[string]string) { o["mp0"] = "local-lvm:vm-100-disk-1,mp=/data,size=8G" },
			set:      map[string]string{"mp0": "local-lvm:vm-100-disk-1,mp=/srv,ro=1,size=8G"},
		},
		{
			name: "a mount point removed from a declared list is detached, unused volumes are left alone",
			spec: func(s *v1alpha1.ApplicationSpec) { s.MountPoints = []v1alpha1.MountPoint{} },
			observed: func(o map[string]string) {
				o["mp3"] = "local-lvm:vm-100-disk-3,mp=/old,size=1G"
				o["unused0"] = "local-lvm:vm-100-disk-2"
			},
			del: []string{"mp3"},
		},
		{
			name: "detachedVolumes Delete destroys the unused volumes a detach left",
			spec: func(s *v1alpha1.ApplicationSpec) {
				s.MountPoints = []v1alpha1.MountPoint{}
				s.DetachedVolumes = v1alpha1.DetachedVolumesDelete
			},
			observed: func(o map[string]string) {
				o["mp3"] = "local-lvm:vm-100-disk-3,mp=/old,size=1G"
				o["unused0"] = "local-lvm:vm-100-disk-2"
			},
			del: []string{"mp3", "unused0"},
		},
		{
			name: "detachedVolumes Delete never destroys an adopted container's unused volumes",
			spec: func(s *v1alpha1.ApplicationSpec) {
				s.Adopt = true
				s.DetachedVolumes = v1alpha1.DetachedVolumesDelete
			},
			observed: func(o map[string]string) { o["unused0"] = "local-lvm:vm-100-disk-2" },
		},
		{
			name: "omitted mount points are left as found",
			observed: func(o map[string]string) {
				o["mp3"] = "local-lvm:vm-100-disk-3,mp=/old,size=1G"
			},
		},
	}
}

func checkDiff(t *testing.T, tt diffCase) {
	t.Helper()
	o := observedFor()
	if tt.observed != nil {
		tt.observed(o)
	}
	ch := Diff(app(tt.spec), o, nil)
	if tt.set == nil {
		tt.set = map[string]string{}
	}
	if !reflect.DeepEqual(ch.Set, tt.set) {
		t.Errorf("set = %v, want %v", ch.Set, tt.set)
	}
	if !reflect.DeepEqual(ch.Delete, tt.del) {
		t.Errorf("delete = %v, want %v", ch.Delete, tt.del)
	}
	if !reflect.DeepEqual(ch.Resizes, tt.resizes) {
		t.Errorf("resizes = %v, want %v", ch.Resizes, tt.resizes)
	}
	if len(ch.Notes) != tt.notes {
		t.Errorf("notes = %v, want %d", ch.Notes, tt.notes)
	}
}

func TestOwnership(t *testing.T) {
	const other = "9f8e7d6c-aaaa-bbbb-cccc-0123456789ab"
	cases := []struct {
		name   string
		tags   string
		owner  string
		tagged bool
		ours   bool
	}{
		{"an owner tag in any case names its owner", "web;pve-operator;PVE-OPERATOR-OWNER." + uid, uid, true, true},
		{"a container without an owner tag has no owner", "pve-operator;web", "", false, false},
		{"another UID's marker is not ours", "pve-operator;pve-operator-owner." + other, other, true, false},
		{"two owner tags make a contested container nobody's", "pve-operator-owner." + uid + ";pve-operator-owner." + other, "", true, false},
		{"the same owner tag twice is still one owner", "pve-operator-owner." + uid + ",pve-operator-owner." + uid, uid, true, true},
		{"an empty owner tag names nobody", "pve-operator-owner.", "", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tags := SplitTags(tc.tags)
			owner, tagged := OwnerOf(tags)
			if owner != tc.owner || tagged != tc.tagged {
				t.Errorf("OwnerOf(%v) = %q, %v; want %q, %v", tags, owner, tagged, tc.owner, tc.tagged)
			}
			if got := OwnedBy(tags, uid); got != tc.ours {
				t.Errorf("OwnedBy(%v) = %v, want %v", tags, got, tc.ours)
			}
		})
	}
}

func TestUserTagsCannotCarryOwnershipMarkers(t *testing.T) {
	forged := app(func(s *v1alpha1.ApplicationSpec) {
		s.Tags = []string{"web", "pve-operator-owner.9f8e7d6c-aaaa-bbbb-cccc-0123456789ab", "PVE-Operator", "pve-operatorx"}
	})
	for _, kv := range CreateParams(forged) {
		if kv.Key != "tags" {
			continue
		}
		if want := JoinTags([]string{"web", ManagedTag, OwnerTag(uid)}); kv.Value != want {
			t.Fatalf("create tags = %q, want %q: only the operator writes its markers", kv.Value, want)
		}
		return
	}
	t.Fatal("no tags in the create parameters")
}

func TestParseDiskSize(t *testing.T) {
	for in, want := range map[string]int64{"8G": 8 << 30, "512M": 512 << 20, "1T": 1 << 40, "0.5G": 512 << 20, "1024": 1024} {
		if got, err := ParseDiskSize(in); err != nil || got != want {
			t.Errorf("ParseDiskSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "G", "-1G", "lots"} {
		if _, err := ParseDiskSize(bad); err == nil {
			t.Errorf("ParseDiskSize(%q) succeeded", bad)
		}
	}
}

func TestDataVolumes(t *testing.T) {
	cfg := map[string]string{
		"rootfs":  "local-lvm:vm-100-disk-0,size=8G",
		"mp0":     "local-lvm:vm-100-disk-1,mp=/data,size=4G",
		"mp1":     "/srv/shared,mp=/shared",
		"mp2":     "volume=local-lvm:vm-100-disk-2,mp=/logs",
		"mp3":     "volume=/srv/other,mp=/other",
		"unused0": "local-lvm:vm-100-disk-3",
		"memory":  "512",
	}
	want := map[string]string{
		"mp0":     "local-lvm:vm-100-disk-1",
		"mp2":     "local-lvm:vm-100-disk-2",
		"unused0": "local-lvm:vm-100-disk-3",
	}
	if got := DataVolumes(cfg); !maps.Equal(got, want) {
		t.Errorf("DataVolumes = %v, want %v (bind mounts and the root volume are not data volumes)", got, want)
	}
}

// hostnameDiffCases: the hostname converges only where the operator owns it.
func hostnameDiffCases() []diffCase {
	return []diffCase{
		{
			name:     "a container the operator made is renamed back to the Application's name",
			observed: func(o map[string]string) { o["hostname"] = "renamed" },
			set:      map[string]string{"hostname": "web1"},
		},
		{
			name:     "an adopted container keeps its own hostname when the spec declares none",
			spec:     func(s *v1alpha1.ApplicationSpec) { s.Adopt = true },
			observed: func(o map[string]string) { o["hostname"] = "legacy-db" },
		},
		{
			name:     "an adopted container without any hostname is not given one",
			spec:     func(s *v1alpha1.ApplicationSpec) { s.Adopt = true },
			observed: func(o map[string]string) { delete(o, "hostname") },
		},
		{
			name: "an adopted container converges to a declared hostname",
			spec: func(s *v1alpha1.ApplicationSpec) {
				s.Adopt = true
				s.Hostname = "db"
			},
			observed: func(o map[string]string) { o["hostname"] = "legacy-db" },
			set:      map[string]string{"hostname": "db"},
		},
	}
}
