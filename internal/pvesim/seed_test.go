package pvesim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSeedingPreExistingContainers(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	err := srv.AddContainer("pve2", 500, map[string]string{
		"hostname": "legacy", "memory": "4096", "cores": "2", "net0": "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=10.1.1.5/24,type=veth",
		"tags": "manual",
	}, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("go-proxmox sees it with defaults filled", func(t *testing.T) {
		n, _ := pve(t, srv).Node(ctx(t), "pve2")
		ct, err := n.Container(ctx(t), 500)
		if err != nil || ct.Status != "running" || ct.Name != "legacy" || ct.ContainerConfig.RootFS != "local-lvm:vm-500-disk-0,size=8G" || ct.ContainerConfig.Digest == "" {
			t.Fatalf("%+v %v", ct, err)
		}
	})
	t.Run("its disk is on the storage", func(t *testing.T) {
		var list []map[string]any
		mustOK(t, raw(t, srv, "GET", "/nodes/pve2/storage/local-lvm/content?vmid=500", "")).data(t, &list)
		if len(list) != 1 {
			t.Fatalf("%v", list)
		}
	})
	t.Run("errors", func(t *testing.T) {
		if err := srv.AddContainer("pve1", 500, nil, false); err == nil || err.Error() != "CT 500 already exists on node 'pve2'" {
			t.Fatalf("%v", err)
		}
		if err := srv.AddContainer("pve1", 501, map[string]string{"bogus": "1"}, false); err == nil {
			t.Fatal("unknown option accepted")
		}
		if err := srv.AddContainer("pve9", 502, nil, false); err == nil {
			t.Fatal("unknown node accepted")
		}
	})
}

func TestBulkSeedingTenThousandContainers(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	start := time.Now()
	for i, node := range []string{"pve1", "pve2", "pve3"} {
		if err := srv.SeedContainers(node, 1000+i*4000, 3334, i%2 == 0); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seeded 10,002 containers in %v", time.Since(start))
	var list []map[string]any
	mustOK(t, raw(t, srv, "GET", "/cluster/resources?type=vm", "")).data(t, &list)
	if len(list) != 10002 {
		t.Fatalf("%d", len(list))
	}
	if r := mustOK(t, raw(t, srv, "GET", "/cluster/nextid", "")); string(r.Body) != `{"data":"100"}` {
		t.Fatalf("%s", r.Body)
	}
}

func TestStateFileRoundTrip(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.json")
	o := DefaultOptions()
	o.StateFile = path
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	createCT(t, srv, "pve1", 100, "hostname", "persisted")
	runOK(t, srv, "POST", "/nodes/pve1/lxc/100/snapshot", form("snapname", "s1"))
	runOK(t, srv, "POST", "/nodes/pve1/vzdump", form("vmid", "100", "storage", "local", "notes-template", "{{guestname}}"))
	runOK(t, srv, "POST", "/nodes/pve1/lxc/100/status/start", "")
	_ = srv.SetNodeOnline("pve3", false)
	before, _ := srv.Container(100)
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}

	srv2, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	after, ok := srv2.Container(100)
	if !ok || after.Digest != before.Digest || after.Status != "running" || len(after.Snapshots) != 1 {
		t.Fatalf("%+v\n%+v", before, after)
	}
	if b := srv2.Backups(100); len(b) != 1 || b[0].Notes != "persisted" {
		t.Fatalf("%+v", b)
	}
	if len(srv2.Tasks(TaskCreate, "100")) != 1 {
		t.Fatal("task history")
	}
	st := srv2.State()
	if st.Nodes[2].Online {
		t.Fatal("node state")
	}
	upid := srv2.Tasks(TaskCreate, "100")[0].UPID
	mustOK(t, raw(t, srv2, "GET", "/nodes/pve1/tasks/"+upid+"/status", ""))
}

func TestSSHDaemonAsksTheSimulator(t *testing.T) {
	t.Parallel()
	srv, c := newSSHSim(t, func(o *SSHOptions) { o.HostKeyPath = filepath.Join(t.TempDir(), "host_key") })
	createCT(t, srv, "pve1", 100)
	createCT(t, srv, "pve1", 101)
	runOK(t, srv, "POST", "/nodes/pve1/lxc/100/status/start", "")
	if ex, run := srv.ContainerState(100); !ex || !run {
		t.Fatal("100 running")
	}
	if ex, run := srv.ContainerState(101); !ex || run {
		t.Fatal("101 stopped")
	}
	if out, _, code := sshRun(t, c, "pct exec 100 -- echo hello", ""); out != "hello\n" || code != 0 {
		t.Fatalf("%q %d", out, code)
	}
	if _, stderr, code := sshRun(t, c, "pct exec 101 -- true", ""); !strings.Contains(stderr, "CT 101 not running") || code != 255 {
		t.Fatalf("%q %d", stderr, code)
	}
}
