package proxmox_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/pve-operator/pve-operator/internal/proxmox"
	"github.com/pve-operator/pve-operator/internal/pveparams"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

const lifecycleVMID = 100

// TestContainerLifecycle walks one container through every container
// operation; each step builds on the previous one.
func TestContainerLifecycle(t *testing.T) {
	srv := newSim(t)
	c := newClient(t, srv)
	ctx := testCtx(t)
	if !lifecycleCreate(ctx, t, srv, c) {
		t.FailNow()
	}
	lifecycleConfig(ctx, t, srv, c)
	lifecyclePower(ctx, t, srv, c)
	lifecycleDisksAndDelete(ctx, t, srv, c)
}

// lifecycleRequest creates a container with one parameter of each kind.
func lifecycleRequest() proxmox.CreateRequest {
	return proxmox.CreateRequest{
		Params: pveparams.List{
			{Key: "ostemplate", Value: pvesim.DebianTemplate},
			{Key: "hostname", Value: "web1"},
			{Key: "description", Value: "managed by pve-operator"},
			{Key: "tags", Value: "k8s;owner-abc"},
			{Key: "unprivileged", Value: "1"},
			{Key: "rootfs", Value: "local-lvm:8"},
			{Key: "cores", Value: "2"},
			{Key: "memory", Value: "1024"},
			{Key: "swap", Value: "256"},
			{Key: "features", Value: "nesting=1"},
			{Key: "nameserver", Value: "10.0.0.53"},
			{Key: "searchdomain", Value: "example.com"},
			{Key: "onboot", Value: "1"},
			{Key: "net0", Value: "name=eth0,bridge=vmbr0,ip=10.0.0.5/24,gw=10.0.0.1"},
			{Key: "mp0", Value: "local-lvm:4,mp=/data"},
			{Key: "ssh-public-keys", Value: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK0 test@example\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1 other@example"},
		},
		Password: "s3cret-pass",
	}
}

// lifecycleCreate creates the container and reports whether that worked;
// every later step needs it.
func lifecycleCreate(ctx context.Context, t *testing.T, srv *pvesim.Server, c *proxmox.APIClient) bool {
	const vmid = lifecycleVMID
	created := t.Run("create returns a vzcreate UPID and PVE reserves the VMID before the task ends", func(t *testing.T) {
		srv.StallTasks(pvesim.TaskCreate, "100", 1)
		upid, err := c.CreateContainer(ctx, node1, vmid, lifecycleRequest())
		if err != nil {
			t.Fatal(err)
		}
		if upid.Type != "vzcreate" || upid.Node != node1 || upid.VMID() != vmid || upid.User != pvesim.DefaultTokenID {
			t.Fatalf("UPID = %+v", upid)
		}
		st, err := c.ContainerStatus(ctx, node1, vmid)
		if err != nil || st.Lock != "create" {
			t.Fatalf("status during create = %+v, %v; want lock create", st, err)
		}
		if running, err := c.TaskStatus(ctx, upid.String()); err != nil || running.State != proxmox.TaskRunning || running.Done() {
			t.Fatalf("TaskStatus during create = %+v, %v", running, err)
		}
		srv.ReleaseTasks()
		mustSucceed(ctx, t, srv, c, upid, nil)
	})
	if !created {
		return false
	}
	t.Run("every spec field reaches the config and no secret does", func(t *testing.T) {
		ct, _ := srv.Container(vmid)
		want := map[string]string{
			"hostname": "web1", "cores": "2", "memory": "1024", "swap": "256", "nameserver": "10.0.0.53",
			"searchdomain": "example.com", "features": "nesting=1", "onboot": "1",
			"tags": "k8s;owner-abc", "description": "managed by pve-operator", "unprivileged": "1",
		}
		for k, v := range want {
			if got := ct.Config[k]; got != v {
				t.Errorf("config %s = %q, want %q", k, got, v)
			}
		}
		if !strings.Contains(ct.Config["mp0"], "mp=/data") || !strings.Contains(ct.Config["net0"], "ip=10.0.0.5/24") {
			t.Errorf("mp0/net0 = %q / %q", ct.Config["mp0"], ct.Config["net0"])
		}
		for k, v := range ct.Config {
			if strings.Contains(v, "s3cret-pass") {
				t.Errorf("config %s holds the password", k)
			}
		}
	})
	return true
}

// lifecycleConfig reads and changes the stopped container.
func lifecycleConfig(ctx context.Context, t *testing.T, srv *pvesim.Server, c *proxmox.APIClient) {
	const vmid = lifecycleVMID
	var digest string
	t.Run("the config reads back raw values with its digest", func(t *testing.T) {
		cfg, err := c.ContainerConfig(ctx, node1, vmid, false)
		if err != nil {
			t.Fatal(err)
		}
		digest = cfg.Digest()
		if len(digest) != 40 || cfg["memory"] != "1024" || cfg["hostname"] != "web1" || !strings.HasPrefix(cfg["rootfs"], "local-lvm:vm-100-disk-") {
			t.Fatalf("config = %v", cfg)
		}
	})
	t.Run("a config update with the current digest sets and deletes keys", func(t *testing.T) {
		err := c.UpdateContainerConfig(ctx, node1, vmid, proxmox.ConfigUpdate{
			Set: map[string]string{"memory": "2048", "cores": "3"}, Delete: []string{"searchdomain"}, Digest: digest,
		})
		if err != nil {
			t.Fatal(err)
		}
		ct, _ := srv.Container(vmid)
		if ct.Config["memory"] != "2048" || ct.Config["cores"] != "3" || ct.Config["searchdomain"] != "" {
			t.Fatalf("config after update = %v", ct.Config)
		}
	})
	t.Run("status/current of a stopped container has maxmem and no lock", func(t *testing.T) {
		st, err := c.ContainerStatus(ctx, node1, vmid)
		if err != nil {
			t.Fatal(err)
		}
		if st.Running() || st.Lock != "" || st.Template || st.MaxMem != 2048<<20 || st.MaxDisk != 8<<30 || st.CPUs != 3 || st.Name != "web1" {
			t.Fatalf("status = %+v", st)
		}
	})
	t.Run("a stopped container has no interfaces", func(t *testing.T) {
		ifs, err := c.Interfaces(ctx, node1, vmid)
		if err != nil || ifs != nil {
			t.Fatalf("Interfaces() = %+v, %v; want nil", ifs, err)
		}
	})
}

// lifecyclePower starts, reboots and stops it.
func lifecyclePower(ctx context.Context, t *testing.T, srv *pvesim.Server, c *proxmox.APIClient) {
	const vmid = lifecycleVMID
	t.Run("start runs the container and its interfaces appear", func(t *testing.T) {
		upid, err := c.StartContainer(ctx, node1, vmid)
		mustSucceed(ctx, t, srv, c, upid, err)
		st, err := c.ContainerStatus(ctx, node1, vmid)
		if err != nil || !st.Running() || st.Mem == 0 {
			t.Fatalf("status after start = %+v, %v", st, err)
		}
		ifs, err := c.Interfaces(ctx, node1, vmid)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(ifs, func(i proxmox.Interface) bool { return i.Name == "eth0" })
		if i < 0 || ifs[i].Inet != "10.0.0.5/24" || len(ifs[i].IPAddresses) == 0 || ifs[i].IPAddresses[0].Prefix != 24 {
			t.Fatalf("interfaces = %+v", ifs)
		}
	})
	t.Run("a change that needs a reboot is pending, hidden by current=1, and applied by reboot", func(t *testing.T) {
		if err := c.UpdateContainerConfig(ctx, node1, vmid, proxmox.ConfigUpdate{Set: map[string]string{"ostype": "ubuntu"}}); err != nil {
			t.Fatal(err)
		}
		pending, err := c.Pending(ctx, node1, vmid)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(pending, func(p proxmox.PendingChange) bool { return p.Key == "ostype" })
		if i < 0 || pending[i].Pending != "ubuntu" || pending[i].Value != "debian" {
			t.Fatalf("pending = %+v", pending)
		}
		withPending, err1 := c.ContainerConfig(ctx, node1, vmid, false)
		current, err2 := c.ContainerConfig(ctx, node1, vmid, true)
		if err1 != nil || err2 != nil || withPending["ostype"] != "ubuntu" || current["ostype"] != "debian" {
			t.Fatalf("ostype with pending %q (%v), current %q (%v)", withPending["ostype"], err1, current["ostype"], err2)
		}
		upid, err := c.RebootContainer(ctx, node1, vmid)
		mustSucceed(ctx, t, srv, c, upid, err)
		if ct, _ := srv.Container(vmid); ct.Config["ostype"] != "ubuntu" || len(ct.Pending) != 0 {
			t.Fatalf("after reboot: ostype %q, pending %v", ct.Config["ostype"], ct.Pending)
		}
	})
	t.Run("shutdown with a timeout and force stops the container", func(t *testing.T) {
		upid, err := c.ShutdownContainer(ctx, node1, vmid, proxmox.ShutdownOptions{Timeout: 5, Force: true})
		mustSucceed(ctx, t, srv, c, upid, err)
		if ct, _ := srv.Container(vmid); ct.Status != "stopped" {
			t.Fatalf("status after shutdown = %s", ct.Status)
		}
	})
	t.Run("a hard stop stops a running container", func(t *testing.T) {
		upid, err := c.StartContainer(ctx, node1, vmid)
		mustSucceed(ctx, t, srv, c, upid, err)
		upid, err = c.StopContainer(ctx, node1, vmid)
		mustSucceed(ctx, t, srv, c, upid, err)
		if ct, _ := srv.Container(vmid); ct.Status != "stopped" {
			t.Fatalf("status after stop = %s", ct.Status)
		}
	})
}

// lifecycleDisksAndDelete grows its disk and destroys it.
func lifecycleDisksAndDelete(ctx context.Context, t *testing.T, srv *pvesim.Server, c *proxmox.APIClient) {
	const vmid = lifecycleVMID
	t.Run("resize grows the root disk", func(t *testing.T) {
		upid, err := c.ResizeDisk(ctx, node1, vmid, "rootfs", "+2G")
		mustSucceed(ctx, t, srv, c, upid, err)
		if ct, _ := srv.Container(vmid); !strings.Contains(ct.Config["rootfs"], "size=10G") {
			t.Fatalf("rootfs after resize = %s", ct.Config["rootfs"])
		}
	})
	t.Run("delete with purge destroys the container", func(t *testing.T) {
		upid, err := c.DeleteContainer(ctx, node1, vmid, proxmox.DeleteOptions{Purge: true, DestroyUnreferencedDisks: true})
		if upid.Type != "vzdestroy" {
			t.Errorf("UPID type = %q", upid.Type)
		}
		mustSucceed(ctx, t, srv, c, upid, err)
		if _, ok := srv.Container(vmid); ok {
			t.Fatal("container still exists")
		}
		if _, err := c.ContainerStatus(ctx, node1, vmid); !proxmox.IsNotFound(err) {
			t.Fatalf("status after delete: %v, want not found", err)
		}
	})
	t.Run("delete with force destroys a running container", func(t *testing.T) {
		seedCT(t, srv, node1, 101, true, nil)
		upid, err := c.DeleteContainer(ctx, node1, 101, proxmox.DeleteOptions{Force: true})
		mustSucceed(ctx, t, srv, c, upid, err)
		if _, ok := srv.Container(101); ok {
			t.Fatal("container still exists")
		}
	})
}
