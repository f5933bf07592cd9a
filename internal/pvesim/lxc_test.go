package pvesim

import (
	"regexp"
	"strings"
	"testing"
	"time"

	proxmox "github.com/luthermonson/go-proxmox"
)

func TestCreateReservesTheVMIDSynchronously(t *testing.T) {
	t.Parallel()
	srv := newSim(t, func(o *Options) { o.FlockTimeout = 100 * time.Millisecond })
	srv.StallTasks(TaskCreate, "200", 1)
	upid := upidOf(t, raw(t, srv, "POST", "/nodes/pve1/lxc", form("vmid", "200", "ostemplate", DebianTemplate, "rootfs", "local-lvm:8", "hostname", "web")))

	t.Run("the UPID has PVE's format with the token user", func(t *testing.T) {
		re := regexp.MustCompile(`^UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:vzcreate:200:root@pam!operator:$`)
		if !re.MatchString(upid) {
			t.Fatalf("%q", upid)
		}
	})
	t.Run("status/current shows a stopped CT with lock create and name CT200", func(t *testing.T) {
		var st map[string]any
		mustOK(t, raw(t, srv, "GET", "/nodes/pve1/lxc/200/status/current", "")).data(t, &st)
		if st["status"] != "stopped" || st["lock"] != "create" || st["name"] != "CT200" {
			t.Fatalf("%v", st)
		}
	})
	t.Run("the config holds only the lock", func(t *testing.T) {
		var conf map[string]any
		mustOK(t, raw(t, srv, "GET", "/nodes/pve1/lxc/200/config", "")).data(t, &conf)
		if len(conf) != 2 || conf["lock"] != "create" || conf["digest"] == "" {
			t.Fatalf("%v", conf)
		}
	})
	t.Run("nextid skips it", func(t *testing.T) {
		if r := raw(t, srv, "GET", "/cluster/nextid?vmid=200", ""); r.Code != 400 {
			t.Fatalf("200 must be taken: %q", r.Status)
		}
		if r := raw(t, srv, "GET", "/cluster/nextid", ""); string(r.Body) != `{"data":"100"}` {
			t.Fatalf("%s", r.Body)
		}
	})
	t.Run("a second create conflicts", func(t *testing.T) {
		r := raw(t, srv, "POST", "/nodes/pve2/lxc", form("vmid", "200", "ostemplate", DebianTemplate))
		if r.Status != "500 CT 200 already exists on node 'pve1'" {
			t.Fatalf("%q", r.Status)
		}
	})
	t.Run("a config change waits for the flock the worker holds", func(t *testing.T) {
		r := raw(t, srv, "PUT", "/nodes/pve1/lxc/200/config", form("cores", "2"))
		if r.Status != "500 can't lock file '/run/lock/lxc/pve-config-200.lock' - got timeout" {
			t.Fatalf("%q", r.Status)
		}
	})
	t.Run("the task is running until released", func(t *testing.T) {
		var st map[string]any
		mustOK(t, raw(t, srv, "GET", "/nodes/pve1/tasks/"+upid+"/status", "")).data(t, &st)
		if st["status"] != "running" || st["user"] != "root@pam" || st["tokenid"] != "operator" || st["type"] != "vzcreate" || st["id"] != "200" {
			t.Fatalf("%v", st)
		}
		if _, has := st["exitstatus"]; has {
			t.Fatal("exitstatus only when stopped")
		}
	})
	eventually(t, "task stalled", func() bool { v, _ := srv.Task(upid); return v.Stalled })
	srv.ReleaseTasks()
	if v := waitTask(t, srv, upid); v.ExitStatus != "OK" {
		t.Fatalf("%+v", v)
	}
	cv, _ := srv.Container(200)
	want := map[string]string{
		"arch": "amd64", "hostname": "web", "memory": "512", "swap": "512", "ostype": "debian",
		"rootfs": "local-lvm:vm-200-disk-0,size=8G", "unprivileged": "1",
	}
	for k, v := range want {
		if cv.Config[k] != v {
			t.Errorf("%s = %q want %q", k, cv.Config[k], v)
		}
	}
	if cv.Lock != "" {
		t.Errorf("lock %q", cv.Lock)
	}
}

func TestCreateFailureFreesTheVMID(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	srv.FailTasks(TaskCreate, "201", 1, "unable to create CT 201 - simulated extraction failure")
	upid := upidOf(t, raw(t, srv, "POST", "/nodes/pve1/lxc", form("vmid", "201", "ostemplate", DebianTemplate, "rootfs", "local-lvm:8")))
	v := waitTask(t, srv, upid)
	if v.ExitStatus != "unable to create CT 201 - simulated extraction failure" {
		t.Fatalf("%+v", v)
	}
	if _, ok := srv.Container(201); ok {
		t.Fatal("CT must be gone")
	}
	if r := mustOK(t, raw(t, srv, "GET", "/cluster/nextid", "")); string(r.Body) != `{"data":"100"}` {
		t.Fatalf("%s", r.Body)
	}
	for _, vol := range srv.State().Volumes {
		if vol.VMID == 201 {
			t.Fatalf("volume left behind: %+v", vol)
		}
	}
	t.Run("the log ends with a blank line and TASK ERROR", func(t *testing.T) {
		var log []map[string]any
		r := mustOK(t, raw(t, srv, "GET", "/nodes/pve1/tasks/"+upid+"/log?start=0&limit=500", ""))
		r.data(t, &log)
		n := len(log)
		if log[n-2]["t"] != "" || log[n-1]["t"] != "TASK ERROR: unable to create CT 201 - simulated extraction failure" || log[0]["n"] != float64(1) {
			t.Fatalf("%v", log)
		}
		if total := r.json(t)["total"]; total != float64(n) {
			t.Fatalf("total %v", total)
		}
	})
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100)
	tests := []struct {
		name   string
		body   string
		status string
	}{
		{"an existing VMID", form("vmid", "100", "ostemplate", DebianTemplate), "500 CT 100 already exists on node 'pve1'"},
		{"a missing storage", form("vmid", "110", "ostemplate", DebianTemplate, "rootfs", "nope:8"), "500 storage 'nope' does not exist"},
		{"a storage without rootdir", form("vmid", "110", "ostemplate", DebianTemplate), "400 Parameter verification failed."},
		{"a backup as template", form("vmid", "110", "ostemplate", "local:backup/vzdump-lxc-1-2025_01_01-00_00_00.tar.zst", "rootfs", "local-lvm:4"), "500 unable to use volume local:backup/vzdump-lxc-1-2025_01_01-00_00_00.tar.zst - content type needs to be 'vztmpl'"},
		{"a missing pool", form("vmid", "110", "ostemplate", DebianTemplate, "rootfs", "local-lvm:4", "pool", "nope"), "403 Permission check failed (pool 'nope' does not exist)"},
		{"a short password", form("vmid", "110", "ostemplate", DebianTemplate, "rootfs", "local-lvm:4", "password", "abc"), "400 Parameter verification failed."},
		{"a bad SSH key", form("vmid", "110", "ostemplate", DebianTemplate, "rootfs", "local-lvm:4", "ssh-public-keys", "not a key"), "500 SSH public key validation error"},
		{"a bad net0", form("vmid", "110", "ostemplate", DebianTemplate, "rootfs", "local-lvm:4", "net0", "bridge=vmbr0"), "400 Parameter verification failed."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := raw(t, srv, "POST", "/nodes/pve1/lxc", tc.body)
			if r.Status != tc.status {
				t.Fatalf("got %q %s want %q", r.Status, r.Body, tc.status)
			}
		})
	}
	t.Run("the rootdir error names the storage", func(t *testing.T) {
		r := raw(t, srv, "POST", "/nodes/pve1/lxc", form("vmid", "110", "ostemplate", DebianTemplate))
		if e := r.json(t)["errors"].(map[string]any)["storage"]; e != "storage 'local' does not support container directories" {
			t.Fatalf("%v", e)
		}
	})
	if _, ok := srv.Container(110); ok {
		t.Fatal("failed creates must not reserve")
	}
}

func TestCreateNormalizesLikePVE(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100, "tags", "web;K8s;web", "features", "nesting=1", "net1", "bridge=vmbr1,name=eth1,ip=10.0.0.5/24,gw=10.0.0.1",
		"ssh-public-keys", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl user@host", "password", "secret1")
	cv, _ := srv.Container(100)
	if cv.Config["tags"] != "k8s;web" {
		t.Errorf("tags %q", cv.Config["tags"])
	}
	re := regexp.MustCompile(`^name=eth1,bridge=vmbr1,gw=10\.0\.0\.1,hwaddr=BC:24:11:[0-9A-F]{2}:[0-9A-F]{2}:[0-9A-F]{2},ip=10\.0\.0\.5/24,type=veth$`)
	if !re.MatchString(cv.Config["net1"]) {
		t.Errorf("net1 %q", cv.Config["net1"])
	}
	for _, k := range []string{"password", "ssh-public-keys", "vmid", "ostemplate"} {
		if _, ok := cv.Config[k]; ok {
			t.Errorf("%s must not be in the config", k)
		}
	}
}

func TestCreateWithStartAndThroughGoProxmox(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	n, _ := pve(t, srv).Node(ctx(t), "pve3")
	task, err := n.NewContainer(ctx(t), 0,
		proxmox.ContainerOption{Name: "ostemplate", Value: AlpineTemplate},
		proxmox.ContainerOption{Name: "rootfs", Value: "local-lvm:2"},
		proxmox.ContainerOption{Name: "unprivileged", Value: proxmox.IntOrBool(true)},
		proxmox.ContainerOption{Name: "start", Value: true},
		proxmox.ContainerOption{Name: "net0", Value: "name=eth0,bridge=vmbr0,ip=dhcp"})
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Wait(ctx(t), 20*time.Millisecond, 10*time.Second); err != nil || !task.IsSuccessful {
		t.Fatalf("%+v %v", task, err)
	}
	eventually(t, "CT started", func() bool { cv, _ := srv.Container(100); return cv.Status == "running" })
	starts := srv.Tasks(TaskStart, "100")
	if len(starts) != 1 {
		t.Fatalf("start=1 runs a separate vzstart task, got %+v", starts)
	}
	ct, err := n.Container(ctx(t), 100)
	if err != nil || ct.ContainerConfig.OSType != "alpine" || ct.Status != "running" {
		t.Fatalf("%+v %v", ct, err)
	}
}

func TestCreateFailsWhenStorageIsFull(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	if err := srv.SetStorageExtraUsed("local-lvm", "pve1", 499*GiB); err != nil {
		t.Fatal(err)
	}
	upid := upidOf(t, raw(t, srv, "POST", "/nodes/pve1/lxc", form("vmid", "100", "ostemplate", DebianTemplate, "rootfs", "local-lvm:8")))
	v := waitTask(t, srv, upid)
	if !strings.HasPrefix(v.ExitStatus, "unable to create CT 100 - not enough free space (") {
		t.Fatalf("%q", v.ExitStatus)
	}
	if _, ok := srv.Container(100); ok {
		t.Fatal("CT must be gone")
	}
}

func TestPowerLifecycle(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100)
	ct := pveCT(t, srv, 100)
	wait := func(t *testing.T, task *proxmox.Task, err error) *proxmox.Task {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if err := task.Wait(ctx(t), 10*time.Millisecond, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		return task
	}
	steps := []struct {
		name    string
		call    func() (*proxmox.Task, error)
		syncErr string
		status  string
	}{
		{"stop on a stopped CT", func() (*proxmox.Task, error) { return ct.Stop(ctx(t)) }, "500 CT 100 not running", ""},
		{"shutdown on a stopped CT", func() (*proxmox.Task, error) { return ct.Shutdown(ctx(t), false, 10) }, "500 CT 100 not running", ""},
		{"reboot on a stopped CT says VM", func() (*proxmox.Task, error) { return ct.Reboot(ctx(t)) }, "500 VM 100 not running", ""},
		{"start", func() (*proxmox.Task, error) { return ct.Start(ctx(t)) }, "", "running"},
		{"start again", func() (*proxmox.Task, error) { return ct.Start(ctx(t)) }, "500 CT 100 already running", ""},
		{"reboot", func() (*proxmox.Task, error) { return ct.Reboot(ctx(t)) }, "", "running"},
		{"shutdown", func() (*proxmox.Task, error) { return ct.Shutdown(ctx(t), false, 10) }, "", "stopped"},
		{"start after shutdown", func() (*proxmox.Task, error) { return ct.Start(ctx(t)) }, "", "running"},
		{"hard stop", func() (*proxmox.Task, error) { return ct.Stop(ctx(t)) }, "", "stopped"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			task, err := st.call()
			if st.syncErr != "" {
				if err == nil || err.Error() != st.syncErr {
					t.Fatalf("got %v want %q", err, st.syncErr)
				}
				return
			}
			task = wait(t, task, err)
			if !task.IsSuccessful {
				t.Fatalf("%+v", task)
			}
			if cv, _ := srv.Container(100); cv.Status != st.status {
				t.Fatalf("status %s", cv.Status)
			}
		})
	}
}

func TestLockedCTFailsInsideTheTaskForPowerOps(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100)
	createCT(t, srv, "pve1", 101)
	runOK(t, srv, "POST", "/nodes/pve1/lxc/101/status/start", "")
	setLock(t, srv, 100, "backup")
	setLock(t, srv, 101, "snapshot")
	tests := []struct{ path, exit string }{
		{"/nodes/pve1/lxc/100/status/start", "CT is locked (backup)"},
		{"/nodes/pve1/lxc/101/status/stop", "CT is locked (snapshot)"},
		{"/nodes/pve1/lxc/101/status/shutdown", "CT is locked (snapshot)"},
		{"/nodes/pve1/lxc/101/status/reboot", "OK"}, // vzreboot does not check the lock
		{"/nodes/pve1/lxc/100/snapshot", "CT is locked (backup)"},
		{"/nodes/pve1/lxc/999/status/start", "Configuration file 'nodes/pve1/lxc/999.conf' does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			body := ""
			if strings.HasSuffix(tc.path, "/snapshot") {
				body = form("snapname", "s1")
			}
			v := waitTask(t, srv, upidOf(t, raw(t, srv, "POST", tc.path, body)))
			if v.ExitStatus != tc.exit {
				t.Fatalf("exit %q want %q", v.ExitStatus, tc.exit)
			}
		})
	}
	t.Run("while the synchronous ones answer 500", func(t *testing.T) {
		for _, c := range []struct{ method, path, body string }{
			{"PUT", "/nodes/pve1/lxc/100/config", form("cores", "2")},
			{"PUT", "/nodes/pve1/lxc/100/resize", form("disk", "rootfs", "size", "+1G")},
			{"DELETE", "/nodes/pve1/lxc/100", ""},
			{"POST", "/nodes/pve1/lxc/100/template", ""},
			{"POST", "/nodes/pve1/lxc/100/clone", form("newid", "300")},
		} {
			if r := raw(t, srv, c.method, c.path, c.body); r.Status != "500 CT is locked (backup)" {
				t.Errorf("%s %s: %q", c.method, c.path, r.Status)
			}
		}
	})
}

func TestStartingATemplateFailsInTheTask(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100)
	mustOK(t, raw(t, srv, "POST", "/nodes/pve1/lxc/100/template", ""))
	eventually(t, "template", func() bool { cv, _ := srv.Container(100); return cv.Template })
	v := waitTask(t, srv, upidOf(t, raw(t, srv, "POST", "/nodes/pve1/lxc/100/status/start", "")))
	if v.ExitStatus != "you can't start a CT if it's a template" {
		t.Fatalf("%q", v.ExitStatus)
	}
}

func TestShutdownTimeout(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100)
	runOK(t, srv, "POST", "/nodes/pve1/lxc/100/status/start", "")
	_ = srv.SetIgnoreShutdown(100, true)
	t.Run("a guest ignoring shutdown fails the task after the timeout", func(t *testing.T) {
		v := waitTask(t, srv, upidOf(t, raw(t, srv, "POST", "/nodes/pve1/lxc/100/status/shutdown", form("timeout", "3"))))
		if v.ExitStatus != "container did not stop" {
			t.Fatalf("%q", v.ExitStatus)
		}
		if cv, _ := srv.Container(100); cv.Status != "running" {
			t.Fatal("still running")
		}
	})
	t.Run("forceStop kills it and succeeds", func(t *testing.T) {
		runOK(t, srv, "POST", "/nodes/pve1/lxc/100/status/shutdown", `{"timeout":3,"forceStop":true}`)
		if cv, _ := srv.Container(100); cv.Status != "stopped" {
			t.Fatal("stopped")
		}
	})
}

func TestDelete(t *testing.T) {
	t.Parallel()
	srv := newSim(t, func(o *Options) { o.Pools = []string{"k8s"} })
	createCT(t, srv, "pve1", 100, "protection", "1")
	createCT(t, srv, "pve1", 101, "pool", "k8s")
	runOK(t, srv, "POST", "/nodes/pve1/lxc/101/status/start", "")
	tests := []struct {
		name, path, status string
	}{
		{"protection refuses", "/nodes/pve1/lxc/100", "500 can't remove CT 100 - protection mode enabled"},
		{"a running CT needs force", "/nodes/pve1/lxc/101", "500 unable to destroy CT 101 - container is running"},
		{"a missing CT", "/nodes/pve1/lxc/102", "500 Configuration file 'nodes/pve1/lxc/102.conf' does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r := raw(t, srv, "DELETE", tc.path, ""); r.Status != tc.status {
				t.Fatalf("%q", r.Status)
			}
		})
	}
	t.Run("force and purge destroy a running CT, its disks and pool membership", func(t *testing.T) {
		srv.StallTasks(TaskDestroy, "101", 1)
		c := pve(t, srv)
		n, _ := c.Node(ctx(t), "pve1")
		ct, _ := n.Container(ctx(t), 101)
		task, err := ct.Delete(ctx(t), &proxmox.ContainerDeleteOptions{Force: true, Purge: true})
		if err != nil {
			t.Fatal(err)
		}
		if cv, _ := srv.Container(101); cv.Lock != "destroyed" {
			t.Fatalf("lock while destroying: %q", cv.Lock)
		}
		srv.ReleaseTasks()
		if v := waitTask(t, srv, string(task.UPID)); v.ExitStatus != "OK" {
			t.Fatal(v.ExitStatus)
		}
		if _, ok := srv.Container(101); ok {
			t.Fatal("still there")
		}
		for _, v := range srv.State().Volumes {
			if v.VMID == 101 {
				t.Fatalf("volume left: %+v", v)
			}
		}
		createCT(t, srv, "pve1", 101)
		if cv, _ := srv.Container(101); cv.Pool != "" {
			t.Fatalf("purge must drop pool membership, got %q", cv.Pool)
		}
	})
}

func TestClone(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100, "description", "golden")
	srv.StallTasks(TaskClone, "100", 1)
	upid := upidOf(t, raw(t, srv, "POST", "/nodes/pve1/lxc/100/clone", form("newid", "150", "hostname", "copy")))
	if !strings.Contains(upid, ":vzclone:100:") {
		t.Fatalf("task id is the source: %s", upid)
	}
	src, _ := srv.Container(100)
	dst, _ := srv.Container(150)
	if src.Lock != "disk" || dst.Lock != "create" {
		t.Fatalf("locks %q %q", src.Lock, dst.Lock)
	}
	if r := raw(t, srv, "POST", "/nodes/pve1/lxc/100/clone", form("newid", "151")); r.Status != "500 CT is locked (disk)" {
		t.Fatalf("%q", r.Status)
	}
	srv.ReleaseTasks()
	if v := waitTask(t, srv, upid); v.ExitStatus != "OK" {
		t.Fatal(v.ExitStatus)
	}
	src, _ = srv.Container(100)
	dst, _ = srv.Container(150)
	if src.Lock != "" || dst.Lock != "" || dst.Config["hostname"] != "copy" || dst.Config["rootfs"] != "local-lvm:vm-150-disk-0,size=8G" {
		t.Fatalf("%+v %+v", src, dst)
	}
	if dst.Config["net0"] == src.Config["net0"] {
		t.Fatal("a clone gets new MACs")
	}
	t.Run("errors", func(t *testing.T) {
		for _, c := range []struct{ body, status string }{
			{form("newid", "150"), "500 CT 150 already exists on node 'pve1'"},
			{form("newid", "152", "full", "0"), "500 Linked clone feature for 'local-lvm:vm-100-disk-0' is not available"},
			{form("newid", "152", "target", "pve2"), "500 can't clone CT to node 'pve2' (CT uses local storage)"},
			{form("newid", "152", "target", "pve2", "storage", "local-lvm"), "500 can't clone to non-shared storage 'local-lvm'"},
		} {
			if r := raw(t, srv, "POST", "/nodes/pve1/lxc/100/clone", c.body); r.Status != c.status {
				t.Errorf("%s: %q", c.body, r.Status)
			}
		}
	})
	t.Run("go-proxmox Clone", func(t *testing.T) {
		ct := pveCT(t, srv, 100)
		newid, task, err := ct.Clone(ctx(t), &proxmox.ContainerCloneOptions{Hostname: "c2"})
		if err != nil || newid != 101 {
			t.Fatalf("%d %v", newid, err)
		}
		if v := waitTask(t, srv, string(task.UPID)); v.ExitStatus != "OK" {
			t.Fatal(v.ExitStatus)
		}
	})
}

func TestTemplate(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100)
	createCT(t, srv, "pve1", 101)
	runOK(t, srv, "POST", "/nodes/pve1/lxc/101/status/start", "")
	createCT(t, srv, "pve1", 102)
	runOK(t, srv, "POST", "/nodes/pve1/lxc/102/snapshot", form("snapname", "s1"))

	c := pve(t, srv)
	n, _ := c.Node(ctx(t), "pve1")
	ct, _ := n.Container(ctx(t), 100)
	if err := ct.Template(ctx(t)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "template flag", func() bool { cv, _ := srv.Container(100); return cv.Template })
	cv, _ := srv.Container(100)
	if cv.Config["rootfs"] != "local-lvm:base-100-disk-0,size=8G" {
		t.Fatalf("rootfs %q", cv.Config["rootfs"])
	}
	if len(srv.Tasks(TaskTemplate, "100")) != 1 {
		t.Fatal("a vztemplate worker still runs")
	}
	for _, tc := range []struct{ vmid, status string }{
		{"100", "500 you can't convert a template to a template"},
		{"101", "500 you can't convert a CT to template if the CT is running"},
		{"102", "500 unable to create template, because CT contains snapshots"},
	} {
		if r := raw(t, srv, "POST", "/nodes/pve1/lxc/"+tc.vmid+"/template", ""); r.Status != tc.status {
			t.Errorf("%s: %q", tc.vmid, r.Status)
		}
	}
	t.Run("a template clones linked by default", func(t *testing.T) {
		runOK(t, srv, "POST", "/nodes/pve1/lxc/100/clone", form("newid", "120", "full", "0"))
		if r := raw(t, srv, "POST", "/nodes/pve1/lxc/100/clone", form("newid", "121", "full", "0", "storage", "local-lvm")); r.Status != "500 parameter 'storage' not allowed for linked clones" {
			t.Fatalf("%q", r.Status)
		}
	})
}

func TestInterfaces(t *testing.T) {
	t.Parallel()
	srv := newSim(t, func(o *Options) { o.DHCPDelay = 150 * time.Millisecond })
	createCT(t, srv, "pve1", 100, "net1", "name=eth1,bridge=vmbr1,ip=192.168.5.10/24")
	ct := pveCT(t, srv, 100)
	t.Run("a stopped CT has data null", func(t *testing.T) {
		r := mustOK(t, raw(t, srv, "GET", "/nodes/pve1/lxc/100/interfaces", ""))
		if string(r.Body) != `{"data":null}` {
			t.Fatalf("%s", r.Body)
		}
	})
	runOK(t, srv, "POST", "/nodes/pve1/lxc/100/status/start", "")
	ifs, err := ct.Interfaces(ctx(t))
	if err != nil || len(ifs) != 3 || ifs[0].Name != "lo" || ifs[0].Inet != "127.0.0.1/8" {
		t.Fatalf("%+v %v", ifs, err)
	}
	if ifs[2].Inet != "192.168.5.10/24" {
		t.Fatalf("static address: %+v", ifs[2])
	}
	eventually(t, "a DHCP lease", func() bool {
		ifs, _ := ct.Interfaces(ctx(t))
		return len(ifs) == 3 && ifs[1].Name == "eth0" && strings.HasPrefix(ifs[1].Inet, "10.10.")
	})
	var raws []map[string]any
	mustOK(t, raw(t, srv, "GET", "/nodes/pve1/lxc/100/interfaces", "")).data(t, &raws)
	if addrs := raws[1]["ip-addresses"].([]any); len(addrs) < 1 || raws[1]["hardware-address"] != raws[1]["hwaddr"] {
		t.Fatalf("%v", raws[1])
	}
}

func TestResize(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100)
	ct := pveCT(t, srv, 100)
	task, err := ct.Resize(ctx(t), "rootfs", "+2G")
	if err != nil {
		t.Fatal(err)
	}
	if v := waitTask(t, srv, string(task.UPID)); v.ExitStatus != "OK" {
		t.Fatal(v.ExitStatus)
	}
	if cv, _ := srv.Container(100); cv.Config["rootfs"] != "local-lvm:vm-100-disk-0,size=10G" {
		t.Fatalf("%q", cv.Config["rootfs"])
	}
	for _, tc := range []struct{ size, status string }{
		{"5G", "500 unable to shrink disk size"},
		{"10G", "500 disk is already at specified size"},
		{"lots", "400 Parameter verification failed."},
	} {
		if r := raw(t, srv, "PUT", "/nodes/pve1/lxc/100/resize", form("disk", "rootfs", "size", tc.size)); r.Status != tc.status {
			t.Errorf("%s: %q", tc.size, r.Status)
		}
	}
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100)
	createCT(t, srv, "pve1", 101)
	runOK(t, srv, "POST", "/nodes/pve1/lxc/101/status/start", "")
	for _, tc := range []struct{ path, body, status string }{
		{"/nodes/pve1/lxc/100/migrate", form("target", "pve1"), "400 Parameter verification failed."},
		{"/nodes/pve1/lxc/101/migrate", form("target", "pve2"), "500 can't migrate running container without --online or --restart"},
		{"/nodes/pve1/lxc/101/migrate", form("target", "pve2", "online", "1"), "500 lxc live migration is currently not implemented"},
	} {
		if r := raw(t, srv, "POST", tc.path, tc.body); r.Status != tc.status {
			t.Errorf("%s %s: %q", tc.path, tc.body, r.Status)
		}
	}
	runOK(t, srv, "POST", "/nodes/pve1/lxc/100/migrate", form("target", "pve2"))
	runOK(t, srv, "POST", "/nodes/pve1/lxc/101/migrate", form("target", "pve3", "restart", "1"))
	a, _ := srv.Container(100)
	b, _ := srv.Container(101)
	if a.Node != "pve2" || b.Node != "pve3" || b.Status != "running" {
		t.Fatalf("%+v %+v", a, b)
	}
	mustOK(t, raw(t, srv, "GET", "/nodes/pve2/lxc/100/config", ""))
	if r := raw(t, srv, "GET", "/nodes/pve1/lxc/100/config", ""); r.Code != 500 {
		t.Fatalf("%q", r.Status)
	}
}

func TestListAndStatus(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100, "tags", "a;b")
	createCT(t, srv, "pve2", 101)
	n, _ := pve(t, srv).Node(ctx(t), "pve1")
	cts, err := n.Containers(ctx(t))
	if err != nil || len(cts) != 1 || cts[0].VMID != 100 || cts[0].Name != "ct100" || cts[0].Tags != "a;b" {
		t.Fatalf("%+v %v", cts, err)
	}
	var list []map[string]any
	mustOK(t, raw(t, srv, "GET", "/nodes/pve1/lxc", "")).data(t, &list)
	if list[0]["vmid"] != float64(100) {
		t.Fatalf("the list carries vmid as an integer like PVE 8.1 and later: %#v", list[0]["vmid"])
	}
	var st map[string]any
	mustOK(t, raw(t, srv, "GET", "/nodes/pve1/lxc/100/status/current", "")).data(t, &st)
	for _, k := range []string{"vmid", "type", "name", "status", "uptime", "cpu", "cpus", "mem", "maxmem", "swap", "maxswap", "disk", "maxdisk", "netin", "netout", "diskread", "diskwrite", "ha", "tags"} {
		if _, ok := st[k]; !ok {
			t.Errorf("status/current lacks %s", k)
		}
	}
	if st["vmid"] != float64(100) || st["maxdisk"] != float64(8*GiB) || st["maxmem"] != float64(512<<20) {
		t.Fatalf("%v", st)
	}
}

func TestCreateFailureCanEchoThePassword(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	tests := []struct {
		name   string
		vmid   string
		params []string
		want   string
	}{
		{"the placeholder becomes the request's password", "202",
			[]string{"password", "Sup3r-s3cret-pw"}, "unable to set password 'Sup3r-s3cret-pw'"},
		{"without a password the placeholder becomes empty", "203", nil, "unable to set password ''"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.FailTasks(TaskCreate, tt.vmid, 1, "unable to set password '"+PasswordPlaceholder+"'")
			body := form(append([]string{"vmid", tt.vmid, "ostemplate", DebianTemplate, "rootfs", "local-lvm:8"}, tt.params...)...)
			v := waitTask(t, srv, upidOf(t, raw(t, srv, "POST", "/nodes/pve1/lxc", body)))
			if v.ExitStatus != tt.want || v.Log[len(v.Log)-1] != "TASK ERROR: "+tt.want {
				t.Fatalf("exit status %q, log %q; want %q", v.ExitStatus, v.Log, tt.want)
			}
		})
	}
}
