package pvesim

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/pve-operator/pve-operator/internal/pvesim/pveschema"
)

// HA resources as pve-ha-manager's PVE::API2::HA::Resources keeps them in
// /etc/pve/ha/resources.cfg. No CRM or LRM daemon runs; h_ha_manager.go
// stands in for what they visibly do with a requested state.

// haState is the HA configuration: resources.cfg and rules.cfg.
type haState struct {
	// resources maps a SID ("ct:100") to its set options, as written.
	resources map[string]map[string]string
	rules     map[string]*haRule
}

func newHAState() haState {
	return haState{resources: map[string]map[string]string{}, rules: map[string]*haRule{}}
}

// haResourceOptions are the options PVE::HA::Resources::PVECT (and PVEVM)
// accept in a section, which is also the list `delete` may name.
var haResourceOptions = []string{"comment", "failback", "group", "max_relocate", "max_restart", "state"}

// haNumericOptions come out of SectionConfig's check_value as numbers.
var haNumericOptions = map[string]bool{"failback": true, "max_relocate": true, "max_restart": true, "strict": true, "disable": true}

// addHARoutes: /cluster/ha/resources and /cluster/ha/rules.
func addHARoutes(rt *router) {
	sysAudit, sysConsole := rootPerm("Sys.Audit"), rootPerm("Sys.Console")
	rt.add("GET", "/cluster/ha", nil, nil, hIndex("groups", "resources", "rules", "status"))
	rt.add("GET", "/cluster/ha/resources", nil, sysAudit, hHAResources)
	rt.add("POST", "/cluster/ha/resources", nil, sysConsole, hHAResourceCreate)
	rt.add("GET", "/cluster/ha/resources/{sid}", nil, sysAudit, hHAResourceRead)
	rt.add("PUT", "/cluster/ha/resources/{sid}", nil, sysConsole, hHAResourceUpdate)
	rt.add("DELETE", "/cluster/ha/resources/{sid}", nil, sysConsole, hHAResourceDelete)
	addHARuleRoutes(rt, sysAudit, sysConsole)
}

var reDigits = regexp.MustCompile(`^\d+$`)

// parseSID is PVE::HA::Config::parse_sid: a bare VMID names the guest
// with that ID, as "ct:<id>" or "vm:<id>". The caller holds s.mu.
func (s *Server) parseSID(v string) (sid, typ, name string, e *apiError) {
	if reDigits.MatchString(v) {
		vmid, _ := strconv.Atoi(v)
		kind, _, ok := s.vmidOwner(vmid)
		if !ok {
			return "", "", "", errf("unable to detect SID from VMID - VM/CT %s does not exist", v)
		}
		typ = "vm"
		if kind == "CT" {
			typ = "ct"
		}
		return typ + ":" + v, typ, v, nil
	}
	typ, name, _ = strings.Cut(v, ":")
	return v, typ, name, nil
}

// haSID is the SID of container vmid.
func haSID(vmid int) string { return "ct:" + strconv.Itoa(vmid) }

var reHAName = regexp.MustCompile(`^[1-9][0-9]+$`)

// checkHAGuest is the resource plugin's lookup, verify_name and exists:
// a resource names a guest that exists, of the plugin's kind. The caller
// holds s.mu.
func (s *Server) checkHAGuest(sid, typ, name string) *apiError {
	if typ != "ct" && typ != "vm" {
		return errf("unknown section type '%s'", typ)
	}
	if !reHAName.MatchString(name) {
		return errf("invalid VMID")
	}
	vmid, _ := strconv.Atoi(name)
	kind, _, ok := s.vmidOwner(vmid)
	switch {
	case !ok:
		return errf("resource '%s' does not exist in cluster", sid)
	case typ == "ct" && kind != "CT":
		return errf("resource '%s' - guest with ID %d is not a container", sid, vmid)
	case typ == "vm" && kind != "VM":
		return errf("resource '%s' - guest with ID %d is not a VM", sid, vmid)
	}
	return nil
}

// errHAGroups is how PVE 9 refuses the group option once the HA groups
// have been migrated to rules, which a cluster without groups always has.
func errHAGroups() *apiError {
	return errf("invalid parameter 'group': ha groups have been migrated to rules")
}

// hHAResourceCreate is PVE::API2::HA::Resources create.
func hHAResourceCreate(s *Server, rq *request) (any, *apiError) {
	p := rq.params
	s.mu.Lock()
	defer s.mu.Unlock()
	sid, typ, name, e := s.parseSID(p["sid"])
	if e != nil {
		return nil, e
	}
	if t := p["type"]; t != "" && t != typ {
		return nil, errf("types does not match")
	}
	if _, ok := p["group"]; ok {
		return nil, errHAGroups()
	}
	if e := s.checkHAGuest(sid, typ, name); e != nil {
		return nil, e
	}
	if s.ha.resources[sid] != nil {
		return nil, errf("create resource failed: resource ID '%s' already defined", sid)
	}
	opts := map[string]string{}
	for _, k := range haResourceOptions {
		if v, ok := p[k]; ok {
			opts[k] = v
		}
	}
	s.ha.resources[sid] = opts
	s.haSettleSID(sid)
	return nil, nil
}

// haResourcesDigest is SectionConfig's digest: the SHA-1 of resources.cfg
// as written (sections by SID, options sorted). The caller holds s.mu.
func (s *Server) haResourcesDigest() string {
	var b strings.Builder
	for _, sid := range sortedKeys(s.ha.resources) {
		typ, name, _ := strings.Cut(sid, ":")
		fmt.Fprintf(&b, "%s: %s\n", typ, name)
		opts := s.ha.resources[sid]
		for _, k := range sortedKeys(opts) {
			fmt.Fprintf(&b, "\t%s %s\n", k, opts[k])
		}
		b.WriteString("\n")
	}
	sum := sha1.Sum([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

// haResourceView is api_copy_config: the section plus sid, type and the
// file's digest; the group option is left out once groups are migrated.
func (s *Server) haResourceView(sid, digest string) map[string]any {
	typ, _, _ := strings.Cut(sid, ":")
	out := map[string]any{"sid": sid, "type": typ, "digest": digest}
	for k, v := range s.ha.resources[sid] {
		if k != "group" {
			out[k] = sectionValue(k, v)
		}
	}
	return out
}

// sectionValue renders a config value the way check_value typed it.
func sectionValue(k, v string) any {
	if haNumericOptions[k] {
		n, _ := strconv.Atoi(v)
		return n
	}
	return v
}

// hHAResources lists the resources, sorted by SID (PVE's order is its
// hash order).
func hHAResources(s *Server, rq *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	digest := s.haResourcesDigest()
	out := []map[string]any{}
	for _, sid := range sortedKeys(s.ha.resources) {
		v := s.haResourceView(sid, digest)
		if t := rq.params["type"]; t != "" && t != v["type"] {
			continue
		}
		out = append(out, v)
	}
	return out, nil
}

// haResourceOf parses the sid parameter of a method on one resource and
// finds the resource; missing is the method's words, with %s for the SID,
// when there is none. The caller holds s.mu.
func (s *Server) haResourceOf(rq *request, missing string) (string, *apiError) {
	sid, _, _, e := s.parseSID(rq.params["sid"])
	if e != nil {
		return "", e
	}
	if s.ha.resources[sid] == nil {
		return "", errf(missing, sid)
	}
	return sid, nil
}

func hHAResourceRead(s *Server, rq *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sid, e := s.haResourceOf(rq, "no such resource '%s'")
	if e != nil {
		return nil, e
	}
	return s.haResourceView(sid, s.haResourcesDigest()), nil
}

// hHAResourceUpdate is update: the options given are set, then the ones
// in delete removed, under update_resources_config's digest check.
func hHAResourceUpdate(s *Server, rq *request) (any, *apiError) {
	p := rq.params
	s.mu.Lock()
	defer s.mu.Unlock()
	sid, _, _, e := s.parseSID(p["sid"])
	if e != nil {
		return nil, e
	}
	if _, ok := p["group"]; ok {
		return nil, errHAGroups()
	}
	fail := func(format string, args ...any) (any, *apiError) {
		return nil, errf("update resources config failed: "+format, args...)
	}
	if d := p["digest"]; d != "" && d != s.haResourcesDigest() {
		return fail("%s", errModified)
	}
	cur := s.ha.resources[sid]
	if cur == nil {
		return fail("no such resource '%s'", sid)
	}
	next := map[string]string{}
	for k, v := range cur {
		next[k] = v
	}
	for _, k := range haResourceOptions {
		if v, ok := p[k]; ok {
			next[k] = v
		}
	}
	for _, k := range pveschema.SplitList(p["delete"]) {
		if !slices.Contains(haResourceOptions, k) {
			return fail("no such option '%s'", k)
		}
		delete(next, k)
	}
	s.ha.resources[sid] = next
	s.haSettleSID(sid)
	return nil, nil
}

// errModified is PVE::Tools::assert_if_modified's text.
const errModified = "detected modified configuration - file changed by other user? Try again."

// hHAResourceDelete is delete; purge (default 1) also removes the resource
// from the rules naming it.
func hHAResourceDelete(s *Server, rq *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sid, e := s.haResourceOf(rq, "cannot delete service '%s', not HA managed!")
	if e != nil {
		return nil, e
	}
	purge := true
	if v, ok := rq.params["purge"]; ok {
		purge = v == "1"
	}
	s.deleteHAResource(sid, purge)
	return nil, nil
}

// deleteHAResource is delete_service_from_config: with purge, rules lose
// the resource and rules left without resources go. The caller holds s.mu.
func (s *Server) deleteHAResource(sid string, purge bool) {
	if s.ha.resources[sid] == nil {
		return
	}
	delete(s.ha.resources, sid)
	if !purge {
		return
	}
	for id, r := range s.ha.rules {
		delete(r.resources, sid)
		if len(r.resources) == 0 {
			delete(s.ha.rules, id)
		}
	}
}

// haBlocksDestroy is pve-container's destroy check: a CT that is an HA
// resource goes only with purge. The caller holds s.mu.
func (s *Server) haBlocksDestroy(vmid int, purge bool) *apiError {
	if !purge && s.ha.resources[haSID(vmid)] != nil {
		return errf("unable to remove CT %d - used in HA resources and purge parameter not set.", vmid)
	}
	return nil
}
