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
	// than declared (volumes never shrink) or a mount point removed from the
	// spec (detaching it would orphan data).
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
// returns what to change.
func Diff(app *v1alpha1.Application, observed map[string]string) Changes {
	ch := Changes{Set: map[string]string{}}
	for k, want := range declaredKeys(app, observed) {
		have, present := observed[k]
		switch {
		case want == "" && present:
			ch.Delete = append(ch.Delete, k)
		case want == "":
		case !equalValue(k, want, have):
			ch.Set[k] = want
		}
	}
	if app.Spec.Network != nil {
		declared := map[string]bool{}
		for _, n := range app.Spec.Network {
			declared[netKey(n.Name)] = true
		}
		for k := range observed {
			if isIndexedKey(k, "net") && !declared[k] {
				ch.Delete = append(ch.Delete, k)
			}
		}
	}
	diffVolumes(app, observed, &ch)
	sort.Strings(ch.Delete)
	return ch
}

func diffVolumes(app *v1alpha1.Application, observed map[string]string, ch *Changes) {
	if rfs := app.Spec.RootFS; rfs != nil {
		diffSize("rootfs", rfs.Size.Value(), observed["rootfs"], ch)
	}
	declared := map[string]bool{}
	for _, mp := range app.Spec.MountPoints {
		declared[mp.Name] = true
		have, ok := observed[mp.Name]
		if !ok {
			// A new mount point: Proxmox allocates the volume from "storage:GiB".
			ch.Set[mp.Name] = newMountPoint(mp).String()
			continue
		}
		p := ParseProps(have)
		before := p.String()
		mountFlags(p, mp)
		if p.String() != before {
			ch.Set[mp.Name] = p.String()
		}
		diffSize(mp.Name, mp.Size.Value(), have, ch)
	}
	if app.Spec.MountPoints != nil {
		for k := range observed {
			if isIndexedKey(k, "mp") && !declared[k] {
				ch.Notes = append(ch.Notes, fmt.Sprintf("%s is not declared but is left attached: detaching it could orphan its data", k))
			}
		}
	}
}

func diffSize(disk string, want int64, observed string, ch *Changes) {
	sizeStr, ok := ParseProps(observed)["size"]
	if !ok {
		return
	}
	have, err := ParseDiskSize(sizeStr)
	if err != nil {
		return
	}
	switch {
	case want > have:
		ch.Resizes = append(ch.Resizes, Resize{Disk: disk, Size: FormatGiB(want)})
	case want < have:
		ch.Notes = append(ch.Notes, fmt.Sprintf("%s is %s, larger than the declared %s: volumes never shrink", disk, sizeStr, FormatGiB(want)))
	}
}

// equalValue compares a declared value with an observed one the way Proxmox
// normalizes them: tags lowercased and sorted, property strings by content.
func equalValue(key, want, have string) bool {
	switch {
	case key == "tags":
		return reflect.DeepEqual(NormalizeTags(SplitTags(want)), NormalizeTags(SplitTags(have)))
	case key == "features" || isIndexedKey(key, "net"):
		return reflect.DeepEqual(ParseProps(want), ParseProps(have))
	case key == "nameserver":
		return strings.Join(strings.Fields(want), " ") == strings.Join(strings.Fields(have), " ")
	}
	return want == have
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
