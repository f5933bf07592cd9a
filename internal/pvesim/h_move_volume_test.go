package pvesim

import (
	"slices"
	"strings"
	"testing"

	proxmox "github.com/luthermonson/go-proxmox"
)

// moveSim seeds, on pve1 unless said otherwise:
//
//	100 stopped: mp0 (local-lvm), mp1 (bind mount), unused0, mp4 (plain LVM), mp5 (dir)
//	101 stopped: mp0 taken    102 template    103 running: mp0
//	104 stopped: mp0 in a snapshot    105 on pve2    106 locked (backup)
//	107 stopped: rootfs and mp0 on local-lvm
func moveSim(t *testing.T) *Server {
	t.Helper()
	srv := newSim(t, func(o *Options) {
		o.Storages = append(DefaultStorages(),
			StorageSpec{ID: "store2", Type: "lvmthin", Content: []string{"rootdir", "images"}, Total: 500 * GiB},
			StorageSpec{ID: "dirct", Type: "dir", Content: []string{"rootdir"}, Path: "/mnt/dirct"},
			StorageSpec{ID: "plainlvm", Type: "lvm", Content: []string{"rootdir"}, Total: 100 * GiB},
		)
		o.Tokens = []TokenSpec{
			{ID: DefaultTokenID, Secret: DefaultTokenSecret},
			{ID: "disk@pve!t", Secret: "s", Privileges: []string{"VM.Config.Disk"}},
			{ID: "space@pve!t", Secret: "s", Privileges: []string{"Datastore.AllocateSpace"}},
			{ID: "both@pve!t", Secret: "s", Privileges: []string{"VM.Config.Disk", "Datastore.AllocateSpace"}},
		}
	})
	seed := []ContainerSpec{
		{Node: "pve1", VMID: 100, Config: map[string]string{
			"mp0": "local-lvm:vm-100-disk-1,mp=/data,size=4G", "mp1": "/mnt/host,mp=/host",
			"mp3": "local-lvm:vm-100-disk-3,mp=/old,size=1G", "mp4": "plainlvm:vm-100-disk-4,mp=/p,size=1G",
			"mp5": "dirct:100/vm-100-disk-5.raw,mp=/d,size=1G",
		}},
		{Node: "pve1", VMID: 101, Config: map[string]string{"mp0": "local-lvm:vm-101-disk-1,mp=/x,size=1G"}},
		{Node: "pve1", VMID: 102, Config: map[string]string{"template": "1", "rootfs": "local-lvm:base-102-disk-0,size=8G"}},
		{Node: "pve1", VMID: 103, Running: true, Config: map[string]string{"mp0": "local-lvm:vm-103-disk-1,mp=/data,size=1G"}},
		{Node: "pve1", VMID: 104, Config: map[string]string{"mp0": "local-lvm:vm-104-disk-1,mp=/data,size=1G"}},
		{Node: "pve2", VMID: 105},
		{Node: "pve1", VMID: 106},
		{Node: "pve1", VMID: 107, Config: map[string]string{"mp0": "local-lvm:vm-107-disk-1,mp=/data,size=2G"}},
	}
	if err := srv.AddContainers(seed); err != nil {
		t.Fatal(err)
	}
	// mp3 becomes unused0, the way a detached mount point is kept.
	for _, kv := range [][2]string{{"mp3", ""}, {"unused0", "local-lvm:vm-100-disk-3"}} {
		if err := srv.SetConfigValue(100, kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	runOK(t, srv, "POST", "/nodes/pve1/lxc/104/snapshot", form("snapname", "s1"))
	setLock(t, srv, 106, "backup")
	return srv
}

func TestMoveVolumeToStorage(t *testing.T) {
	t.Parallel()
	srv := moveSim(t)
	const path = "/nodes/pve1/lxc/107/move_volume"
	t.Run("the rootfs is copied under lock disk and the old volume stays as unused0", func(t *testing.T) {
		upid := upidOf(t, raw(t, srv, "POST", path, form("volume", "rootfs", "storage", "store2")))
		if cv, _ := srv.Container(107); cv.Lock != "disk" {
			t.Fatalf("lock during the move: %q", cv.Lock)
		}
		v := waitTask(t, srv, upid)
		if v.ExitStatus != "OK" || v.Type != TaskMoveVolume || v.ID != "107" || !slices.Contains(v.Log, `  Logical volume "vm-107-disk-0" created.`) {
			t.Fatalf("%+v", v)
		}
		conf := apiConfig(t, srv, "pve1", 107)
		if conf["rootfs"] != "store2:vm-107-disk-0,size=8G" || conf["unused0"] != "local-lvm:vm-107-disk-0" || conf["lock"] != nil {
			t.Fatalf("%v", conf)
		}
	})
	t.Run("with delete the source volume is freed instead", func(t *testing.T) {
		v := runOK(t, srv, "POST", path, form("volume", "mp0", "storage", "dirct", "delete", "1"))
		conf := apiConfig(t, srv, "pve1", 107)
		if conf["mp0"] != "dirct:107/vm-107-disk-0.raw,mp=/data,size=2G" || conf["unused1"] != nil {
			t.Fatalf("%v", conf)
		}
		if !slices.Contains(v.Log, `  Logical volume "vm-107-disk-1" successfully removed.`) {
			t.Fatalf("%s", strings.Join(v.Log, "\n"))
		}
		r := mustOK(t, raw(t, srv, "GET", "/nodes/pve1/storage/local-lvm/content", ""))
		if strings.Contains(string(r.Body), "vm-107-disk-1") {
			t.Fatalf("source kept: %s", r.Body)
		}
	})
	t.Run("a template's copy becomes a base volume", func(t *testing.T) {
		runOK(t, srv, "POST", "/nodes/pve1/lxc/102/move_volume", form("volume", "rootfs", "storage", "store2"))
		if conf := apiConfig(t, srv, "pve1", 102); conf["rootfs"] != "store2:base-102-disk-0,size=8G" {
			t.Fatalf("%v", conf)
		}
	})
	t.Run("a volume in a snapshot may be copied when the source stays", func(t *testing.T) {
		runOK(t, srv, "POST", "/nodes/pve1/lxc/104/move_volume", form("volume", "mp0", "storage", "store2"))
	})
}

// moveRefusal is a move_volume call refused before any task starts: the
// status line and, when set, a text the body contains.
type moveRefusal struct{ name, vmid, body, status, contains string }

func (tc moveRefusal) run(t *testing.T, srv *Server) {
	t.Run(tc.name, func(t *testing.T) {
		replyIs(t, raw(t, srv, "POST", "/nodes/pve1/lxc/"+tc.vmid+"/move_volume", tc.body), tc.status, tc.contains)
	})
}

func TestMoveVolumeToStorageRefusals(t *testing.T) {
	t.Parallel()
	srv := moveSim(t)
	tests := []moveRefusal{
		{"storage and target-vmid exclude each other", "100", form("volume", "mp0", "storage", "store2", "target-vmid", "101"),
			"500 either set storage or target-vmid, but not both", ""},
		{"one of them is needed", "100", form("volume", "mp0"),
			"400 Parameter verification failed.", `"storage":"both 'storage' and 'target-vmid' missing, either needs to be set"`},
		{"a running container keeps its volumes", "103", form("volume", "mp0", "storage", "store2"),
			"500 cannot move volumes of a running container", ""},
		{"an unused volume has no storage move", "100", form("volume", "unused0", "storage", "store2"),
			"500 cannot move volume 'unused0', only configured volumes can be moved to another storage", ""},
		{"an unset mount point does not parse", "100", form("volume", "mp7", "storage", "store2"),
			"500 format error", `"mp":"property is missing and it is not optional"`},
		{"a volume in a snapshot cannot be moved and deleted", "104", form("volume", "mp0", "storage", "store2", "delete", "1"),
			"500 you can't move a volume with snapshots and delete the source", ""},
		{"a stale digest is refused", "100", form("volume", "mp0", "storage", "store2", "digest", "0000"),
			"500 detected modified configuration - file changed by other user? Try again.", ""},
		{"a locked container is refused", "106", form("volume", "rootfs", "storage", "store2"), "500 CT is locked (backup)", ""},
		{"a missing container is not found", "404", form("volume", "rootfs", "storage", "store2"),
			"500 Configuration file 'nodes/pve1/lxc/404.conf' does not exist", ""},
		{"the key must be a volume key", "100", form("volume", "net0", "storage", "store2"), "400 Parameter verification failed.", `"volume":`},
	}
	for _, tc := range tests {
		tc.run(t, srv)
	}
	taskTests := []struct{ name, body, exit string }{
		{"a storage without container content cannot take it", form("volume", "mp0", "storage", "local"),
			"content type 'rootdir' is not available or configured on storage 'local'"},
		{"an unknown storage fails the task", form("volume", "mp0", "storage", "nosuch"), "storage 'nosuch' does not exist"},
		{"a bind mount cannot be copied", form("volume", "mp1", "storage", "store2"), "cannot copy volumes of type bind"},
	}
	for _, tc := range taskTests {
		t.Run(tc.name, func(t *testing.T) {
			before := apiConfig(t, srv, "pve1", 100)
			v := taskOf(t, srv, "POST", "/nodes/pve1/lxc/100/move_volume", tc.body)
			if v.ExitStatus != tc.exit {
				t.Fatalf("%q:\n%s", v.ExitStatus, strings.Join(v.Log, "\n"))
			}
			if after := apiConfig(t, srv, "pve1", 100); after["digest"] != before["digest"] {
				t.Fatalf("config changed: %v", after)
			}
		})
	}
	t.Run("a failed copy frees the new volume and drops the lock", func(t *testing.T) {
		srv.FailTasks(TaskMoveVolume, "100", 1, "rsync error: some files could not be transferred (code 23)")
		v := taskOf(t, srv, "POST", "/nodes/pve1/lxc/100/move_volume", form("volume", "mp0", "storage", "store2"))
		if v.ExitStatus != "rsync error: some files could not be transferred (code 23)" {
			t.Fatalf("%q", v.ExitStatus)
		}
		if cv, _ := srv.Container(100); cv.Lock != "" {
			t.Fatalf("lock %q", cv.Lock)
		}
		if r := mustOK(t, raw(t, srv, "GET", "/nodes/pve1/storage/store2/content", "")); strings.Contains(string(r.Body), "vm-100") {
			t.Fatalf("copy kept: %s", r.Body)
		}
	})
}

func TestMoveVolumePermissions(t *testing.T) {
	t.Parallel()
	srv := moveSim(t)
	if err := srv.DropPrivilege("both@pve!t", "/vms/101", "VM.Config.Disk"); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, token, body, status string }{
		{"a storage move needs space on the target storage", "disk@pve!t", form("volume", "mp0", "storage", "store2"),
			"403 Permission check failed (/storage/store2, Datastore.AllocateSpace)"},
		{"every move needs VM.Config.Disk on the container", "space@pve!t", form("volume", "mp0", "storage", "store2"),
			"403 Permission check failed (/vms/100, VM.Config.Disk)"},
		{"a reassign needs VM.Config.Disk on the target too", "both@pve!t", form("volume", "mp0", "target-vmid", "101", "target-volume", "mp9"),
			"403 Permission check failed (/vms/101, VM.Config.Disk)"},
		{"a reassign needs space on the volume's storage", "disk@pve!t", form("volume", "mp0", "target-vmid", "104", "target-volume", "mp9"),
			"403 Permission check failed (/storage/local-lvm, Datastore.AllocateSpace)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			statusIs(t, raw(t, srv, "POST", "/nodes/pve1/lxc/100/move_volume", tc.body, asToken(tc.token, "s")), tc.status)
		})
	}
}

func TestMoveVolumeToAnotherContainer(t *testing.T) {
	t.Parallel()
	srv := moveSim(t)
	tests := []struct{ name, vmid, body, key, want string }{
		{"a mount point is renamed to the target's next disk", "100", form("volume", "mp0", "target-vmid", "101", "target-volume", "mp9"),
			"mp9", "local-lvm:vm-101-disk-2,mp=/data,size=4G"},
		{"an unused volume goes to an unused key", "100", form("volume", "unused0", "target-vmid", "101", "target-volume", "unused3"),
			"unused3", "local-lvm:vm-101-disk-3"},
		{"a volume on a dir storage moves to the target's directory", "100", form("volume", "mp5", "target-vmid", "101"),
			"mp5", "dirct:101/vm-101-disk-0.raw,mp=/d,size=1G"},
		{"a volume may change key within one container", "101", form("volume", "mp9", "target-vmid", "101", "target-volume", "mp10"),
			"mp10", "local-lvm:vm-101-disk-4,mp=/data,size=4G"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := runOK(t, srv, "POST", "/nodes/pve1/lxc/"+tc.vmid+"/move_volume", tc.body)
			if v.Type != TaskMoveVolume || !strings.Contains(v.ID, ">101-"+tc.key) {
				t.Fatalf("%+v", v)
			}
			if conf := apiConfig(t, srv, "pve1", 101); conf[tc.key] != tc.want {
				t.Fatalf("%s = %v", tc.key, conf[tc.key])
			}
		})
	}
	t.Run("the source config loses the key and the log says so", func(t *testing.T) {
		conf := apiConfig(t, srv, "pve1", 100)
		if conf["mp0"] != nil || conf["unused0"] != nil || conf["mp5"] != nil {
			t.Fatalf("%v", conf)
		}
		v := srv.Tasks(TaskMoveVolume, "100-mp0>101-mp9")
		if len(v) != 1 || !slices.Contains(v[0].Log, "moving volume 'mp0' from container '100' to '101'") ||
			!slices.Contains(v[0].Log, "removing volume 'mp0' from container '100' config") ||
			!slices.Contains(v[0].Log, "target container '101' updated with 'mp9'") {
			t.Fatalf("%+v", v)
		}
	})
}

func TestMoveVolumeToAnotherContainerRefusals(t *testing.T) {
	t.Parallel()
	srv := moveSim(t)
	digest := apiConfig(t, srv, "pve1", 100)["digest"].(string)
	tests := []moveRefusal{
		{"the rootfs stays", "100", form("volume", "rootfs", "target-vmid", "101"), "500 Cannot move to/from 'rootfs'", ""},
		{"an unused volume cannot become a mount point", "100", form("volume", "unused0", "target-vmid", "101", "target-volume", "mp9"),
			"500 Moving an unused volume to a used one is not possible", ""},
		{"the target must exist", "100", form("volume", "mp0", "target-vmid", "999"), "500 could not find CT 999", ""},
		{"both must be on one node", "100", form("volume", "mp0", "target-vmid", "105", "target-volume", "mp9"),
			"500 Both containers need to be on the same node (pve1 != pve2)", ""},
		{"templates take and give no volumes", "100", form("volume", "mp0", "target-vmid", "102", "target-volume", "mp9"),
			"500 Can't move volumes from or to template CT", ""},
		{"a stale source digest is refused", "100", form("volume", "mp0", "target-vmid", "101", "target-volume", "mp9", "digest", "00"),
			"500 Container 100: detected modified configuration - file changed by other user? Try again.", ""},
		{"a stale target digest is refused", "100", form("volume", "mp0", "target-vmid", "101", "target-volume", "mp9", "digest", digest, "target-digest", "00"),
			"500 Container 101: detected modified configuration - file changed by other user? Try again.", ""},
		{"the source key must be set", "100", form("volume", "mp7", "target-vmid", "101"), "500 volume 'mp7' for container '100' does not exist", ""},
		{"the target key must be free", "100", form("volume", "mp0", "target-vmid", "101"),
			"500 Target volume key 'mp0' is already in use for container '101'", ""},
		{"a volume in a snapshot stays", "104", form("volume", "mp0", "target-vmid", "101", "target-volume", "mp9"),
			"500 Cannot move volume used by a snapshot to another container", ""},
		{"plain LVM cannot rename", "100", form("volume", "mp4", "target-vmid", "101", "target-volume", "mp9"),
			"500 Storage does not support moving of this disk to another container", ""},
		{"a bind mount fails the rename test first", "100", form("volume", "mp1", "target-vmid", "101", "target-volume", "mp9"),
			"500 Storage does not support moving of this disk to another container", ""},
		{"a running source keeps its mounted volumes", "103", form("volume", "mp0", "target-vmid", "101", "target-volume", "mp9"),
			"500 Cannot move in-use volume while the source CT is running - detach or shutdown first", ""},
		{"a locked target is refused", "100", form("volume", "mp0", "target-vmid", "106", "target-volume", "mp9"), "500 CT is locked (backup)", ""},
	}
	for _, tc := range tests {
		tc.run(t, srv)
	}
	t.Run("go-proxmox's MoveVolume sends qemu's disk parameter, which LXC rejects", func(t *testing.T) {
		ct := pveCT(t, srv, 100)
		_, err := ct.MoveVolume(ctx(t), &proxmox.VirtualMachineMoveDiskOptions{Disk: "mp0", Storage: "store2"})
		if err == nil || !strings.Contains(err.Error(), `"disk":"property is not defined in schema`) {
			t.Fatalf("%v", err)
		}
	})
}
