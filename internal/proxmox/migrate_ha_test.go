package proxmox_test

import (
	"strings"
	"testing"

	"github.com/pve-operator/pve-operator/internal/proxmox"
)

func TestHAResourceAndRuleRoundTrip(t *testing.T) {
	srv := newSim(t)
	c := newClient(t, srv)
	ctx := testCtx(t)
	if err := srv.AddContainer(node1, 300, nil, false); err != nil {
		t.Fatal(err)
	}
	sid := proxmox.ContainerSID(300)
	two := 2
	if err := c.CreateHAResource(ctx, proxmox.HAResource{SID: sid, State: "stopped", MaxRestart: &two, Comment: "mine"}); err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := c.CreateHAResource(ctx, proxmox.HAResource{SID: sid}); !proxmox.IsAlreadyExists(err) {
		t.Fatalf("second create: want AlreadyExists, got %v", err)
	}
	res, err := c.HAResource(ctx, sid)
	if err != nil || res.State != "stopped" || res.MaxRestart == nil || *res.MaxRestart != 2 || res.Comment != "mine" {
		t.Fatalf("read: %+v, %v", res, err)
	}
	if err := c.UpdateHAResource(ctx, sid, map[string]string{"state": "started"}, []string{"max_restart"}, res.Digest); err != nil {
		t.Fatalf("update: %v", err)
	}
	if err := c.UpdateHAResource(ctx, sid, map[string]string{"state": "stopped"}, nil, res.Digest); !proxmox.IsDigestMismatch(err) {
		t.Fatalf("update with a stale digest: want DigestMismatch, got %v", err)
	}
	rule := proxmox.HARule{ID: "pve-operator-300", Resources: []string{sid}, Nodes: []proxmox.HANode{{Name: node2, Priority: 1}, {Name: node1}}, Strict: true}
	if err := c.CreateHARule(ctx, rule); err != nil {
		t.Fatalf("create rule: %v", err)
	}
	got, err := c.HARule(ctx, rule.ID)
	if err != nil || proxmox.FormatHANodes(got.Nodes) != "pve1,pve2:1" || !got.Strict || len(got.Resources) != 1 {
		t.Fatalf("read rule: %+v, %v", got, err)
	}
	rule.Nodes, rule.Strict = []proxmox.HANode{{Name: "pve3"}}, false
	if err := c.UpdateHARule(ctx, rule, got.Digest); err != nil {
		t.Fatalf("update rule: %v", err)
	}
	if got, _ = c.HARule(ctx, rule.ID); proxmox.FormatHANodes(got.Nodes) != "pve3" || got.Strict {
		t.Fatalf("updated rule: %+v", got)
	}
	if err := c.DeleteHAResource(ctx, sid, true); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := c.HAResource(ctx, sid); !proxmox.IsNotFound(err) {
		t.Fatalf("read after delete: want NotFound, got %v", err)
	}
	if _, err := c.HARule(ctx, rule.ID); !proxmox.IsNotFound(err) {
		t.Fatalf("purge leaves no rule without resources: got %v", err)
	}
	if err := c.DeleteHAResource(ctx, sid, true); !proxmox.IsNotFound(err) {
		t.Fatalf("delete of a guest not in HA: want NotFound, got %v", err)
	}
}

func TestMigratePreconditionsAndMigration(t *testing.T) {
	srv := newSim(t)
	c := newClient(t, srv)
	ctx := testCtx(t)
	if err := srv.AddContainer(node1, 301, nil, true); err != nil {
		t.Fatal(err)
	}
	pre, err := c.MigratePreconditions(ctx, node1, 301, node2)
	if err != nil || !pre.Running || !pre.Allows(node2) || pre.Allows(node1) {
		t.Fatalf("preconditions: %+v, %v", pre, err)
	}
	if _, err := c.MigrateContainer(ctx, node1, 301, node2, proxmox.MigrateOptions{}); err == nil || !strings.Contains(err.Error(), "without --online or --restart") {
		t.Fatalf("a running CT needs restart: got %v", err)
	}
	upid, err := c.MigrateContainer(ctx, node1, 301, node2, proxmox.MigrateOptions{Restart: true, Timeout: 30})
	mustSucceed(ctx, t, srv, c, upid, err)
	ct, _ := srv.Container(301)
	if ct.Node != node2 || ct.Status != "running" {
		t.Fatalf("after migration: on %s, %s", ct.Node, ct.Status)
	}
}

func TestMigrationOfABindMountFailsInTheWorkerWithPVEsWords(t *testing.T) {
	srv := newSim(t)
	c := newClient(t, srv)
	ctx := testCtx(t)
	if err := srv.AddContainer(node1, 302, map[string]string{"mp0": "/srv/data,mp=/data"}, false); err != nil {
		t.Fatal(err)
	}
	upid, err := c.MigrateContainer(ctx, node1, 302, node2, proxmox.MigrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := finish(ctx, t, srv, c, upid)
	if st.ExitStatus != "cannot migrate local bind mount point 'mp0'" {
		t.Fatalf("exit status %q", st.ExitStatus)
	}
	if ct, _ := srv.Container(302); ct.Node != node1 || ct.Lock != "" {
		t.Fatalf("the CT stays, unlocked: %+v", ct)
	}
}

func TestMigrationBlockers(t *testing.T) {
	storages := []proxmox.Storage{
		{ID: "local-lvm", Node: node1, Type: "lvmthin", Content: []string{"rootdir", "images"}},
		{ID: "local-lvm", Node: node2, Type: "lvmthin", Content: []string{"rootdir", "images"}},
		{ID: "only1", Node: node1, Type: "dir", Content: []string{"rootdir"}},
		{ID: "iscsi", Node: node1, Type: "iscsi", Content: []string{"rootdir"}},
		{ID: "iscsi", Node: node2, Type: "iscsi", Content: []string{"rootdir"}},
		{ID: "nfs", Node: node1, Type: "nfs", Content: []string{"rootdir"}, Shared: true},
		{ID: "nfs", Node: node2, Type: "nfs", Content: []string{"rootdir"}, Shared: true},
	}
	for _, tc := range []struct {
		name string
		cfg  proxmox.ContainerConfig
		want []string
	}{
		{"a container on local lvm-thin moves", proxmox.ContainerConfig{"rootfs": "local-lvm:vm-1-disk-0,size=4G"}, nil},
		{"a shared bind mount moves", proxmox.ContainerConfig{"mp0": "/mnt/nfs,mp=/data,shared=1"}, nil},
		{"a local bind mount is blocked", proxmox.ContainerConfig{"mp1": "/srv,mp=/srv"}, []string{"cannot migrate local bind mount point 'mp1'"}},
		{"a device mount point is blocked", proxmox.ContainerConfig{"mp0": "/dev/sdb1,mp=/mnt"}, []string{"cannot migrate local device mount point 'mp0'"}},
		{"a passed-through device is blocked", proxmox.ContainerConfig{"dev0": "/dev/ttyUSB0,mode=0660"}, []string{"dev0 passes through /dev/ttyUSB0, a device of node pve1"}},
		{"a storage the target lacks is blocked", proxmox.ContainerConfig{"mp0": "only1:vm-1-disk-1,mp=/d,size=1G"}, []string{"only1:vm-1-disk-1: storage 'only1' is not available on node 'pve2'"}},
		{"an unsupported local storage type is blocked", proxmox.ContainerConfig{"unused0": "iscsi:lun1"}, []string{"can't migrate local volume 'iscsi:lun1': storage type 'iscsi' not supported"}},
		{"snapshots on local lvm-thin are blocked", proxmox.ContainerConfig{"rootfs": "local-lvm:vm-1-disk-0,size=4G", "parent": "before"}, []string{"can't migrate local volume 'local-lvm:vm-1-disk-0': non-migratable snapshot exists"}},
		{"snapshots on shared storage move", proxmox.ContainerConfig{"rootfs": "nfs:1/vm-1-disk-0.raw,size=4G", "parent": "before"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := proxmox.MigrationBlockers(tc.cfg, storages, node1, node2)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
