package proxmox_test

import (
	"slices"
	"testing"

	"github.com/pve-operator/pve-operator/internal/proxmox"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

// newClusterSim seeds a running container 100 on node1 with tags and a
// string cpulimit, a stopped container 101 on node2 locked for backup, and
// qemu VM 200.
func newClusterSim(t *testing.T) (*pvesim.Server, *proxmox.APIClient) {
	t.Helper()
	srv := newSim(t)
	seedCT(t, srv, node1, 100, true, map[string]string{"hostname": "web", "tags": "k8s;web", "cpulimit": "1.5"})
	seedCT(t, srv, node2, 101, false, nil)
	if err := srv.AddVM(node1, 200, "a-qemu-vm"); err != nil {
		t.Fatal(err)
	}
	if err := srv.SetLock(101, "backup"); err != nil {
		t.Fatal(err)
	}
	return srv, newClient(t, srv)
}

func TestClusterReads(t *testing.T) {
	srv, c := newClusterSim(t)
	ctx := testCtx(t)
	t.Run("version reports the PVE release", func(t *testing.T) {
		v, err := c.Version(ctx)
		if err != nil || v.Version != pvesim.PVEVersion || v.Release != pvesim.PVERelease {
			t.Fatalf("Version() = %+v, %v", v, err)
		}
	})
	t.Run("nodes are listed with status and capacity", func(t *testing.T) {
		nodes, err := c.Nodes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(nodes) != 3 || nodes[0].Name != node1 || !nodes[0].Online() || nodes[0].MaxCPU != 16 || nodes[0].MaxMem == 0 || nodes[0].Uptime <= 0 {
			t.Fatalf("Nodes() = %+v", nodes)
		}
	})
	t.Run("an offline node is listed as offline", func(t *testing.T) {
		if err := srv.SetNodeOnline(node2, false); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = srv.SetNodeOnline(node2, true) }()
		nodes, err := c.Nodes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if nodes[1].Name != node2 || nodes[1].Status != "offline" {
			t.Fatalf("Nodes()[1] = %+v", nodes[1])
		}
	})
	t.Run("a node's storages carry type, content and capacity", func(t *testing.T) {
		st, err := c.Storages(ctx, node1)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(st, func(s proxmox.Storage) bool { return s.ID == "local-lvm" })
		if i < 0 {
			t.Fatalf("no local-lvm in %+v", st)
		}
		s := st[i]
		if s.Type != "lvmthin" || !s.Accepts("rootdir") || s.Accepts("backup") || !s.Enabled || !s.Active || s.Total == 0 || s.Avail == 0 || s.Node != node1 {
			t.Fatalf("local-lvm = %+v", s)
		}
	})
	t.Run("cluster storages list every node's storages in one request", func(t *testing.T) {
		srv.ResetRequestCounts()
		st, err := c.ClusterStorages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(st) != 6 || srv.RequestCount("GET /cluster/resources") != 1 {
			t.Fatalf("ClusterStorages() = %d storages with %v", len(st), srv.RequestCounts())
		}
		if !st[0].Active || st[0].Total == 0 || st[0].Type == "" || len(st[0].Content) == 0 {
			t.Fatalf("first storage = %+v", st[0])
		}
	})
}

func TestGuestReads(t *testing.T) {
	srv, c := newClusterSim(t)
	ctx := testCtx(t)
	t.Run("containers are listed cluster-wide without qemu guests, with lock, tags and a string cpulimit", func(t *testing.T) {
		cts, err := c.Containers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(cts) != 2 {
			t.Fatalf("Containers() = %+v", cts)
		}
		web, other := cts[0], cts[1]
		if web.VMID != 100 || web.Node != node1 || web.Name != "web" || web.Status != "running" ||
			!web.HasTag("k8s") || !web.HasTag("web") || web.MaxCPU != 1.5 || web.MaxMem == 0 {
			t.Errorf("CT 100 = %+v", web)
		}
		if other.VMID != 101 || other.Node != node2 || other.Lock != "backup" || other.Status != "stopped" {
			t.Errorf("CT 101 = %+v", other)
		}
	})
	t.Run("a free VMID checks out; taken ones, container or VM, are AlreadyExists", func(t *testing.T) {
		if err := c.CheckVMID(ctx, 150); err != nil {
			t.Fatalf("CheckVMID(150) = %v", err)
		}
		for _, vmid := range []int{100, 200} {
			err := c.CheckVMID(ctx, vmid)
			if !proxmox.IsAlreadyExists(err) || proxmox.StatusCode(err) != 400 {
				t.Fatalf("CheckVMID(%d) = %v, want already exists", vmid, err)
			}
		}
	})
	t.Run("next ID skips container and VM IDs", func(t *testing.T) {
		if err := srv.AddVM(node1, 102, "vm"); err != nil {
			t.Fatal(err)
		}
		id, err := c.NextID(ctx)
		if err != nil || id != 103 {
			t.Fatalf("NextID() = %d, %v; want 103", id, err)
		}
	})
}
