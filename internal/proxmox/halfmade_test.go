package proxmox_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/pve-operator/pve-operator/internal/proxmox"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

// TestACreateWhoseWorkerDied: its task reads as a vanished worker, and the
// node's task index finds it again by VMID, for its own principal only.
func TestACreateWhoseWorkerDied(t *testing.T) {
	srv := newSim(t)
	ctx := testCtx(t)
	token := newClient(t, srv)
	root := newClient(t, srv, func(c *proxmox.Config) {
		c.Credentials = proxmox.Credentials{Username: "root@pam", Password: testPassword}
	})
	since := time.Now().Add(-time.Minute)
	started := map[int]proxmox.UPID{}
	for vmid, c := range map[int]*proxmox.APIClient{300: token, 301: root} {
		if _, err := srv.InjectTaskFault(pvesim.TaskFault{Type: pvesim.TaskCreate, ID: strconv.Itoa(vmid), Action: pvesim.TaskFaultStall}); err != nil {
			t.Fatal(err)
		}
		upid, err := c.CreateContainer(ctx, node1, vmid, proxmox.CreateRequest{Params: debianCT()})
		if err != nil {
			t.Fatal(err)
		}
		started[vmid] = upid
	}

	t.Run("a running create is listed as running", func(t *testing.T) {
		got, err := token.OwnGuestTasks(ctx, node1, 300, since)
		if err != nil || len(got) != 1 || !got[0].Running || got[0].Vanished {
			t.Fatalf("OwnGuestTasks() = %+v, %v", got, err)
		}
	})
	for _, upid := range started {
		if !srv.KillTask(upid.String()) {
			t.Fatalf("KillTask(%s) found no running task", upid)
		}
	}
	t.Run("its status is a failure whose worker vanished", func(t *testing.T) {
		st, err := token.TaskStatus(ctx, started[300].String())
		if err != nil || st.State != proxmox.TaskFailed || !proxmox.IsWorkerVanished(st.Err) || !proxmox.IsTaskFailed(st.Err) {
			t.Fatalf("TaskStatus() = %+v, %v", st, err)
		}
	})
	tests := []struct {
		name  string
		c     *proxmox.APIClient
		vmid  int
		since time.Time
		want  int
	}{
		{"the token finds its own dead create", token, 300, since, 1},
		{"the token does not take root's create for its own", token, 301, since, 0},
		{"root finds its own dead create", root, 301, since, 1},
		{"a create started before since is not listed", token, 300, time.Now().Add(time.Hour), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.c.OwnGuestTasks(ctx, node1, tt.vmid, tt.since)
			if err != nil || len(got) != tt.want {
				t.Fatalf("OwnGuestTasks() = %+v, %v; want %d", got, err, tt.want)
			}
			if tt.want == 1 && (got[0].Running || !got[0].Vanished || got[0].UPID.Type != "vzcreate" || got[0].UPID.VMID() != tt.vmid) {
				t.Fatalf("OwnGuestTasks() = %+v", got)
			}
		})
	}
}
