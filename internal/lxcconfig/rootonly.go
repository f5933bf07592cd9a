package lxcconfig

import (
	"sort"
	"strings"

	"github.com/pve-operator/pve-operator/internal/pveparams"
)

// RootOnly returns, sorted, the keys of a config change that Proxmox lets
// nobody but root@pam make, whatever privileges an API token holds. It
// predicts pve-container's check_ct_modify_config_perm, so the operator can
// say which keys need root credentials instead of sending the change and
// reading a 403:
//   - a mount point (or rootfs) set to a bind or device mount, that is a
//     volume beginning with "/" (removing one is not root-only);
//   - devN, set or removed;
//   - hookscript, set or removed;
//   - features, set or removed, on a privileged container;
//   - features on an unprivileged one when any flag but nesting changes.
//
// set and del are the keys to set and remove, observed the container's
// current config (nil for a new container).
func RootOnly(set map[string]string, del []string, observed map[string]string, unprivileged bool) []string {
	var keys []string
	for k, v := range set {
		if rootOnlySet(k, v, observed[k], unprivileged) {
			keys = append(keys, k)
		}
	}
	for _, k := range del {
		if rootOnlyDelete(k, observed[k], unprivileged) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// CreateRootOnly returns the root-only keys among the parameters of a
// create call. PVE checks a create like a change of an empty config, with
// the container's unprivileged flag as the create sets it (unprivileged
// unless the call says 0, as the simulator and PVE 9 default).
func CreateRootOnly(params pveparams.List) []string {
	set := map[string]string{}
	for _, p := range params {
		set[p.Key] = p.Value
	}
	return RootOnly(set, nil, nil, set["unprivileged"] != "0")
}

func rootOnlySet(key, value, old string, unprivileged bool) bool {
	switch {
	case key == "hookscript", isIndexedKey(key, "dev"):
		return true
	case key == "rootfs", isIndexedKey(key, "mp"):
		return strings.HasPrefix(MountVolume(value), "/")
	case key == "features":
		return !unprivileged || featuresNeedRoot(value, old)
	}
	return false
}

func rootOnlyDelete(key, old string, unprivileged bool) bool {
	switch {
	case key == "hookscript", isIndexedKey(key, "dev"):
		return true
	case key == "features":
		return !unprivileged || !onlyNesting(normalizedFeatures(old))
	}
	return false
}

// featuresNeedRoot reports whether changing the features from old to value
// changes a flag other than nesting. Without old features, PVE counts any
// flag set other than a lone nesting=1 as such a change (even nesting=0).
func featuresNeedRoot(value, old string) bool {
	want := normalizedFeatures(value)
	if old == "" {
		return !onlyNesting(want)
	}
	have := normalizedFeatures(old)
	for _, m := range []Props{want, have} {
		for k := range m {
			if k != "nesting" && want[k] != have[k] {
				return true
			}
		}
	}
	return false
}

// onlyNesting is PVE's test for a features value nothing but nesting may
// change: empty, or exactly nesting=1.
func onlyNesting(f Props) bool {
	return len(f) == 0 || (len(f) == 1 && f["nesting"] == "1")
}

// normalizedFeatures parses a features value with boolean flags in PVE's
// canonical 0/1 (it accepts on/off, yes/no, true/false too).
func normalizedFeatures(s string) Props {
	p := ParseProps(s)
	for k, v := range p {
		switch strings.ToLower(v) {
		case "1", "on", "yes", "true":
			p[k] = "1"
		case "0", "off", "no", "false":
			p[k] = "0"
		}
	}
	return p
}

// MountVolume returns the volume of a rootfs or mpN value: a volume ID
// ("local-lvm:vm-100-disk-1"), a new volume ("local-lvm:8"), or a path of
// the node for bind ("/srv/data") and device ("/dev/sdb1") mounts. The
// volume is the property string's default key, or volume=.
func MountVolume(value string) string {
	p := ParseProps(value)
	if v, ok := p["volume"]; ok {
		return v
	}
	return p[""]
}

// HostAccess is what a container reaches on its node outside its own
// volumes: the host paths of bind (and device) mount points, the devices
// passed through, and the hookscript. Keys are the config keys (mpN, devN).
type HostAccess struct {
	HostPaths  map[string]string
	Devices    map[string]string
	Hookscript string
}
