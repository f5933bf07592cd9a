package adoptgen

import (
	"fmt"
	"strings"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
)

// rootFS declares the root volume: its storage, size and options.
func (b *builder) rootFS() {
	v, ok := b.value("rootfs")
	if !ok {
		return
	}
	p := lxcconfig.ParseProps(v)
	vol := lxcconfig.MountVolume(v)
	if strings.HasPrefix(vol, "/") {
		b.note("rootfs is a bind or device mount (%s): left as found", vol)
		return
	}
	st, ok := storageOf(vol)
	if !ok {
		b.note("rootfs volume %q names no storage the spec accepts: left as found", vol)
		return
	}
	size, ok := wholeGiB(p["size"])
	if !ok {
		b.note("rootfs size %q is not a whole number of GiB: rootFS left as found", p["size"])
		return
	}
	opts, ok := volumeOptions(p)
	if !ok {
		b.note("rootfs %q has options the spec cannot express: rootFS left as found", v)
		return
	}
	b.spec.RootFS = &v1alpha1.RootFS{Storage: st, Size: size, VolumeOptions: opts}
}

// mountPoints declares every mpN, or none: a declared list detaches the
// mount points it does not name, so a bind mount (which needs a host grant
// and root credentials) or anything else undeclarable leaves the whole list
// as found.
func (b *builder) mountPoints() {
	keys := b.indexed("mp")
	if len(keys) == 0 {
		return
	}
	mps := make([]v1alpha1.MountPoint, 0, len(keys))
	for _, k := range keys {
		mp, err := mountPointFromConfig(k, b.cfg[k])
		if err != nil {
			b.note("%s %s: mountPoints left undeclared (kept as found, all mount points)", k, err)
			return
		}
		mps = append(mps, mp)
	}
	if len(mps) > 32 {
		b.note("more than 32 mount points: mountPoints left undeclared (kept as found)")
		return
	}
	b.spec.MountPoints = mps
}

// mountPointFromConfig reads one volume mount point.
func mountPointFromConfig(key, v string) (v1alpha1.MountPoint, error) {
	p := lxcconfig.ParseProps(v)
	vol := lxcconfig.MountVolume(v)
	mp := v1alpha1.MountPoint{Name: key, Path: p["mp"]}
	if strings.HasPrefix(vol, "/") {
		return mp, fmt.Errorf("is a bind or device mount of %s (root on the node, needs a host grant)", vol)
	}
	st, ok := storageOf(vol)
	if !ok {
		return mp, fmt.Errorf("names no storage the spec accepts (%q)", vol)
	}
	size, ok := wholeGiB(p["size"])
	if !ok {
		return mp, fmt.Errorf("has size %q, not a whole number of GiB", p["size"])
	}
	if len(mp.Path) > 1024 || !pathPattern.MatchString(mp.Path) || dotSegment.MatchString(mp.Path) {
		return mp, fmt.Errorf("has path %q, which the spec cannot express", mp.Path)
	}
	mp.Storage, mp.Size = st, &size
	var okB, okK bool
	mp.Backup, okB = flag01(p, "backup")
	mp.KeepAttrs, okK = flag01(p, "keepattrs")
	opts, okO := volumeOptions(p)
	if !okB || !okK || !okO {
		return mp, fmt.Errorf("has options the spec cannot express")
	}
	mp.VolumeOptions = opts
	return mp, nil
}
