package lxcconfig

import (
	"maps"
	"slices"
	"sort"
	"strings"
)

// Props is a parsed Proxmox property string such as
// "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:2E:C5:7E,ip=dhcp,type=veth".
// Volume strings ("local-lvm:vm-100-disk-0,size=8G") keep their first,
// unnamed element under the key "" (Proxmox' default key).
type Props map[string]string

// ParseProps parses a comma-separated key=value list; an element without "="
// is the default key's value.
func ParseProps(s string) Props {
	p := Props{}
	if s == "" {
		return p
	}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			p[""] = k
			continue
		}
		p[k] = v
	}
	return p
}

// propOrder is the order Proxmox writes the properties we use, so that what
// we write reads like what Proxmox writes. Unknown keys follow, sorted.
var propOrder = []string{"", "name", "bridge", "hwaddr", "ip", "gw", "ip6", "gw6", "mp", "tag", "firewall", "mtu", "type", "backup", "ro", "size"}

// String formats the properties with the default key first.
func (p Props) String() string {
	seen := map[string]bool{}
	var parts []string
	add := func(k string) {
		v, ok := p[k]
		if !ok || seen[k] {
			return
		}
		seen[k] = true
		if k == "" {
			parts = append(parts, v)
		} else {
			parts = append(parts, k+"="+v)
		}
	}
	for _, k := range propOrder {
		add(k)
	}
	rest := make([]string, 0, len(p))
	for k := range p {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		add(k)
	}
	return strings.Join(parts, ",")
}

// defaultKeyNames are the names PVE's formats give their default key: a
// property string may spell it out ("path=/dev/ttyUSB0") or leave it bare.
var defaultKeyNames = []string{"volume", "path"}

// equalProps compares two property strings by content, whichever order
// and spelling of the default key PVE printed them in.
func equalProps(a, b Props) bool {
	return maps.Equal(withBareDefault(a), withBareDefault(b))
}

func withBareDefault(p Props) Props {
	out := maps.Clone(p)
	for _, k := range defaultKeyNames {
		if v, ok := out[k]; ok {
			if _, bare := out[""]; !bare {
				out[""] = v
				delete(out, k)
			}
		}
	}
	return out
}

// sortedList normalizes one of PVE's ';'-separated value lists (trunks,
// mountoptions, the fs types of features mount) to a sorted set, the order
// being no difference PVE acts on.
func sortedList(s string) string {
	items := strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ' ' })
	slices.Sort(items)
	return strings.Join(slices.Compact(items), ";")
}

// dropOff removes boolean keys that are off ("0"): for the flags PVE
// defaults to off, written off and left out are the same setting.
func dropOff(p Props, keys ...string) {
	for _, k := range keys {
		if p[k] == "0" {
			delete(p, k)
		}
	}
}
