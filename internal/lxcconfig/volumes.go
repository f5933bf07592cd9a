package lxcconfig

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// volumeOptionKeys are the options of a rootfs or mpN string the spec
// controls once the volume is declared; the volume itself and its size are
// PVE's to write.
var volumeOptionKeys = []string{"ro", "acl", "quota", "replicate", "shared", "mountoptions"}

// mountPointOptionKeys are a mount point's further options.
var mountPointOptionKeys = []string{"mp", "backup", "keepattrs"}

// newMountPoint is a mount point as it is first sent: "storage:GiB" makes
// PVE allocate a volume, a host path makes a bind mount (which has no size).
func newMountPoint(mp v1alpha1.MountPoint) Props {
	p := Props{"": mountSource(mp)}
	mountFlags(p, mp)
	return p
}

func mountSource(mp v1alpha1.MountPoint) string {
	if mp.HostPath != "" {
		return mp.HostPath
	}
	return fmt.Sprintf("%s:%d", mp.Storage, sizeGiB(mp.Size))
}

func sizeGiB(size *resource.Quantity) int64 {
	if size == nil {
		return 0
	}
	return size.Value() / gib
}

// mountFlags writes mp's path and options over p, the mount point as
// Proxmox has it: options the spec leaves out are removed, so that PVE's
// defaults apply.
func mountFlags(p Props, mp v1alpha1.MountPoint) {
	for _, k := range mountPointOptionKeys {
		delete(p, k)
	}
	if mp.HostPath != "" {
		// A bind mount's source is its host path, which may change.
		p[""] = mp.HostPath
	}
	p["mp"] = mp.Path
	setFlag(p, "backup", mp.Backup)
	setFlag(p, "keepattrs", mp.KeepAttrs)
	volumeFlags(p, mp.VolumeOptions)
}

// rootFSFlags is mountFlags for the root volume, which has no path,
// backup or keepattrs of its own.
func rootFSFlags(p Props, o v1alpha1.VolumeOptions) { volumeFlags(p, o) }

func volumeFlags(p Props, o v1alpha1.VolumeOptions) {
	for _, k := range volumeOptionKeys {
		delete(p, k)
	}
	setFlag(p, "ro", o.ReadOnly)
	setBool(p, "acl", o.ACL)
	setFlag(p, "quota", o.Quota)
	setBool(p, "replicate", o.Replicate)
	setFlag(p, "shared", o.Shared)
	if len(o.MountOptions) > 0 {
		p["mountoptions"] = sortedList(joinList(o.MountOptions))
	}
}

// sameVolume compares two volume strings by content; mount options are a
// set whose order PVE keeps as written.
func sameVolume(want, have string) bool {
	w, h := ParseProps(want), ParseProps(have)
	for _, p := range []Props{w, h} {
		if v, ok := p["mountoptions"]; ok {
			p["mountoptions"] = sortedList(v)
		}
		dropOff(p, "ro", "quota", "shared", "backup", "keepattrs")
	}
	return equalProps(w, h)
}

// rootFSParam is the rootfs create parameter: "storage:GiB" and options.
func rootFSParam(rfs *v1alpha1.RootFS) string {
	p := Props{"": fmt.Sprintf("%s:%d", rfs.Storage, rfs.Size.Value()/gib)}
	rootFSFlags(p, rfs.VolumeOptions)
	return p.String()
}

// PendingSizeRepair handles a quirk of PVE's resize, which writes the new
// size into the current config only: a volume whose options wait in
// pending keeps its old size there, so the config as read (pending folded
// in) asks for a resize PVE refuses as done, and the next start would write
// the old size back. When current, the volume's current value, already
// has the size rs asks for and pending (its pending value) says otherwise,
// it returns the pending value with the current size, to be written
// instead of resizing again.
func PendingSizeRepair(rs Resize, current, pending string) (string, bool) {
	if pending == "" {
		return "", false
	}
	want, errW := ParseDiskSize(rs.Size)
	have, errH := ParseDiskSize(ParseProps(current)["size"])
	if errW != nil || errH != nil || have < want {
		return "", false
	}
	p := ParseProps(pending)
	if p["size"] == ParseProps(current)["size"] {
		return "", false
	}
	p["size"] = ParseProps(current)["size"]
	return p.String(), true
}

// DataVolumes are a container config's data volumes by key: the mount
// points backed by a storage volume (a bind mount's source is a host path,
// which PVE tells apart by its leading slash) and the unusedN entries that
// hold volumes detached from a mount point.
func DataVolumes(cfg map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range cfg {
		if !strings.HasPrefix(k, "mp") && !strings.HasPrefix(k, "unused") {
			continue
		}
		vol, _, _ := strings.Cut(v, ",")
		vol = strings.TrimPrefix(vol, "volume=")
		if !strings.HasPrefix(vol, "/") {
			out[k] = vol
		}
	}
	return out
}
