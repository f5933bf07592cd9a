package pvesim

import (
	"strings"
	"testing"

	proxmox "github.com/luthermonson/go-proxmox"
)

// Restricted tokens of the pool tests.
const (
	poolAuditor = "audit@pve!t" // VM.Audit only
	poolAdmin   = "pools@pve!t" // Pool.Allocate and Pool.Audit, nothing on guests
)

func poolSim(t *testing.T) *Server {
	t.Helper()
	srv := newSim(t, func(o *Options) {
		o.Pools = []string{"k8s"}
		o.Tokens = []TokenSpec{
			{ID: DefaultTokenID, Secret: DefaultTokenSecret},
			{ID: poolAuditor, Secret: "x", Privileges: []string{"VM.Audit"}},
			{ID: poolAdmin, Secret: "x", Privileges: []string{"Pool.Allocate", "Pool.Audit"}},
		}
	})
	createCT(t, srv, "pve1", 100, "pool", "k8s")
	createCT(t, srv, "pve1", 101)
	return srv
}

func poolMembers(t *testing.T, srv *Server, path string) []map[string]any {
	t.Helper()
	var pool struct {
		Members []map[string]any `json:"members"`
	}
	mustOK(t, raw(t, srv, "GET", path, "")).data(t, &pool)
	return pool.Members
}

func TestPoolLifecycle(t *testing.T) {
	t.Parallel()
	srv := poolSim(t)
	steps := []struct {
		name, method, path, body string
	}{
		{"a pool is created with a comment", "POST", "/pools", form("poolid", "web", "comment", "front ends")},
		{"a nested pool is created under its parent", "POST", "/pools", form("poolid", "web/blue")},
		{"a guest is added", "PUT", "/pools", form("poolid", "web", "vms", "101")},
		{"a storage is added through the deprecated path", "PUT", "/pools/web", form("storage", "local")},
		{"the comment is changed", "PUT", "/pools", form("poolid", "web", "comment", "edge")},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) { mustOK(t, raw(t, srv, st.method, st.path, st.body)) })
	}
	t.Run("the list shows every pool with its comment", func(t *testing.T) {
		var pools []map[string]any
		mustOK(t, raw(t, srv, "GET", "/pools", "")).data(t, &pools)
		if len(pools) != 3 || pools[1]["poolid"] != "web" || pools[1]["comment"] != "edge" || pools[1]["members"] != nil {
			t.Fatalf("%v", pools)
		}
	})
	t.Run("a create's pool parameter makes the CT a member", func(t *testing.T) {
		m := poolMembers(t, srv, "/pools/k8s")
		if len(m) != 1 || m[0]["id"] != "lxc/100" || m[0]["type"] != "lxc" || m[0]["vmid"] != float64(100) {
			t.Fatalf("%v", m)
		}
	})
	t.Run("members are guests then storages, filtered by type", func(t *testing.T) {
		var pools []map[string]any
		mustOK(t, raw(t, srv, "GET", "/pools?poolid=web", "")).data(t, &pools)
		m := pools[0]["members"].([]any)
		if len(m) != 2 || m[0].(map[string]any)["id"] != "lxc/101" || m[1].(map[string]any)["id"] != "storage/pve1/local" {
			t.Fatalf("%v", pools)
		}
		if m := poolMembers(t, srv, "/pools/web?type=storage"); len(m) != 1 || m[0]["storage"] != "local" {
			t.Fatalf("%v", m)
		}
	})
	t.Run("allow-move moves a guest between pools", func(t *testing.T) {
		mustOK(t, raw(t, srv, "PUT", "/pools", form("poolid", "web", "vms", "100", "allow-move", "1")))
		if cv, _ := srv.Container(100); cv.Pool != "web" || len(poolMembers(t, srv, "/pools/k8s")) != 0 {
			t.Fatalf("pool %q", cv.Pool)
		}
	})
	t.Run("delete removes members", func(t *testing.T) {
		mustOK(t, raw(t, srv, "PUT", "/pools", form("poolid", "web", "vms", "100,101", "storage", "local", "delete", "1")))
		if m := poolMembers(t, srv, "/pools/web"); len(m) != 0 {
			t.Fatalf("%v", m)
		}
	})
	t.Run("empty pools are deleted, the child first", func(t *testing.T) {
		mustOK(t, raw(t, srv, "DELETE", "/pools?poolid="+"web%2Fblue", ""))
		mustOK(t, raw(t, srv, "DELETE", "/pools/web", ""))
		mustOK(t, raw(t, srv, "DELETE", "/pools/k8s", ""))
	})
}

func TestPoolErrorsAreWordedAsPVE(t *testing.T) {
	t.Parallel()
	srv := poolSim(t)
	mustOK(t, raw(t, srv, "POST", "/pools", form("poolid", "other")))
	mustOK(t, raw(t, srv, "POST", "/pools", form("poolid", "k8s/sub")))
	mustOK(t, raw(t, srv, "POST", "/pools", form("poolid", "disks")))
	mustOK(t, raw(t, srv, "PUT", "/pools", form("poolid", "disks", "storage", "local-lvm")))
	tests := []struct {
		name, method, path, body, status string
	}{
		{"a second pool of the same name", "POST", "/pools", form("poolid", "k8s"), "500 create pool failed: pool 'k8s' already exists"},
		{"a nested pool without its parent", "POST", "/pools", form("poolid", "a/b"), "500 create pool failed: parent 'a' of pool 'a/b' does not exist"},
		{"a name not starting with a letter", "POST", "/pools", form("poolid", "9x"), "500 create pool failed: pool name must start with a letter"},
		{"reading a missing pool", "GET", "/pools?poolid=nope", "", "500 pool 'nope' does not exist"},
		{"reading a missing pool the deprecated way", "GET", "/pools/nope", "", "500 pool 'nope' does not exist"},
		{"updating a missing pool", "PUT", "/pools", form("poolid", "nope", "comment", "x"), "500 update pools failed: pool 'nope' does not exist"},
		{"adding a member twice", "PUT", "/pools", form("poolid", "k8s", "vms", "100"), "500 update pools failed: VM 100 is already a pool member"},
		{"taking a guest from another pool without allow-move", "PUT", "/pools", form("poolid", "other", "vms", "100"),
			"500 update pools failed: VM 100 belongs already to pool 'k8s' and 'allow-move' is not set"},
		{"removing a guest that is no member", "PUT", "/pools", form("poolid", "k8s", "vms", "101", "delete", "1"), "500 update pools failed: VM 101 is not a pool member"},
		{"adding a storage twice", "PUT", "/pools", form("poolid", "disks", "storage", "local-lvm"), "500 update pools failed: Storage 'local-lvm' is already a pool member"},
		{"removing a storage that is no member", "PUT", "/pools", form("poolid", "disks", "storage", "local", "delete", "1"),
			"500 update pools failed: Storage 'local' is not a pool member"},
		{"deleting a pool with a sub-pool", "DELETE", "/pools?poolid=k8s", "", "500 delete pool failed: pool 'k8s' is not empty (contains pool 'k8s/sub')"},
		{"deleting a pool with a guest", "DELETE", "/pools?poolid=k8s%2Fsub", "", ""},
		{"deleting a pool with a storage", "DELETE", "/pools/disks", "", "500 delete pool failed: pool 'disks' is not empty (contains storage 'local-lvm')"},
		{"deleting a missing pool", "DELETE", "/pools?poolid=nope", "", "500 delete pool failed: pool 'nope' does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := raw(t, srv, tc.method, tc.path, tc.body)
			if tc.status == "" {
				mustOK(t, r)
				return
			}
			statusIs(t, r, tc.status)
		})
	}
	t.Run("a pool holding a guest is not empty", func(t *testing.T) {
		statusIs(t, raw(t, srv, "DELETE", "/pools?poolid=k8s", ""), "500 delete pool failed: pool 'k8s' is not empty (contains VM 100)")
	})
	t.Run("an invalid pool name fails the format", func(t *testing.T) {
		paramErrorIs(t, raw(t, srv, "POST", "/pools", form("poolid", "a b")), "poolid", "pool name 'a b' contains invalid characters")
		paramErrorIs(t, raw(t, srv, "POST", "/pools", form("poolid", "a/b/c/d")), "poolid", "nested too deeply (max levels = 3)")
	})
	t.Run("the type filter needs a poolid", func(t *testing.T) {
		paramErrorIs(t, raw(t, srv, "GET", "/pools?type=lxc", ""), "poolid", "missing property required by 'type'")
	})
}

func TestPoolPermissions(t *testing.T) {
	t.Parallel()
	srv := poolSim(t)
	mustOK(t, raw(t, srv, "POST", "/pools", form("poolid", "other")))
	tests := []struct {
		name, token, method, path, body, status string
	}{
		{"creating needs Pool.Allocate on the new pool", poolAuditor, "POST", "/pools", form("poolid", "x"), "403 Permission check failed (/pool/x, Pool.Allocate)"},
		{"the deprecated read needs Pool.Audit", poolAuditor, "GET", "/pools/k8s", "", "403 Permission check failed (/pool/k8s, Pool.Audit)"},
		{"the deprecated update needs Pool.Allocate", poolAuditor, "PUT", "/pools/k8s", form("comment", "x"), "403 Permission check failed (/pool/k8s, Pool.Allocate)"},
		{"deleting needs Pool.Allocate", poolAuditor, "DELETE", "/pools?poolid=k8s", "", "403 Permission check failed (/pool/k8s, Pool.Allocate)"},
		{"adding a guest needs the right to allocate it, checked inside the lock", poolAdmin, "PUT", "/pools", form("poolid", "other", "vms", "101"),
			"500 update pools failed: 403 Permission check failed (/vms/101, Permissions.Modify|VM.Allocate)"},
		{"adding a storage needs Datastore.Allocate on it", poolAdmin, "PUT", "/pools", form("poolid", "other", "storage", "local"),
			"500 update pools failed: 403 Permission check failed (/storage/local, Permissions.Modify|Datastore.Allocate)"},
		{"the one-pool list answers without Pool.Audit, as PVE ignores that check", poolAuditor, "GET", "/pools?poolid=k8s", "", "200 OK"},
		{"a pool admin may edit the comment", poolAdmin, "PUT", "/pools", form("poolid", "other", "comment", "c"), "200 OK"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			statusIs(t, raw(t, srv, tc.method, tc.path, tc.body, asToken(tc.token, "x")), tc.status)
		})
	}
	t.Run("the list shows only the pools the caller may audit", func(t *testing.T) {
		var pools []map[string]any
		mustOK(t, raw(t, srv, "GET", "/pools", "", asToken(poolAuditor, "x"))).data(t, &pools)
		if len(pools) != 0 {
			t.Fatalf("%v", pools)
		}
	})
	t.Run("allow-move needs Pool.Allocate on the pool the guest leaves", func(t *testing.T) {
		if err := srv.DropPrivilege(DefaultTokenID, "/pool/k8s", "Pool.Allocate"); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = srv.RestorePrivileges(DefaultTokenID) }()
		statusIs(t, raw(t, srv, "PUT", "/pools", form("poolid", "other", "vms", "100", "allow-move", "1")),
			"500 update pools failed: 403 Permission check failed (/pool/k8s, Pool.Allocate)")
		if cv, _ := srv.Container(100); cv.Pool != "k8s" {
			t.Fatalf("a refused move must change nothing, pool %q", cv.Pool)
		}
	})
}

func TestDestroyedContainerLeavesItsPool(t *testing.T) {
	t.Parallel()
	srv := poolSim(t)
	// remove_vm_access runs on every destroy, purge or not.
	runOK(t, srv, "DELETE", "/nodes/pve1/lxc/100", "")
	if m := poolMembers(t, srv, "/pools/k8s"); len(m) != 0 {
		t.Fatalf("%v", m)
	}
	mustOK(t, raw(t, srv, "DELETE", "/pools/k8s", ""))
}

func TestPoolsDecodeWithGoProxmox(t *testing.T) {
	t.Parallel()
	srv := poolSim(t)
	c := pve(t, srv)
	if err := c.NewPool(ctx(t), "web", "front ends"); err != nil {
		t.Fatal(err)
	}
	pools, err := c.Pools(ctx(t))
	if err != nil || len(pools) != 2 || pools[1].PoolID != "web" || pools[1].Comment != "front ends" {
		t.Fatalf("%v %v", pools, err)
	}
	pool, err := c.Pool(ctx(t), "k8s")
	if err != nil || len(pool.Members) != 1 || pool.Members[0].VMID != 100 || pool.Members[0].Type != "lxc" {
		t.Fatalf("%+v %v", pool, err)
	}
	web, _ := c.Pool(ctx(t), "web")
	if err := web.Update(ctx(t), &proxmox.PoolUpdateOption{VirtualMachines: "101", Storage: "local"}); err != nil {
		t.Fatal(err)
	}
	// The deprecated GET /pools/{poolid} answers the pool object itself.
	var dep proxmox.Pool
	if err := c.Get(ctx(t), "/pools/web?type=lxc", &dep); err != nil || dep.PoolID != "web" || len(dep.Members) != 1 || dep.Members[0].Name != "ct101" {
		t.Fatalf("%+v %v", dep, err)
	}
	if err := web.Delete(ctx(t)); err == nil || !strings.Contains(err.Error(), "is not empty (contains VM 101)") {
		t.Fatalf("got %v", err)
	}
}
