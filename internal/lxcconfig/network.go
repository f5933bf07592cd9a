package lxcconfig

import (
	"slices"
	"strconv"
	"strings"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// netKey maps an interface name (eth3) to its Proxmox key (net3).
func netKey(ifname string) string { return "net" + strings.TrimPrefix(ifname, "eth") }

// managedNetProps are the NIC properties a declared interface controls.
// hwaddr is among them only when macAddress is set: otherwise the MAC
// Proxmox generated is kept, so that DHCP leases survive every change.
// type (always veth) and anything unknown are kept as Proxmox has them.
var managedNetProps = []string{"name", "bridge", "ip", "gw", "ip6", "gw6", "tag", "firewall", "mtu", "rate", "trunks", "link_down", "host-managed"}

// netProps renders a declared interface over its observed properties.
// hostManagedDefault is what an omitted hostManaged means: on for
// containers made from an image, which PVE itself sets up host-managed
// (pve-container LXC/Create.pm restore_oci_archive), off otherwise.
func netProps(n v1alpha1.NetworkInterface, observed Props, hostManagedDefault bool) Props {
	p := Props{}
	for k, v := range observed {
		p[k] = v
	}
	for _, k := range managedNetProps {
		delete(p, k)
	}
	p["name"] = n.Name
	p["bridge"] = n.Bridge
	if p["bridge"] == "" {
		p["bridge"] = "vmbr0"
	}
	setIf(p, "hwaddr", n.MACAddress)
	setIf(p, "ip", n.IPv4)
	setIf(p, "gw", n.Gateway)
	setIf(p, "ip6", n.IPv6)
	setIf(p, "gw6", n.Gateway6)
	if n.VLAN != nil {
		p["tag"] = strconv.Itoa(int(*n.VLAN))
	}
	setFlag(p, "firewall", n.Firewall)
	if n.MTU != nil {
		p["mtu"] = strconv.Itoa(int(*n.MTU))
	}
	if n.Rate != nil {
		p["rate"] = decimal(*n.Rate)
	}
	if len(n.Trunks) > 0 {
		p["trunks"] = joinTrunks(n.Trunks)
	}
	setFlag(p, "link_down", n.LinkDown)
	setFlag(p, "host-managed", ptrOr(n.HostManaged, hostManagedDefault))
	if _, ok := p["type"]; !ok {
		p["type"] = "veth"
	}
	return p
}

// joinTrunks writes VLAN IDs as PVE's trunks list ("10;20"), sorted so
// that the order a spec lists them in is no change.
func joinTrunks(ids []int32) string {
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	parts := make([]string, 0, len(sorted))
	for i, id := range sorted {
		if i > 0 && id == sorted[i-1] {
			continue
		}
		parts = append(parts, strconv.Itoa(int(id)))
	}
	return strings.Join(parts, ";")
}

// sameNIC compares two NIC property strings the way PVE reads them: MAC
// addresses in any case, rate by value, trunks as a set.
func sameNIC(want, have string) bool {
	w, h := ParseProps(want), ParseProps(have)
	for _, p := range []Props{w, h} {
		if v, ok := p["hwaddr"]; ok {
			p["hwaddr"] = strings.ToUpper(v)
		}
		if v, ok := p["trunks"]; ok {
			p["trunks"] = sortedList(v)
		}
		dropOff(p, "firewall", "link_down", "host-managed")
	}
	if wr, hr := w["rate"], h["rate"]; wr != "" && hr != "" && sameNumber(wr, hr) {
		delete(w, "rate")
		delete(h, "rate")
	}
	return equalProps(w, h)
}

// ptrOr is *v, or def when v is nil.
func ptrOr(v *bool, def bool) bool {
	if v == nil {
		return def
	}
	return *v
}
