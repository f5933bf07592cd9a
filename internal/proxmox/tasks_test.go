package proxmox_test

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pve-operator/pve-operator/internal/proxmox"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

func TestTasks(t *testing.T) {
	srv := newSim(t)
	c := newClient(t, srv)
	ctx := testCtx(t)
	seedCT(t, srv, node1, 100, false, nil)
	seedCT(t, srv, node2, 101, false, nil)

	t.Run("a restarted operator learns a task's outcome from the bare UPID string", func(t *testing.T) {
		upid, err := c.StartContainer(ctx, node2, 101)
		if err != nil {
			t.Fatal(err)
		}
		stored := upid.String() // what a controller keeps in status
		if _, err := srv.WaitTask(ctx, stored); err != nil {
			t.Fatal(err)
		}
		fresh := newClient(t, srv) // no state shared with c
		st, err := fresh.TaskStatus(ctx, stored)
		if err != nil {
			t.Fatal(err)
		}
		if st.State != proxmox.TaskSucceeded || st.ExitStatus != "OK" || st.Err != nil || st.UPID.Node != node2 || st.UPID.String() != stored {
			t.Fatalf("TaskStatus() = %+v", st)
		}
	})
	t.Run("WARNINGS is success, with the warning count", func(t *testing.T) {
		srv.WarnTasks(pvesim.TaskStop, "101", 1, 2)
		upid, err := c.StopContainer(ctx, node2, 101)
		if err != nil {
			t.Fatal(err)
		}
		st := finish(ctx, t, srv, c, upid)
		if st.State != proxmox.TaskSucceeded || st.Warnings != 2 || st.Err != nil || !st.Done() {
			t.Fatalf("TaskStatus() = %+v", st)
		}
	})
	t.Run("the task log ends with TASK OK", func(t *testing.T) {
		upid, err := c.StartContainer(ctx, node1, 100)
		mustSucceed(ctx, t, srv, c, upid, err)
		lines, err := c.TaskLog(ctx, upid.String(), 0, 500)
		if err != nil || len(lines) == 0 || lines[len(lines)-1] != "TASK OK" {
			t.Fatalf("TaskLog() = %q, %v", lines, err)
		}
		tail, err := c.TaskLog(ctx, upid.String(), len(lines)-1, 10)
		if err != nil || len(tail) != 1 || tail[0] != "TASK OK" {
			t.Fatalf("TaskLog(start=%d) = %q, %v", len(lines)-1, tail, err)
		}
	})
	t.Run("active tasks list a running task for adoption, filtered by VMID", func(t *testing.T) {
		srv.StallTasks(pvesim.TaskSnapshot, "100", 1)
		upid, err := c.CreateSnapshot(ctx, node1, 100, "adopt_me", "")
		if err != nil {
			t.Fatal(err)
		}
		defer func() { srv.ReleaseTasks(); _ = srv.WaitIdle(ctx) }()
		active, err := c.ActiveTasks(ctx, node1, 100)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(active, func(s proxmox.TaskSummary) bool { return s.UPID.String() == upid.String() })
		if i < 0 || !active[i].Running || active[i].UPID.Type != "vzsnapshot" || active[i].StartTime.IsZero() {
			t.Fatalf("ActiveTasks() = %+v, want %s running", active, upid)
		}
		for _, a := range active {
			if a.UPID.ID != "100" {
				t.Errorf("task for another guest listed: %s", a.UPID)
			}
		}
		if other, err := c.ActiveTasks(ctx, node2, 0); err != nil || slices.ContainsFunc(other, func(s proxmox.TaskSummary) bool { return s.Running }) {
			t.Fatalf("ActiveTasks(%s) = %+v, %v; want nothing running", node2, other, err)
		}
	})
}

func TestPasswordLogin(t *testing.T) {
	srv := newSim(t)
	t.Run("concurrent first calls share one login", func(t *testing.T) {
		fresh := newClient(t, srv, func(c *proxmox.Config) {
			c.Credentials = proxmox.Credentials{Username: "root@pam", Password: testPassword}
		})
		srv.ResetRequestCounts()
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if _, err := fresh.Nodes(testCtx(t)); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n := srv.RequestCount("POST /access/ticket"); n != 1 {
			t.Fatalf("%d logins, want 1", n)
		}
	})
	c := newClient(t, srv, func(c *proxmox.Config) {
		c.Credentials = proxmox.Credentials{Username: "root@pam", Password: testPassword}
	})
	ctx := testCtx(t)
	seedCT(t, srv, node1, 100, false, nil)

	t.Run("reads work after a ticket login", func(t *testing.T) {
		if _, err := c.Version(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("mutations carry the CSRF token", func(t *testing.T) {
		upid, err := c.StartContainer(ctx, node1, 100)
		mustSucceed(ctx, t, srv, c, upid, err)
		if !strings.HasSuffix(upid.User, "root@pam") {
			t.Errorf("task user = %q", upid.User)
		}
	})
	t.Run("an expired ticket is renewed transparently", func(t *testing.T) {
		srv.ExpireTickets()
		if _, err := c.Nodes(ctx); err != nil {
			t.Fatalf("Nodes() after ticket expiry = %v", err)
		}
	})
}

func TestWrongPasswordTriesToLogInOnce(t *testing.T) {
	srv := newSim(t)
	c := newClient(t, srv, func(c *proxmox.Config) {
		c.Credentials = proxmox.Credentials{Username: "root@pam", Password: "wrong-password"}
	})
	srv.ResetRequestCounts()
	if _, err := c.Version(testCtx(t)); !proxmox.IsUnauthorized(err) {
		t.Fatalf("Version() = %v, want unauthorized", err)
	}
	// pveproxy delays every 401 by 3 s: repeating a login that cannot
	// succeed only makes reconciles slower.
	if n, total := srv.RequestCount("POST /access/ticket"), len(srv.RequestCounts()); n != 1 || total != 1 {
		t.Fatalf("requests = %v, want one login and nothing else", srv.RequestCounts())
	}
}
