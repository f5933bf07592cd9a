package pveschema

import (
	"regexp"
	"strconv"
	"strings"
)

// Formats registered by pve-common's PVE::JSONSchema, with the address and
// email patterns of PVE::ParseUtils.

var (
	ipv4Octet = `(?:25[0-5]|(?:2[0-4]|1[0-9]|[1-9])?[0-9])`
	// IPv4RE and IPv6RE are ParseUtils' $IPV4RE and $IPV6RE: dotted quads
	// without leading zeros, and every RFC 4291 text form of IPv6 including
	// an embedded IPv4 tail.
	IPv4RE   = `(?:(?:` + ipv4Octet + `\.){3}` + ipv4Octet + `)`
	ipv6H16  = `(?:[0-9a-fA-F]{1,4})`
	ipv6LS32 = `(?:(?:` + IPv4RE + `|` + ipv6H16 + `:` + ipv6H16 + `))`
	IPv6RE   = `(?:` +
		`(?:(?:(?:` + ipv6H16 + `:){6})` + ipv6LS32 + `)|` +
		`(?:(?:::(?:` + ipv6H16 + `:){5})` + ipv6LS32 + `)|` +
		`(?:(?:(?:` + ipv6H16 + `)?::(?:` + ipv6H16 + `:){4})` + ipv6LS32 + `)|` +
		`(?:(?:(?:(?:` + ipv6H16 + `:){0,1}` + ipv6H16 + `)?::(?:` + ipv6H16 + `:){3})` + ipv6LS32 + `)|` +
		`(?:(?:(?:(?:` + ipv6H16 + `:){0,2}` + ipv6H16 + `)?::(?:` + ipv6H16 + `:){2})` + ipv6LS32 + `)|` +
		`(?:(?:(?:(?:` + ipv6H16 + `:){0,3}` + ipv6H16 + `)?::(?:` + ipv6H16 + `:){1})` + ipv6LS32 + `)|` +
		`(?:(?:(?:(?:` + ipv6H16 + `:){0,4}` + ipv6H16 + `)?::)` + ipv6LS32 + `)|` +
		`(?:(?:(?:(?:` + ipv6H16 + `:){0,5}` + ipv6H16 + `)?::)` + ipv6H16 + `)|` +
		`(?:(?:(?:(?:` + ipv6H16 + `:){0,6}` + ipv6H16 + `)?::)))`
	emailUserRE = `[\w\+\-\~]+(\.[\w\+\-\~]+)*`
	emailRE     = emailUserRE + `@[a-zA-Z0-9\-]+(\.[a-zA-Z0-9\-]+)*`
	dnsLabelRE  = `([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)`

	reIPv4      = mustPerlAnchored(IPv4RE)
	reIPv6      = mustPerlAnchored(IPv6RE)
	reIP        = mustPerlAnchored(IPv4RE + `|` + IPv6RE)
	reCIDRv4    = mustPerlAnchored(`(?:` + IPv4RE + `)(?:/(\d+))`)
	reCIDRv6    = mustPerlAnchored(`(?:` + IPv6RE + `)(?:/(\d+))`)
	reDNSName   = mustPerlAnchored(`(` + dnsLabelRE + `\.)*` + dnsLabelRE)
	reEmail     = mustPerlAnchored(emailRE)
	reEmailUser = mustPerlAnchored(emailUserRE)
	reDiskSize  = mustPerlAnchored(`(\d+(\.\d+)?)([KMGT](?:iB)?)?`)
	reStorageID = mustPerlAnchored(`(?i)[a-z][a-z0-9\-\_\.]*[a-z0-9]`)
	reVLAN      = mustPerlAnchored(`(\d+)(?:-(\d+))?`)
)

func init() {
	// pve_verify_configid: $CONFIGID_RE, case-insensitive.
	registerCode("pve-configid", matchOr(mustPerlAnchored(`(?i)[a-z][a-z0-9_-]+`), "invalid configuration ID '%s'"))
	// parse_storage_id -> parse_id: at least two characters, a letter
	// first, no dash or dot last.
	registerCode("pve-storage-id", func(v string) error { return parseID(v, "storage") })
	// parse_bridge_id.
	registerCode("pve-bridge-id", matchOr(mustPerlAnchored(`[-_.\w\d]+`), "invalid bridge ID '%s'"))
	// pve_verify_vmid: 3 to 9 digits, no leading zero; this runs before
	// the minimum check, so 99 fails here rather than on "minimum".
	registerCode("pve-vmid", matchOr(mustPerlAnchored(`[1-9][0-9]{2,8}`), "value does not look like a valid VM ID"))
	// pve_verify_node_name: one DNS label, no dots.
	registerCode("pve-node", matchOr(mustPerlAnchored(`([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)`), "value does not look like a valid node name"))
	// verify_storagepair / verify_bridgepair: one entry of parse_idmap.
	registerCode("storage-pair", func(v string) error { return verifyIDPair(v, "pve-storage-id") })
	registerCode("bridge-pair", func(v string) error { return verifyIDPair(v, "pve-bridge-id") })
	// pve_verify_mac_addr: the I/G (multicast) bit must be clear.
	registerCode("mac-addr", matchOr(mustPerlAnchored(`(?i)[a-f0-9][02468ace](?::[a-f0-9]{2}){5}`), "value does not look like a valid unicast MAC address"))
	registerCode("ipv4", matchOr(reIPv4, "value does not look like a valid IPv4 address"))
	registerCode("ipv6", matchOr(reIPv6, "value does not look like a valid IPv6 address"))
	registerCode("ip", matchOr(reIP, "value does not look like a valid IP address"))
	// pve_verify_ipv4mask: one of the 33 contiguous netmasks.
	registerCode("ipv4mask", verifyIPv4Mask)
	// pve_verify_cidrv4 / cidrv6: prefix lengths 8..32 and 8..128.
	registerCode("CIDRv4", cidrFormat(reCIDRv4, 32, "value does not look like a valid IPv4 CIDR network"))
	registerCode("CIDRv6", cidrFormat(reCIDRv6, 128, "value does not look like a valid IPv6 CIDR network"))
	registerCode("CIDR", func(v string) error {
		if isCIDR(reCIDRv4, 32, v) || isCIDR(reCIDRv6, 128, v) {
			return nil
		}
		return dief("value does not look like a valid CIDR network")
	})
	// pve_verify_ipv4_config / ipv6_config: a keyword or a CIDR.
	registerCode("pve-ipv4-config", ipConfig(`dhcp|manual`, reCIDRv4, 32, "ipv4"))
	registerCode("pve-ipv6-config", ipConfig(`auto|dhcp|manual`, reCIDRv6, 128, "ipv6"))
	registerCode("email", matchOr(reEmail, "value does not look like a valid email address"))
	// pve_verify_email_or_username: an address or a bare user part.
	registerCode("email-or-username", func(v string) error {
		if reEmail.MatchString(v) || reEmailUser.MatchString(v) {
			return nil
		}
		return dief("value does not look like a valid email address or user name")
	})
	registerCode("dns-name", matchOr(reDNSName, "value does not look like a valid DNS name"))
	// pve_verify_iface: a letter, 1..20 more, an optional :N or .N suffix.
	registerCode("pve-iface", matchOr(mustPerlAnchored(`(?i)[a-z][a-z0-9_]{1,20}([:\.]\d+)?`), "invalid network interface name '%s'"))
	registerCode("pve-vlan-id-or-range", verifyVLANIDOrRange)
	// pve_verify_address: an IP address or a DNS name.
	registerCode("address", func(v string) error {
		if reIP.MatchString(v) || reDNSName.MatchString(v) {
			return nil
		}
		return dief("value does not look like a valid address: %s", v)
	})
	// pve_verify_disk_size -> parse_size.
	registerCode("disk-size", matchOr(reDiskSize, "value does not look like a valid disk size: %s"))
	registerCode("pve-startup-order", verifyStartupOrder)
	// pve_verify_tag: $PVE_TAG_RE.
	registerCode("pve-tag", matchOr(mustPerlAnchored(`(?i)[a-z0-9_][a-z0-9_\-\+\.]*`), "invalid characters in tag"))
	// verify_task_status_type.
	registerCode("pve-task-status-type", matchOr(mustPerlAnchored(`(?i)ok|error|warning|unknown`), "invalid status '%s'"))
	registerHash("proxmox-remote", remoteFormat, nil)
}

// parseID is parse_id: the length check comes first, then the characters.
func parseID(id, what string) error {
	if len([]rune(id)) < 2 {
		return dief("%s ID '%s' cannot be shorter than 2 characters", what, id)
	}
	if !reStorageID.MatchString(id) {
		return dief("%s ID '%s' contains illegal characters", what, id)
	}
	return nil
}

var reIDPair = mustPerlAnchored(`([^:]+):([^:]+)`)

// verifyIDPair is $verify_idpair on one list entry: parse_idmap accepts
// "1" (identity), "source:target" or a lone default target, each ID checked
// with idFormat; $verify_idpair dies with parse_idmap's message plus one
// more newline.
func verifyIDPair(entry, idFormat string) error {
	if entry == "1" {
		return nil
	}
	ids := []string{entry}
	if m := reIDPair.FindStringSubmatch(entry); m != nil {
		ids = m[1:]
	}
	for _, id := range ids {
		if err := CheckFormat(idFormat, id, ""); err != nil {
			return dief("entry '%s' contains invalid ID - %s\n", entry, err.Error())
		}
	}
	return nil
}

func verifyIPv4Mask(v string) error {
	parts := strings.Split(v, ".")
	if len(parts) == 4 {
		var bits uint32
		ok := true
		for _, p := range parts {
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 || n > 255 || strconv.Itoa(n) != p {
				ok = false
				break
			}
			bits = bits<<8 | uint32(n)
		}
		// contiguous ones then zeros: inverting and adding one gives a
		// power of two (or zero for 255.255.255.255).
		if inv := ^bits; ok && inv&(inv+1) == 0 {
			return nil
		}
	}
	return dief("value does not look like a valid IP netmask")
}

func isCIDR(re *regexp.Regexp, maxLen int, v string) bool {
	m := re.FindStringSubmatch(v)
	if m == nil {
		return false
	}
	n, err := strconv.Atoi(m[len(m)-1])
	return err == nil && n > 7 && n <= maxLen
}

func cidrFormat(re *regexp.Regexp, maxLen int, msg string) codeFormat {
	return func(v string) error {
		if isCIDR(re, maxLen, v) {
			return nil
		}
		return dief("%s", msg)
	}
}

func ipConfig(keywords string, cidr *regexp.Regexp, maxLen int, family string) codeFormat {
	kw := mustPerlAnchored(keywords)
	return func(v string) error {
		if kw.MatchString(v) || isCIDR(cidr, maxLen, v) {
			return nil
		}
		return dief("value does not look like a valid %s network configuration", family)
	}
}

// verifyVLANIDOrRange is pve_verify_vlan_id_or_range: a tag 2..4094 or a
// rising range of two.
func verifyVLANIDOrRange(v string) error {
	m := reVLAN.FindStringSubmatch(v)
	if m == nil {
		return dief("invalid VLAN configuration '%s'", v)
	}
	start, end := perlNumber(m[1]), perlNumber(m[2])
	if start < 2 || start > 4094 {
		return dief("invalid VLAN tag '%s'", m[1])
	}
	// Perl tests the end tag for truth, so a range ending in "0" is
	// taken as no range at all.
	if m[2] == "" || m[2] == "0" {
		return nil
	}
	if end < 2 || end > 4094 {
		return dief("invalid VLAN tag '%s'", m[2])
	}
	if start >= end {
		return dief("VLAN range must go from lower to higher tag '%s'", v)
	}
	return nil
}

var (
	reStartupOrder = mustPerlAnchored(`(order=)?(\d+)`)
	reStartupUp    = mustPerlAnchored(`up=(\d+)`)
	reStartupDown  = mustPerlAnchored(`down=(\d+)`)
)

// verifyStartupOrder is pve_parse_startup_order: a false value ("" or "0")
// fails, blank parts are skipped, every other part is order, up or down.
func verifyStartupOrder(v string) error {
	fail := dief("unable to parse startup options")
	if v == "" || v == "0" {
		return fail
	}
	for _, p := range strings.Split(v, ",") {
		if reBlankPart.MatchString(p) {
			continue
		}
		if !reStartupOrder.MatchString(p) && !reStartupUp.MatchString(p) && !reStartupDown.MatchString(p) {
			return fail
		}
	}
	return nil
}

// remoteFormat is $remote_format of PVE::JSONSchema (proxmox-remote).
var remoteFormat = PropertyFormat{
	"host":        {Type: "string", MinLength: -1, MaxLength: -1},
	"port":        {Type: "integer", Optional: true, MinLength: -1, MaxLength: -1},
	"apitoken":    {Type: "string", MinLength: -1, MaxLength: -1},
	"fingerprint": {Type: "string", Optional: true, MinLength: -1, MaxLength: -1, Pattern: mustPerlAnchored(`([A-Fa-f0-9]{2}:){31}[A-Fa-f0-9]{2}`)},
}
