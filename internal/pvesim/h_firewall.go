package pvesim

import (
	"crypto/sha1"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"

	"github.com/pve-operator/pve-operator/internal/pvesim/pveschema"
)

// A container's firewall options, the [OPTIONS] section of
// /etc/pve/firewall/<vmid>.fw, as pve-firewall's PVE::API2::Firewall::VM
// (registered for containers as PVE::API2::Firewall::CT) serves them. The
// file is keyed by VMID alone and the API never loads the guest config,
// so a VMID without a container answers too, with no options.

// fwBoolOptions are the 0/1 options parse_vmfw_option reads as integers.
var fwBoolOptions = map[string]bool{"enable": true, "dhcp": true, "ndp": true, "radv": true, "macfilter": true, "ipfilter": true}

// fwOptionNames are the keys of $vm_option_properties.
var fwOptionNames = []string{"dhcp", "enable", "ipfilter", "log_level_in", "log_level_out", "macfilter", "ndp", "policy_in", "policy_out", "radv"}

// addFirewallRoutes: the container firewall index and options.
func addFirewallRoutes(rt *router) {
	rt.add("GET", "/nodes/{node}/lxc/{vmid}/firewall", nil, nil, hFirewallIndex)
	rt.add("GET", "/nodes/{node}/lxc/{vmid}/firewall/options", nil, vmPerm("VM.Audit"), hFirewallOptions)
	rt.add("PUT", "/nodes/{node}/lxc/{vmid}/firewall/options", nil, vmPerm("VM.Config.Network"), hFirewallOptionsSet)
}

// hFirewallIndex is the firewall directory, whose entries are "name"s.
func hFirewallIndex(s *Server, rq *request) (any, *apiError) {
	out := []map[string]any{}
	for _, n := range []string{"rules", "aliases", "ipset", "refs", "options"} {
		out = append(out, map[string]any{"name": n})
	}
	return out, nil
}

// fwOptionsDigest is copy_opject_with_digest's digest: SHA-1 over
// "key:value\n" of the options in key order, not over the file.
func fwOptionsDigest(opts map[string]string) string {
	var b strings.Builder
	for _, k := range sortedKeys(opts) {
		b.WriteString(k + ":" + opts[k] + "\n")
	}
	sum := sha1.Sum([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

// hFirewallOptions answers the options set in the file, the 0/1 ones as
// numbers, plus their digest.
func hFirewallOptions(s *Server, rq *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	opts := s.firewall[rq.vmid()]
	out := map[string]any{"digest": fwOptionsDigest(opts)}
	for k, v := range opts {
		if fwBoolOptions[k] {
			n, _ := strconv.Atoi(v)
			out[k] = n
			continue
		}
		out[k] = v
	}
	return out, nil
}

// hFirewallOptionsSet is set_options: digest check, then delete, then the
// options given, under the VM firewall lock. An empty option set removes
// the file.
func hFirewallOptionsSet(s *Server, rq *request) (any, *apiError) {
	p := rq.params
	vmid := rq.vmid()
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.firewall[vmid]
	if d := p["digest"]; d != "" && d != fwOptionsDigest(cur) {
		return nil, errf("%s", errModified)
	}
	next := map[string]string{}
	for k, v := range cur {
		next[k] = v
	}
	for _, k := range pveschema.SplitList(p["delete"]) {
		if !slices.Contains(fwOptionNames, k) {
			return nil, paramErr1("delete", "no such option '"+k+"'")
		}
		delete(next, k)
	}
	for _, k := range fwOptionNames {
		if v, ok := p[k]; ok {
			next[k] = v
		}
	}
	if len(next) == 0 {
		delete(s.firewall, vmid)
		return nil, nil
	}
	s.firewall[vmid] = next
	return nil, nil
}
