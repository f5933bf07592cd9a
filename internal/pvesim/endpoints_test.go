package pvesim

import (
	"strings"
	"testing"
)

func TestIndexAndMiscEndpoints(t *testing.T) {
	t.Parallel()
	srv := newSim(t, func(o *Options) { o.Pools = []string{"k8s"} })
	createCT(t, srv, "pve1", 100)
	runOK(t, srv, "POST", "/nodes/pve1/lxc/100/snapshot", form("snapname", "s1"))
	upid := srv.Tasks(TaskCreate, "100")[0].UPID
	tests := []struct{ path, contains string }{
		{"/cluster", `"subdir":"resources"`},
		{"/nodes/pve1", `"subdir":"lxc"`},
		{"/nodes/pve1", `"subdir":"query-oci-repo-tags"`},
		{"/nodes/pve1/version", `"version":"9.2.11"`},
		{"/nodes/pve1/storage/local", `"subdir":"content"`},
		{"/nodes/pve1/storage/local", `"subdir":"oci-registry-pull"`},
		{"/nodes/pve1/lxc/100", `"subdir":"config"`},
		{"/nodes/pve1/lxc/100/status", `"subdir":"current"`},
		{"/nodes/pve1/lxc/100/snapshot/s1", `"cmd":"rollback"`},
		{"/nodes/pve1/tasks/" + upid, `"subdir":"log"`},
		{"/pools", `"poolid":"k8s"`},
		{"/access/ticket", `{"data":null}`},
		{"/nodes/pve1/lxc/100/feature?feature=snapshot", `"hasFeature":1`},
		{"/nodes/pve1/lxc/100/feature?feature=clone", `"hasFeature":0`},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			r := mustOK(t, raw(t, srv, "GET", tc.path, ""))
			if !strings.Contains(string(r.Body), tc.contains) {
				t.Fatalf("%s", r.Body)
			}
		})
	}
	t.Run("a missing CT's index is not found", func(t *testing.T) {
		if r := raw(t, srv, "GET", "/nodes/pve1/lxc/404", ""); r.Status != "500 Configuration file 'nodes/pve1/lxc/404.conf' does not exist" {
			t.Fatalf("%q", r.Status)
		}
	})
	t.Run("go-proxmox index helpers and feature", func(t *testing.T) {
		ct := pveCT(t, srv, 100)
		if e, err := ct.DirIndex(ctx(t)); err != nil || len(e) == 0 {
			t.Fatalf("%v %v", e, err)
		}
		if e, err := ct.StatusIndex(ctx(t)); err != nil || len(e) == 0 {
			t.Fatalf("%v %v", e, err)
		}
		// PVE sends hasFeature as 0/1, which go-proxmox's bool cannot decode.
		if _, err := ct.Feature(ctx(t)); err == nil {
			t.Fatal("expected the missing feature parameter to fail")
		}
	})
	t.Run("suspend and resume", func(t *testing.T) {
		runOK(t, srv, "POST", "/nodes/pve1/lxc/100/status/start", "")
		runOK(t, srv, "POST", "/nodes/pve1/lxc/100/status/suspend", "")
		runOK(t, srv, "POST", "/nodes/pve1/lxc/100/status/resume", "")
		if cv, _ := srv.Container(100); cv.Status != "running" {
			t.Fatal(cv.Status)
		}
	})
}

func TestInjectedFailureIsTheExitStatusEvenForVzdump(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100)
	srv.FailTasks(TaskVzdump, "", 1, "command 'zstd' failed: got signal 9")
	v := waitTask(t, srv, upidOf(t, raw(t, srv, "POST", "/nodes/pve1/vzdump", form("vmid", "100", "storage", "local"))))
	if v.ExitStatus != "command 'zstd' failed: got signal 9" {
		t.Fatalf("%q", v.ExitStatus)
	}
	if cv, _ := srv.Container(100); cv.Lock != "" {
		t.Fatalf("lock left: %q", cv.Lock)
	}
	if len(srv.Backups(100)) != 0 {
		t.Fatal("no archive on failure")
	}
}
