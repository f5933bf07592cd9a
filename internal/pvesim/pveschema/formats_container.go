package pveschema

import (
	_ "embed"
	"regexp"
	"strings"
)

// Formats registered by pve-container's PVE::LXC::Config, and the time
// zone check of PVE::JSONSchema they use.

// zoneNames is the third column of the tz database's zone.tab, the list
// pve_verify_timezone reads from /usr/share/zoneinfo/zone.tab.
//
//go:embed zone-names.txt
var zoneNames string

var zones = func() map[string]bool {
	m := map[string]bool{}
	for _, z := range strings.Fields(zoneNames) {
		m[z] = true
	}
	return m
}()

var (
	reLLAddr      = regexp.MustCompile(`^(fe80:[^%]+)%(.*)\n?$`)
	reMPDotDot    = regexp.MustCompile(`/\.\.?/|/\.\.?\n?$|^\.\./`)
	reDevDotDot   = regexp.MustCompile(`/\.\.?(?:/|\n?$)`)
	reDevPrefix   = regexp.MustCompile(`^/dev/`)
	reIfaceSuffix = mustPerlAnchored(`(?i)[a-z][a-z0-9_]{1,20}([:\.]\d+)?`)
)

func init() {
	// verify_ip_with_ll_iface: a link-local IPv6 address may carry a
	// %iface suffix; anything else must be a plain IP address.
	registerCode("lxc-ip-with-ll-iface", func(v string) error {
		if m := reLLAddr.FindStringSubmatch(v); m != nil && reIP.MatchString(m[1]) && reIfaceSuffix.MatchString(m[2]) {
			return nil
		}
		return matchOr(reIP, "value does not look like a valid IP address")(v)
	})
	// verify_ct_timezone: "host" keeps the host's zone; otherwise
	// pve_verify_timezone, which knows UTC and the zone.tab names.
	registerCode("pve-ct-timezone", func(v string) error {
		if v == "host" || v == "UTC" || zones[v] {
			return nil
		}
		return dief("invalid time zone '%s'", v)
	})
	// verify_lxc_mp_string: no "/./" or "/../", no trailing "/." or
	// "/..", no leading "../".
	registerCode("pve-lxc-mp-string", func(v string) error {
		if reMPDotDot.MatchString(v) {
			return dief("%s contains illegal character sequences", v)
		}
		return nil
	})
	// verify_lxc_dev_string: under /dev/, without "." or ".." components.
	registerCode("pve-lxc-dev-string", func(v string) error {
		if reDevDotDot.MatchString(v) || !reDevPrefix.MatchString(v) {
			return dief("%s is not a valid device path", v)
		}
		return nil
	})
}
