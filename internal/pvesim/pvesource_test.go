package pvesim

import (
	"fmt"
	"strings"
	"testing"

	proxmox "github.com/luthermonson/go-proxmox"
)

// These tests pin behaviours read from PVE's own sources (pve-container,
// pve-storage, pve-manager) where the simulator used to differ.

func TestCPUsFollowVmstatus(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	tests := []struct {
		name   string
		vmid   int
		params []string
		cpus   any // what status/current and the list send
		maxcpu any // what /cluster/resources sends
	}{
		{"cores alone is the count", 100, []string{"cores", "2"}, float64(2), float64(2)},
		{"cores wins over a lower cpulimit, which never caps it", 101, []string{"cores", "4", "cpulimit", "1.5"}, float64(4), float64(4)},
		{"cores wins over a higher cpulimit", 102, []string{"cores", "2", "cpulimit", "3"}, float64(2), float64(2)},
		{"cpulimit alone is sent as its raw string", 103, []string{"cpulimit", "1.5"}, "1.5", 1.5},
		{"a whole cpulimit is a string too", 104, []string{"cpulimit", "2"}, "2", float64(2)},
		{"cpulimit 0 is unset, so the host's count", 105, []string{"cpulimit", "0"}, float64(16), float64(16)},
		{"neither set gives the host's count", 106, nil, float64(16), float64(16)},
	}
	for _, tc := range tests {
		createCT(t, srv, "pve1", tc.vmid, tc.params...)
	}
	var list, resources []map[string]any
	mustOK(t, raw(t, srv, "GET", "/nodes/pve1/lxc", "")).data(t, &list)
	mustOK(t, raw(t, srv, "GET", "/cluster/resources?type=vm", "")).data(t, &resources)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var st map[string]any
			mustOK(t, raw(t, srv, "GET", fmt.Sprintf("/nodes/pve1/lxc/%d/status/current", tc.vmid), "")).data(t, &st)
			if st["cpus"] != tc.cpus {
				t.Errorf("status/current cpus %#v, want %#v", st["cpus"], tc.cpus)
			}
			if e := entryFor(list, tc.vmid); e == nil || e["cpus"] != tc.cpus {
				t.Errorf("list entry %v, want cpus %#v", e, tc.cpus)
			}
			if e := entryFor(resources, tc.vmid); e == nil || e["maxcpu"] != tc.maxcpu {
				t.Errorf("resources entry %v, want maxcpu %#v", e, tc.maxcpu)
			}
		})
	}
}

// entryFor finds the entry of vmid in a decoded list.
func entryFor(list []map[string]any, vmid int) map[string]any {
	for _, e := range list {
		if e["vmid"] == float64(vmid) {
			return e
		}
	}
	return nil
}

func TestMountPointPathsOnlyRefuseDotSegments(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100)
	tests := []struct {
		name, path string
		refused    bool
	}{
		{"an absolute path is accepted", "/data", false},
		{"a relative path is accepted", "srv/data", false},
		{"a leading ./ is accepted", "./data", false},
		{"a lone .. is accepted (no slash around it)", "..", false},
		{"dots inside a name are accepted", "/srv/..hidden/a.b", false},
		{"a /../ segment is refused", "/srv/../etc", true},
		{"a /./ segment is refused", "/srv/./data", true},
		{"a trailing /.. is refused", "/srv/..", true},
		{"a trailing /. is refused", "/srv/.", true},
		{"a leading ../ is refused", "../etc", true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := fmt.Sprintf("mp%d", i)
			r := raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", form(key, "local-lvm:1,mp="+tc.path))
			if !tc.refused {
				mustOK(t, r)
				return
			}
			msg, _ := r.json(t)["errors"].(map[string]any)[key].(string)
			if r.Code != 400 || !strings.Contains(msg, tc.path+" contains illegal character sequences") {
				t.Fatalf("got %q %s", r.Status, r.Body)
			}
		})
	}
	t.Run("create accepts a relative path as well", func(t *testing.T) {
		createCT(t, srv, "pve1", 101, "mp0", "local-lvm:1,mp=srv")
	})
}

// cloneStorages adds one storage of each plugin type the clone rules
// differ for.
func cloneStorages(o *Options) {
	o.Storages = append(DefaultStorages(),
		StorageSpec{ID: "zfs", Type: "zfspool", Content: []string{"rootdir", "images"}},
		StorageSpec{ID: "ceph", Type: "rbd", Content: []string{"rootdir", "images"}, Shared: true},
		StorageSpec{ID: "ct-dir", Type: "dir", Content: []string{"rootdir"}, Path: "/srv/ct"},
		StorageSpec{ID: "thick", Type: "lvm", Content: []string{"rootdir"}},
	)
}

// cloneSource is how a clone test prepares its source CT.
type cloneSource int

const (
	plainCT cloneSource = iota
	templateCT
	snapshottedCT
)

func TestLinkedClonesFollowTheStorageCloneFeature(t *testing.T) {
	t.Parallel()
	srv := newSim(t, cloneStorages)
	tests := []struct {
		name    string
		storage string
		source  cloneSource
		rootfs  string // the clone's rootfs volume; "%[1]d" is the source, "%[2]d" the clone
		err     string // the 500 message instead; same verbs
	}{
		{"LVM-thin links a template by default", "local-lvm", templateCT, "local-lvm:vm-%[2]d-disk-0", ""},
		{"LVM-thin links a snapshot", "local-lvm", snapshottedCT, "local-lvm:vm-%[2]d-disk-0", ""},
		{"LVM-thin cannot link a normal volume", "local-lvm", plainCT, "", "Linked clone feature for 'local-lvm:vm-%[1]d-disk-0' is not available"},
		{"ZFS links a template under its base", "zfs", templateCT, "zfs:base-%[1]d-disk-0/vm-%[2]d-disk-0", ""},
		{"ZFS cannot link a snapshot", "zfs", snapshottedCT, "", "Linked clone feature for 'zfs:vm-%[1]d-disk-0' is not available"},
		{"RBD links a template under its base", "ceph", templateCT, "ceph:base-%[1]d-disk-0/vm-%[2]d-disk-0", ""},
		{"RBD links a snapshot without the base prefix", "ceph", snapshottedCT, "ceph:vm-%[2]d-disk-0", ""},
		{"a directory storage never links a container volume", "ct-dir", plainCT, "", "Linked clone feature for 'ct-dir:%[1]d/vm-%[1]d-disk-0.raw' is not available"},
		{"thick LVM never links", "thick", plainCT, "", "Linked clone feature for 'thick:vm-%[1]d-disk-0' is not available"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := 100+i, 200+i
			body := prepareCloneSource(t, srv, src, tc.storage, tc.source)
			checkCloneFeature(t, srv, src, body, tc.err == "")
			r := raw(t, srv, "POST", fmt.Sprintf("/nodes/pve1/lxc/%d/clone", src), body+"&"+form("newid", fmt.Sprint(dst)))
			if tc.err != "" {
				if want := "500 " + fmt.Sprintf(tc.err, src, dst); r.Status != want {
					t.Fatalf("got %q, want %q", r.Status, want)
				}
				return
			}
			v := waitTask(t, srv, upidOf(t, r))
			if v.ExitStatus != "OK" || !strings.Contains(strings.Join(v.Log, "\n"), "create linked clone of mount point rootfs") {
				t.Fatalf("%q %q", v.ExitStatus, v.Log)
			}
			cv, _ := srv.Container(dst)
			if got, want := diskVolid(cv.Config["rootfs"]), fmt.Sprintf(tc.rootfs, src, dst); got != want {
				t.Fatalf("rootfs %q, want %q", got, want)
			}
		})
	}
}

// prepareCloneSource creates CT vmid on storage in the given shape and
// returns the clone parameters that ask for a linked clone of it.
func prepareCloneSource(t *testing.T, srv *Server, vmid int, storage string, source cloneSource) string {
	t.Helper()
	createCT(t, srv, "pve1", vmid, "rootfs", storage+":8")
	path := fmt.Sprintf("/nodes/pve1/lxc/%d", vmid)
	switch source {
	case templateCT:
		mustOK(t, raw(t, srv, "POST", path+"/template", ""))
		eventually(t, "template flag", func() bool { cv, _ := srv.Container(vmid); return cv.Template && cv.Lock == "" })
		return ""
	case snapshottedCT:
		runOK(t, srv, "POST", path+"/snapshot", form("snapname", "s1"))
		return form("full", "0", "snapname", "s1")
	}
	return form("full", "0")
}

// checkCloneFeature: the feature endpoint answers what the clone then does,
// as both run pve-storage's volume_has_feature.
func checkCloneFeature(t *testing.T, srv *Server, vmid int, cloneBody string, want bool) {
	t.Helper()
	q := "feature=clone"
	if strings.Contains(cloneBody, "snapname=s1") {
		q += "&snapname=s1"
	}
	var feat map[string]any
	mustOK(t, raw(t, srv, "GET", fmt.Sprintf("/nodes/pve1/lxc/%d/feature?%s", vmid, q), "")).data(t, &feat)
	if len(feat) != 1 || feat["hasFeature"] != float64(b01(want)) {
		t.Fatalf("feature answer %v, want only hasFeature %d", feat, b01(want))
	}
}

func TestCloneChecksInCloneVMOrder(t *testing.T) {
	t.Parallel()
	srv := newSim(t, cloneStorages)
	createCT(t, srv, "pve1", 100)
	runOK(t, srv, "POST", "/nodes/pve1/lxc/100/status/start", "")
	runOK(t, srv, "POST", "/nodes/pve1/lxc/100/snapshot", form("snapname", "s1"))
	tests := []struct{ name, body, status string }{
		{"an unknown target node is a plain error", form("newid", "150", "target", "pve9"), "500 no such cluster node 'pve9'"},
		{"an explicit storage must be shared for another node", form("newid", "150", "target", "pve2", "storage", "local-lvm"), "500 can't clone to non-shared storage 'local-lvm'"},
		{"a running CT is copied only from a snapshot, checked before the target", form("newid", "150", "target", "pve2"), "500 Full clone of a running container is only possible from a snapshot"},
		{"local disks cannot go to another node", form("newid", "150", "target", "pve2", "snapname", "s1"), "500 can't clone CT to node 'pve2' (CT uses local storage)"},
		{"storage is refused for a linked clone before the snapshot is looked up", form("newid", "150", "full", "0", "storage", "zfs", "snapname", "nope"), "500 parameter 'storage' not allowed for linked clones"},
		{"an unknown snapshot", form("newid", "150", "snapname", "nope"), "500 snapshot 'nope' does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r := raw(t, srv, "POST", "/nodes/pve1/lxc/100/clone", tc.body); r.Status != tc.status {
				t.Fatalf("got %q, want %q", r.Status, tc.status)
			}
		})
	}
	t.Run("a running CT is copied from its snapshot", func(t *testing.T) {
		runOK(t, srv, "POST", "/nodes/pve1/lxc/100/clone", form("newid", "151", "snapname", "s1"))
	})
}

func TestSnapshotAnswersMatchSnapshotList(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100)
	runOK(t, srv, "POST", "/nodes/pve1/lxc/100/snapshot", form("snapname", "s1"))
	tests := []struct{ name, path, body string }{
		{"the snapshot index lists cmd entries", "/nodes/pve1/lxc/100/snapshot/s1", `{"data":[{"cmd":"rollback"},{"cmd":"config"}]}`},
		{"the index loads no config, so a missing snapshot answers the same", "/nodes/pve1/lxc/100/snapshot/nope", `{"data":[{"cmd":"rollback"},{"cmd":"config"}]}`},
		{"and so does a missing CT", "/nodes/pve1/lxc/404/snapshot/s1", `{"data":[{"cmd":"rollback"},{"cmd":"config"}]}`},
		{"the feature answer has hasFeature alone", "/nodes/pve1/lxc/100/feature?feature=snapshot", `{"data":{"hasFeature":1}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r := mustOK(t, raw(t, srv, "GET", tc.path, "")); string(r.Body) != tc.body {
				t.Fatalf("got %s, want %s", r.Body, tc.body)
			}
		})
	}
	t.Run("every list entry has name, description and snaptime; current has digest and running", func(t *testing.T) {
		var list []map[string]any
		mustOK(t, raw(t, srv, "GET", "/nodes/pve1/lxc/100/snapshot", "")).data(t, &list)
		if len(list) != 2 {
			t.Fatalf("%v", list)
		}
		for _, k := range []string{"name", "description", "snaptime"} {
			if _, ok := list[0][k]; !ok {
				t.Errorf("snapshot entry lacks %s: %v", k, list[0])
			}
		}
		cur := list[1]
		if cur["name"] != "current" || cur["description"] != "You are here!" || cur["running"] != float64(0) || cur["parent"] != "s1" || cur["digest"] == nil {
			t.Fatalf("current %v", cur)
		}
	})
}

// The answers changed above still decode with go-proxmox v0.8.2's types,
// except where real PVE breaks them too (cpulimit's string, a fractional
// maxcpu, hasFeature as 0/1 for a bool).
func TestGoProxmoxDecodesTheChangedAnswers(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100, "cores", "2", "cpulimit", "1.5")
	runOK(t, srv, "POST", "/nodes/pve1/lxc/100/snapshot", form("snapname", "s1"))
	c := pve(t, srv)
	n, err := c.Node(ctx(t), "pve1")
	if err != nil {
		t.Fatal(err)
	}
	cts, err := n.Containers(ctx(t))
	t.Run("the list decodes with an integer vmid and cores as cpus", func(t *testing.T) {
		if err != nil || len(cts) != 1 || cts[0].VMID != 100 || cts[0].CPUs != 2 {
			t.Fatalf("%+v %v", cts, err)
		}
	})
	// Node.Container also reads the config, whose cpulimit go-proxmox
	// decodes as an int, so status/current is decoded on its own.
	t.Run("status/current decodes into Container", func(t *testing.T) {
		var ct proxmox.Container
		if err := c.Get(ctx(t), "/nodes/pve1/lxc/100/status/current", &ct); err != nil || ct.CPUs != 2 || ct.VMID != 100 {
			t.Fatalf("%+v %v", ct, err)
		}
	})
	t.Run("cluster resources decode while maxcpu is whole", func(t *testing.T) {
		cl, _ := c.Cluster(ctx(t))
		rs, err := cl.Resources(ctx(t), "vm")
		if err != nil || len(rs) != 1 || rs[0].MaxCPU != 2 {
			t.Fatalf("%+v %v", rs, err)
		}
	})
	t.Run("the snapshot list decodes, current included", func(t *testing.T) {
		if len(cts) != 1 {
			t.Skip("no container handle")
		}
		snaps, err := cts[0].Snapshots(ctx(t))
		if err != nil || len(snaps) != 2 || snaps[0].Name != "s1" || snaps[0].SnapshotCreationTime == 0 || snaps[1].Name != "current" || snaps[1].Parent != "s1" {
			t.Fatalf("%+v %v", snaps, err)
		}
	})
	t.Run("the snapshot index decodes as cmd entries", func(t *testing.T) {
		var idx []map[string]string
		if err := c.Get(ctx(t), "/nodes/pve1/lxc/100/snapshot/s1", &idx); err != nil || len(idx) != 2 || idx[0]["cmd"] != "rollback" {
			t.Fatalf("%v %v", idx, err)
		}
	})
	t.Run("the feature answer decodes into IntOrBool, not into Feature's bool", func(t *testing.T) {
		var feat struct {
			HasFeature proxmox.IntOrBool `json:"hasFeature"`
		}
		if err := c.Get(ctx(t), "/nodes/pve1/lxc/100/feature?feature=snapshot", &feat); err != nil || !bool(feat.HasFeature) {
			t.Fatalf("%v %v", feat, err)
		}
	})
	t.Run("a template clones linked through go-proxmox", func(t *testing.T) {
		createCT(t, srv, "pve1", 101)
		mustOK(t, raw(t, srv, "POST", "/nodes/pve1/lxc/101/template", ""))
		eventually(t, "template flag", func() bool { cv, _ := srv.Container(101); return cv.Template && cv.Lock == "" })
		newid, task, err := pveCT(t, srv, 101).Clone(ctx(t), &proxmox.ContainerCloneOptions{NewID: 300})
		if err != nil || newid != 300 {
			t.Fatalf("%d %v", newid, err)
		}
		if v := waitTask(t, srv, string(task.UPID)); v.ExitStatus != "OK" {
			t.Fatal(v.ExitStatus)
		}
	})
	t.Run("a cpulimit-only CT breaks Container.CPUs and ClusterResource.MaxCPU, as on PVE", func(t *testing.T) {
		createCT(t, srv, "pve1", 102, "cpulimit", "1.5")
		if _, err := n.Container(ctx(t), 102); err == nil {
			t.Error("status/current: expected cpus \"1.5\" to fail the int")
		}
		cl, _ := c.Cluster(ctx(t))
		if _, err := cl.Resources(ctx(t), "vm"); err == nil {
			t.Error("resources: expected maxcpu 1.5 to fail the uint64")
		}
	})
}

func TestVzdumpParameterPermissionsFollowPVE9(t *testing.T) {
	t.Parallel()
	const backup, ops, nospace = "backup@pve!op", "ops@pve!op", "nospace@pve!op"
	srv := newSim(t, func(o *Options) {
		o.Tokens = []TokenSpec{
			{ID: DefaultTokenID, Secret: DefaultTokenSecret},
			{ID: backup, Secret: "b", Privileges: []string{"VM.Audit", "VM.Backup", "Datastore.AllocateSpace", "Datastore.Audit"}},
			{ID: ops, Secret: "o", Privileges: []string{"VM.Audit", "VM.Backup", "Datastore.AllocateSpace", "Datastore.Allocate", "Datastore.Audit", "Sys.Modify"}},
			{ID: nospace, Secret: "n", Privileges: []string{"VM.Audit", "VM.Backup"}},
		}
		o.Users = []UserSpec{{ID: "root@pam", Password: DefaultRootPassword}, {ID: "backup@pve"}, {ID: "ops@pve"}, {ID: "nospace@pve"}}
	})
	createCT(t, srv, "pve1", 100)
	if err := srv.DropPrivilege(backup, "/storage/local-lvm", "Datastore.AllocateSpace"); err != nil {
		t.Fatal(err)
	}
	ticket, csrf := login(t, srv, "root@pam", DefaultRootPassword)
	as := func(id, secret string) []rawOpt { return []rawOpt{asToken(id, secret)} }
	root := []rawOpt{noAuth(), withTicket(ticket), withHeader("CSRFPreventionToken", csrf)}
	rootToken := as(DefaultTokenID, DefaultTokenSecret)
	tests := []struct {
		name   string
		auth   []rawOpt
		extra  []string
		status string // "200 OK", a 403 status line, or "400 <param>"
	}{
		{"tmpdir is root@pam only, even for root's own token", rootToken, []string{"tmpdir", "/tmp"}, "400 tmpdir"},
		{"dumpdir is root@pam only", rootToken, []string{"dumpdir", "/tmp"}, "400 dumpdir"},
		{"script is root@pam only", rootToken, []string{"script", "/bin/true"}, "400 script"},
		{"job-id is root@pam only", rootToken, []string{"job-id", "backup-1"}, "400 job-id"},
		{"root@pam may pass job-id", root, []string{"job-id", "backup-1"}, "200 OK"},
		{"the root-only check comes before the vmid conflicts", rootToken, []string{"tmpdir", "/tmp", "all", "1"}, "400 tmpdir"},
		{"bwlimit needs Sys.Modify on / since 7.3", as(backup, "b"), []string{"bwlimit", "1000"}, "403 Permission check failed (/, Sys.Modify)"},
		{"ionice needs Sys.Modify on /", as(backup, "b"), []string{"ionice", "7"}, "403 Permission check failed (/, Sys.Modify)"},
		{"performance needs Sys.Modify on /", as(backup, "b"), []string{"performance", "max-workers=2"}, "403 Permission check failed (/, Sys.Modify)"},
		{"with Sys.Modify a token may set bwlimit and ionice", as(ops, "o"), []string{"bwlimit", "1000", "ionice", "7"}, "200 OK"},
		{"prune-backups needs Datastore.Allocate on the backup storage", as(backup, "b"), []string{"prune-backups", "keep-last=3"}, "403 Permission check failed (/storage/local, Datastore.Allocate)"},
		{"with Datastore.Allocate a token may prune", as(ops, "o"), []string{"prune-backups", "keep-last=3"}, "200 OK"},
		{"a fleecing storage needs Datastore.AllocateSpace", as(backup, "b"), []string{"fleecing", "enabled=1,storage=local-lvm"}, "403 Permission check failed (/storage/local-lvm, Datastore.AllocateSpace)"},
		{"stdout is for the command line only", root, []string{"stdout", "1"}, "400 stdout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkVzdumpCall(t, srv, form(append([]string{"vmid", "100", "storage", "local"}, tc.extra...)...), tc.auth, tc.status)
		})
	}
	t.Run("the backup storage is checked even when none is named", func(t *testing.T) {
		checkVzdumpCall(t, srv, form("vmid", "100"), as(nospace, "n"), "403 Permission check failed (/storage/local, Datastore.AllocateSpace)")
	})
}

// checkVzdumpCall posts a vzdump and checks the answer; a started backup
// is waited for so the next call does not queue behind its lock.
func checkVzdumpCall(t *testing.T, srv *Server, body string, auth []rawOpt, status string) {
	t.Helper()
	r := raw(t, srv, "POST", "/nodes/pve1/vzdump", body, auth...)
	if param, ok := strings.CutPrefix(status, "400 "); ok {
		errs, _ := r.json(t)["errors"].(map[string]any)
		if r.Code != 400 || errs[param] == nil || len(errs) != 1 {
			t.Fatalf("got %q %s, want 400 on %s alone", r.Status, r.Body, param)
		}
		return
	}
	if r.Status != status {
		t.Fatalf("got %q %s, want %q", r.Status, r.Body, status)
	}
	if r.Code == 200 {
		waitTask(t, srv, upidOf(t, r))
	}
}
