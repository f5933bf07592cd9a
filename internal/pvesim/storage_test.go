package pvesim

import (
	"fmt"
	"strings"
	"testing"
	"time"

	proxmox "github.com/luthermonson/go-proxmox"
)

func TestStorageEndpoints(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100)
	n, _ := pve(t, srv).Node(ctx(t), "pve1")

	t.Run("the storage list and status", func(t *testing.T) {
		sts, err := n.Storages(ctx(t))
		if err != nil || len(sts) != 2 {
			t.Fatalf("%+v %v", sts, err)
		}
		st, err := n.Storage(ctx(t), "local-lvm")
		if err != nil || st.Type != "lvmthin" || st.Content != "images,rootdir" || st.Used != 8*GiB || st.Total != 500*GiB || st.Avail != 492*GiB || st.Enabled != 1 || st.Active != 1 {
			t.Fatalf("%+v %v", st, err)
		}
		b, err := n.StorageBackup(ctx(t))
		if err != nil || b.Name != "local" {
			t.Fatalf("%+v %v", b, err)
		}
		var list []map[string]any
		mustOK(t, raw(t, srv, "GET", "/nodes/pve1/storage?content=rootdir", "")).data(t, &list)
		if len(list) != 1 || list[0]["storage"] != "local-lvm" {
			t.Fatalf("%v", list)
		}
		if r := raw(t, srv, "GET", "/nodes/pve1/storage/nope/status", ""); r.Status != "400 Parameter verification failed." {
			t.Fatalf("%q", r.Status)
		}
	})
	t.Run("content lists filter by content and vmid", func(t *testing.T) {
		var list []map[string]any
		mustOK(t, raw(t, srv, "GET", "/nodes/pve1/storage/local/content?content=vztmpl", "")).data(t, &list)
		if len(list) != 2 || list[0]["format"] != "tzst" || list[1]["format"] != "txz" {
			t.Fatalf("%v", list)
		}
		mustOK(t, raw(t, srv, "GET", "/nodes/pve1/storage/local-lvm/content?vmid=100", "")).data(t, &list)
		if len(list) != 1 || list[0]["volid"] != "local-lvm:vm-100-disk-0" || list[0]["content"] != "rootdir" || list[0]["vmid"] != float64(100) {
			t.Fatalf("%v", list)
		}
		tmpl, err := n.VzTmpl(ctx(t), "debian-12-standard_12.7-1_amd64.tar.zst", "local")
		if err != nil || tmpl.VolID != DebianTemplate {
			t.Fatalf("%+v %v", tmpl, err)
		}
		if r := raw(t, srv, "GET", "/nodes/pve1/storage/nope/content", ""); r.Status != "500 storage 'nope' does not exist" {
			t.Fatalf("%q", r.Status)
		}
	})
}

// backupContentTest holds what the subtests of TestBackupContentNotesProtectionAndDelete share; they run in order.
type backupContentTest struct {
	srv   *Server
	volid string
	st    *proxmox.Storage
}

func TestBackupContentNotesProtectionAndDelete(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	volid, err := srv.AddBackup(BackupSpec{VMID: 100, Notes: "nightly\nsecond line", Time: time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	if volid != "local:backup/vzdump-lxc-100-2025_06_01-10_00_00.tar.zst" {
		t.Fatalf("%s", volid)
	}
	c := pve(t, srv)
	n, _ := c.Node(ctx(t), "pve1")
	st, _ := n.Storage(ctx(t), "local")

	fx := backupContentTest{srv: srv, volid: volid, st: st}
	t.Run("the list shows the first notes line, subtype and ctime from the name", fx.listShowsFirstNotesLine)
	t.Run("notes and protected are updated with PUT", fx.putUpdatesNotes)
	t.Run("deleting a protected backup fails in the imgdel task", fx.protectedDeleteFails)
	t.Run("with delay the error comes back synchronously", fx.delayedDeleteFails)
	t.Run("unprotected, it is removed", fx.unprotectedIsRemoved)
	t.Run("volume id errors", fx.volumeIDErrors)
	t.Run("max protected backups", fx.maxProtectedBackups)
}

func (fx backupContentTest) listShowsFirstNotesLine(t *testing.T) {
	srv := fx.srv
	var list []map[string]any
	mustOK(t, raw(t, srv, "GET", "/nodes/pve1/storage/local/content?content=backup&vmid=100", "")).data(t, &list)
	e := list[0]
	if e["notes"] != "nightly" || e["subtype"] != "lxc" || e["ctime"] != float64(1748772000) || e["format"] != "tar.zst" {
		t.Fatalf("%v", e)
	}
	if _, ok := e["protected"]; ok {
		t.Fatal("protected only when set")
	}
}

func (fx backupContentTest) putUpdatesNotes(t *testing.T) {
	srv, volid, st := fx.srv, fx.volid, fx.st
	yes := true
	if err := st.UpdateContent(ctx(t), volid, &proxmox.StorageContentUpdateOptions{Notes: "keep me", Protected: &yes}); err != nil {
		t.Fatal(err)
	}
	var info map[string]any
	mustOK(t, raw(t, srv, "GET", "/nodes/pve1/storage/local/content/"+volid, "")).data(t, &info)
	if info["notes"] != "keep me" || info["protected"] != float64(1) || info["path"] != "/var/lib/vz/dump/vzdump-lxc-100-2025_06_01-10_00_00.tar.zst" {
		t.Fatalf("%v", info)
	}
}

func (fx backupContentTest) protectedDeleteFails(t *testing.T) {
	srv, volid, st := fx.srv, fx.volid, fx.st
	task, err := st.DeleteContent(ctx(t), volid)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(task.UPID), ":imgdel:100@local:") {
		t.Fatalf("%s", task.UPID)
	}
	v := waitTask(t, srv, string(task.UPID))
	if v.ExitStatus != "cannot remove protected volume 'backup/vzdump-lxc-100-2025_06_01-10_00_00.tar.zst' on 'local'" {
		t.Fatalf("%q", v.ExitStatus)
	}
}

func (fx backupContentTest) delayedDeleteFails(t *testing.T) {
	srv, volid := fx.srv, fx.volid
	r := raw(t, srv, "DELETE", "/nodes/pve1/storage/local/content/"+volid+"?delay=30", "")
	if r.Status != "500 cannot remove protected volume 'backup/vzdump-lxc-100-2025_06_01-10_00_00.tar.zst' on 'local'" {
		t.Fatalf("%q", r.Status)
	}
}

func (fx backupContentTest) unprotectedIsRemoved(t *testing.T) {
	srv, volid := fx.srv, fx.volid
	mustOK(t, raw(t, srv, "PUT", "/nodes/pve1/storage/local/content/"+volid, form("protected", "0")))
	r := mustOK(t, raw(t, srv, "DELETE", "/nodes/pve1/storage/local/content/"+volid+"?delay=30", ""))
	if string(r.Body) != `{"data":null}` {
		t.Fatalf("finished within delay: %s", r.Body)
	}
	if len(srv.Backups(100)) != 0 {
		t.Fatal("still there")
	}
	r = raw(t, srv, "GET", "/nodes/pve1/storage/local/content/"+volid, "")
	if r.Code != 500 {
		t.Fatalf("%q", r.Status)
	}
}

func (fx backupContentTest) volumeIDErrors(t *testing.T) {
	srv := fx.srv
	r := raw(t, srv, "GET", "/nodes/pve1/storage/local/content/local-lvm:vm-1-disk-0", "")
	if r.Code != 400 || r.json(t)["errors"].(map[string]any)["volume"] != "storage ID mismatch (local-lvm != local)\n" {
		t.Fatalf("%q %s", r.Status, r.Body)
	}
}

func (fx backupContentTest) maxProtectedBackups(t *testing.T) {
	srv2 := newSim(t, func(o *Options) {
		o.Storages = DefaultStorages()
		o.Storages[0].MaxProtectedBackups = 1
	})
	a, _ := srv2.AddBackup(BackupSpec{VMID: 100, Protected: true, Time: 1})
	b, _ := srv2.AddBackup(BackupSpec{VMID: 100, Time: 2})
	_ = a
	r := raw(t, srv2, "PUT", "/nodes/pve1/storage/local/content/"+b, form("protected", "1"))
	if r.Status != "500 The number of protected backups per guest is limited to 1 on storage 'local'" {
		t.Fatalf("%q", r.Status)
	}
}

// vzdumpTest holds what the subtests of TestVzdump share; they run in order.
type vzdumpTest struct {
	srv   *Server
	clock *fakeClock
}

func TestVzdump(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	srv := newSim(t, func(o *Options) { o.Now = clock.Now })
	createCT(t, srv, "pve1", 100, "hostname", "web1")
	runOK(t, srv, "POST", "/nodes/pve1/lxc/100/status/start", "")

	fx := vzdumpTest{srv: srv, clock: clock}
	t.Run("a snapshot-mode backup of a running CT on lvmthin", fx.snapshotModeBackup)
	t.Run("snapshot mode on dir storage falls back to suspend", fx.suspendFallback)
	t.Run("stop mode stops and restarts", fx.stopModeRestarts)
	t.Run("a locked CT fails the job with job errors", fx.lockedCTFails)
	t.Run("a guest on another node returns OK instead of a UPID", fx.otherNodeAnswersOK)
	t.Run("parameter checks", fx.parameterChecks)
	t.Run("a storage without backup content fails the task", fx.storageWithoutBackupContent)
	t.Run("one vzdump per node: the second waits for the global lock", fx.globalLock)
	t.Run("interrupting a backup", fx.interrupt)
	t.Run("extractconfig returns the archived config", fx.extractConfig)
}

func (fx vzdumpTest) snapshotModeBackup(t *testing.T) {
	srv, clock := fx.srv, fx.clock
	srv.StallTasks(TaskVzdump, "100", 1)
	n, _ := pve(t, srv).Node(ctx(t), "pve1")
	task, err := n.Vzdump(ctx(t), &proxmox.VirtualMachineBackupOptions{
		VMID: 100, Storage: "local", Mode: "snapshot", Compress: "zstd", NotesTemplate: "{{guestname}} on {{node}}\\nvmid {{vmid}}", Protected: "1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(task.UPID), ":vzdump:100:") {
		t.Fatalf("%s", task.UPID)
	}
	eventually(t, "lock backup", func() bool { cv, _ := srv.Container(100); return cv.Lock == "backup" })
	t.Run("start meanwhile says already running", func(t *testing.T) {
		if r := raw(t, srv, "POST", "/nodes/pve1/lxc/100/status/start", ""); r.Status != "500 CT 100 already running" {
			t.Fatalf("%q", r.Status)
		}
	})
	t.Run("a config change meanwhile is refused", func(t *testing.T) {
		if r := raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", form("cores", "2")); r.Status != "500 CT is locked (backup)" {
			t.Fatalf("%q", r.Status)
		}
	})
	srv.ReleaseTasks()
	v := waitTask(t, srv, string(task.UPID))
	if v.ExitStatus != "OK" {
		t.Fatalf("%q\n%s", v.ExitStatus, strings.Join(v.Log, "\n"))
	}
	log := strings.Join(v.Log, "\n")
	for _, want := range []string{
		"INFO: starting new backup job: vzdump 100 ",
		"INFO: Starting Backup of VM 100 (lxc)",
		"INFO: status = running",
		"INFO: backup mode: snapshot",
		"INFO: creating vzdump archive '/var/lib/vz/dump/vzdump-lxc-100-2025_06_01-10_00_00.tar.zst'",
		"INFO: adding notes to backup",
		"INFO: marking backup as protected",
		"INFO: Backup job finished successfully",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if v.Log[len(v.Log)-1] != "TASK OK" {
		t.Fatal(v.Log)
	}
	b := srv.Backups(100)
	if len(b) != 1 || b[0].Notes != "web1 on pve1\nvmid 100" || !b[0].Protected || b[0].CTime != clock.Now().Unix() {
		t.Fatalf("%+v", b)
	}
	if cv, _ := srv.Container(100); cv.Lock != "" || cv.Status != "running" {
		t.Fatalf("%+v", cv)
	}
}

func (fx vzdumpTest) suspendFallback(t *testing.T) {
	srv2 := newSim(t, func(o *Options) {
		o.Storages = append(DefaultStorages(), StorageSpec{ID: "data", Type: "dir", Content: []string{"rootdir"}, Total: 100 * GiB})
	})
	createCT(t, srv2, "pve1", 100, "rootfs", "data:4")
	runOK(t, srv2, "POST", "/nodes/pve1/lxc/100/status/start", "")
	v := runOK(t, srv2, "POST", "/nodes/pve1/vzdump", form("vmid", "100", "storage", "local", "mode", "snapshot"))
	log := strings.Join(v.Log, "\n")
	if !strings.Contains(log, "INFO: mode failure - some volumes do not support snapshots\nINFO: trying 'suspend' mode instead\nINFO: backup mode: suspend") {
		t.Fatal(log)
	}
	if b := srv2.Backups(100); len(b) != 1 || !strings.HasSuffix(b[0].Volid, ".tar") {
		t.Fatalf("compress defaults to none: %+v", b)
	}
}

func (fx vzdumpTest) stopModeRestarts(t *testing.T) {
	srv, clock := fx.srv, fx.clock
	clock.Add(time.Minute)
	v := runOK(t, srv, "POST", "/nodes/pve1/vzdump", form("vmid", "100", "storage", "local", "mode", "stop", "compress", "gzip"))
	log := strings.Join(v.Log, "\n")
	if !strings.Contains(log, "INFO: stopping virtual guest") || !strings.Contains(log, "INFO: restarting vm") {
		t.Fatal(log)
	}
	if cv, _ := srv.Container(100); cv.Status != "running" {
		t.Fatal(cv.Status)
	}
}

func (fx vzdumpTest) lockedCTFails(t *testing.T) {
	srv := fx.srv
	setLock(t, srv, 100, "snapshot")
	t.Cleanup(func() { setLock(t, srv, 100, "") })
	v := waitTask(t, srv, upidOf(t, raw(t, srv, "POST", "/nodes/pve1/vzdump", form("vmid", "100", "storage", "local"))))
	if v.ExitStatus != "job errors" || !strings.Contains(strings.Join(v.Log, "\n"), "ERROR: Backup of VM 100 failed - CT is locked (snapshot)") {
		t.Fatalf("%q %v", v.ExitStatus, v.Log)
	}
	if v.Log[len(v.Log)-1] != "TASK ERROR: job errors" {
		t.Fatal(v.Log)
	}
}

func (fx vzdumpTest) otherNodeAnswersOK(t *testing.T) {
	srv := fx.srv
	r := mustOK(t, raw(t, srv, "POST", "/nodes/pve2/vzdump", form("vmid", "100", "storage", "local")))
	if string(r.Body) != `{"data":"OK"}` {
		t.Fatalf("%s", r.Body)
	}
}

func (fx vzdumpTest) parameterChecks(t *testing.T) {
	srv := fx.srv
	for _, c := range []struct{ body, param string }{
		// The schema's "requires" keys its error by the missing key.
		{form("vmid", "100", "notes-template", "x"), "storage"},
		{form("vmid", "100", "protected", "1"), "storage"},
		{form("storage", "local"), "vmid"},
		{form("vmid", "100", "dumpDir", "/tmp"), "dumpDir"},
		{form("vmid", "100", "storage", "local", "tmpdir", "/tmp"), "tmpdir"},
		{form("vmid", "100", "storage", "local", "job-id", "backup-1"), "job-id"},
	} {
		r := raw(t, srv, "POST", "/nodes/pve1/vzdump", c.body)
		if r.Code != 400 || r.json(t)["errors"].(map[string]any)[c.param] == nil {
			t.Errorf("%s: %q %s", c.body, r.Status, r.Body)
		}
	}
}

func (fx vzdumpTest) storageWithoutBackupContent(t *testing.T) {
	srv := fx.srv
	v := waitTask(t, srv, upidOf(t, raw(t, srv, "POST", "/nodes/pve1/vzdump", form("vmid", "100", "storage", "local-lvm"))))
	if v.ExitStatus != "could not get storage information for 'local-lvm': can't use storage 'local-lvm' for backups - wrong content type" {
		t.Fatalf("%q", v.ExitStatus)
	}
}

func (fx vzdumpTest) globalLock(t *testing.T) {
	srv := fx.srv
	createCT(t, srv, "pve1", 101)
	srv.StallTasks(TaskVzdump, "100", 1)
	first := upidOf(t, raw(t, srv, "POST", "/nodes/pve1/vzdump", form("vmid", "100", "storage", "local")))
	eventually(t, "first stalled", func() bool { v, _ := srv.Task(first); return v.Stalled })
	second := upidOf(t, raw(t, srv, "POST", "/nodes/pve1/vzdump", form("vmid", "101", "storage", "local")))
	eventually(t, "second waits", func() bool {
		return strings.Contains(srv.TaskLog(second), "INFO: trying to get global lock - waiting...")
	})
	srv.ReleaseTasks()
	if v := waitTask(t, srv, second); v.ExitStatus != "OK" || !strings.Contains(strings.Join(v.Log, "\n"), "INFO: got global lock") {
		t.Fatalf("%+v", v)
	}
	waitTask(t, srv, first)
}

func (fx vzdumpTest) interrupt(t *testing.T) {
	srv := fx.srv
	srv.StallTasks(TaskVzdump, "100", 1)
	upid := upidOf(t, raw(t, srv, "POST", "/nodes/pve1/vzdump", form("vmid", "100", "storage", "local")))
	eventually(t, "stalled", func() bool { v, _ := srv.Task(upid); return v.Stalled })
	mustOK(t, raw(t, srv, "DELETE", "/nodes/pve1/tasks/"+upid, ""))
	if v := waitTask(t, srv, upid); v.ExitStatus != "interrupted by signal" {
		t.Fatalf("%q", v.ExitStatus)
	}
	if cv, _ := srv.Container(100); cv.Lock != "" {
		t.Fatalf("lock left: %q", cv.Lock)
	}
}

func (fx vzdumpTest) extractConfig(t *testing.T) {
	srv := fx.srv
	n, _ := pve(t, srv).Node(ctx(t), "pve1")
	cfg, err := n.VzdumpExtractConfig(ctx(t), srv.Backups(100)[0].Volid)
	if err != nil || cfg.OsType != "debian" || cfg.Memory != 512 {
		t.Fatalf("%+v %v", cfg, err)
	}
}

// restoreSim has CT 100 (hostname orig, memory 1024) on pve1 and a backup
// of it on local, whose volume ID it returns.
func restoreSim(t *testing.T) (*Server, string) {
	t.Helper()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100, "hostname", "orig", "memory", "1024")
	runOK(t, srv, "POST", "/nodes/pve1/vzdump", form("vmid", "100", "storage", "local", "compress", "zstd"))
	return srv, srv.Backups(100)[0].Volid
}

func TestRestore(t *testing.T) {
	t.Parallel()
	srv, volid := restoreSim(t)

	t.Run("restoring to a new VMID", func(t *testing.T) {
		v := runOK(t, srv, "POST", "/nodes/pve1/lxc", form("vmid", "200", "ostemplate", volid, "restore", "1", "storage", "local-lvm", "unique", "1"))
		if v.Type != TaskRestore {
			t.Fatal(v.Type)
		}
		cv, _ := srv.Container(200)
		if cv.Config["hostname"] != "orig" || cv.Config["memory"] != "1024" || cv.Config["rootfs"] != "local-lvm:vm-200-disk-0,size=8G" || cv.Node != "pve1" {
			t.Fatalf("%+v", cv)
		}
	})
	t.Run("a backup on another node's local storage is not there", func(t *testing.T) {
		v := waitTask(t, srv, upidOf(t, raw(t, srv, "POST", "/nodes/pve2/lxc", form("vmid", "201", "ostemplate", volid, "restore", "1", "storage", "local-lvm"))))
		if !strings.HasSuffix(v.ExitStatus, "does not exist") {
			t.Fatalf("%q", v.ExitStatus)
		}
	})
	t.Run("restore without storage lands on local, which refuses rootdir", func(t *testing.T) {
		r := raw(t, srv, "POST", "/nodes/pve1/lxc", form("vmid", "300", "ostemplate", volid, "restore", "1"))
		if r.Code != 400 {
			t.Fatalf("%q", r.Status)
		}
	})
	t.Run("a missing archive fails in the task", func(t *testing.T) {
		bad := fmt.Sprintf("local:backup/vzdump-lxc-100-%s.tar.zst", "2001_01_01-00_00_00")
		v := waitTask(t, srv, upidOf(t, raw(t, srv, "POST", "/nodes/pve1/lxc", form("vmid", "301", "ostemplate", bad, "restore", "1", "storage", "local-lvm"))))
		if v.ExitStatus != "unable to restore CT 301 - volume '"+bad+"' does not exist" {
			t.Fatalf("%q", v.ExitStatus)
		}
	})
}

func TestRestoreOverAnExistingCT(t *testing.T) {
	t.Parallel()
	srv, volid := restoreSim(t)

	t.Run("over the existing CT needs force", func(t *testing.T) {
		r := raw(t, srv, "POST", "/nodes/pve1/lxc", form("vmid", "100", "ostemplate", volid, "restore", "1", "storage", "local-lvm"))
		if r.Status != "500 CT 100 already exists on node 'pve1'" {
			t.Fatalf("%q", r.Status)
		}
	})
	t.Run("not over a running CT", func(t *testing.T) {
		runOK(t, srv, "POST", "/nodes/pve1/lxc/100/status/start", "")
		r := raw(t, srv, "POST", "/nodes/pve1/lxc", form("vmid", "100", "ostemplate", volid, "restore", "1", "force", "1", "storage", "local-lvm"))
		if r.Status != "500 can't overwrite running container" {
			t.Fatalf("%q", r.Status)
		}
		runOK(t, srv, "POST", "/nodes/pve1/lxc/100/status/stop", "")
	})
	t.Run("not over a protected CT", func(t *testing.T) {
		mustOK(t, raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", form("protection", "1")))
		r := raw(t, srv, "POST", "/nodes/pve1/lxc", form("vmid", "100", "ostemplate", volid, "restore", "1", "force", "1", "storage", "local-lvm"))
		if r.Status != "500 unable to restore CT 100 - protection mode enabled" {
			t.Fatalf("%q", r.Status)
		}
		mustOK(t, raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", form("protection", "0")))
	})
	t.Run("restore=1 force=1 over the stopped CT through go-proxmox", func(t *testing.T) {
		mustOK(t, raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", form("hostname", "drifted")))
		n, _ := pve(t, srv).Node(ctx(t), "pve1")
		task, err := n.NewContainer(ctx(t), 100,
			proxmox.ContainerOption{Name: "ostemplate", Value: volid},
			proxmox.ContainerOption{Name: "restore", Value: 1},
			proxmox.ContainerOption{Name: "force", Value: 1},
			proxmox.ContainerOption{Name: "storage", Value: "local-lvm"})
		if err != nil {
			t.Fatal(err)
		}
		if cv, _ := srv.Container(100); cv.Lock != "create" {
			t.Fatalf("restore locks create synchronously: %q", cv.Lock)
		}
		if v := waitTask(t, srv, string(task.UPID)); v.ExitStatus != "OK" {
			t.Fatal(v.ExitStatus)
		}
		cv, _ := srv.Container(100)
		if cv.Config["hostname"] != "orig" || cv.Lock != "" {
			t.Fatalf("%+v", cv)
		}
	})
}
