package pvesim

import (
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// volumeFileStep is one `pct exec` in TestVolumeFilesThroughPctExec, after
// before (API calls) and followed by after; when volid is set, the volume
// must hold exactly files once the command has ended.
type volumeFileStep struct {
	name   string
	before func(t *testing.T)
	vmid   int
	script string
	stdout string
	volid  string
	files  map[string]string
	after  func(t *testing.T)
}

// movedVolume is CT 100's vm-100-disk-1 once move_volume made it 101's mp1.
const movedVolume = "local-lvm:vm-101-disk-2"

// volumeFileSteps build on each other: CT 100 (mp0 a volume at
// /var/lib/app, mp1 a bind mount at /host) writes and deletes files, then
// hands mp0 to CT 101.
func volumeFileSteps(srv *Server) []volumeFileStep {
	scratch := func(vmid int, rel string) string { return filepath.Join(srv.SSH().ScratchDir(vmid), rel) }
	return []volumeFileStep{
		{name: "a file a command writes under a mount path lands on the volume",
			vmid: 100, script: `mkdir -p var/lib/app/sub && echo hi > var/lib/app/marker && echo x > "$HOME/var/lib/app/sub/gone"`,
			volid: "local-lvm:vm-100-disk-1", files: map[string]string{"marker": "hi\n", "sub/gone": "x\n"},
			after: func(t *testing.T) {
				if _, err := os.Stat(scratch(100, "var/lib/app")); !os.IsNotExist(err) {
					t.Errorf("between commands the mount path is in the scratch directory (stat: %v)", err)
				}
			}},
		{name: "the next command finds the volume's files at the mount path",
			vmid: 100, script: `cat var/lib/app/marker var/lib/app/sub/gone`, stdout: "hi\nx\n"},
		{name: "a file a command deletes is gone from the volume",
			vmid: 100, script: `rm var/lib/app/sub/gone && ls -A var/lib/app`, stdout: "marker\nsub\n",
			volid: "local-lvm:vm-100-disk-1", files: map[string]string{"marker": "hi\n"}},
		{name: "a bind mount's path is a plain directory of the scratch directory",
			vmid: 100, script: `test -e host || echo absent; mkdir host && echo h > host/f`, stdout: "absent\n",
			volid: "local-lvm:vm-100-disk-1", files: map[string]string{"marker": "hi\n"},
			after: func(t *testing.T) {
				if data, err := os.ReadFile(scratch(100, "host/f")); string(data) != "h\n" {
					t.Errorf("host/f = %q, %v; want it kept in the scratch directory", data, err)
				}
			}},
		{name: "after move_volume the new container sees the file at its new key's mount path",
			before: func(t *testing.T) {
				runOK(t, srv, "POST", "/nodes/pve1/lxc/100/status/stop", "")
				runOK(t, srv, "POST", "/nodes/pve1/lxc/100/move_volume", form("volume", "mp0", "target-vmid", "101", "target-volume", "mp1"))
				if got := apiConfig(t, srv, "pve1", 101)["mp1"]; got != movedVolume+",mp=/var/lib/app,size=1G" {
					t.Fatalf("101's mp1 = %v", got)
				}
			},
			vmid: 101, script: `cat var/lib/app/marker; ls -A srv`, stdout: "hi\n",
			volid: movedVolume, files: map[string]string{"marker": "hi\n"}},
		{name: "the volume shows its files wherever the container mounts it",
			before: func(t *testing.T) {
				if err := srv.SetConfigValue(101, "mp1", movedVolume+",mp=/opt/moved,size=1G"); err != nil {
					t.Fatal(err)
				}
			},
			vmid: 101, script: `cat opt/moved/marker; test -e var/lib/app || echo unmounted`, stdout: "hi\nunmounted\n"},
		{name: "the container the volume left no longer sees its files",
			before: func(t *testing.T) { runOK(t, srv, "POST", "/nodes/pve1/lxc/100/status/start", "") },
			vmid:   100, script: `test -e var/lib/app/marker && echo present || echo absent`, stdout: "absent\n"},
		{name: "a file a test writes onto the volume is there for the next command",
			before: func(t *testing.T) {
				if err := srv.SetVolumeFile(movedVolume, "etc/app.conf", "port=80\n"); err != nil {
					t.Fatal(err)
				}
			},
			vmid: 101, script: `cat opt/moved/etc/app.conf`, stdout: "port=80\n",
			volid: movedVolume, files: map[string]string{"marker": "hi\n", "etc/app.conf": "port=80\n"}},
	}
}

// TestVolumeFilesThroughPctExec drives the simulator the way the operator
// does: scripts run with `pct exec` over the node SSH daemon, and volumes
// move with the HTTP API's move_volume.
func TestVolumeFilesThroughPctExec(t *testing.T) {
	t.Parallel()
	srv, c := newSSHSim(t)
	err := srv.AddContainers([]ContainerSpec{
		{Node: "pve1", VMID: 100, Running: true, Config: map[string]string{
			"mp0": "local-lvm:vm-100-disk-1,mp=/var/lib/app,size=1G", "mp1": "/mnt/host,mp=/host",
		}},
		{Node: "pve1", VMID: 101, Running: true, Config: map[string]string{"mp0": "local-lvm:vm-101-disk-1,mp=/srv,size=1G"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range volumeFileSteps(srv) {
		t.Run(st.name, func(t *testing.T) {
			if st.before != nil {
				st.before(t)
			}
			stdout, stderr, status := sshRun(t, c, "pct exec "+strconv.Itoa(st.vmid)+" -- /bin/sh -c '"+st.script+"'", "")
			if stdout != st.stdout || status != 0 {
				t.Fatalf("stdout %q, stderr %q, status %d; want stdout %q", stdout, stderr, status, st.stdout)
			}
			if st.volid != "" {
				if got, err := srv.VolumeFiles(st.volid); err != nil || !maps.Equal(got, st.files) {
					t.Errorf("%s holds %v (%v), want %v", st.volid, got, err, st.files)
				}
			}
			if st.after != nil {
				st.after(t)
			}
		})
	}
	t.Run("a destroyed volume takes its files with it", func(t *testing.T) {
		runOK(t, srv, "POST", "/nodes/pve1/lxc/101/status/stop", "")
		runOK(t, srv, "DELETE", "/nodes/pve1/lxc/101", "")
		if got, err := srv.VolumeFiles(movedVolume); err == nil {
			t.Errorf("the destroyed volume still holds %v", got)
		}
	})
}

func TestSetVolumeFile(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	if err := srv.AddContainer("pve1", 100, map[string]string{"mp0": "local-lvm:vm-100-disk-1,mp=/data,size=1G"}, false); err != nil {
		t.Fatal(err)
	}
	const vol = "local-lvm:vm-100-disk-1"
	tests := []struct{ name, volid, path, content, wantErr string }{
		{name: "a relative path is cleaned", volid: vol, path: "./a//b", content: "b"},
		{name: "an absolute path is refused", volid: vol, path: "/etc/passwd", wantErr: "want a relative path"},
		{name: "a path out of the volume is refused", volid: vol, path: "../x", wantErr: "want a relative path"},
		{name: "a file cannot be where a directory is", volid: vol, path: "a", wantErr: "conflicts with a/b"},
		{name: "a directory cannot be where a file is", volid: vol, path: "a/b/c", wantErr: "conflicts with a/b"},
		{name: "a missing volume is an error", volid: "local-lvm:vm-100-disk-9", path: "m", wantErr: "does not exist"},
		{name: "a file larger than a volume file may be is refused", volid: vol, path: "big",
			content: strings.Repeat("x", 1<<20+1), wantErr: "more than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := srv.SetVolumeFile(tc.volid, tc.path, tc.content)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
	if got := srv.VolumeFile(vol, "a/b"); got != "b" {
		t.Errorf("a/b = %q", got)
	}
	t.Run("the files survive a restart through the state file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "state.json")
		if err := srv.SaveState(path); err != nil {
			t.Fatal(err)
		}
		again := newSim(t, func(o *Options) { o.StateFile = path })
		if got := again.VolumeFile(vol, "a/b"); got != "b" {
			t.Errorf("a/b = %q after loading the state", got)
		}
	})
}

func TestStorageMoveCopiesVolumeFiles(t *testing.T) {
	t.Parallel()
	srv := moveSim(t)
	const src = "local-lvm:vm-107-disk-1"
	if err := srv.SetVolumeFile(src, "marker", "m"); err != nil {
		t.Fatal(err)
	}
	runOK(t, srv, "POST", "/nodes/pve1/lxc/107/move_volume", form("volume", "mp0", "storage", "store2"))
	conf := apiConfig(t, srv, "pve1", 107)
	dst := diskVolid(conf["mp0"].(string))
	for _, tc := range []struct{ name, volid string }{
		{"the copy on the new storage has the files", dst},
		{"the source left as unused keeps its own", src},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := srv.VolumeFile(tc.volid, "marker"); got != "m" {
				t.Errorf("%s: marker = %q (config %v)", tc.volid, got, conf)
			}
		})
	}
}
