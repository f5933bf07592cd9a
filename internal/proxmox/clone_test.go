package proxmox_test

import (
	"testing"

	"k8s.io/utils/ptr"

	"github.com/pve-operator/pve-operator/internal/proxmox"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

func TestCloneContainer(t *testing.T) {
	srv := newSim(t)
	c := newClient(t, srv)
	ctx := testCtx(t)
	seedCT(t, srv, node1, 100, false, map[string]string{"hostname": "golden", "tags": "pve-operator;web"})

	t.Run("a clone's task is a vzclone of the source, and the target has the given hostname and description", func(t *testing.T) {
		upid, err := c.CloneContainer(ctx, node1, 100, proxmox.CloneRequest{NewID: 150, Hostname: "copy", Description: "marker", Pool: ""})
		if upid.Type != "vzclone" || upid.ID != "100" {
			t.Errorf("UPID = %+v", upid)
		}
		mustSucceed(ctx, t, srv, c, upid, err)
		ct, _ := srv.Container(150)
		if ct.Config["hostname"] != "copy" || ct.Config["description"] != "marker" || ct.Config["tags"] != "pve-operator;web" {
			t.Fatalf("clone config = %+v", ct.Config)
		}
	})
	for _, tc := range []struct {
		name    string
		req     proxmox.CloneRequest
		refused bool
		check   func(error) bool
	}{
		{"a linked clone of a normal container is refused", proxmox.CloneRequest{NewID: 151, Full: ptr.To(false)}, true, proxmox.IsRefused},
		{"a storage for a linked clone is refused", proxmox.CloneRequest{NewID: 151, Full: ptr.To(false), Storage: "local-lvm"}, true, proxmox.IsRefused},
		{"a clone of local storage to another node is refused", proxmox.CloneRequest{NewID: 151, Target: node2}, true, proxmox.IsRefused},
		{"a taken VMID is AlreadyExists, not a refusal", proxmox.CloneRequest{NewID: 150}, false, proxmox.IsAlreadyExists},
		{"a missing snapshot is NotFound, not a refusal", proxmox.CloneRequest{NewID: 151, Snapshot: "nope"}, false, proxmox.IsNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CloneContainer(ctx, node1, 100, tc.req)
			if !tc.check(err) || proxmox.IsRefused(err) != tc.refused {
				t.Fatalf("err = %v (refused %v)", err, proxmox.IsRefused(err))
			}
		})
	}
}

func TestConvertToTemplate(t *testing.T) {
	srv := newSim(t)
	c := newClient(t, srv)
	ctx := testCtx(t)
	seedCT(t, srv, node1, 100, false, nil)

	srv.StallTasks(pvesim.TaskTemplate, "100", 1)
	upid, err := c.ConvertToTemplate(ctx, node1, 100)
	if err != nil || upid.Type != "vztemplate" {
		t.Fatalf("ConvertToTemplate = %+v, %v: the worker PVE does not name must be found", upid, err)
	}
	srv.ReleaseTasks()
	mustSucceed(ctx, t, srv, c, upid, nil)
	if ct, _ := srv.Container(100); !ct.Template {
		t.Fatal("not a template")
	}
	if upid, err := c.ConvertToTemplate(ctx, node1, 100); err != nil || !upid.IsZero() {
		t.Fatalf("converting a template again = %+v, %v; want done", upid, err)
	}
}

func TestPoolMembership(t *testing.T) {
	srv := newSim(t, func(o *pvesim.Options) { o.Pools = []string{"a", "b"} })
	c := newClient(t, srv)
	ctx := testCtx(t)
	seedCT(t, srv, node1, 100, false, nil)
	pool := func() string { ct, _ := srv.Container(100); return ct.Pool }

	steps := []struct {
		name string
		do   func() error
		want string
	}{
		{"join puts the container in the pool", func() error { return c.JoinPool(ctx, "a", 100) }, "a"},
		{"joining the pool it is in is success", func() error { return c.JoinPool(ctx, "a", 100) }, "a"},
		{"join moves it from its pool to another", func() error { return c.JoinPool(ctx, "b", 100) }, "b"},
		{"leaving a pool it is not in is success", func() error { return c.LeavePool(ctx, "a", 100) }, "b"},
		{"leave takes it out", func() error { return c.LeavePool(ctx, "b", 100) }, ""},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if err := s.do(); err != nil {
				t.Fatal(err)
			}
			if got := pool(); got != s.want {
				t.Fatalf("pool = %q, want %q", got, s.want)
			}
		})
	}
	t.Run("a pool that does not exist is NotFound", func(t *testing.T) {
		if err := c.JoinPool(ctx, "nope", 100); !proxmox.IsNotFound(err) {
			t.Fatalf("err = %v", err)
		}
	})
}
