package pvesim

import (
	"strings"
	"testing"
	"time"

	proxmox "github.com/luthermonson/go-proxmox"
)

// taskEndpointsTest holds what the subtests of TestTaskEndpoints share; they run in order.
type taskEndpointsTest struct {
	srv     *Server
	running string
}

func TestTaskEndpoints(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100)
	createCT(t, srv, "pve1", 101)
	srv.StallTasks(TaskStart, "101", 1)
	running := upidOf(t, raw(t, srv, "POST", "/nodes/pve1/lxc/101/status/start", ""))
	eventually(t, "stalled", func() bool { v, _ := srv.Task(running); return v.Stalled })

	fx := taskEndpointsTest{srv: srv, running: running}
	t.Run("the node task list filters", fx.nodeTaskListFilters)
	t.Run("go-proxmox adopts in-flight tasks", fx.adoptInFlight)
	t.Run("unknown and malformed UPIDs", fx.malformedUPIDs)
	t.Run("log paging counts from 1 and reports total", fx.logPaging)
	t.Run("stopping a task interrupts it", fx.stopInterrupts)
	t.Run("an interrupted create is rolled back", fx.interruptedCreate)
}

func (fx taskEndpointsTest) nodeTaskListFilters(t *testing.T) {
	srv, running := fx.srv, fx.running
	tests := []struct {
		query string
		want  int
	}{
		{"", 2},
		{"?source=active", 1},
		{"?source=all", 3},
		{"?source=all&vmid=101", 2},
		{"?source=all&typefilter=vzstart", 1},
		{"?source=all&errors=1", 0},
		{"?limit=1", 1},
	}
	for _, tc := range tests {
		var list []map[string]any
		mustOK(t, raw(t, srv, "GET", "/nodes/pve1/tasks"+tc.query, "")).data(t, &list)
		if len(list) != tc.want {
			t.Errorf("%s: %d entries %v", tc.query, len(list), list)
		}
	}
	var active []map[string]any
	mustOK(t, raw(t, srv, "GET", "/nodes/pve1/tasks?source=active", "")).data(t, &active)
	if active[0]["status"] != "RUNNING" || active[0]["upid"] != running {
		t.Fatalf("%v", active[0])
	}
}

func (fx taskEndpointsTest) adoptInFlight(t *testing.T) {
	srv, running := fx.srv, fx.running
	n, _ := pve(t, srv).Node(ctx(t), "pve1")
	ts, err := n.Tasks(ctx(t), &proxmox.NodeTasksOptions{VMID: 101, Source: "active"})
	if err != nil || len(ts) != 1 || string(ts[0].UPID) != running || ts[0].Type != "vzstart" {
		t.Fatalf("%+v %v", ts, err)
	}
}

func (fx taskEndpointsTest) malformedUPIDs(t *testing.T) {
	srv := fx.srv
	for _, tc := range []struct{ upid, msg string }{
		{"UPID:pve1:00000001:00000001:00000001:vzstart:100:root@pam:", "no such task"},
		{"UPID:pve2:00000001:00000001:00000001:vzstart:100:root@pam:", "no such task"},
		{"garbage", "unable to parse worker upid 'garbage'"},
	} {
		r := raw(t, srv, "GET", "/nodes/pve1/tasks/"+tc.upid+"/status", "")
		if r.Status != "400 Parameter verification failed." || r.json(t)["errors"].(map[string]any)["upid"] != tc.msg {
			t.Errorf("%s: %q %s", tc.upid, r.Status, r.Body)
		}
	}
}

func (fx taskEndpointsTest) logPaging(t *testing.T) {
	srv := fx.srv
	done := srv.Tasks(TaskCreate, "100")[0].UPID
	r := mustOK(t, raw(t, srv, "GET", "/nodes/pve1/tasks/"+done+"/log?start=1&limit=2", ""))
	var lines []map[string]any
	r.data(t, &lines)
	total := int(r.json(t)["total"].(float64))
	if len(lines) != 2 || lines[0]["n"] != float64(2) || total < 4 {
		t.Fatalf("%v total %d", lines, total)
	}
	all := srv.Tasks(TaskCreate, "100")[0].Log
	if all[len(all)-1] != "TASK OK" {
		t.Fatal(all)
	}
}

func (fx taskEndpointsTest) stopInterrupts(t *testing.T) {
	srv, running := fx.srv, fx.running
	n, _ := pve(t, srv).Node(ctx(t), "pve1")
	task := proxmox.NewTask(proxmox.UPID(running), pve(t, srv))
	_ = n
	if err := task.Stop(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if v := waitTask(t, srv, running); v.ExitStatus != "received interrupt" {
		t.Fatalf("%q", v.ExitStatus)
	}
	if cv, _ := srv.Container(101); cv.Status != "stopped" {
		t.Fatal("an interrupted start leaves the CT stopped")
	}
	var st map[string]any
	mustOK(t, raw(t, srv, "GET", "/nodes/pve1/tasks/"+running+"/status", "")).data(t, &st)
	if st["status"] != "stopped" || st["exitstatus"] != "received interrupt" {
		t.Fatalf("%v", st)
	}
}

func (fx taskEndpointsTest) interruptedCreate(t *testing.T) {
	srv := fx.srv
	srv.StallTasks(TaskCreate, "300", 1)
	upid := upidOf(t, raw(t, srv, "POST", "/nodes/pve1/lxc", form("vmid", "300", "ostemplate", DebianTemplate, "rootfs", "local-lvm:4")))
	mustOK(t, raw(t, srv, "DELETE", "/nodes/pve1/tasks/"+upid, ""))
	if v := waitTask(t, srv, upid); v.ExitStatus != "received interrupt" {
		t.Fatalf("%q", v.ExitStatus)
	}
	if _, ok := srv.Container(300); ok {
		t.Fatal("CT 300 must be gone")
	}
}

func TestTaskFaults(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100)
	c := pve(t, srv)

	t.Run("warnings count as success but go-proxmox calls them failed", func(t *testing.T) {
		srv.WarnTasks(TaskStart, "100", 1, 2)
		n, _ := c.Node(ctx(t), "pve1")
		ct, _ := n.Container(ctx(t), 100)
		task, err := ct.Start(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := task.Wait(ctx(t), 10*time.Millisecond, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if task.ExitStatus != "WARNINGS: 2" || !task.IsFailed {
			t.Fatalf("%+v", task)
		}
		v, _ := srv.Task(string(task.UPID))
		if v.Log[len(v.Log)-1] != "TASK WARNINGS: 2" {
			t.Fatal(v.Log)
		}
		if cv, _ := srv.Container(100); cv.Status != "running" {
			t.Fatal("warnings still apply the change")
		}
	})
	t.Run("a failed task reports its exit status and changes nothing", func(t *testing.T) {
		srv.FailTasks(TaskStop, "", 1, "command 'lxc-stop -n 100' failed: exit code 1")
		v := waitTask(t, srv, upidOf(t, raw(t, srv, "POST", "/nodes/pve1/lxc/100/status/stop", "")))
		if v.ExitStatus != "command 'lxc-stop -n 100' failed: exit code 1" {
			t.Fatalf("%q", v.ExitStatus)
		}
		if cv, _ := srv.Container(100); cv.Status != "running" {
			t.Fatal("still running")
		}
	})
	t.Run("a ghost task says OK but nothing happens", func(t *testing.T) {
		_, _ = srv.InjectTaskFault(TaskFault{Type: TaskStop, Action: TaskFaultGhost})
		if v := runOK(t, srv, "POST", "/nodes/pve1/lxc/100/status/stop", ""); v.ExitStatus != "OK" {
			t.Fatal(v.ExitStatus)
		}
		if cv, _ := srv.Container(100); cv.Status != "running" {
			t.Fatal("ghost must not stop")
		}
	})
	t.Run("a forgotten task answers no such task", func(t *testing.T) {
		_, _ = srv.InjectTaskFault(TaskFault{Type: TaskStop, Action: TaskFaultForget})
		upid := upidOf(t, raw(t, srv, "POST", "/nodes/pve1/lxc/100/status/stop", ""))
		waitTask(t, srv, upid)
		r := raw(t, srv, "GET", "/nodes/pve1/tasks/"+upid+"/status", "")
		if r.Code != 400 || !strings.Contains(string(r.Body), "no such task") {
			t.Fatalf("%q %s", r.Status, r.Body)
		}
		if cv, _ := srv.Container(100); cv.Status != "stopped" {
			t.Fatal("the task itself ran")
		}
	})
	t.Run("a stalled task runs until released", func(t *testing.T) {
		id := srv.StallTasks(TaskStart, "", -1)
		upid := upidOf(t, raw(t, srv, "POST", "/nodes/pve1/lxc/100/status/start", ""))
		eventually(t, "stalled", func() bool { v, _ := srv.Task(upid); return v.Stalled })
		if v, _ := srv.Task(upid); !v.Running {
			t.Fatal("must still run")
		}
		if !srv.ReleaseTask(upid) {
			t.Fatal("release")
		}
		if v := waitTask(t, srv, upid); v.ExitStatus != "OK" {
			t.Fatal(v.ExitStatus)
		}
		srv.RemoveFault(id)
	})
}
