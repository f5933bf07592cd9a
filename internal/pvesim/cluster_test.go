package pvesim

import (
	"strings"
	"testing"
	"time"
)

func TestClusterEndpointsThroughGoProxmox(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	c := pve(t, srv)
	createCT(t, srv, "pve2", 100)

	t.Run("version", func(t *testing.T) {
		v, err := c.Version(ctx(t))
		if err != nil || v.Version != PVEVersion || v.Release != PVERelease || v.RepoID == "" {
			t.Fatalf("%+v %v", v, err)
		}
	})
	t.Run("cluster status decodes with numeric booleans", func(t *testing.T) {
		cl, err := c.Cluster(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if cl.Name != DefaultClusterName || cl.Quorate != 1 || len(cl.Nodes) != 3 || cl.Nodes[0].Online != 1 || cl.Nodes[0].Local != 1 {
			t.Fatalf("%+v", cl)
		}
	})
	t.Run("nextid skips taken ids and CheckID sees them", func(t *testing.T) {
		cl, _ := c.Cluster(ctx(t))
		id, err := cl.NextID(ctx(t))
		if err != nil || id != 101 {
			t.Fatalf("%d %v", id, err)
		}
		free, err := cl.CheckID(ctx(t), 100)
		if err != nil || free {
			t.Fatalf("CheckID(100) = %v %v", free, err)
		}
	})
	t.Run("resources filter vm", func(t *testing.T) {
		cl, _ := c.Cluster(ctx(t))
		rs, err := cl.Resources(ctx(t), "vm")
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 1 || rs[0].ID != "lxc/100" || rs[0].Node != "pve2" || rs[0].Status != "stopped" || rs[0].Name != "ct100" {
			t.Fatalf("%+v", rs[0])
		}
	})
	t.Run("nodes and node status", func(t *testing.T) {
		ns, err := c.Nodes(ctx(t))
		if err != nil || len(ns) != 3 || ns[0].Status != "online" || ns[0].SSLFingerprint != srv.Fingerprint() {
			t.Fatalf("%+v %v", ns, err)
		}
		n, err := c.Node(ctx(t), "pve3")
		if err != nil || n.CPUInfo.CPUs != 16 || len(n.LoadAvg) != 3 || !strings.HasPrefix(n.PVEVersion, "pve-manager/") {
			t.Fatalf("%+v %v", n, err)
		}
	})
	t.Run("cluster tasks", func(t *testing.T) {
		cl, _ := c.Cluster(ctx(t))
		ts, err := cl.Tasks(ctx(t))
		if err != nil || len(ts) == 0 || ts[0].Type != "vzcreate" {
			t.Fatalf("%+v %v", ts, err)
		}
	})
}

func TestNextID(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100)
	if err := srv.AddVM("pve2", 101, "vm"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, query, status, body string
	}{
		{"the lowest free id across CTs and VMs", "", "200 OK", `{"data":"102"}`},
		{"a free id is echoed as a string", "?vmid=500", "200 OK", `{"data":"500"}`},
		{"a taken CT id says VM", "?vmid=100", "400 Parameter verification failed.", "VM 100 already exists"},
		{"a taken VM id", "?vmid=101", "400 Parameter verification failed.", "VM 101 already exists"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := raw(t, srv, "GET", "/cluster/nextid"+tc.query, "")
			if r.Status != tc.status || !strings.Contains(string(r.Body), tc.body) {
				t.Fatalf("%s %s", r.Status, r.Body)
			}
		})
	}
	t.Run("a VM id conflicts with a CT create", func(t *testing.T) {
		r := raw(t, srv, "POST", "/nodes/pve1/lxc", form("vmid", "101", "ostemplate", DebianTemplate, "rootfs", "local-lvm:4"))
		if r.Status != "500 VM 101 already exists on node 'pve2'" {
			t.Fatalf("got %q", r.Status)
		}
	})
}

func TestClusterResources(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100, "tags", "web;k8s")
	tests := []struct {
		typ   string
		types map[string]int
	}{
		{"", map[string]int{"node": 3, "storage": 6, "lxc": 1, "sdn": 3}},
		{"vm", map[string]int{"lxc": 1}},
		{"node", map[string]int{"node": 3}},
		{"storage", map[string]int{"storage": 6}},
		{"sdn", map[string]int{"sdn": 3}},
	}
	for _, tc := range tests {
		t.Run("type="+tc.typ, func(t *testing.T) {
			var list []map[string]any
			q := ""
			if tc.typ != "" {
				q = "?type=" + tc.typ
			}
			mustOK(t, raw(t, srv, "GET", "/cluster/resources"+q, "")).data(t, &list)
			got := map[string]int{}
			for _, e := range list {
				got[e["type"].(string)]++
			}
			if mustJSON(got) != mustJSON(tc.types) {
				t.Fatalf("got %v want %v", got, tc.types)
			}
		})
	}
	t.Run("guest entries carry tags, lock and numeric template", func(t *testing.T) {
		setLock(t, srv, 100, "backup")
		var list []map[string]any
		mustOK(t, raw(t, srv, "GET", "/cluster/resources?type=vm", "")).data(t, &list)
		e := list[0]
		if e["tags"] != "k8s;web" || e["lock"] != "backup" || e["template"] != float64(0) || e["vmid"] != float64(100) {
			t.Fatalf("%v", e)
		}
	})
}

func TestResourcesRefreshIntervalShowsNewGuestsAsUnknown(t *testing.T) {
	t.Parallel()
	srv := newSim(t, func(o *Options) { o.ResourcesRefresh = time.Hour })
	createCT(t, srv, "pve1", 100)
	var list []map[string]any
	mustOK(t, raw(t, srv, "GET", "/cluster/resources?type=vm", "")).data(t, &list)
	if list[0]["status"] != "unknown" {
		t.Fatalf("new guest before refresh: %v", list[0])
	}
	if _, hasName := list[0]["name"]; hasName {
		t.Fatalf("unknown guests have no name: %v", list[0])
	}
	srv.RefreshResources()
	mustOK(t, raw(t, srv, "GET", "/cluster/resources?type=vm", "")).data(t, &list)
	if list[0]["status"] != "stopped" || list[0]["name"] != "ct100" {
		t.Fatalf("after refresh: %v", list[0])
	}
	t.Run("statistics stay stale until the next refresh", func(t *testing.T) {
		runOK(t, srv, "POST", "/nodes/pve1/lxc/100/status/start", "")
		mustOK(t, raw(t, srv, "GET", "/cluster/resources?type=vm", "")).data(t, &list)
		if list[0]["status"] != "stopped" {
			t.Fatalf("stale status expected: %v", list[0])
		}
		var st map[string]any
		mustOK(t, raw(t, srv, "GET", "/nodes/pve1/lxc/100/status/current", "")).data(t, &st)
		if st["status"] != "running" {
			t.Fatalf("status/current is live: %v", st)
		}
	})
}

func TestOfflineNode(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve2", 100)
	if err := srv.SetNodeOnline("pve2", false); err != nil {
		t.Fatal(err)
	}
	t.Run("its guests show status unknown", func(t *testing.T) {
		var list []map[string]any
		mustOK(t, raw(t, srv, "GET", "/cluster/resources?type=vm", "")).data(t, &list)
		if list[0]["status"] != "unknown" {
			t.Fatalf("%v", list[0])
		}
	})
	t.Run("calls to it fail with 595 and an empty body", func(t *testing.T) {
		for _, p := range []string{"/nodes/pve2/lxc/100/status/current", "/nodes/pve2/status", "/nodes/pve2/tasks"} {
			r := raw(t, srv, "GET", p, "")
			if r.Status != "595 Connection refused" || len(r.Body) != 0 {
				t.Fatalf("%s: %q %s", p, r.Status, r.Body)
			}
		}
	})
	t.Run("the node list and cluster status show it offline", func(t *testing.T) {
		var nodes []map[string]any
		mustOK(t, raw(t, srv, "GET", "/nodes", "")).data(t, &nodes)
		if nodes[1]["status"] != "offline" {
			t.Fatalf("%v", nodes[1])
		}
		var st []map[string]any
		mustOK(t, raw(t, srv, "GET", "/cluster/status", "")).data(t, &st)
		if st[2]["online"] != float64(0) {
			t.Fatalf("%v", st)
		}
	})
	t.Run("an unknown node fails the hostname lookup", func(t *testing.T) {
		r := raw(t, srv, "GET", "/nodes/pve9/status", "")
		if !strings.HasPrefix(r.Status, "500 hostname lookup 'pve9' failed") {
			t.Fatalf("%q", r.Status)
		}
	})
	_ = srv.SetNodeOnline("pve2", true)
	mustOK(t, raw(t, srv, "GET", "/nodes/pve2/lxc/100/status/current", ""))
}

func TestSingleNodeHasNoClusterEntry(t *testing.T) {
	t.Parallel()
	srv := newSim(t, func(o *Options) { o.Nodes = []NodeSpec{{Name: "pve"}} })
	var st []map[string]any
	mustOK(t, raw(t, srv, "GET", "/cluster/status", "")).data(t, &st)
	if len(st) != 1 || st[0]["type"] != "node" || st[0]["nodeid"] != float64(0) {
		t.Fatalf("%v", st)
	}
}
