package pvesim

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/pve-operator/pve-operator/internal/pvesim/pveschema"
)

// HA rules (PVE 9) as pve-ha-manager's PVE::API2::HA::Rules keeps them in
// /etc/pve/ha/rules.cfg: node-affinity rules tie resources to nodes,
// resource-affinity rules keep resources together (positive) or apart
// (negative). A rule that would make the rule set infeasible is refused.

// haRule is one section of rules.cfg.
type haRule struct {
	typ       string
	resources map[string]bool
	// nodes maps a node to its priority (node-affinity only).
	nodes map[string]int
	// opts holds affinity, strict, disable and comment as written.
	opts  map[string]string
	order int
}

// haRuleOptions are each rule type's options with whether they are
// required (PVE::HA::Rules::NodeAffinity / ResourceAffinity options).
var haRuleOptions = map[string]map[string]bool{
	"node-affinity":     {"resources": true, "nodes": true, "strict": false, "disable": false, "comment": false},
	"resource-affinity": {"resources": true, "affinity": true, "disable": false, "comment": false},
}

var reHANode = regexp.MustCompile(`^([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)(:(\d+))?$`)

// addHARuleRoutes: the rule list and create are in the 9.1 schema file;
// the per-rule methods are not, so their parameters are PVE::HA::Rules'
// update schema written out here.
func addHARuleRoutes(rt *router, sysAudit, sysConsole func(*Server, *request) *apiError) {
	rule := map[string]*pveschema.Prop{"rule": pveschema.Formatted("pve-configid").Required()}
	rt.add("GET", "/cluster/ha/rules", nil, sysAudit, hHARules)
	rt.add("POST", "/cluster/ha/rules", nil, sysConsole, hHARuleCreate)
	rt.add("GET", "/cluster/ha/rules/{rule}", rule, sysAudit, hHARuleRead)
	rt.add("PUT", "/cluster/ha/rules/{rule}", map[string]*pveschema.Prop{
		"rule":      rule["rule"],
		"type":      pveschema.Enum("node-affinity", "resource-affinity").Required(),
		"delete":    pveschema.Formatted("pve-configid-list").WithMaxLength(4096),
		"digest":    pveschema.String().WithMaxLength(64),
		"affinity":  pveschema.Enum("positive", "negative"),
		"comment":   pveschema.String().WithMaxLength(4096),
		"disable":   pveschema.Boolean(),
		"nodes":     pveschema.Formatted("pve-ha-node-list"),
		"strict":    pveschema.Boolean(),
		"resources": pveschema.Formatted("pve-ha-resource-id-list"),
	}, sysConsole, hHARuleUpdate)
	rt.add("DELETE", "/cluster/ha/rules/{rule}", rule, sysConsole, hHARuleDelete)
}

// haRulesDigest is the SHA-1 of rules.cfg as written. The caller holds s.mu.
func (s *Server) haRulesDigest() string {
	var b strings.Builder
	for _, id := range s.sortedRuleIDs() {
		r := s.ha.rules[id]
		fmt.Fprintf(&b, "%s: %s\n\tresources %s\n", r.typ, id, strings.Join(sortedKeys(r.resources), ","))
		if r.nodes != nil {
			fmt.Fprintf(&b, "\tnodes %s\n", encodeHANodes(r.nodes))
		}
		for _, k := range sortedKeys(r.opts) {
			fmt.Fprintf(&b, "\t%s %s\n", k, r.opts[k])
		}
		b.WriteString("\n")
	}
	sum := sha1.Sum([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

// sortedRuleIDs orders rules by their ordinal, ties by name.
func (s *Server) sortedRuleIDs() []string {
	ids := sortedKeys(s.ha.rules)
	sort.SliceStable(ids, func(i, j int) bool { return s.ha.rules[ids[i]].order < s.ha.rules[ids[j]].order })
	return ids
}

// nextRuleOrdinal reproduces get_next_ordinal, which takes the smallest
// ordinal plus one (it sorts ascending and picks the first), so every rule
// after the first gets order 2.
func (s *Server) nextRuleOrdinal() int {
	lowest := 0
	for _, r := range s.ha.rules {
		if lowest == 0 || r.order < lowest {
			lowest = r.order
		}
	}
	return lowest + 1
}

func encodeHANodes(nodes map[string]int) string {
	var out []string
	for _, n := range sortedKeys(nodes) {
		if p := nodes[n]; p != 0 {
			out = append(out, n+":"+strconv.Itoa(p))
		} else {
			out = append(out, n)
		}
	}
	return strings.Join(out, ",")
}

func decodeHANodes(v string) map[string]int {
	out := map[string]int{}
	for _, n := range pveschema.SplitList(v) {
		if m := reHANode.FindStringSubmatch(n); m != nil {
			out[m[1]], _ = strconv.Atoi("0" + m[4])
		}
	}
	return out
}

// haRuleView is get_api_ha_rule: the section with rule, digest, order,
// encoded lists and the feasibility errors blamed on it.
func (s *Server) haRuleView(id, digest string, errs map[string]map[string][]string) map[string]any {
	r := s.ha.rules[id]
	out := map[string]any{
		"rule": id, "type": r.typ, "digest": digest, "order": r.order,
		"resources": strings.Join(sortedKeys(r.resources), ","),
	}
	if r.nodes != nil {
		out["nodes"] = encodeHANodes(r.nodes)
	}
	for k, v := range r.opts {
		out[k] = sectionValue(k, v)
	}
	if e := errs[id]; len(e) > 0 {
		joined := map[string]string{}
		for opt, msgs := range e {
			joined[opt] = strings.Join(msgs, ", ")
		}
		out["errors"] = joined
	}
	return out
}

// hHARules lists the rules in their order, filtered by type and by a
// resource they name.
func hHARules(s *Server, rq *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	digest := s.haRulesDigest()
	errs := s.haRuleFeasibility()
	out := []map[string]any{}
	for _, id := range s.sortedRuleIDs() {
		r := s.ha.rules[id]
		if t := rq.params["type"]; t != "" && t != r.typ {
			continue
		}
		if sid, ok := rq.params["resource"]; ok && !r.resources[sid] {
			continue
		}
		out = append(out, s.haRuleView(id, digest, errs))
	}
	return out, nil
}

func hHARuleRead(s *Server, rq *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := rq.params["rule"]
	if s.ha.rules[id] == nil {
		return nil, errf("no such ha rule '%s'", id)
	}
	return s.haRuleView(id, s.haRulesDigest(), s.haRuleFeasibility()), nil
}

// checkRuleConfig is SectionConfig check_config for the rule's type: every
// option given must belong to it and, on create, every required one be
// there. Keys are checked in sorted order (PVE's is its hash order).
func checkRuleConfig(typ string, p map[string]string, create bool) *apiError {
	opts := haRuleOptions[typ]
	for _, k := range sortedKeys(p) {
		if k == "type" && p[k] == typ {
			continue
		}
		if _, ok := opts[k]; !ok {
			return errf("unexpected property '%s'", k)
		}
	}
	if create {
		for _, k := range sortedKeys(opts) {
			if _, given := p[k]; opts[k] && !given {
				return errf("missing value for required option '%s'", k)
			}
		}
	}
	return nil
}

// ruleParams are the call's rule options: the path and control parameters
// taken out, and a false disable dropped as create_rule and update_rule do.
func ruleParams(p map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range p {
		switch k {
		case "rule", "digest", "delete":
			continue
		case "disable":
			if v != "1" {
				continue
			}
		}
		out[k] = v
	}
	return out
}

// checkRuleTargets are assert_valid_resources_param and
// assert_valid_nodes_param (the local node, the first, always counts as
// existing). The caller holds s.mu.
func (s *Server) checkRuleTargets(p map[string]string) *apiError {
	if v, ok := p["resources"]; ok {
		sids := pveschema.SplitList(v)
		if len(sids) == 0 {
			return errf("no resources were specified")
		}
		var missing []string
		for _, sid := range sortedUnique(sids) {
			if s.ha.resources[sid] == nil {
				missing = append(missing, sid)
			}
		}
		if len(missing) > 0 {
			return errf("cannot use unmanaged resource(s) %s.", strings.Join(missing, ", "))
		}
	}
	if v, ok := p["nodes"]; ok {
		nodes := decodeHANodes(v)
		if len(nodes) == 0 {
			return errf("no nodes were specified")
		}
		var missing []string
		for _, n := range sortedKeys(nodes) {
			if n != s.nodeOrder[0] && s.nodes[n] == nil {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			return errf("cannot use non-existent node(s) %s.", strings.Join(missing, ", "))
		}
	}
	return nil
}

func sortedUnique(list []string) []string {
	set := map[string]bool{}
	for _, v := range list {
		set[v] = true
	}
	return sortedKeys(set)
}

// setRuleOptions writes the options of p into r.
func setRuleOptions(r *haRule, p map[string]string) {
	for k, v := range p {
		switch k {
		case "type":
		case "resources":
			r.resources = map[string]bool{}
			for _, sid := range pveschema.SplitList(v) {
				r.resources[sid] = true
			}
		case "nodes":
			r.nodes = decodeHANodes(v)
		default:
			r.opts[k] = v
		}
	}
}

// hHARuleCreate is create_rule. Errors raised under lock_ha_domain carry
// its "create ha rule failed: " prefix; an infeasible rule's 400 exception
// is stringified there too, so it arrives as a 500 whose text holds the
// exception's code and errors.
func hHARuleCreate(s *Server, rq *request) (any, *apiError) {
	id, typ := rq.params["rule"], rq.params["type"]
	p := ruleParams(rq.params)
	if e := checkRuleConfig(typ, p, true); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ha.rules[id] != nil {
		return nil, errf("create ha rule failed: HA rule '%s' already defined", id)
	}
	if e := s.checkRuleTargets(p); e != nil {
		return nil, errf("create ha rule failed: %s", e.msg)
	}
	r := &haRule{typ: typ, opts: map[string]string{}, order: s.nextRuleOrdinal()}
	setRuleOptions(r, p)
	s.ha.rules[id] = r
	if msg := s.ruleInfeasible(id); msg != "" {
		delete(s.ha.rules, id)
		return nil, errf("create ha rule failed: %s", msg)
	}
	return nil, nil
}

// ruleInfeasible is assert_feasibility for rule id: the stringified
// "400 Rule '…' is invalid." exception with its errors, or "". The caller
// holds s.mu.
func (s *Server) ruleInfeasible(id string) string {
	errs := s.haRuleFeasibility()[id]
	if len(errs) == 0 {
		return ""
	}
	msg := fmt.Sprintf("400 Rule '%s' is invalid.\n", id)
	for _, opt := range sortedKeys(errs) {
		msg += opt + ": " + strings.Join(errs[opt], ", ") + "\n"
	}
	return msg
}

// hHARuleUpdate is update_rule: options set, then delete applied
// (SectionConfig delete_from_config), then the feasibility check.
func hHARuleUpdate(s *Server, rq *request) (any, *apiError) {
	id := rq.params["rule"]
	p := ruleParams(rq.params)
	s.mu.Lock()
	defer s.mu.Unlock()
	fail := func(format string, args ...any) (any, *apiError) {
		return nil, errf("update HA rules failed: "+format, args...)
	}
	if d := rq.params["digest"]; d != "" && d != s.haRulesDigest() {
		return fail("%s", errModified)
	}
	old := s.ha.rules[id]
	if old == nil {
		return fail("HA rule '%s' does not exist", id)
	}
	if e := checkRuleConfig(old.typ, p, false); e != nil {
		return fail("%s", e.msg)
	}
	if e := s.checkRuleTargets(p); e != nil {
		return fail("%s", e.msg)
	}
	r := &haRule{typ: old.typ, resources: old.resources, nodes: old.nodes, opts: map[string]string{}, order: old.order}
	for k, v := range old.opts {
		r.opts[k] = v
	}
	if e := deleteRuleOptions(r, p, pveschema.SplitList(rq.params["delete"])); e != nil {
		return fail("%s", e.msg)
	}
	setRuleOptions(r, p)
	s.ha.rules[id] = r
	if msg := s.ruleInfeasible(id); msg != "" {
		s.ha.rules[id] = old
		return fail("%s", msg)
	}
	return nil, nil
}

func deleteRuleOptions(r *haRule, p map[string]string, keys []string) *apiError {
	opts := haRuleOptions[r.typ]
	for _, k := range keys {
		required, ok := opts[k]
		switch {
		case !ok:
			return errf("no such option '%s'", k)
		case required:
			return errf("unable to delete required option '%s'", k)
		}
		if _, set := p[k]; set {
			return errf("cannot set and delete property '%s' at the same time!", k)
		}
		delete(r.opts, k)
	}
	return nil
}

// hHARuleDelete is delete_rule, which deletes without asking whether the
// rule exists.
func hHARuleDelete(s *Server, rq *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.ha.rules, rq.params["rule"])
	return nil, nil
}
