package pvesim

import (
	"strings"
	"testing"

	proxmox "github.com/luthermonson/go-proxmox"
)

func haRules(t *testing.T, srv *Server, query string) []map[string]any {
	t.Helper()
	var rules []map[string]any
	mustOK(t, raw(t, srv, "GET", "/cluster/ha/rules"+query, "")).data(t, &rules)
	return rules
}

// haRuleSim has containers 100-102 configured as HA resources.
func haRuleSim(t *testing.T) *Server {
	t.Helper()
	srv := haSim(t)
	for _, sid := range []string{"ct:100", "ct:101", "ct:102"} {
		mustOK(t, raw(t, srv, "POST", "/cluster/ha/resources", form("sid", sid)))
	}
	return srv
}

func TestHARuleLifecycle(t *testing.T) {
	t.Parallel()
	srv := haRuleSim(t)
	t.Run("a node-affinity rule is created with priorities", func(t *testing.T) {
		mustOK(t, raw(t, srv, "POST", "/cluster/ha/rules", form("rule", "pin", "type", "node-affinity",
			"resources", "ct:100", "nodes", "pve2:2,pve1", "strict", "1", "comment", "db nodes")))
	})
	t.Run("a resource-affinity rule is created", func(t *testing.T) {
		mustOK(t, raw(t, srv, "POST", "/cluster/ha/rules", form("rule", "apart", "type", "resource-affinity",
			"resources", "ct:102,ct:101", "affinity", "negative", "disable", "0")))
	})
	t.Run("the list shows rules in order with encoded lists", func(t *testing.T) {
		r := haRules(t, srv, "")
		if len(r) != 2 || r[0]["rule"] != "pin" || r[0]["order"] != float64(1) || r[0]["resources"] != "ct:100" ||
			r[0]["nodes"] != "pve1,pve2:2" || r[0]["strict"] != float64(1) || r[0]["comment"] != "db nodes" {
			t.Fatalf("%v", r)
		}
		// get_next_ordinal adds one to the lowest ordinal, not the highest.
		if r[1]["rule"] != "apart" || r[1]["order"] != float64(2) || r[1]["affinity"] != "negative" || r[1]["resources"] != "ct:101,ct:102" || r[1]["disable"] != nil {
			t.Fatalf("%v", r[1])
		}
	})
	t.Run("the list filters by type and by resource", func(t *testing.T) {
		if r := haRules(t, srv, "?type=resource-affinity"); len(r) != 1 || r[0]["rule"] != "apart" {
			t.Fatalf("%v", r)
		}
		if r := haRules(t, srv, "?resource=ct:100"); len(r) != 1 || r[0]["rule"] != "pin" {
			t.Fatalf("%v", r)
		}
	})
	t.Run("a rule is updated and read back", func(t *testing.T) {
		mustOK(t, raw(t, srv, "PUT", "/cluster/ha/rules/pin", form("type", "node-affinity", "nodes", "pve3", "delete", "strict,comment")))
		var r map[string]any
		mustOK(t, raw(t, srv, "GET", "/cluster/ha/rules/pin", "")).data(t, &r)
		if r["nodes"] != "pve3" || r["strict"] != nil || r["comment"] != nil || len(r["digest"].(string)) != 40 {
			t.Fatalf("%v", r)
		}
	})
	t.Run("a rule is deleted, even twice", func(t *testing.T) {
		mustOK(t, raw(t, srv, "DELETE", "/cluster/ha/rules/apart", ""))
		mustOK(t, raw(t, srv, "DELETE", "/cluster/ha/rules/apart", ""))
		if r := haRules(t, srv, ""); len(r) != 1 {
			t.Fatalf("%v", r)
		}
	})
}

func TestHARuleErrorsAreWordedAsPVE(t *testing.T) {
	t.Parallel()
	srv := haRuleSim(t)
	mustOK(t, raw(t, srv, "POST", "/cluster/ha/rules", form("rule", "pin", "type", "node-affinity", "resources", "ct:100", "nodes", "pve1")))
	mustOK(t, raw(t, srv, "POST", "/cluster/ha/rules", form("rule", "together", "type", "resource-affinity", "resources", "ct:101,ct:102", "affinity", "positive")))
	na := func(id, resources, nodes string) string {
		return form("rule", id, "type", "node-affinity", "resources", resources, "nodes", nodes)
	}
	ra := func(id, resources, affinity string) string {
		return form("rule", id, "type", "resource-affinity", "resources", resources, "affinity", affinity)
	}
	tests := []struct{ name, body, status string }{
		{"an option of the other rule type", form("rule", "r1", "type", "node-affinity", "resources", "ct:100", "nodes", "pve1", "affinity", "positive"),
			"500 unexpected property 'affinity'"},
		{"a node-affinity rule without nodes", form("rule", "r1", "type", "node-affinity", "resources", "ct:100"), "500 missing value for required option 'nodes'"},
		{"a resource-affinity rule without affinity", form("rule", "r1", "type", "resource-affinity", "resources", "ct:100,ct:101"),
			"500 missing value for required option 'affinity'"},
		{"a rule name in use", na("pin", "ct:101", "pve1"), "500 create ha rule failed: HA rule 'pin' already defined"},
		{"resources not managed by HA", na("r1", "ct:200,ct:201", "pve1"), "500 create ha rule failed: cannot use unmanaged resource(s) ct:200, ct:201."},
		{"nodes not in the cluster", na("r1", "ct:101", "pve1,nope,zzz:3"), "500 create ha rule failed: cannot use non-existent node(s) nope, zzz."},
		{"an empty resource list", na("r1", ",", "pve1"), "500 create ha rule failed: no resources were specified"},
		{"a resource in a second node-affinity rule", na("again", "ct:100", "pve2"),
			"500 create ha rule failed: 400 Rule 'again' is invalid."},
		{"a resource-affinity rule with one resource", ra("lonely", "ct:100", "positive"), "500 create ha rule failed: 400 Rule 'lonely' is invalid."},
		{"a negative rule sharing two resources with a positive one", ra("apart", "ct:101,ct:102", "negative"),
			"500 create ha rule failed: 400 Rule 'apart' is invalid."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { statusIs(t, raw(t, srv, "POST", "/cluster/ha/rules", tc.body), tc.status) })
	}
	t.Run("an infeasible rule's message names its errors", func(t *testing.T) {
		msg, _ := raw(t, srv, "POST", "/cluster/ha/rules", na("again", "ct:100", "pve2")).json(t)["message"].(string)
		if msg != "create ha rule failed: 400 Rule 'again' is invalid.\nresources: resource 'ct:100' is already used in another node affinity rule\n" {
			t.Fatalf("%q", msg)
		}
	})
	updates := []struct{ name, path, body, status string }{
		{"updating a missing rule", "/cluster/ha/rules/nope", form("type", "node-affinity", "nodes", "pve1"), "500 update HA rules failed: HA rule 'nope' does not exist"},
		{"changing a rule's type", "/cluster/ha/rules/pin", form("type", "resource-affinity"), "500 update HA rules failed: unexpected property 'type'"},
		{"deleting a required option", "/cluster/ha/rules/pin", form("type", "node-affinity", "delete", "nodes"), "500 update HA rules failed: unable to delete required option 'nodes'"},
		{"setting and deleting one option", "/cluster/ha/rules/pin", form("type", "node-affinity", "strict", "1", "delete", "strict"),
			"500 update HA rules failed: cannot set and delete property 'strict' at the same time!"},
		{"a stale digest", "/cluster/ha/rules/pin", form("type", "node-affinity", "digest", strings.Repeat("0", 40)),
			"500 update HA rules failed: detected modified configuration - file changed by other user? Try again."},
	}
	for _, tc := range updates {
		t.Run(tc.name, func(t *testing.T) { statusIs(t, raw(t, srv, "PUT", tc.path, tc.body), tc.status) })
	}
	t.Run("reading a missing rule", func(t *testing.T) {
		statusIs(t, raw(t, srv, "GET", "/cluster/ha/rules/nope", ""), "500 no such ha rule 'nope'")
	})
}

func TestHARuleFeasibilityChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		rules []string
		want  string
	}{
		{"a negative rule with more resources than nodes",
			[]string{form("rule", "r1", "type", "resource-affinity", "resources", "ct:100,ct:101,ct:102,ct:103", "affinity", "negative")},
			"resources: rule defines more resources than available nodes"},
		{"a resource-affinity rule meeting a node-affinity rule with several priorities",
			[]string{form("rule", "n1", "type", "node-affinity", "resources", "ct:100", "nodes", "pve1:1,pve2:2"),
				form("rule", "r1", "type", "resource-affinity", "resources", "ct:100,ct:101", "affinity", "positive")},
			"resources: resources are in node affinity rules with multiple priorities"},
		{"positive resources spread over two node-affinity rules",
			[]string{form("rule", "n1", "type", "node-affinity", "resources", "ct:100", "nodes", "pve1"),
				form("rule", "n2", "type", "node-affinity", "resources", "ct:101", "nodes", "pve2"),
				form("rule", "r1", "type", "resource-affinity", "resources", "ct:100,ct:101", "affinity", "positive")},
			"resources: resources are in multiple node affinity rules"},
		{"negative resources pinned to too few nodes",
			[]string{form("rule", "n1", "type", "node-affinity", "resources", "ct:100,ct:101", "nodes", "pve1"),
				form("rule", "r1", "type", "resource-affinity", "resources", "ct:100,ct:101", "affinity", "negative")},
			"resources: two or more resources are restricted to less nodes than available to the resources"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := haRuleSim(t)
			createCT(t, srv, "pve1", 103)
			mustOK(t, raw(t, srv, "POST", "/cluster/ha/resources", form("sid", "ct:103")))
			var last rawResp
			for _, body := range tc.rules {
				last = raw(t, srv, "POST", "/cluster/ha/rules", body)
			}
			msg, _ := last.json(t)["message"].(string)
			if !strings.HasSuffix(msg, "is invalid.\n"+tc.want+"\n") {
				t.Fatalf("%q", msg)
			}
		})
	}
	t.Run("a disabled rule is left out of the checks", func(t *testing.T) {
		t.Parallel()
		srv := haRuleSim(t)
		mustOK(t, raw(t, srv, "POST", "/cluster/ha/rules", form("rule", "off", "type", "node-affinity", "resources", "ct:100", "nodes", "pve1", "disable", "1")))
		mustOK(t, raw(t, srv, "POST", "/cluster/ha/rules", form("rule", "on", "type", "node-affinity", "resources", "ct:100", "nodes", "pve2")))
	})
}

func TestHARulesDecodeWithGoProxmox(t *testing.T) {
	t.Parallel()
	srv := haRuleSim(t)
	cl, err := pve(t, srv).Cluster(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.NewHARule(ctx(t), &proxmox.HARuleCreateOption{Rule: "pin", Type: "node-affinity", Resources: "ct:100", Nodes: "pve1:2,pve2", Strict: true}); err != nil {
		t.Fatal(err)
	}
	rules, err := cl.HARules(ctx(t), "ct:100", "node-affinity")
	if err != nil || len(rules) != 1 || rules[0].Nodes != "pve1:2,pve2" || !bool(rules[0].Strict) {
		t.Fatalf("%+v %v", rules, err)
	}
	if err := cl.HARuleUpdate(ctx(t), "pin", &proxmox.HARuleUpdateOption{Type: "node-affinity", Comment: "c", Digest: rules[0].Digest}); err != nil {
		t.Fatal(err)
	}
	rule, err := cl.HARule(ctx(t), "pin")
	if err != nil || rule.Comment != "c" {
		t.Fatalf("%+v %v", rule, err)
	}
	if err := cl.HARuleDelete(ctx(t), "pin"); err != nil {
		t.Fatal(err)
	}
}
