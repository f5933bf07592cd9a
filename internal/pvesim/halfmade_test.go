package pvesim

import (
	"strings"
	"testing"
)

// TestACreateWhoseWorkerDiesLeavesAHalfMadeContainer: pvedaemon killed or
// the node rebooted mid-create leaves the config PVE wrote before forking
// the worker (only "lock: create"), a task that no longer runs and reads
// "unexpected status", and a container the API can neither unlock nor
// destroy.
func TestACreateWhoseWorkerDiesLeavesAHalfMadeContainer(t *testing.T) {
	t.Parallel()
	deaths := []struct {
		name string
		die  func(t *testing.T, srv *Server, upid string, o Options) *Server
	}{
		{"the worker is killed", func(t *testing.T, srv *Server, upid string, _ Options) *Server {
			if !srv.KillTask(upid) {
				t.Fatal("KillTask found no running task")
			}
			return srv
		}},
		{"the simulator restarts from its state file", func(t *testing.T, srv *Server, _ string, o Options) *Server {
			return restarted(t, srv, o)
		}},
	}
	for _, d := range deaths {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			srv, o := withStateFile(t)
			if _, err := srv.InjectTaskFault(TaskFault{Type: TaskCreate, Action: TaskFaultStall}); err != nil {
				t.Fatal(err)
			}
			upid := upidOf(t, raw(t, srv, "POST", "/nodes/pve1/lxc", form("vmid", "100", "ostemplate", DebianTemplate,
				"rootfs", "local-lvm:8", "tags", "mine")))
			srv = d.die(t, srv, upid, o)

			ct, ok := srv.Container(100)
			if !ok || ct.Lock != "create" || ct.Config["tags"] != "" {
				t.Fatalf("want a config holding only lock create, got %v %+v", ok, ct)
			}
			if v, _ := srv.Task(upid); v.Running || v.ExitStatus != "unexpected status" {
				t.Fatalf("task: %+v", v)
			}
			st := raw(t, srv, "GET", "/nodes/pve1/tasks/"+upid+"/status", "").json(t)["data"].(map[string]any)
			if st["status"] != "stopped" || st["exitstatus"] != "unexpected status" {
				t.Fatalf("task status: %v", st)
			}
			replyIs(t, raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", form("delete", "lock")), "500 CT is locked (create)", "CT is locked (create)")
			replyIs(t, raw(t, srv, "DELETE", "/nodes/pve1/lxc/100", ""), "500 CT is locked (create)", "CT is locked (create)")
			// A worker killed after its death is not resurrected.
			srv.ReleaseTasks()
			eventually(t, "the stalled worker to give up", func() bool {
				ct, ok := srv.Container(100)
				return ok && ct.Lock == "create"
			})
			if v, _ := srv.Task(upid); v.ExitStatus != "unexpected status" || strings.Contains(strings.Join(v.Log, "\n"), "TASK ") {
				t.Fatalf("task after release: %+v", v)
			}
		})
	}
}
