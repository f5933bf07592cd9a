package pveschema

import (
	"bufio"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Formats registered by pve-firewall's PVE::Firewall. PVE checks addresses
// with Perl's Net::IP; netIPNew below covers the forms PVE's own GUI and
// docs use (an address, a CIDR, a range "a-b", Net::IP's short IPv4 such as
// "10.0.0") with Net::IP's messages, not every notation Net::IP knows.

const (
	maxAliasNameLength = 64
	maxIPSetNameLength = 64
)

var (
	reIPOrCIDR  = mustPerlAnchored(`(?:` + IPv6RE + `|` + IPv4RE + `)(?:/\d+)?`)
	reIPAlias   = mustPerlAnchored(`(dc/|guest/)?(?:[A-Za-z][A-Za-z0-9\-\_]+)`)
	reIPSetRef  = mustPerlAnchored(`(\+)(\S+)`)
	rePortRange = mustPerlAnchored(`([0-9]+):([0-9]+)`)
	rePort      = mustPerlAnchored(`([0-9]+)`)
	reIPv4Chars = regexp.MustCompile(`^[0-9.]*$`)
)

func init() {
	registerCode("IPorCIDR", verifyIPOrCIDR)
	// pve_verify_ip_or_cidr_or_alias: an alias name (optionally dc/ or
	// guest/ scoped) or an address.
	registerCode("IPorCIDRorAlias", func(v string) error {
		if reIPAlias.MatchString(v) {
			return nil
		}
		return verifyIPOrCIDR(v)
	})
	registerCode("pve-fw-addr-spec", parseAddressList)
	registerCode("pve-fw-sport-spec", func(v string) error { return parsePortList(v, false) })
	registerCode("pve-fw-dport-spec", func(v string) error { return parsePortList(v, true) })
	// pve_fw_verify_protocol_spec: a name or number from /etc/protocols,
	// plus icmpv6; a false value passes.
	registerCode("pve-fw-protocol-spec", func(v string) error {
		if v == "" || v == "0" || etcProtocols()[v] {
			return nil
		}
		return dief("unknown protocol '%s'", v)
	})
	// pve_fw_verify_icmp_type_spec: an iptables or ip6tables ICMP type
	// name; an empty value passes.
	registerCode("pve-fw-icmp-type-spec", func(v string) error {
		if v == "" || icmpTypeNames[v] || icmpv6TypeNames[v] {
			return nil
		}
		return dief("invalid icmp-type value '%s'", v)
	})
}

// verifyIPOrCIDR is pve_verify_ip_or_cidr: the text must look like an
// address with an optional prefix, and Net::IP must take it once
// clean_cidr has cleared the host bits (which clean_cidr skips for /0).
func verifyIPOrCIDR(v string) error {
	if !reIPOrCIDR.MatchString(v) {
		return dief("value does not look like a valid IP address or CIDR network")
	}
	addr, length, hasLen := strings.Cut(strings.TrimSuffix(v, "\n"), "/")
	if hasLen {
		if n, _ := strconv.Atoi(length); n > 0 {
			if ip, err := netip.ParseAddr(addr); err == nil {
				if p, err := ip.Prefix(min(n, ip.BitLen())); err == nil {
					v = p.Addr().String() + "/" + length
				}
			}
		}
	}
	if _, _, err := netIPNew(v); err != nil {
		return dief("%s", err.Error())
	}
	return nil
}

// parseAddressList is parse_address_list: an ipset reference, an alias, or
// a comma list of addresses of one IP version, where a range must stand
// alone.
func parseAddressList(s string) error {
	if reIPSetRef.MatchString(s) {
		if len(s) > maxIPSetNameLength+1 {
			return dief("ipset name too long")
		}
		return nil
	}
	if reIPAlias.MatchString(s) {
		if len(s) > maxAliasNameLength {
			return dief("alias name too long")
		}
		return nil
	}
	elems, err := perlCommaList(s)
	if err != nil {
		return err
	}
	version, isRange := 0, false
	for _, e := range elems {
		v, r, err := netIPNew(e)
		if err != nil {
			return dief("invalid IP address: %s", err.Error())
		}
		if version != 0 && v != version {
			return dief("detected mixed ipv4/ipv6 addresses in address list '%s'", s)
		}
		version, isRange = v, isRange || r
	}
	if isRange && len(elems) > 1 {
		return dief("you can't use a range in a list")
	}
	return nil
}

// perlCommaList is split(/,/, $s) with PVE's check that joining the
// fields gives the text back, which fails on trailing commas.
func perlCommaList(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	elems := strings.Split(s, ",")
	if perlSplitCount(s, ",") != len(elems) {
		return nil, dief("extraneous commas in list")
	}
	return elems, nil
}

// netIPNew reports the IP version of an address, a CIDR or a range the way
// Net::IP->new accepts them, with Net::IP's error text.
func netIPNew(s string) (version int, isRange bool, err error) {
	if begin, end, ok := strings.Cut(s, "-"); ok {
		b, bv, err := parseNetIPAddr(strings.TrimSpace(begin))
		if err != nil {
			return 0, true, err
		}
		e, ev, err := parseNetIPAddr(strings.TrimSpace(end))
		if err != nil || ev != bv {
			return 0, true, netIPErrorf("Not a valid IPv%d address %s", bv, strings.TrimSpace(end))
		}
		if b.Compare(e) > 0 {
			return 0, true, netIPErrorf("Begin address is greater than End address %s - %s", strings.TrimSpace(begin), strings.TrimSpace(end))
		}
		return bv, true, nil
	}
	addr, length, hasLen := strings.Cut(s, "/")
	ip, v, err := parseNetIPAddr(addr)
	if err != nil || !hasLen {
		return v, false, err
	}
	n, convErr := strconv.Atoi(length)
	if convErr != nil || n > ip.BitLen() {
		return 0, false, netIPErrorf("Prefix length %s is longer than IP address (%d)", length, ip.BitLen())
	}
	if p, _ := ip.Prefix(n); p.Addr() != ip {
		return 0, false, netIPErrorf("Invalid prefix %s/%s", bitString(ip), length)
	}
	return v, false, nil
}

// netIPError is a Net::IP error text, which starts with a capital letter.
type netIPError string

func (e netIPError) Error() string { return string(e) }

func netIPErrorf(format string, args ...any) error { return netIPError(fmt.Sprintf(format, args...)) }

// parseNetIPAddr reads one address; Net::IP pads short IPv4 forms
// ("10.0.0") with zero quads.
func parseNetIPAddr(s string) (netip.Addr, int, error) {
	if strings.Contains(s, ":") {
		ip, err := netip.ParseAddr(s)
		if err != nil || !ip.Is6() {
			return netip.Addr{}, 6, netIPErrorf("Invalid IP address %s", s)
		}
		return ip, 6, nil
	}
	if s == "" || !reIPv4Chars.MatchString(s) {
		return netip.Addr{}, 4, netIPErrorf("Invalid chars in IP %s", s)
	}
	quads := strings.Split(s, ".")
	if len(quads) > 4 {
		return netip.Addr{}, 4, netIPErrorf("Invalid IP address %s", s)
	}
	var b [4]byte
	for i, q := range quads {
		n, err := strconv.Atoi(q)
		if err != nil || n > 255 {
			return netip.Addr{}, 4, netIPErrorf("Invalid quad in IP address %s - %s", s, q)
		}
		b[i] = byte(n)
	}
	return netip.AddrFrom4(b), 4, nil
}

// bitString is Net::IP's binary form of an address.
func bitString(ip netip.Addr) string {
	n := new(big.Int).SetBytes(ip.AsSlice())
	return fmt.Sprintf("%0*s", ip.BitLen(), n.Text(2))
}

// parsePortList is parse_port_name_number_or_range: numbers, ranges
// "a:b" and /etc/services names; dport also takes ICMP type names (an old
// way to write them), which must then stand without numbers.
func parsePortList(s string, dport bool) error {
	elems, err := perlCommaList(s)
	if err != nil {
		return err
	}
	count, icmp := 0, false
	for _, item := range elems {
		if m := rePortRange.FindStringSubmatch(item); m != nil {
			count += 2
			p1, p2 := perlNumber(m[1]), perlNumber(m[2])
			for _, p := range m[1:] {
				if perlNumber(p) > 65535 {
					return dief("invalid port '%s'", p)
				}
			}
			if p1 > p2 {
				return dief("backwards range '%s:%s' not allowed, did you mean '%s:%s'?", m[1], m[2], m[2], m[1])
			}
			continue
		}
		if m := rePort.FindStringSubmatch(item); m != nil {
			count++
			if perlNumber(m[1]) > 65535 {
				return dief("invalid port '%s'", m[1])
			}
			continue
		}
		switch {
		case dport && (icmpTypeNames[item] || icmpv6TypeNames[item]):
			icmp = true
		case !etcServices()[item]:
			return dief("invalid port '%s'", item)
		}
	}
	if icmp && count > 0 {
		return dief("ICMP ports not allowed in port range")
	}
	if count > 15 {
		return dief("too many entries in port list (> 15 numbers)")
	}
	return nil
}

var (
	servicesOnce, protocolsOnce sync.Once
	services, protocols         map[string]bool
	reServiceLine               = regexp.MustCompile(`^(\S+)\s+(\S+)/(tcp|udp|sctp)`)
	reProtocolLine              = regexp.MustCompile(`^(\S+)\s+(\d+)(?:\s+.*)?$`)
)

// etcServices is get_etc_services: service names of /etc/services on this
// host, as PVE reads them on the node.
func etcServices() map[string]bool {
	servicesOnce.Do(func() {
		services = readTable("/etc/services", reServiceLine, false)
	})
	return services
}

// etcProtocols is get_etc_protocols: names and numbers of /etc/protocols,
// plus icmpv6.
func etcProtocols() map[string]bool {
	protocolsOnce.Do(func() {
		protocols = readTable("/etc/protocols", reProtocolLine, true)
		protocols["icmpv6"] = true
	})
	return protocols
}

func readTable(path string, re *regexp.Regexp, withID bool) map[string]bool {
	out := map[string]bool{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		if m := re.FindStringSubmatch(line); m != nil {
			out[m[1]] = true
			if withID {
				out[m[2]] = true
			}
		}
	}
	return out
}

// icmpTypeNames and icmpv6TypeNames are the type names iptables -p icmp -h
// and ip6tables -p icmpv6 -h list, as PVE::Firewall keeps them.
var icmpTypeNames = setOf(
	"any", "echo-reply", "destination-unreachable", "network-unreachable", "host-unreachable",
	"protocol-unreachable", "port-unreachable", "fragmentation-needed", "source-route-failed",
	"network-unknown", "host-unknown", "network-prohibited", "host-prohibited", "TOS-network-unreachable",
	"TOS-host-unreachable", "communication-prohibited", "host-precedence-violation", "precedence-cutoff",
	"source-quench", "redirect", "network-redirect", "host-redirect", "TOS-network-redirect",
	"TOS-host-redirect", "echo-request", "router-advertisement", "router-solicitation", "time-exceeded",
	"ttl-zero-during-transit", "ttl-zero-during-reassembly", "parameter-problem", "ip-header-bad",
	"required-option-missing", "timestamp-request", "timestamp-reply", "address-mask-request",
	"address-mask-reply",
)

var icmpv6TypeNames = setOf(
	"destination-unreachable", "no-route", "communication-prohibited", "beyond-scope",
	"address-unreachable", "port-unreachable", "failed-policy", "reject-route", "packet-too-big",
	"time-exceeded", "ttl-zero-during-transit", "ttl-zero-during-reassembly", "parameter-problem",
	"bad-header", "unknown-header-type", "unknown-option", "echo-request", "echo-reply",
	"router-solicitation", "router-advertisement", "neighbor-solicitation", "neighbour-solicitation",
	"neighbor-advertisement", "neighbour-advertisement", "redirect",
)

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}
