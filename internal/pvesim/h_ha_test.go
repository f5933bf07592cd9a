package pvesim

import (
	"strings"
	"testing"

	proxmox "github.com/luthermonson/go-proxmox"
)

const haAuditor = "haaudit@pve!t" // Sys.Audit only

func haSim(t *testing.T) *Server {
	t.Helper()
	srv := newSim(t, func(o *Options) {
		o.Tokens = []TokenSpec{
			{ID: DefaultTokenID, Secret: DefaultTokenSecret},
			{ID: haAuditor, Secret: "x", Privileges: []string{"Sys.Audit"}},
		}
	})
	for _, vmid := range []int{100, 101, 102} {
		createCT(t, srv, "pve1", vmid)
	}
	if err := srv.AddVM("pve2", 200, "vm200"); err != nil {
		t.Fatal(err)
	}
	return srv
}

func haResource(t *testing.T, srv *Server, sid string) map[string]any {
	t.Helper()
	var res map[string]any
	mustOK(t, raw(t, srv, "GET", "/cluster/ha/resources/"+sid, "")).data(t, &res)
	return res
}

func TestHAResourceLifecycle(t *testing.T) {
	t.Parallel()
	srv := haSim(t)
	t.Run("a container is made an HA resource by its SID", func(t *testing.T) {
		mustOK(t, raw(t, srv, "POST", "/cluster/ha/resources", form("sid", "ct:100", "state", "stopped", "max_restart", "3", "comment", "db")))
		res := haResource(t, srv, "ct:100")
		if res["sid"] != "ct:100" || res["type"] != "ct" || res["state"] != "stopped" || res["max_restart"] != float64(3) || len(res["digest"].(string)) != 40 {
			t.Fatalf("%v", res)
		}
		if _, ok := res["max_relocate"]; ok {
			t.Fatalf("an option never set is not shown: %v", res)
		}
	})
	t.Run("a bare VMID stands for the guest's SID", func(t *testing.T) {
		mustOK(t, raw(t, srv, "POST", "/cluster/ha/resources", form("sid", "101")))
		mustOK(t, raw(t, srv, "POST", "/cluster/ha/resources", form("sid", "200", "type", "vm")))
		if res := haResource(t, srv, "101"); res["sid"] != "ct:101" {
			t.Fatalf("%v", res)
		}
	})
	t.Run("the list filters by type", func(t *testing.T) {
		var list []map[string]any
		mustOK(t, raw(t, srv, "GET", "/cluster/ha/resources?type=ct", "")).data(t, &list)
		if len(list) != 2 || list[0]["sid"] != "ct:100" || list[1]["sid"] != "ct:101" {
			t.Fatalf("%v", list)
		}
	})
	t.Run("an update sets options, then deletes, under the digest", func(t *testing.T) {
		digest := haResource(t, srv, "ct:100")["digest"].(string)
		mustOK(t, raw(t, srv, "PUT", "/cluster/ha/resources/ct:100", form("state", "started", "failback", "0", "delete", "comment,max_restart", "digest", digest)))
		res := haResource(t, srv, "ct:100")
		if res["state"] != "started" || res["failback"] != float64(0) || res["comment"] != nil || res["max_restart"] != nil {
			t.Fatalf("%v", res)
		}
		statusIs(t, raw(t, srv, "PUT", "/cluster/ha/resources/ct:100", form("state", "stopped", "digest", digest)),
			"500 update resources config failed: detected modified configuration - file changed by other user? Try again.")
	})
	t.Run("a delete without purge keeps the rules", func(t *testing.T) {
		mustOK(t, raw(t, srv, "POST", "/cluster/ha/rules", form("rule", "pair", "type", "resource-affinity", "resources", "ct:100,ct:101", "affinity", "positive")))
		mustOK(t, raw(t, srv, "DELETE", "/cluster/ha/resources/ct:101?purge=0", ""))
		if r := haRules(t, srv, ""); len(r) != 1 || r[0]["resources"] != "ct:100,ct:101" {
			t.Fatalf("%v", r)
		}
	})
	t.Run("a delete purges the resource from rules, dropping emptied ones", func(t *testing.T) {
		mustOK(t, raw(t, srv, "DELETE", "/cluster/ha/resources/ct:100", ""))
		if r := haRules(t, srv, ""); len(r) != 1 || r[0]["resources"] != "ct:101" {
			t.Fatalf("%v", r)
		}
	})
}

func TestHAResourceErrorsAreWordedAsPVE(t *testing.T) {
	t.Parallel()
	srv := haSim(t)
	// Stopped: with started, HA would start the CT, which the destroy
	// below then refuses for running instead.
	mustOK(t, raw(t, srv, "POST", "/cluster/ha/resources", form("sid", "ct:100", "state", "stopped")))
	tests := []struct {
		name, method, path, body, status string
	}{
		{"a VMID no guest has", "POST", "/cluster/ha/resources", form("sid", "999"), "500 unable to detect SID from VMID - VM/CT 999 does not exist"},
		{"a container that does not exist", "POST", "/cluster/ha/resources", form("sid", "ct:999"), "500 resource 'ct:999' does not exist in cluster"},
		{"a VM named as a container", "POST", "/cluster/ha/resources", form("sid", "ct:200"), "500 resource 'ct:200' - guest with ID 200 is not a container"},
		{"a container named as a VM", "POST", "/cluster/ha/resources", form("sid", "vm:101"), "500 resource 'vm:101' - guest with ID 101 is not a VM"},
		{"a type that is no resource type", "POST", "/cluster/ha/resources", form("sid", "foo:101"), "500 unknown section type 'foo'"},
		{"a name that is no VMID", "POST", "/cluster/ha/resources", form("sid", "ct:abc"), "500 invalid VMID"},
		{"a type that contradicts the SID", "POST", "/cluster/ha/resources", form("sid", "ct:101", "type", "vm"), "500 types does not match"},
		{"a group once groups became rules", "POST", "/cluster/ha/resources", form("sid", "ct:101", "group", "g1"),
			"500 invalid parameter 'group': ha groups have been migrated to rules"},
		{"the same resource twice", "POST", "/cluster/ha/resources", form("sid", "ct:100"), "500 create resource failed: resource ID 'ct:100' already defined"},
		{"reading a resource not configured", "GET", "/cluster/ha/resources/ct:101", "", "500 no such resource 'ct:101'"},
		{"updating a resource not configured", "PUT", "/cluster/ha/resources/ct:101", form("state", "stopped"), "500 update resources config failed: no such resource 'ct:101'"},
		{"deleting an option that does not exist", "PUT", "/cluster/ha/resources/ct:100", form("delete", "sid"), "500 update resources config failed: no such option 'sid'"},
		{"deleting a resource not configured", "DELETE", "/cluster/ha/resources/ct:101", "", "500 cannot delete service 'ct:101', not HA managed!"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { statusIs(t, raw(t, srv, tc.method, tc.path, tc.body), tc.status) })
	}
	t.Run("a state outside the enum is a parameter error", func(t *testing.T) {
		paramErrorIs(t, raw(t, srv, "POST", "/cluster/ha/resources", form("sid", "ct:101", "state", "running")), "state", "does not have a value in the enumeration")
	})
	t.Run("a container that is an HA resource is destroyed only with purge", func(t *testing.T) {
		statusIs(t, raw(t, srv, "DELETE", "/nodes/pve1/lxc/100", ""), "500 unable to remove CT 100 - used in HA resources and purge parameter not set.")
		v := runOK(t, srv, "DELETE", "/nodes/pve1/lxc/100?purge=1", "")
		if !strings.Contains(strings.Join(v.Log, "\n"), "NOTE: removed CT 100 from HA resource configuration.") {
			t.Fatalf("%q", v.Log)
		}
		statusIs(t, raw(t, srv, "GET", "/cluster/ha/resources/ct:100", ""), "500 no such resource 'ct:100'")
	})
}

func TestHAPermissions(t *testing.T) {
	t.Parallel()
	srv := haSim(t)
	tests := []struct {
		name, method, path, body, status string
	}{
		{"listing is allowed with Sys.Audit", "GET", "/cluster/ha/resources", "", "200 OK"},
		{"creating needs Sys.Console", "POST", "/cluster/ha/resources", form("sid", "ct:100"), "403 Permission check failed (/, Sys.Console)"},
		{"updating needs Sys.Console", "PUT", "/cluster/ha/resources/ct:100", form("state", "stopped"), "403 Permission check failed (/, Sys.Console)"},
		{"deleting needs Sys.Console", "DELETE", "/cluster/ha/resources/ct:100", "", "403 Permission check failed (/, Sys.Console)"},
		{"creating a rule needs Sys.Console", "POST", "/cluster/ha/rules", form("rule", "r", "type", "node-affinity", "resources", "ct:100", "nodes", "pve1"),
			"403 Permission check failed (/, Sys.Console)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			statusIs(t, raw(t, srv, tc.method, tc.path, tc.body, asToken(haAuditor, "x")), tc.status)
		})
	}
	t.Run("reading needs Sys.Audit", func(t *testing.T) {
		if err := srv.DropPrivilege(haAuditor, "/", "Sys.Audit"); err != nil {
			t.Fatal(err)
		}
		statusIs(t, raw(t, srv, "GET", "/cluster/ha/resources", "", asToken(haAuditor, "x")), "403 Permission check failed (/, Sys.Audit)")
	})
}

func TestHAResourcesDecodeWithGoProxmox(t *testing.T) {
	t.Parallel()
	srv := haSim(t)
	cl, err := pve(t, srv).Cluster(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	state, restarts := "stopped", 2
	if err := cl.NewHAResource(ctx(t), &proxmox.HAResourceCreateOption{SID: "ct:100", State: &state, MaxRestart: &restarts}); err != nil {
		t.Fatal(err)
	}
	list, err := cl.HAResources(ctx(t), "ct")
	if err != nil || len(list) != 1 || list[0].SID != "ct:100" || *list[0].State != "stopped" || *list[0].MaxRestart != 2 {
		t.Fatalf("%+v %v", list, err)
	}
	res, err := cl.HAResource(ctx(t), "ct:100")
	if err != nil || res.Digest == "" || res.Type != "ct" {
		t.Fatalf("%+v %v", res, err)
	}
	started := "started"
	if err := cl.HAResourceUpdate(ctx(t), "ct:100", &proxmox.HAResourceUpdateOption{State: &started, Digest: res.Digest}); err != nil {
		t.Fatal(err)
	}
	if err := cl.HAResourceDelete(ctx(t), "ct:100", true); err != nil {
		t.Fatal(err)
	}
	if err := cl.HAResourceDelete(ctx(t), "ct:100", true); err == nil || !strings.Contains(err.Error(), "not HA managed") {
		t.Fatalf("got %v", err)
	}
}
