package pvesim

import (
	"testing"

	proxmox "github.com/luthermonson/go-proxmox"
)

func getConfig(t *testing.T, srv *Server, vmid string, query string) map[string]any {
	t.Helper()
	var conf map[string]any
	mustOK(t, raw(t, srv, "GET", "/nodes/pve1/lxc/"+vmid+"/config"+query, "")).data(t, &conf)
	return conf
}

func TestDigestProtectsConcurrentEdits(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100)
	const conflict = "500 detected modified configuration - file changed by other user? Try again."

	d1 := getConfig(t, srv, "100", "")["digest"].(string)
	if len(d1) != 40 {
		t.Fatalf("digest %q", d1)
	}
	t.Run("the current digest is accepted and the digest changes", func(t *testing.T) {
		mustOK(t, raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", form("cores", "2", "digest", d1)))
		if d2 := getConfig(t, srv, "100", "")["digest"]; d2 == d1 {
			t.Fatal("digest unchanged")
		}
	})
	t.Run("a stale digest is refused", func(t *testing.T) {
		if r := raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", form("cores", "3", "digest", d1)); r.Status != conflict {
			t.Fatalf("%q", r.Status)
		}
	})
	t.Run("an edit behind the client's back invalidates its digest", func(t *testing.T) {
		d := getConfig(t, srv, "100", "")["digest"].(string)
		if err := srv.BumpDigest(100); err != nil {
			t.Fatal(err)
		}
		if r := raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", form("cores", "3", "digest", d)); r.Status != conflict {
			t.Fatalf("%q", r.Status)
		}
		d = getConfig(t, srv, "100", "")["digest"].(string)
		_ = srv.SetConfigValue(100, "description", "edited by hand")
		if r := raw(t, srv, "PUT", "/nodes/pve1/lxc/100/resize", form("disk", "rootfs", "size", "+1G", "digest", d)); r.Status != conflict {
			t.Fatalf("resize: %q", r.Status)
		}
	})
	t.Run("snapshot sections are part of the digest", func(t *testing.T) {
		d := getConfig(t, srv, "100", "")["digest"]
		runOK(t, srv, "POST", "/nodes/pve1/lxc/100/snapshot", form("snapname", "s1"))
		if getConfig(t, srv, "100", "")["digest"] == d {
			t.Fatal("digest must cover snapshots")
		}
	})
	t.Run("the digest is sha1 of the config file", func(t *testing.T) {
		cv, _ := srv.Container(100)
		if cv.Digest != getConfig(t, srv, "100", "")["digest"] {
			t.Fatal("state view and API disagree")
		}
	})
}

func TestConfigUpdate(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100, "description", "hello", "onboot", "1")
	tests := []struct {
		name, body, status string
	}{
		{"nothing to do", form("digest", "abc"), "500 no options specified"},
		{"unprivileged is read-only", form("unprivileged", "0"), "500 unable to modify read-only option: 'unprivileged'"},
		{"deleting an unknown option", form("delete", "bogus"), "400 Parameter verification failed."},
		{"setting and deleting the same option", form("delete", "cores", "cores", "2"), "400 Parameter verification failed."},
		{"deleting rootfs", form("delete", "rootfs"), "500 unable to delete required option 'rootfs'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r := raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", tc.body); r.Status != tc.status {
				t.Fatalf("%q %s", r.Status, r.Body)
			}
		})
	}
	t.Run("PUT returns null so go-proxmox gets a nil task", func(t *testing.T) {
		ct := pveCT(t, srv, 100)
		task, err := ct.Config(ctx(t), proxmox.ContainerOption{Name: "memory", Value: 1024}, proxmox.ContainerOption{Name: "delete", Value: "onboot,description"})
		if err != nil || task != nil {
			t.Fatalf("%v %v", task, err)
		}
		conf := getConfig(t, srv, "100", "")
		if conf["memory"] != float64(1024) || conf["onboot"] != nil || conf["description"] != nil {
			t.Fatalf("%v", conf)
		}
	})
	t.Run("tags are lowercased, deduplicated and sorted", func(t *testing.T) {
		mustOK(t, raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", form("tags", "zeta,alpha;Beta alpha")))
		if c := getConfig(t, srv, "100", ""); c["tags"] != "alpha;beta;zeta" {
			t.Fatalf("%v", c["tags"])
		}
	})
	t.Run("net keeps its MAC when changed without hwaddr", func(t *testing.T) {
		before, _ := srv.Container(100)
		mustOK(t, raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", form("net0", "name=eth0,bridge=vmbr1,ip=dhcp,firewall=1")))
		after, _ := srv.Container(100)
		mac := func(s string) string { p, _ := parseProp(s, netFormat); return p.keys["hwaddr"] }
		if mac(before.Config["net0"]) != mac(after.Config["net0"]) || after.Config["net0"] != "name=eth0,bridge=vmbr1,firewall=1,hwaddr="+mac(before.Config["net0"])+",ip=dhcp,type=veth" {
			t.Fatalf("%q -> %q", before.Config["net0"], after.Config["net0"])
		}
	})
	t.Run("a new mount point allocates a volume", func(t *testing.T) {
		mustOK(t, raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", form("mp0", "local-lvm:2,mp=/data,backup=1")))
		if c := getConfig(t, srv, "100", ""); c["mp0"] != "local-lvm:vm-100-disk-1,mp=/data,backup=1,size=2G" {
			t.Fatalf("%v", c["mp0"])
		}
		mustOK(t, raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", form("delete", "mp0")))
		if c := getConfig(t, srv, "100", ""); c["unused0"] != "local-lvm:vm-100-disk-1" {
			t.Fatalf("a deleted mount point becomes unused0: %v", c)
		}
	})
}

func TestPendingChangesOnARunningCT(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100)
	runOK(t, srv, "POST", "/nodes/pve1/lxc/100/status/start", "")
	mustOK(t, raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", form(
		"cores", "4", "hostname", "renamed", "memory", "2048", "features", "nesting=1", "nameserver", "1.1.1.1", "delete", "swap")))

	cv, _ := srv.Container(100)
	t.Run("fastplug and hotplug options apply now", func(t *testing.T) {
		if cv.Config["cores"] != "4" || cv.Config["hostname"] != "renamed" || cv.Config["memory"] != "2048" {
			t.Fatalf("%v", cv.Config)
		}
		if _, ok := cv.Config["swap"]; ok {
			t.Fatal("swap is hotplugged, its deletion too")
		}
	})
	t.Run("others wait in pending", func(t *testing.T) {
		if cv.Pending["features"] != "nesting=1" || cv.Pending["nameserver"] != "1.1.1.1" {
			t.Fatalf("%v", cv.Pending)
		}
	})
	t.Run("GET config shows pending values unless current=1", func(t *testing.T) {
		if c := getConfig(t, srv, "100", ""); c["features"] != "nesting=1" {
			t.Fatalf("%v", c)
		}
		if c := getConfig(t, srv, "100", "?current=1"); c["features"] != nil {
			t.Fatalf("%v", c)
		}
	})
	t.Run("the pending endpoint lists both", func(t *testing.T) {
		ct := pveCT(t, srv, 100)
		items, err := ct.Pending(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, it := range items {
			if it.Key == "features" && it.Pending == "nesting=1" && it.Value == nil {
				found = true
			}
		}
		if !found {
			t.Fatalf("%+v", items)
		}
	})
	t.Run("revert drops a pending change", func(t *testing.T) {
		mustOK(t, raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", form("revert", "nameserver")))
		if cv, _ := srv.Container(100); cv.Pending["nameserver"] != "" {
			t.Fatal("still pending")
		}
	})
	t.Run("a reboot applies pending changes", func(t *testing.T) {
		runOK(t, srv, "POST", "/nodes/pve1/lxc/100/status/reboot", "")
		cv, _ := srv.Container(100)
		if cv.Config["features"] != "nesting=1" || len(cv.Pending) != 0 {
			t.Fatalf("%+v", cv)
		}
	})
	t.Run("on a stopped CT everything applies now", func(t *testing.T) {
		runOK(t, srv, "POST", "/nodes/pve1/lxc/100/status/stop", "")
		mustOK(t, raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", form("nameserver", "9.9.9.9")))
		if cv, _ := srv.Container(100); cv.Config["nameserver"] != "9.9.9.9" || len(cv.Pending) != 0 {
			t.Fatalf("%+v", cv)
		}
	})
}

// pve-container's update_vm checks the lock before anything else, so a
// stale lock cannot be removed through PUT config (only `pct unlock`).
func TestAStaleLockCannotBeRemovedThroughTheAPI(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100)
	setLock(t, srv, 100, "backup")
	ct := pveCT(t, srv, 100)
	for _, opts := range [][]proxmox.ContainerOption{
		{{Name: "cores", Value: 2}},
		{{Name: "delete", Value: "lock"}},
	} {
		if _, err := ct.Config(ctx(t), opts...); err == nil || err.Error() != "500 CT is locked (backup)" {
			t.Fatalf("%v: %v", opts, err)
		}
	}
	if cv, _ := srv.Container(100); cv.Lock != "backup" {
		t.Fatalf("lock %q", cv.Lock)
	}
	setLock(t, srv, 100, "") // what `pct unlock 100` does on the node
	mustOK(t, raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", form("cores", "2")))
}

func TestCreateAcceptsBareSizesAndRequiresRootfsWithMountPoints(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	runOK(t, srv, "POST", "/nodes/pve1/lxc", form("vmid", "100", "ostemplate", DebianTemplate, "storage", "local-lvm", "rootfs", "3", "mp0", "1,mp=/srv"))
	cv, _ := srv.Container(100)
	if cv.Config["rootfs"] != "local-lvm:vm-100-disk-0,size=3G" || cv.Config["mp0"] != "local-lvm:vm-100-disk-1,mp=/srv,size=1G" {
		t.Fatalf("%v", cv.Config)
	}
	r := raw(t, srv, "POST", "/nodes/pve1/lxc", form("vmid", "101", "ostemplate", DebianTemplate, "mp0", "local-lvm:1,mp=/srv"))
	if r.Status != "500 mount points configured, but 'rootfs' not set - aborting" {
		t.Fatalf("%q", r.Status)
	}
}
