package adoptgen

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
)

// network declares every netN, or none: a declared list removes the
// interfaces it does not name, so one that cannot be declared leaves the
// whole list as found.
func (b *builder) network() {
	keys := b.indexed("net")
	if len(keys) == 0 {
		return
	}
	nics := make([]v1alpha1.NetworkInterface, 0, len(keys))
	for _, k := range keys {
		n, err := nicFromProps(k, lxcconfig.ParseProps(b.cfg[k]))
		if err != nil {
			b.note("%s %s: network left undeclared (kept as found, all interfaces)", k, err)
			return
		}
		nics = append(nics, n)
	}
	b.spec.Network = nics
}

// indexed lists, sorted by index, the cfg keys prefix<N>, marking them used.
func (b *builder) indexed(prefix string) []string {
	var keys []string
	for k := range b.cfg {
		if isIndexed(k, prefix) {
			keys = append(keys, k)
			b.used[k] = true
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		a, _ := strconv.Atoi(strings.TrimPrefix(keys[i], prefix))
		c, _ := strconv.Atoi(strings.TrimPrefix(keys[j], prefix))
		return a < c
	})
	return keys
}

// nicFromProps reads one netN. The spec names interfaces ethN and renders
// them as netN, so netN must be called ethN inside the container.
func nicFromProps(key string, p lxcconfig.Props) (v1alpha1.NetworkInterface, error) {
	n := v1alpha1.NetworkInterface{Name: p["name"]}
	if want := "eth" + strings.TrimPrefix(key, "net"); n.Name != want {
		return n, fmt.Errorf("is named %q, not %s (the spec maps ethN to netN)", n.Name, want)
	}
	idx, _ := strconv.Atoi(strings.TrimPrefix(key, "net"))
	if idx > 31 {
		return n, fmt.Errorf("is beyond eth31")
	}
	n.Bridge = p["bridge"]
	if n.Bridge == "" || len(n.Bridge) > 15 || !bridgePattern.MatchString(n.Bridge) {
		return n, fmt.Errorf("has bridge %q, which the spec cannot express", n.Bridge)
	}
	if mac := p["hwaddr"]; mac != "" {
		if !macPattern.MatchString(mac) {
			return n, fmt.Errorf("has MAC address %q, which the spec cannot express", mac)
		}
		n.MACAddress = mac
	}
	if err := nicAddresses(&n, p); err != nil {
		return n, err
	}
	if err := nicLimits(&n, p); err != nil {
		return n, err
	}
	return n, nicFlags(&n, p)
}

// nicAddresses reads ip, gw, ip6 and gw6 as the CRD's rules allow them.
func nicAddresses(n *v1alpha1.NetworkInterface, p lxcconfig.Props) error {
	n.IPv4, n.Gateway, n.IPv6, n.Gateway6 = p["ip"], p["gw"], p["ip6"], p["gw6"]
	if !validIP(n.IPv4, 4, "dhcp", "manual") {
		return fmt.Errorf("has ip %q, which the spec cannot express", n.IPv4)
	}
	if !validIP(n.IPv6, 6, "dhcp", "auto", "manual") {
		return fmt.Errorf("has ip6 %q, which the spec cannot express", n.IPv6)
	}
	if !validGateway(n.Gateway, n.IPv4, 4) {
		return fmt.Errorf("has gw %q, which the spec takes only as an IPv4 address with a static ip", n.Gateway)
	}
	if !validGateway(n.Gateway6, n.IPv6, 6) {
		return fmt.Errorf("has gw6 %q, which the spec takes only as an IPv6 address with a static ip6", n.Gateway6)
	}
	return nil
}

// validIP: empty, a keyword, or an address of the family in CIDR form.
func validIP(v string, family int, keywords ...string) bool {
	if v == "" {
		return true
	}
	for _, k := range keywords {
		if v == k {
			return true
		}
	}
	pfx, err := netip.ParsePrefix(v)
	return err == nil && (family == 4) == pfx.Addr().Is4()
}

func validGateway(gw, ip string, family int) bool {
	if gw == "" {
		return true
	}
	a, err := netip.ParseAddr(gw)
	if err != nil || (family == 4) != a.Is4() {
		return false
	}
	_, err = netip.ParsePrefix(ip)
	return err == nil
}

// nicLimits reads tag, mtu, rate and trunks.
func nicLimits(n *v1alpha1.NetworkInterface, p lxcconfig.Props) error {
	var err error
	if n.VLAN, err = optInt(p, "tag", 1, 4094); err != nil {
		return err
	}
	if n.MTU, err = optInt(p, "mtu", 64, 65535); err != nil {
		return err
	}
	if v, ok := p["rate"]; ok {
		q, err := resource.ParseQuantity(v)
		if err != nil || q.Sign() <= 0 {
			return fmt.Errorf("has rate %q, which the spec takes only as a positive number", v)
		}
		n.Rate = &q
	}
	if v, ok := p["trunks"]; ok {
		for _, s := range strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == ' ' }) {
			id, err := strconv.Atoi(s)
			if err != nil || id < 1 || id > 4094 {
				return fmt.Errorf("has trunks %q, which the spec cannot express", v)
			}
			n.Trunks = append(n.Trunks, int32(id))
		}
	}
	return nil
}

func optInt(p lxcconfig.Props, k string, lo, hi int) (*int32, error) {
	v, ok := p[k]
	if !ok {
		return nil, nil
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < lo || i > hi {
		return nil, fmt.Errorf("has %s %q, not a whole number from %d to %d", k, v, lo, hi)
	}
	return ptr.To(int32(i)), nil
}

// nicFlags reads firewall, link_down and host-managed.
func nicFlags(n *v1alpha1.NetworkInterface, p lxcconfig.Props) error {
	var ok [3]bool
	n.Firewall, ok[0] = flag01(p, "firewall")
	n.LinkDown, ok[1] = flag01(p, "link_down")
	var hm bool
	hm, ok[2] = flag01(p, "host-managed")
	if ok != [3]bool{true, true, true} {
		return fmt.Errorf("has a firewall, link_down or host-managed flag other than 0 or 1")
	}
	if hm {
		// Omitted means off for a container not made from an image.
		n.HostManaged = ptr.To(true)
	}
	return nil
}
