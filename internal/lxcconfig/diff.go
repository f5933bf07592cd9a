package lxcconfig

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// Resize grows one volume.
type Resize struct {
	// Disk is rootfs or mpN.
	Disk string
	// Size is the new absolute size as Proxmox takes it, e.g. "16G".
	Size string
}

// Changes is the smallest set of Proxmox calls that make a container match
// its spec: one config PUT (Set and Delete) and zero or more resizes.
type Changes struct {
	Set     map[string]string
	Delete  []string
	Resizes []Resize
	// Notes are differences the operator will not apply, e.g. a volume larger
	// than declared (volumes never shrink).
	Notes []string
}

// Empty reports whether nothing needs to change.
func (c Changes) Empty() bool {
	return len(c.Set) == 0 && len(c.Delete) == 0 && len(c.Resizes) == 0
}

// Keys lists the config keys the change touches, sorted (for messages).
func (c Changes) Keys() []string {
	keys := make([]string, 0, len(c.Set)+len(c.Delete))
	for k := range c.Set {
		keys = append(keys, k)
	}
	keys = append(keys, c.Delete...)
	sort.Strings(keys)
	return keys
}

// Diff compares an Application with a container's observed config (as GET
// /nodes/{n}/lxc/{vmid}/config returns it, pending values included) and
// returns what to change. env is spec.env with its values resolved.
func Diff(app *v1alpha1.Application, observed map[string]string, env []EnvVar) Changes {
	ch := Changes{Set: map[string]string{}}
	keys := declaredKeys(app, observed)
	if app.Spec.Env != nil {
		keys["env"] = MergeEnv(observed["env"], env)
	}
	for k, want := range keys {
		have, present := observed[k]
		switch {
		case want == "":
			if present {
				ch.Delete = append(ch.Delete, k)
			}
		case present && equalValue(k, want, have):
		case !present && want == pveDefaults[k]:
			// Absent is PVE's default: writing it would change nothing but
			// the file, and on a running container wait for a restart.
		default:
			ch.Set[k] = want
		}
	}
	s := app.Spec
	if s.Network != nil {
		removeUndeclared(observed, "net", names(s.Network, func(n v1alpha1.NetworkInterface) string { return netKey(n.Name) }), &ch)
	}
	if s.Devices != nil {
		removeUndeclared(observed, "dev", names(s.Devices, func(d v1alpha1.Device) string { return d.Name }), &ch)
	}
	if s.MountPoints != nil {
		// PVE keeps a detached volume as unusedN; a running container lets
		// go of it at its next start.
		removeUndeclared(observed, "mp", names(s.MountPoints, func(m v1alpha1.MountPoint) string { return m.Name }), &ch)
	}
	if s.DetachedVolumes == v1alpha1.DetachedVolumesDelete && !s.Adopt {
		// Deleting unusedN destroys the volume. Admission keeps the policy
		// off adopted containers, whose unused volumes predate the operator.
		removeUndeclared(observed, "unused", nil, &ch)
	}
	diffVolumes(app, observed, &ch)
	sort.Strings(ch.Delete)
	return ch
}

func names[T any](items []T, key func(T) string) map[string]bool {
	out := make(map[string]bool, len(items))
	for _, it := range items {
		out[key(it)] = true
	}
	return out
}

// removeUndeclared deletes the numbered keys of a declared list (net, dev,
// mp) that the list no longer names.
// LeavesUnusedToDestroy reports whether applying ch detaches a volume mount
// point whose volume detachedVolumes Delete then destroys: PVE turns it
// into an unusedN only once the detach is applied, so the next pass must
// read the config again to find it.
func LeavesUnusedToDestroy(app *v1alpha1.Application, ch Changes) bool {
	if app.Spec.DetachedVolumes != v1alpha1.DetachedVolumesDelete || app.Spec.Adopt {
		return false
	}
	for _, k := range ch.Delete {
		if isIndexedKey(k, "mp") {
			return true
		}
	}
	return false
}

func removeUndeclared(observed map[string]string, prefix string, declared map[string]bool, ch *Changes) {
	for k := range observed {
		if isIndexedKey(k, prefix) && !declared[k] {
			ch.Delete = append(ch.Delete, k)
		}
	}
}

// diffVolumes changes options in the config and sizes through resizes. A
// volume that is grown is not re-optioned in the same pass: PVE's resize
// writes the new size into the current config only, so options waiting in
// pending would later bring the old size back. The options follow on the
// next pass, once the size is right.
func diffVolumes(app *v1alpha1.Application, observed map[string]string, ch *Changes) {
	if rfs := app.Spec.RootFS; rfs != nil {
		if have, ok := observed["rootfs"]; ok && !diffSize("rootfs", rfs.Size.Value(), have, ch) {
			p := ParseProps(have)
			rootFSFlags(p, rfs.VolumeOptions)
			if !sameVolume(p.String(), have) {
				ch.Set["rootfs"] = p.String()
			}
		}
	}
	for _, mp := range app.Spec.MountPoints {
		have, ok := observed[mp.Name]
		if !ok {
			// A new mount point: Proxmox allocates the volume from
			// "storage:GiB", or binds the host path.
			ch.Set[mp.Name] = newMountPoint(mp).String()
			continue
		}
		if mp.Size != nil && diffSize(mp.Name, mp.Size.Value(), have, ch) {
			continue
		}
		p := ParseProps(have)
		mountFlags(p, mp)
		if !sameVolume(p.String(), have) {
			ch.Set[mp.Name] = p.String()
		}
	}
}

// diffSize records a resize (and reports true) when the volume is smaller
// than declared, or a note when it is larger.
func diffSize(disk string, want int64, observed string, ch *Changes) bool {
	sizeStr, ok := ParseProps(observed)["size"]
	if !ok {
		return false
	}
	have, err := ParseDiskSize(sizeStr)
	if err != nil {
		return false
	}
	switch {
	case want > have:
		ch.Resizes = append(ch.Resizes, Resize{Disk: disk, Size: FormatGiB(want)})
		return true
	case want < have:
		ch.Notes = append(ch.Notes, fmt.Sprintf("%s is %s, larger than the declared %s: volumes never shrink", disk, sizeStr, FormatGiB(want)))
	}
	return false
}

// pveDefaults are the values PVE 9.1's schema gives the scalar options
// the spec sets when the config has no such key.
var pveDefaults = map[string]string{
	"arch": "amd64", "cmode": "tty", "console": "1", "debug": "0", "onboot": "0", "protection": "0", "tty": "2",
}

// equalValue compares a declared value with an observed one the way Proxmox
// normalizes them: tags lowercased and sorted, property strings by content,
// numbers by value, descriptions with PVE's trailing newline.
func equalValue(key, want, have string) bool {
	switch {
	case key == "tags":
		return reflect.DeepEqual(NormalizeTags(SplitTags(want)), NormalizeTags(SplitTags(have)))
	case isIndexedKey(key, "net"):
		return sameNIC(want, have)
	case key == "features":
		return sameFeatures(want, have)
	case key == "startup":
		return equalProps(ParseProps(want), ParseProps(have))
	case isIndexedKey(key, "dev"):
		w, h := ParseProps(want), ParseProps(have)
		dropOff(w, "deny-write")
		dropOff(h, "deny-write")
		return equalProps(w, h)
	case key == "cpulimit":
		return sameNumber(want, have)
	case key == "description":
		return sameDescription(want, have)
	case key == "nameserver":
		return strings.Join(strings.Fields(want), " ") == strings.Join(strings.Fields(have), " ")
	}
	return want == have
}

// sameFeatures compares feature strings with the mount fs types as a set.
func sameFeatures(want, have string) bool {
	w, h := ParseProps(want), ParseProps(have)
	for _, p := range []Props{w, h} {
		if v, ok := p["mount"]; ok {
			p["mount"] = sortedList(v)
		}
		for k, v := range p {
			if v == "0" && k != "mount" {
				// An explicit 0 is PVE's default for every flag.
				delete(p, k)
			}
		}
	}
	return equalProps(w, h)
}

// isIndexedKey reports whether key is prefix followed by digits (net0, mp12).
func isIndexedKey(key, prefix string) bool {
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok || rest == "" {
		return false
	}
	for _, r := range rest {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
