package pvesim

import (
	"fmt"
	"slices"
	"sort"
)

// The feasibility checks of PVE::HA::Rules (check_feasibility), run on the
// enabled rules in PVE's order: the node-affinity plugin's, the
// resource-affinity plugin's, then the checks between the two types. Each
// returns conflicts; every conflict blames a message on the rule's
// "resources".

type ruleErrors map[string]map[string][]string

func (re ruleErrors) blame(ruleID, msg string) {
	if re[ruleID] == nil {
		re[ruleID] = map[string][]string{}
	}
	re[ruleID]["resources"] = append(re[ruleID]["resources"], msg)
}

// ruleSets are the enabled rules by kind, as get_plugin_check_arguments
// collects them.
type ruleSets struct {
	nodeAffinity, positive, negative, resourceAffinity map[string]*haRule
}

func (s *Server) enabledRuleSets() ruleSets {
	rs := ruleSets{map[string]*haRule{}, map[string]*haRule{}, map[string]*haRule{}, map[string]*haRule{}}
	for id, r := range s.ha.rules {
		if _, disabled := r.opts["disable"]; disabled {
			continue
		}
		if r.typ == "node-affinity" {
			rs.nodeAffinity[id] = r
			continue
		}
		rs.resourceAffinity[id] = r
		if r.opts["affinity"] == "positive" {
			rs.positive[id] = r
		} else {
			rs.negative[id] = r
		}
	}
	return rs
}

// haRuleFeasibility maps each infeasible rule to its messages. The caller
// holds s.mu.
func (s *Server) haRuleFeasibility() ruleErrors {
	rs := s.enabledRuleSets()
	errs := ruleErrors{}
	checkSingleResourceReference(rs, errs)
	checkResourceAffinityCounts(rs, len(s.nodeOrder), errs)
	checkPositiveNegativeOverlap(rs, errs)
	checkSinglePriority(rs, errs)
	checkSingleNodeAffinityPerPositive(rs, errs)
	checkNegativeNodeAffinity(rs, errs)
	return errs
}

// checkSingleResourceReference: a resource is in at most one node-affinity
// rule.
func checkSingleResourceReference(rs ruleSets, errs ruleErrors) {
	bySID := map[string][]string{}
	for id, r := range rs.nodeAffinity {
		for sid := range r.resources {
			bySID[sid] = append(bySID[sid], id)
		}
	}
	type conflict struct{ rule, sid string }
	var cs []conflict
	for sid, ids := range bySID {
		if len(ids) < 2 {
			continue
		}
		for _, id := range ids {
			cs = append(cs, conflict{id, sid})
		}
	}
	sort.Slice(cs, func(i, j int) bool {
		return cs[i].rule < cs[j].rule || (cs[i].rule == cs[j].rule && cs[i].sid < cs[j].sid)
	})
	for _, c := range cs {
		errs.blame(c.rule, fmt.Sprintf("resource '%s' is already used in another node affinity rule", c.sid))
	}
}

// checkResourceAffinityCounts: a resource-affinity rule needs two
// resources, and a negative one no more resources than there are nodes.
func checkResourceAffinityCounts(rs ruleSets, nodes int, errs ruleErrors) {
	for _, id := range sortedKeys(rs.resourceAffinity) {
		if len(rs.resourceAffinity[id].resources) < 2 {
			errs.blame(id, "rule is ineffective as there are less than two resources")
		}
	}
	for _, id := range sortedKeys(rs.negative) {
		if len(rs.negative[id].resources) > nodes {
			errs.blame(id, "rule defines more resources than available nodes")
		}
	}
}

// disjointSet is one entry of find_disjoint_rules_resource_sets: positive
// rules joined by shared resources.
type disjointSet struct {
	ruleIDs   []string
	resources map[string]bool
}

// disjointPositiveSets joins the rules in the order of their lowest
// resource ID, as PVE::HA::Rules::Helpers does.
func disjointPositiveSets(rules map[string]*haRule) []*disjointSet {
	ids := sortedKeys(rules)
	lowest := func(id string) string {
		if sids := sortedKeys(rules[id].resources); len(sids) > 0 {
			return sids[0]
		}
		return ""
	}
	sort.SliceStable(ids, func(i, j int) bool { return lowest(ids[i]) < lowest(ids[j]) })
	var sets []*disjointSet
	for _, id := range ids {
		var into *disjointSet
		for _, ds := range sets {
			if intersects(ds.resources, rules[id].resources) {
				into = ds
				break
			}
		}
		if into == nil {
			into = &disjointSet{resources: map[string]bool{}}
			sets = append(sets, into)
		}
		into.ruleIDs = append(into.ruleIDs, id)
		for sid := range rules[id].resources {
			into.resources[sid] = true
		}
	}
	return sets
}

// nodeAffinitySharing are the node-affinity rules, in ID order, that share
// a resource with resources.
func (rs ruleSets) nodeAffinitySharing(resources map[string]bool) []string {
	var ids []string
	for _, nid := range sortedKeys(rs.nodeAffinity) {
		if intersects(resources, rs.nodeAffinity[nid].resources) {
			ids = append(ids, nid)
		}
	}
	return ids
}

func intersects(a, b map[string]bool) bool { return countCommon(a, b) > 0 }

func countCommon(a, b map[string]bool) int {
	n := 0
	for k := range a {
		if b[k] {
			n++
		}
	}
	return n
}

// typedConflicts collects (kind, rule) pairs and reports them sorted like
// PVE's conflict lists.
type typedConflicts [][2]string

// add records rules of one kind.
func (tc *typedConflicts) add(kind string, ruleIDs ...string) {
	for _, id := range ruleIDs {
		*tc = append(*tc, [2]string{kind, id})
	}
}

func (tc typedConflicts) report(errs ruleErrors, msgs map[string]string) {
	sort.Slice(tc, func(i, j int) bool {
		return tc[i][0] < tc[j][0] || (tc[i][0] == tc[j][0] && tc[i][1] < tc[j][1])
	})
	for _, c := range tc {
		errs.blame(c[1], msgs[c[0]])
	}
}

// checkPositiveNegativeOverlap: a negative rule may share at most one
// resource with a set of connected positive rules.
func checkPositiveNegativeOverlap(rs ruleSets, errs ruleErrors) {
	var tc typedConflicts
	for _, ds := range disjointPositiveSets(rs.positive) {
		for _, nid := range sortedKeys(rs.negative) {
			if countCommon(ds.resources, rs.negative[nid].resources) < 2 {
				continue
			}
			tc.add("negative", nid)
			tc.add("positive", ds.ruleIDs...)
		}
	}
	tc.report(errs, map[string]string{
		"positive": "rule shares two or more resources with a negative resource affinity rule",
		"negative": "rule shares two or more resources with a positive resource affinity rule",
	})
}

func multiplePriorities(r *haRule) bool {
	first, seen := 0, false
	for _, p := range r.nodes {
		if seen && p != first {
			return true
		}
		first, seen = p, true
	}
	return false
}

// checkSinglePriority: resources of a resource-affinity rule may not be in
// a node-affinity rule with more than one priority.
func checkSinglePriority(rs ruleSets, errs ruleErrors) {
	var tc typedConflicts
	for _, rid := range sortedKeys(rs.resourceAffinity) {
		paired := rs.nodeAffinitySharing(rs.resourceAffinity[rid].resources)
		if !slices.ContainsFunc(paired, func(nid string) bool { return multiplePriorities(rs.nodeAffinity[nid]) }) {
			continue
		}
		tc.add("resource-affinity", rid)
		tc.add("node-affinity", paired...)
	}
	tc.report(errs, map[string]string{
		"node-affinity":     "resources are in a resource affinity rule and cannot be in a node affinity rule with multiple priorities",
		"resource-affinity": "resources are in node affinity rules with multiple priorities",
	})
}

// checkSingleNodeAffinityPerPositive: connected positive rules may meet at
// most one node-affinity rule.
func checkSingleNodeAffinityPerPositive(rs ruleSets, errs ruleErrors) {
	var tc typedConflicts
	for _, ds := range disjointPositiveSets(rs.positive) {
		paired := rs.nodeAffinitySharing(ds.resources)
		if len(paired) < 2 {
			continue
		}
		tc.add("positive", ds.ruleIDs...)
		tc.add("node-affinity", paired...)
	}
	tc.report(errs, map[string]string{
		"positive":      "resources are in multiple node affinity rules",
		"node-affinity": "at least one resource is in a positive resource affinity rule and there are other resources in at least one other node affinity rule already",
	})
}

// checkNegativeNodeAffinity: the node-affinity rules of a negative rule's
// resources must leave a node for each of them.
func checkNegativeNodeAffinity(rs ruleSets, errs ruleErrors) {
	var tc typedConflicts
	for _, neg := range sortedKeys(rs.negative) {
		allowed, located := map[string]bool{}, map[string]bool{}
		var paired []string
		for _, nid := range sortedKeys(rs.nodeAffinity) {
			na := rs.nodeAffinity[nid]
			common := 0
			for sid := range rs.negative[neg].resources {
				if na.resources[sid] {
					located[sid] = true
					common++
				}
			}
			if common == 0 {
				continue
			}
			for n := range na.nodes {
				allowed[n] = true
			}
			paired = append(paired, nid)
		}
		if len(allowed) >= len(located) {
			continue
		}
		tc.add("negative", neg)
		tc.add("node-affinity", paired...)
	}
	tc.report(errs, map[string]string{
		"negative":      "two or more resources are restricted to less nodes than available to the resources",
		"node-affinity": "at least one resource is in a negative resource affinity rule and this rule would restrict these to less nodes than available to the resources",
	})
}
