package lxcconfig_test

import (
	"reflect"
	"testing"

	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/pveparams"
)

func TestRootOnly(t *testing.T) {
	existing := map[string]string{
		"mp0":        "/srv/data,mp=/data",
		"mp1":        "local-lvm:vm-100-disk-1,mp=/var/lib,size=8G",
		"dev0":       "/dev/dri/renderD128,gid=44",
		"hookscript": "local:snippets/hook.sh",
		"features":   "nesting=1,keyctl=1",
	}
	for _, tt := range []struct {
		name         string
		set          map[string]string
		del          []string
		observed     map[string]string
		unprivileged bool
		want         []string
	}{
		{name: "ordinary keys need no root", set: map[string]string{"memory": "1024", "cores": "2", "net0": "name=eth0,bridge=vmbr0"}, unprivileged: true},
		{name: "a new volume mount point needs no root", set: map[string]string{"mp2": "local-lvm:8,mp=/srv"}, unprivileged: true},
		{name: "a volume mount point re-optioned needs no root", set: map[string]string{"mp1": "local-lvm:vm-100-disk-1,mp=/var/lib,ro=1"}, observed: existing, unprivileged: true},
		{name: "a bind mount needs root", set: map[string]string{"mp2": "/srv/data,mp=/data"}, unprivileged: true, want: []string{"mp2"}},
		{name: "a bind mount given as volume= needs root", set: map[string]string{"mp2": "volume=/srv/data,mp=/data"}, unprivileged: true, want: []string{"mp2"}},
		{name: "a device mount needs root", set: map[string]string{"mp3": "/dev/sdb1,mp=/mnt/disk"}, unprivileged: true, want: []string{"mp3"}},
		{name: "re-optioning an existing bind mount needs root", set: map[string]string{"mp0": "/srv/data,mp=/data,ro=1"}, observed: existing, unprivileged: true, want: []string{"mp0"}},
		{name: "detaching a bind mount needs no root", del: []string{"mp0"}, observed: existing, unprivileged: true},
		{name: "a device needs root", set: map[string]string{"dev1": "/dev/fuse"}, unprivileged: true, want: []string{"dev1"}},
		{name: "removing a device needs root", del: []string{"dev0"}, observed: existing, unprivileged: true, want: []string{"dev0"}},
		{name: "setting a hookscript needs root", set: map[string]string{"hookscript": "local:snippets/other.sh"}, observed: existing, unprivileged: true, want: []string{"hookscript"}},
		{name: "removing the hookscript needs root", del: []string{"hookscript"}, observed: existing, unprivileged: true, want: []string{"hookscript"}},
		{name: "nesting alone on a new unprivileged container needs no root", set: map[string]string{"features": "nesting=1"}, unprivileged: true},
		{name: "keyctl on a new unprivileged container needs root", set: map[string]string{"features": "nesting=1,keyctl=1"}, unprivileged: true, want: []string{"features"}},
		{name: "nesting=0 alone on a new container needs root, as PVE counts it", set: map[string]string{"features": "nesting=0"}, unprivileged: true, want: []string{"features"}},
		{name: "toggling only nesting next to unchanged flags needs no root", set: map[string]string{"features": "keyctl=1"}, observed: existing, unprivileged: true},
		{name: "flags spelled on/true compare equal to 1", set: map[string]string{"features": "nesting=on,keyctl=true"}, observed: existing, unprivileged: true},
		{name: "dropping keyctl needs root", set: map[string]string{"features": "nesting=1"}, observed: existing, unprivileged: true, want: []string{"features"}},
		{name: "mount fs types need root", set: map[string]string{"features": "nesting=1,keyctl=1,mount=nfs;cifs"}, observed: existing, unprivileged: true, want: []string{"features"}},
		{name: "removing features with more than nesting needs root", del: []string{"features"}, observed: existing, unprivileged: true, want: []string{"features"}},
		{name: "removing features that are only nesting needs no root", del: []string{"features"}, observed: map[string]string{"features": "nesting=1"}, unprivileged: true},
		{name: "any features on a privileged container need root", set: map[string]string{"features": "nesting=1"}, want: []string{"features"}},
		{name: "removing features of a privileged container needs root", del: []string{"features"}, observed: map[string]string{"features": "nesting=1"}, want: []string{"features"}},
		{
			name:         "only the root-only keys of a mixed change are named, sorted",
			set:          map[string]string{"memory": "2048", "mp2": "/srv/x,mp=/x", "dev1": "/dev/fuse", "hookscript": "local:snippets/h.sh"},
			del:          []string{"mp1", "dev0"},
			observed:     existing,
			unprivileged: true,
			want:         []string{"dev0", "dev1", "hookscript", "mp2"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := lxcconfig.RootOnly(tt.set, tt.del, tt.observed, tt.unprivileged)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("RootOnly = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCreateRootOnlyReadsTheUnprivilegedFlagFromTheCall(t *testing.T) {
	for _, tt := range []struct {
		name string
		p    pveparams.List
		want []string
	}{
		{name: "an unprivileged create with nesting needs no root", p: pveparams.List{{Key: "unprivileged", Value: "1"}, {Key: "features", Value: "nesting=1"}}},
		{name: "a privileged create with nesting needs root", p: pveparams.List{{Key: "unprivileged", Value: "0"}, {Key: "features", Value: "nesting=1"}}, want: []string{"features"}},
		{name: "a create with a bind mount and a device needs root for both", p: pveparams.List{{Key: "rootfs", Value: "local-lvm:4"}, {Key: "mp0", Value: "/srv/a,mp=/a"}, {Key: "dev0", Value: "path=/dev/fuse"}}, want: []string{"dev0", "mp0"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := lxcconfig.CreateRootOnly(tt.p); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("CreateRootOnly = %v, want %v", got, tt.want)
			}
		})
	}
}
