package pvesim

import (
	"testing"

	proxmox "github.com/luthermonson/go-proxmox"
)

// snapshotTest holds what the subtests of TestSnapshotLifecycle share; they run in order.
type snapshotTest struct {
	srv *Server
	ct  *proxmox.Container
}

func TestSnapshotLifecycle(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100)
	runOK(t, srv, "POST", "/nodes/pve1/lxc/100/status/start", "")
	ct := pveCT(t, srv, 100)

	fx := snapshotTest{srv: srv, ct: ct}
	t.Run("while creating, the CT is locked and the snapshot is in prepare", fx.whileCreating)
	t.Run("the list ends with the current pseudo-entry", fx.listEndsWithCurrent)
	t.Run("creation errors", fx.creationErrors)
	t.Run("snapshot config read and description update", fx.snapshotConfig)
	t.Run("rollback kills the CT, restores the config and sets the parent", fx.rollbackRestoresConfig)
	t.Run("rollback with start=1 starts it again", fx.rollbackWithStart)
	t.Run("rollback errors", fx.rollbackErrors)
	t.Run("delete locks snapshot-delete and re-parents", fx.deleteReparents)
}

func (fx snapshotTest) whileCreating(t *testing.T) {
	srv := fx.srv
	srv.StallTasks(TaskSnapshot, "100", 1)
	upid := upidOf(t, raw(t, srv, "POST", "/nodes/pve1/lxc/100/snapshot", form("snapname", "before", "description", "first")))
	eventually(t, "prepare", func() bool { cv, _ := srv.Container(100); return cv.Lock == "snapshot" && len(cv.Snapshots) == 1 })
	var list []map[string]any
	mustOK(t, raw(t, srv, "GET", "/nodes/pve1/lxc/100/snapshot", "")).data(t, &list)
	if list[0]["snapstate"] != "prepare" || list[0]["description"] != "first" {
		t.Fatalf("%v", list)
	}
	srv.ReleaseTasks()
	if v := waitTask(t, srv, upid); v.ExitStatus != "OK" {
		t.Fatal(v.ExitStatus)
	}
}

func (fx snapshotTest) listEndsWithCurrent(t *testing.T) {
	srv, ct := fx.srv, fx.ct
	snaps, err := ct.Snapshots(ctx(t))
	if err != nil || len(snaps) != 2 || snaps[0].Name != "before" || snaps[1].Name != "current" || snaps[1].Parent != "before" {
		t.Fatalf("%+v %v", snaps, err)
	}
	var list []map[string]any
	mustOK(t, raw(t, srv, "GET", "/nodes/pve1/lxc/100/snapshot", "")).data(t, &list)
	if list[1]["running"] != float64(1) || list[1]["description"] != "You are here!" || list[1]["digest"] == "" {
		t.Fatalf("%v", list[1])
	}
	if _, ok := list[0]["snapstate"]; ok {
		t.Fatal("committed snapshots have no snapstate")
	}
}

func (fx snapshotTest) creationErrors(t *testing.T) {
	srv := fx.srv
	if r := raw(t, srv, "POST", "/nodes/pve1/lxc/100/snapshot", form("snapname", "current")); r.Status != "500 unable to use snapshot name 'current' (reserved name)" {
		t.Fatalf("%q", r.Status)
	}
	if r := raw(t, srv, "POST", "/nodes/pve1/lxc/100/snapshot", form("snapname", "1bad")); r.Status != "400 Parameter verification failed." {
		t.Fatalf("%q", r.Status)
	}
	v := waitTask(t, srv, upidOf(t, raw(t, srv, "POST", "/nodes/pve1/lxc/100/snapshot", form("snapname", "before"))))
	if v.ExitStatus != "snapshot name 'before' already used" {
		t.Fatalf("%q", v.ExitStatus)
	}
	v = waitTask(t, srv, upidOf(t, raw(t, srv, "POST", "/nodes/pve1/lxc/404/snapshot", form("snapname", "xx"))))
	if v.ExitStatus != "Configuration file 'nodes/pve1/lxc/404.conf' does not exist" {
		t.Fatalf("a missing CT fails in the task: %q", v.ExitStatus)
	}
}

func (fx snapshotTest) snapshotConfig(t *testing.T) {
	srv, ct := fx.srv, fx.ct
	snap := ct.Snapshot("before")
	if err := snap.UpdateConfig(ctx(t), nil); err != nil {
		t.Fatal(err)
	}
	conf, err := snap.Config(ctx(t))
	if err != nil || conf["hostname"] != "ct100" || conf["snaptime"] == nil {
		t.Fatalf("%v %v", conf, err)
	}
	c := getConfig(t, srv, "100", "?snapshot=before")
	if c["hostname"] != "ct100" {
		t.Fatalf("%v", c)
	}
	if r := raw(t, srv, "GET", "/nodes/pve1/lxc/100/config?snapshot=nope", ""); r.Status != "500 snapshot 'nope' does not exist" {
		t.Fatalf("%q", r.Status)
	}
}

func (fx snapshotTest) rollbackRestoresConfig(t *testing.T) {
	srv, ct := fx.srv, fx.ct
	mustOK(t, raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", form("hostname", "changed")))
	task, err := ct.Snapshot("before").Rollback(ctx(t), false)
	if err != nil {
		t.Fatal(err)
	}
	if v := waitTask(t, srv, string(task.UPID)); v.ExitStatus != "OK" {
		t.Fatal(v.ExitStatus)
	}
	cv, _ := srv.Container(100)
	if cv.Status != "stopped" || cv.Config["hostname"] != "ct100" || cv.Config["parent"] != "before" {
		t.Fatalf("%+v", cv)
	}
}

func (fx snapshotTest) rollbackWithStart(t *testing.T) {
	srv := fx.srv
	runOK(t, srv, "POST", "/nodes/pve1/lxc/100/snapshot/before/rollback", form("start", "1"))
	eventually(t, "running", func() bool { cv, _ := srv.Container(100); return cv.Status == "running" })
}

func (fx snapshotTest) rollbackErrors(t *testing.T) {
	srv := fx.srv
	v := waitTask(t, srv, upidOf(t, raw(t, srv, "POST", "/nodes/pve1/lxc/100/snapshot/nope/rollback", "")))
	if v.ExitStatus != "snapshot 'nope' does not exist" {
		t.Fatalf("%q", v.ExitStatus)
	}
	srv.StallTasks(TaskSnapshot, "100", 1)
	stalled := upidOf(t, raw(t, srv, "POST", "/nodes/pve1/lxc/100/snapshot", form("snapname", "half")))
	eventually(t, "prepare", func() bool { cv, _ := srv.Container(100); return cv.Lock == "snapshot" })
	setLock(t, srv, 100, "")
	v = waitTask(t, srv, upidOf(t, raw(t, srv, "POST", "/nodes/pve1/lxc/100/snapshot/half/rollback", "")))
	if v.ExitStatus != "unable to rollback to incomplete snapshot (snapstate = prepare)" {
		t.Fatalf("%q", v.ExitStatus)
	}
	srv.ReleaseTasks()
	waitTask(t, srv, stalled)
}

func (fx snapshotTest) deleteReparents(t *testing.T) {
	srv, ct := fx.srv, fx.ct
	srv.StallTasks(TaskDelSnapshot, "100", 1)
	task, err := ct.Snapshot("before").Delete(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "lock", func() bool { cv, _ := srv.Container(100); return cv.Lock == "snapshot-delete" })
	srv.ReleaseTasks()
	if v := waitTask(t, srv, string(task.UPID)); v.ExitStatus != "OK" {
		t.Fatal(v.ExitStatus)
	}
	cv, _ := srv.Container(100)
	if len(cv.Snapshots) != 1 || cv.Snapshots[0].Name != "half" || cv.Snapshots[0].Parent != "" || cv.Config["parent"] != "half" {
		t.Fatalf("%+v", cv)
	}
	v := waitTask(t, srv, upidOf(t, raw(t, srv, "DELETE", "/nodes/pve1/lxc/100/snapshot/gone", "")))
	if v.ExitStatus != "snapshot 'gone' does not exist" {
		t.Fatalf("%q", v.ExitStatus)
	}
}

func TestSnapshotsNeedSnapshotCapableStorage(t *testing.T) {
	t.Parallel()
	srv := newSim(t, func(o *Options) {
		o.Storages = append(DefaultStorages(), StorageSpec{ID: "data", Type: "dir", Content: []string{"rootdir", "images"}, Total: 100 * GiB, Path: "/mnt/data"})
	})
	createCT(t, srv, "pve1", 100, "rootfs", "data:4")
	cv, _ := srv.Container(100)
	if cv.Config["rootfs"] != "data:100/vm-100-disk-0.raw,size=4G" {
		t.Fatalf("%q", cv.Config["rootfs"])
	}
	v := waitTask(t, srv, upidOf(t, raw(t, srv, "POST", "/nodes/pve1/lxc/100/snapshot", form("snapname", "s1"))))
	if v.ExitStatus != "snapshot feature is not available" {
		t.Fatalf("%q", v.ExitStatus)
	}
	var feat map[string]any
	mustOK(t, raw(t, srv, "GET", "/nodes/pve1/lxc/100/feature?feature=snapshot", "")).data(t, &feat)
	if feat["hasFeature"] != float64(0) {
		t.Fatalf("%v", feat)
	}
}

func TestSnapshotIndexIsOpenToEveryUser(t *testing.T) {
	t.Parallel()
	srv := newSim(t, func(o *Options) {
		o.Tokens = []TokenSpec{{ID: DefaultTokenID, Secret: DefaultTokenSecret}, {ID: "nobody@pve!t", Secret: "s", Privileges: []string{}}}
	})
	createCT(t, srv, "pve1", 100)
	tests := []struct{ name, path, status string }{
		{"a user without privileges reads the index of a snapshot", "/nodes/pve1/lxc/100/snapshot/s1", "200 OK"},
		{"the snapshot list still needs VM.Audit", "/nodes/pve1/lxc/100/snapshot", "403 Permission check failed (/vms/100, VM.Audit)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			statusIs(t, raw(t, srv, "GET", tc.path, "", asToken("nobody@pve!t", "s")), tc.status)
		})
	}
}
