package proxmox_test

import (
	"strings"
	"testing"

	"github.com/pve-operator/pve-operator/internal/proxmox"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

func TestSnapshots(t *testing.T) {
	srv := newSim(t)
	c := newClient(t, srv)
	ctx := testCtx(t)
	seedCT(t, srv, node1, 100, true, nil)

	t.Run("create takes a snapshot with its description", func(t *testing.T) {
		upid, err := c.CreateSnapshot(ctx, node1, 100, "before_upgrade", "pre-upgrade state")
		if upid.Type != "vzsnapshot" {
			t.Errorf("UPID type = %q", upid.Type)
		}
		mustSucceed(ctx, t, srv, c, upid, err)
	})
	t.Run("the list has the snapshot and no 'current' entry", func(t *testing.T) {
		snaps, err := c.Snapshots(ctx, node1, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(snaps) != 1 || snaps[0].Name != "before_upgrade" || snaps[0].Description != "pre-upgrade state" || snaps[0].Time.IsZero() || snaps[0].State != "" {
			t.Fatalf("Snapshots() = %+v", snaps)
		}
	})
	t.Run("a snapshot being taken is listed with snapstate prepare", func(t *testing.T) {
		srv.StallTasks(pvesim.TaskSnapshot, "100", 1)
		upid, err := c.CreateSnapshot(ctx, node1, 100, "second", "")
		if err != nil {
			t.Fatal(err)
		}
		snaps, err := c.Snapshots(ctx, node1, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(snaps) != 2 || snaps[1].Name != "second" || snaps[1].State != "prepare" {
			t.Errorf("Snapshots() during creation = %+v", snaps)
		}
		srv.ReleaseTasks()
		mustSucceed(ctx, t, srv, c, upid, nil)
	})
	t.Run("rollback with start restores and restarts the container", func(t *testing.T) {
		if err := srv.SetConfigValue(100, "memory", "4096"); err != nil {
			t.Fatal(err)
		}
		upid, err := c.RollbackSnapshot(ctx, node1, 100, "before_upgrade", true)
		if upid.Type != "vzrollback" {
			t.Errorf("UPID type = %q", upid.Type)
		}
		mustSucceed(ctx, t, srv, c, upid, err)
		// PVE starts the container with a separate vzstart task after the
		// rollback task ends.
		if err := srv.WaitIdle(ctx); err != nil {
			t.Fatal(err)
		}
		ct, _ := srv.Container(100)
		if ct.Config["memory"] == "4096" || ct.Status != "running" {
			t.Fatalf("after rollback: memory %s, status %s", ct.Config["memory"], ct.Status)
		}
	})
	t.Run("delete removes the snapshot", func(t *testing.T) {
		upid, err := c.DeleteSnapshot(ctx, node1, 100, "second")
		mustSucceed(ctx, t, srv, c, upid, err)
		snaps, err := c.Snapshots(ctx, node1, 100)
		if err != nil || len(snaps) != 1 {
			t.Fatalf("Snapshots() after delete = %+v, %v", snaps, err)
		}
	})
}

func TestBackups(t *testing.T) {
	srv := newSim(t)
	c := newClient(t, srv)
	ctx := testCtx(t)
	seedCT(t, srv, node1, 100, true, map[string]string{"hostname": "db", "memory": "1024"})
	const marker = "owner=6f1c2a"
	var volid string

	t.Run("vzdump with notes and protection starts a vzdump task", func(t *testing.T) {
		upid, err := c.Vzdump(ctx, node1, proxmox.BackupOptions{
			VMID: 100, Storage: "local", Mode: "snapshot", Compress: "zstd",
			NotesTemplate: "{{guestname}} " + marker, Protected: true,
		})
		if upid.Type != "vzdump" || upid.VMID() != 100 {
			t.Errorf("UPID = %+v", upid)
		}
		mustSucceed(ctx, t, srv, c, upid, err)
	})
	t.Run("the backup is found by its notes marker, protected, with size and ctime", func(t *testing.T) {
		seedOther, err := srv.AddBackup(pvesim.BackupSpec{VMID: 999, Node: node1})
		if err != nil {
			t.Fatal(err)
		}
		vols, err := c.BackupVolumes(ctx, node1, "local", 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(vols) != 1 {
			t.Fatalf("BackupVolumes() = %+v (other CT's backup %s must be filtered out)", vols, seedOther)
		}
		v := vols[0]
		volid = v.VolID
		if !strings.HasPrefix(v.VolID, "local:backup/vzdump-lxc-100-") || !strings.Contains(v.Notes, marker) || !v.Protected ||
			v.Size == 0 || v.CTime.IsZero() || v.Subtype != "lxc" || v.VMID != 100 || v.Format != "tar.zst" {
			t.Fatalf("backup = %+v", v)
		}
	})
	t.Run("notes and protection can be changed", func(t *testing.T) {
		if err := c.SetVolumeNotes(ctx, node1, "local", volid, "renamed "+marker); err != nil {
			t.Fatal(err)
		}
		if err := c.SetVolumeProtected(ctx, node1, "local", volid, false); err != nil {
			t.Fatal(err)
		}
		vols, err := c.BackupVolumes(ctx, node1, "local", 100)
		if err != nil || len(vols) != 1 || vols[0].Notes != "renamed "+marker || vols[0].Protected {
			t.Fatalf("after update = %+v, %v", vols, err)
		}
	})
	t.Run("delete volume removes the archive with an imgdel task", func(t *testing.T) {
		upid, err := c.DeleteVolume(ctx, node1, "local", volid)
		if upid.Type != "imgdel" {
			t.Errorf("UPID type = %q", upid.Type)
		}
		mustSucceed(ctx, t, srv, c, upid, err)
		if vols, err := c.BackupVolumes(ctx, node1, "local", 100); err != nil || len(vols) != 0 {
			t.Fatalf("after delete = %+v, %v", vols, err)
		}
	})
}

func TestRestore(t *testing.T) {
	srv := newSim(t)
	c := newClient(t, srv)
	ctx := testCtx(t)
	seedCT(t, srv, node1, 100, false, map[string]string{"hostname": "db", "memory": "4096"})
	volid, err := srv.AddBackup(pvesim.BackupSpec{VMID: 100, Node: node1, Config: map[string]string{
		"hostname": "db", "memory": "1024", "rootfs": "local-lvm:vm-100-disk-0,size=8G", "arch": "amd64", "ostype": "debian",
	}})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("restore with force overwrites the stopped container from the archive", func(t *testing.T) {
		if err := srv.SetRunning(100, false); err != nil {
			t.Fatal(err)
		}
		if err := srv.SetConfigValue(100, "memory", "4096"); err != nil {
			t.Fatal(err)
		}
		upid, err := c.RestoreContainer(ctx, node1, 100, proxmox.RestoreSpec{Archive: volid, Storage: "local-lvm", Force: true, Unique: true})
		if upid.Type != "vzrestore" {
			t.Errorf("UPID type = %q", upid.Type)
		}
		mustSucceed(ctx, t, srv, c, upid, err)
		if ct, _ := srv.Container(100); ct.Config["memory"] != "1024" {
			t.Fatalf("memory after restore = %s", ct.Config["memory"])
		}
	})
	t.Run("restore to a new VMID creates a second container", func(t *testing.T) {
		upid, err := c.RestoreContainer(ctx, node1, 300, proxmox.RestoreSpec{Archive: volid, Storage: "local-lvm", Start: true,
			Params: params("hostname", "db-copy")})
		mustSucceed(ctx, t, srv, c, upid, err)
		if err := srv.WaitIdle(ctx); err != nil { // start=1 runs a separate vzstart
			t.Fatal(err)
		}
		ct, ok := srv.Container(300)
		if !ok || ct.Node != node1 || ct.Config["hostname"] != "db-copy" || ct.Status != "running" {
			t.Fatalf("restored CT = %+v", ct)
		}
	})
}
