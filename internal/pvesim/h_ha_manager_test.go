package pvesim

import (
	"strings"
	"testing"
)

// ctState is the simulator's view of a CT: node and status.
func ctState(t *testing.T, srv *Server, vmid int) (string, string) {
	t.Helper()
	v, ok := srv.Container(vmid)
	if !ok {
		t.Fatalf("CT %d does not exist", vmid)
	}
	return v.Node, v.Status
}

func TestHACarriesOutTheRequestedState(t *testing.T) {
	t.Parallel()
	srv := haSim(t)
	mustOK(t, raw(t, srv, "POST", "/cluster/ha/resources", form("sid", "ct:100")))
	eventually(t, "HA starts the CT", func() bool { _, st := ctState(t, srv, 100); return st == "running" })
	if starts := srv.Tasks(TaskStart, "100"); len(starts) != 1 || starts[0].User != "root@pam" {
		t.Fatalf("want one vzstart by root@pam (the LRM), got %+v", starts)
	}
	mustOK(t, raw(t, srv, "PUT", "/cluster/ha/resources/ct:100", form("state", "stopped")))
	eventually(t, "HA shuts the CT down", func() bool { _, st := ctState(t, srv, 100); return st == "stopped" })
	var guests []map[string]any
	mustOK(t, raw(t, srv, "GET", "/cluster/resources?type=vm", "")).data(t, &guests)
	for _, g := range guests {
		if g["vmid"] == float64(100) && g["hastate"] != "stopped" {
			t.Fatalf("hastate of CT 100: %v", g["hastate"])
		}
		if g["vmid"] == float64(101) && g["hastate"] != nil {
			t.Fatalf("a CT HA does not know has no hastate: %v", g["hastate"])
		}
	}
}

func TestMigratePreconditionsAreWhatPVE91Returns(t *testing.T) {
	t.Parallel()
	srv := haSim(t)
	var pre map[string]any
	mustOK(t, raw(t, srv, "GET", "/nodes/pve1/lxc/100/migrate?target=pve2", "")).data(t, &pre)
	if mustJSON(pre) != `{"allowed-nodes":["pve2","pve3"],"not-allowed-nodes":{},"running":0}` {
		t.Fatalf("preconditions: %s", mustJSON(pre))
	}
	statusIs(t, raw(t, srv, "GET", "/nodes/pve2/lxc/100/migrate", ""), "500 Configuration file 'nodes/pve2/lxc/100.conf' does not exist")
	mustOK(t, raw(t, srv, "POST", "/cluster/ha/resources", form("sid", "ct:100", "state", "stopped")))
	mustOK(t, raw(t, srv, "POST", "/cluster/ha/resources", form("sid", "ct:101", "state", "stopped")))
	if err := srv.HAMove(101, "pve3"); err != nil {
		t.Fatal(err)
	}
	mustOK(t, raw(t, srv, "POST", "/cluster/ha/rules", form("rule", "apart", "type", "resource-affinity", "affinity", "negative", "resources", "ct:100,ct:101")))
	mustOK(t, raw(t, srv, "GET", "/nodes/pve1/lxc/100/migrate", "")).data(t, &pre)
	want := `{"allowed-nodes":["pve2"],"dependent-ha-resources":[],"not-allowed-nodes":{"pve3":{"blocking-ha-resources":[{"cause":"resource-affinity","sid":"ct:101"}]}},"running":0}`
	if mustJSON(pre) != want {
		t.Fatalf("preconditions with a negative rule:\n got %s\nwant %s", mustJSON(pre), want)
	}
}

func TestMigrateOfAnHAManagedCTIsHandedToHA(t *testing.T) {
	t.Parallel()
	srv := haSim(t)
	mustOK(t, raw(t, srv, "POST", "/cluster/ha/resources", form("sid", "ct:102", "state", "stopped")))
	v := runOK(t, srv, "POST", "/nodes/pve1/lxc/102/migrate", form("target", "pve2"))
	if v.Type != TaskHAMigrate || !strings.Contains(strings.Join(v.Log, "\n"), "Requesting HA migration for CT 102 to node pve2") {
		t.Fatalf("task %s, log %q", v.Type, v.Log)
	}
	eventually(t, "HA moves the CT", func() bool { n, _ := ctState(t, srv, 102); return n == "pve2" })
	if m := srv.Tasks(TaskMigrate, "102"); len(m) != 1 || m[0].User != "root@pam" {
		t.Fatalf("want one vzmigrate by root@pam, got %+v", m)
	}
}

func TestHAMoveNeedsAnHAManagedCT(t *testing.T) {
	t.Parallel()
	srv := haSim(t)
	if err := srv.HAMove(100, "pve2"); err == nil || !strings.Contains(err.Error(), "not HA managed") {
		t.Fatalf("got %v", err)
	}
	mustOK(t, raw(t, srv, "POST", "/cluster/ha/resources", form("sid", "ct:100", "state", "ignored")))
	if err := srv.HAMove(100, "pve2"); err == nil {
		t.Fatal("HA leaves an ignored resource where it is")
	}
}

func TestCreateWithHAManaged(t *testing.T) {
	t.Parallel()
	srv := haSim(t)
	body := form("vmid", "150", "ostemplate", DebianTemplate, "rootfs", "local-lvm:8", "ha-managed", "1")
	if err := srv.DropPrivilege(DefaultTokenID, "/", "Sys.Console"); err != nil {
		t.Fatal(err)
	}
	statusIs(t, raw(t, srv, "POST", "/nodes/pve1/lxc", body), "403 Permission check failed (/, Sys.Console)")
	if err := srv.RestorePrivileges(DefaultTokenID); err != nil {
		t.Fatal(err)
	}
	v := runOK(t, srv, "POST", "/nodes/pve1/lxc", body)
	if !strings.Contains(strings.Join(v.Log, "\n"), "Add as HA resource") {
		t.Fatalf("log %q", v.Log)
	}
	if st := haResource(t, srv, "ct:150")["state"]; st != "stopped" {
		t.Fatalf("a CT created without start is added stopped, got %v", st)
	}
}

func TestPowerCallsOnAnHAManagedCTBecomeHARequests(t *testing.T) {
	t.Parallel()
	srv := haSim(t)
	mustOK(t, raw(t, srv, "POST", "/cluster/ha/resources", form("sid", "ct:101", "state", "stopped")))
	v := runOK(t, srv, "POST", "/nodes/pve1/lxc/101/status/start", "")
	if v.Type != TaskHAStart || v.Log[0] != "Requesting HA start for CT 101" {
		t.Fatalf("task %s, log %q", v.Type, v.Log)
	}
	if st := haResource(t, srv, "ct:101")["state"]; st != "started" {
		t.Fatalf("requested state %v", st)
	}
	eventually(t, "HA starts the CT", func() bool { _, st := ctState(t, srv, 101); return st == "running" })
	v = runOK(t, srv, "POST", "/nodes/pve1/lxc/101/status/shutdown", form("timeout", "10"))
	if v.Type != TaskHAStop {
		t.Fatalf("task %s", v.Type)
	}
	eventually(t, "HA stops the CT", func() bool { _, st := ctState(t, srv, 101); return st == "stopped" })
	statusIs(t, raw(t, srv, "POST", "/nodes/pve1/lxc/101/status/stop", ""), "500 CT 101 not running")
}
