package pvesim

import (
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pve-operator/pve-operator/internal/pvesim/pveschema"
)

// A node's /etc/network/interfaces as PVE::Network::Interfaces reads and
// writes it. The API edits interfaces.new (PVE::INotify reads that file
// instead of the live one while it exists); PUT /network moves it into
// place and reloads. Interfaces are kept the way the reader returns them
// after a write, so a GET shows what PVE would show, normalizations
// included (cidr split into address and netmask bits, comments with a
// newline per line, bridge_stp/bridge_fd defaults).

// netIface is one interface: its string options, families and position
// in the file.
type netIface struct {
	opts     map[string]string
	families []string
	priority int
}

func (ni *netIface) clone() *netIface {
	c := &netIface{opts: map[string]string{}, families: append([]string(nil), ni.families...), priority: ni.priority}
	for k, v := range ni.opts {
		c.opts[k] = v
	}
	return c
}

// nodeNetwork is one node's network configuration.
type nodeNetwork struct {
	current map[string]*netIface
	// pending is interfaces.new; nil when there is none.
	pending map[string]*netIface
	// active are the interfaces that are up.
	active map[string]bool
}

// physicalNICs are the NICs every simulated node has; eno2 is unused.
var physicalNICs = []string{"eno1", "eno2"}

// defaultNetwork is what the simulator assumes of every node: lo, eno1
// bridged into vmbr0 with the node's address (container net0 uses vmbr0),
// and a spare eno2 that `ip link` shows but the file does not name.
func defaultNetwork(ip string) *nodeNetwork {
	nn := &nodeNetwork{current: map[string]*netIface{}, active: map[string]bool{"lo": true, "eno1": true, "vmbr0": true}}
	nn.current["lo"] = &netIface{opts: map[string]string{"type": "loopback", "method": "loopback", "autostart": "1"}, families: []string{"inet"}, priority: 1}
	nn.current["eno1"] = &netIface{opts: map[string]string{"type": "eth", "method": "manual"}, families: []string{"inet"}}
	nn.current["vmbr0"] = &netIface{opts: map[string]string{
		"type": "bridge", "method": "static", "address": ip + "/24", "gateway": "10.0.0.1",
		"bridge_ports": "eno1", "autostart": "1",
	}, families: []string{"inet"}}
	nn.current = writeInterfaces(nn.current)
	return nn
}

// network returns the node's configuration, seeding the default on first
// use. The caller holds s.mu.
func (s *Server) network(node string) *nodeNetwork {
	nn := s.networks[node]
	if nn == nil {
		nn = defaultNetwork(s.nodes[node].ip)
		s.networks[node] = nn
	}
	return nn
}

// config is what read_file('interfaces') returns: interfaces.new when it
// exists. Callers edit a copy and store it with write.
func (nn *nodeNetwork) config() map[string]*netIface {
	src := nn.current
	if nn.pending != nil {
		src = nn.pending
	}
	out := make(map[string]*netIface, len(src))
	for k, v := range src {
		out[k] = v.clone()
	}
	return withPhysical(out)
}

// ifaceTypePrio is the writer's if_type_hash: the file groups interfaces
// by kind before their own order.
var ifaceTypePrio = map[string]int{
	"loopback": 100000, "dummy": 100000, "eth": 200000, "OVSPort": 200000, "OVSIntPort": 300000,
	"OVSBond": 400000, "bond": 400000, "bridge": 500000, "OVSBridge": 500000, "vlan": 600000, "vxlan": 600000,
}

// writeInterfaces is __write_etc_network_interfaces followed by a read:
// the interfaces renumbered in file order, each normalized.
func writeInterfaces(ifaces map[string]*netIface) map[string]*netIface {
	names := sortedKeys(ifaces)
	key := func(name string) int {
		root, rest := name, 0
		if i := strings.IndexAny(name, ".:"); i >= 0 {
			root, rest = name[:i], strings.Count(name[i:], ".")+strings.Count(name[i:], ":")
		}
		p := ifaces[name].priority
		if p == 0 {
			p = 50000
		}
		if r := ifaces[root]; r != nil {
			if tp, ok := ifaceTypePrio[r.opts["type"]]; ok {
				return tp + rest + p
			}
		}
		return p
	}
	sort.SliceStable(names, func(i, j int) bool { return key(names[i]) < key(names[j]) })
	out := make(map[string]*netIface, len(ifaces))
	for i, name := range names {
		// The reader numbers stanzas from 2: 1 is kept for a synthetic lo.
		ni := normalizeIface(name, ifaces[name])
		ni.priority = i + 2
		out[name] = ni
	}
	for name, ni := range out {
		ni.opts["type"] = readType(name, ni.opts, out)
	}
	return out
}

// normalizeIface is one interface written and read back.
func normalizeIface(name string, in *netIface) *netIface {
	d := in.clone()
	o := d.opts
	normalizeAddress(o, "", 32)
	normalizeAddress(o, "6", 128)
	if !slices.Contains(d.families, "inet6") {
		delete(o, "method6")
	}
	if o["method"] == "" {
		o["method"] = "manual"
	}
	if o["method6"] == "" {
		o["method6"] = "manual"
	}
	if len(d.families) == 0 {
		d.families = []string{"inet"}
	}
	for _, k := range []string{"comments", "comments6"} {
		o[k] = rereadComment(o[k])
	}
	if c6, ok := o["comments6"]; ok {
		o["comments"] += c6
		delete(o, "comments6")
	}
	if o["autostart"] != "1" {
		delete(o, "autostart")
	}
	switch o["type"] {
	case "bridge":
		normalizeBridge(o)
	case "bond":
		normalizeBond(o)
	}
	for k, v := range o {
		// The writer skips false values of the options it has no
		// special case for.
		if (v == "" || v == "0") && !keptEmpty[k] {
			delete(o, k)
		}
	}
	return d
}

var keptEmpty = map[string]bool{"bridge_ports": true, "bridge_fd": true}

// rereadComment is a comment written as "#line" lines and read back: each
// line right-trimmed and ended with a newline, trailing empty lines gone.
func rereadComment(c string) string {
	c = strings.TrimRight(c, "\n")
	if c == "" {
		return ""
	}
	lines := strings.Split(c, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t\r")
	}
	return strings.Join(lines, "\n") + "\n"
}

// normalizeAddress is the reader's address/netmask to cidr mapping after
// the writer joined them as "address a/bits".
func normalizeAddress(o map[string]string, sfx string, full int) {
	addr := o["address"+sfx]
	if addr == "" {
		// The writer falls back to the cidr the reader had set.
		addr = o["cidr"+sfx]
		o["address"+sfx] = addr
	}
	delete(o, "cidr"+sfx)
	if addr == "" {
		delete(o, "address"+sfx)
		delete(o, "netmask"+sfx)
		return
	}
	if base, bits, ok := strings.Cut(addr, "/"); ok {
		o["address"+sfx], o["netmask"+sfx], o["cidr"+sfx] = base, bits, addr
		return
	}
	mask := o["netmask"+sfx]
	bits := -1
	if reInteger.MatchString(mask) {
		bits, _ = strconv.Atoi(mask)
	} else if mask != "" && sfx == "" {
		bits = netmaskBits(mask)
	}
	if bits < 0 {
		o["cidr"+sfx] = addr + "/" + strconv.Itoa(full)
		delete(o, "netmask"+sfx)
		return
	}
	o["netmask"+sfx] = strconv.Itoa(bits)
	o["cidr"+sfx] = addr + "/" + o["netmask"+sfx]
}

// normalizeBridge: bridge-ports (sorted, "none" when empty), bridge-stp
// off and bridge-fd 0 are always written; bridge-vlan-aware is written as
// "yes" whenever the option is set at all, with vids 2-4094 by default.
func normalizeBridge(o map[string]string) {
	o["bridge_ports"] = strings.Join(sortedUnique(pveschema.SplitList(o["bridge_ports"])), " ")
	if o["bridge_stp"] != "on" {
		o["bridge_stp"] = "off"
	}
	if o["bridge_stp"] == "off" && o["bridge_fd"] == "" {
		o["bridge_fd"] = "0"
	}
	if _, ok := o["bridge_vlan_aware"]; ok {
		o["bridge_vlan_aware"] = "1"
		if o["bridge_vids"] == "" {
			o["bridge_vids"] = "2-4094"
		}
	} else {
		delete(o, "bridge_vids")
	}
}

// normalizeBond: bond-slaves, bond-miimon 100 and bond-mode balance-rr
// are always written; the hash policy only for balance-xor and 802.3ad.
func normalizeBond(o map[string]string) {
	o["slaves"] = strings.Join(sortedUnique(pveschema.SplitList(o["slaves"])), " ")
	if o["bond_miimon"] == "" {
		o["bond_miimon"] = "100"
	}
	if o["bond_mode"] == "" {
		o["bond_mode"] = "balance-rr"
	}
	if m := o["bond_mode"]; m != "balance-xor" && m != "802.3ad" {
		delete(o, "bond_xmit_hash_policy")
	}
	if o["bond_mode"] != "active-backup" {
		delete(o, "bond-primary")
	}
}

var (
	reBondName  = regexp.MustCompile(`^bond\d+$`)
	reAliasName = regexp.MustCompile(`^(\S+):\d+$`)
	reVLANName  = regexp.MustCompile(`^(\S+)\.(\d+)$`)
	rePhysNIC   = regexp.MustCompile(`^(?:eth\d+|en[^:.]+|ib[^:.]+|(?:nic|if)\d+)$`)
)

// readType is the reader's type detection, which goes by what the file
// says and the interface's name rather than by the type it was created
// with.
func readType(name string, o map[string]string, all map[string]*netIface) string {
	switch t := o["type"]; {
	case name == "lo":
		return "loopback"
	case t == "bridge":
		return "bridge"
	case strings.HasPrefix(t, "OVS"):
		return t
	case reBondName.MatchString(name) && t == "bond":
		return "bond"
	case reAliasName.MatchString(name):
		return "alias"
	case reVLANName.MatchString(name):
		m := reVLANName.FindStringSubmatch(name)
		if o["vlan-raw-device"] == "" {
			o["vlan-raw-device"] = m[1]
		}
		o["vlan-id"] = m[2]
		return "vlan"
	case o["vlan-raw-device"] != "":
		return "vlan"
	case rePhysNIC.MatchString(name):
		return "eth"
	}
	return "unknown"
}

// checkWrite is the writer's consistency checks on the types it knows:
// bond slaves and vlan parents must exist and be of a kind that can carry
// them. They are plain dies.
func checkWrite(ifaces map[string]*netIface) *apiError {
	for _, name := range sortedKeys(ifaces) {
		o := ifaces[name].opts
		switch o["type"] {
		case "bond":
			for _, p := range pveschema.SplitList(o["slaves"]) {
				n := ifaces[p]
				if n == nil {
					return errf("bond '%s' - unable to find slave '%s'", name, p)
				}
				if t := n.opts["type"]; t != "eth" && t != "bond" {
					return errf("bond '%s' - wrong interface type on slave '%s' ('%s' != 'eth or bond')", name, p, t)
				}
			}
		case "vlan":
			parent := o["vlan-raw-device"]
			if m := reVLANName.FindStringSubmatch(name); m != nil {
				parent = m[1]
			}
			n := ifaces[parent]
			if n == nil {
				return errf("vlan '%s' - unable to find parent '%s'", name, parent)
			}
			if t := n.opts["type"]; t != "eth" && t != "bridge" && t != "bond" && t != "vlan" {
				return errf("vlan '%s' - wrong interface type on parent '%s' ('%s' != 'eth|bond|bridge|vlan' )", name, parent, t)
			}
		}
	}
	return nil
}

// view renders an interface as GET shows it: 0/1 flags as numbers, the
// rest as the strings the file holds.
func (nn *nodeNetwork) view(name string, ni *netIface) map[string]any {
	out := map[string]any{"families": ni.families}
	for k, v := range ni.opts {
		switch k {
		case "autostart", "bridge_vlan_aware":
			out[k] = 1
		default:
			out[k] = v
		}
	}
	if ni.priority > 0 {
		out["priority"] = ni.priority
	}
	if nn.active[name] {
		out["active"] = 1
	}
	if slices.Contains(physicalNICs, name) {
		out["exists"] = 1
	}
	return out
}

// withPhysical adds the NICs `ip link` reports but the file lacks, as the
// reader does (type eth, no stanza, hence no priority).
func withPhysical(ifaces map[string]*netIface) map[string]*netIface {
	for _, nic := range physicalNICs {
		if ifaces[nic] == nil {
			ifaces[nic] = &netIface{opts: map[string]string{"type": "eth", "method": "manual", "method6": "manual"}, families: []string{"inet"}}
		}
	}
	return ifaces
}

// reloadLocked is what the srvreload worker does: interfaces.new replaces
// the live file and ifreload -a brings up every auto interface and the
// NICs they use. The caller holds s.mu.
func (nn *nodeNetwork) reloadLocked() {
	if nn.pending != nil {
		nn.current = nn.pending
		nn.pending = nil
	}
	active := map[string]bool{}
	for name, ni := range nn.current {
		if ni.opts["autostart"] != "1" {
			continue
		}
		active[name] = true
		for _, p := range pveschema.SplitList(ni.opts["bridge_ports"] + " " + ni.opts["slaves"]) {
			active[p] = true
		}
	}
	nn.active = active
}

// netmaskBits is get_netmask_bits: the prefix length of a dotted IPv4
// mask, -1 when it is not one of the 33 contiguous masks.
func netmaskBits(mask string) int {
	a, err := netip.ParseAddr(mask)
	if err != nil || !a.Is4() {
		return -1
	}
	b := a.As4()
	n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	bits := 0
	for bits < 32 && n&(1<<(31-bits)) != 0 {
		bits++
	}
	if bits < 32 && n<<bits != 0 {
		return -1
	}
	return bits
}
