package pvesim

import (
	"fmt"
	"sort"
	"strings"
)

// ---- clone -----------------------------------------------------------------

// cloneJob is a clone call and its vzclone worker.
type cloneJob struct {
	s       *Server
	node    string
	target  string
	vmid    int
	newid   int
	storage string
	params  map[string]string
	// full is a full copy of every disk; otherwise every disk is a linked
	// clone of the source's volume.
	full bool
	// srcConf is the source config (or snapshot) as it was at the call.
	srcConf   ctConf
	dst       *container
	allocated []*volume
}

func hLXCClone(s *Server, rq *request) (any, *apiError) {
	p := rq.params
	j := &cloneJob{
		s: s, node: rq.node(), target: p["target"], vmid: rq.vmid(), newid: intParam(p, "newid", 0),
		storage: p["storage"], params: p,
	}
	if j.target == "" {
		j.target = j.node
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.checkAllocate(rq.auth, p["pool"], j.newid); e != nil {
		return nil, e
	}
	if e := j.checkTargetAndStorage(); e != nil {
		return nil, e
	}
	src, e := s.ctOn(j.node, j.vmid)
	if e != nil {
		return nil, e
	}
	srcConf, e := j.check(src)
	if e != nil {
		return nil, e
	}
	// The source gets lock=disk and the target lock=create synchronously.
	src.setLock("disk")
	j.srcConf = srcConf.clone()
	j.dst = newContainer(j.newid, j.node, s.now())
	j.dst.conf = j.initialConf()
	s.cts[j.newid] = j.dst
	return s.forkGuestTask(j.node, TaskClone, j.vmid, rq.authID(), false, j.run).upid, nil
}

// initialConf is the config clone_vm writes for the target before it
// answers (pve-container src/PVE/API2/LXC.pm): every key of the source (or
// snapshot) but its unused volumes, snapshot keys, pending changes and the
// template flag, with new MACs, the hostname and description given (when
// not empty) and lock "create". The source's tags come along. Mount points
// are added by the worker as each volume is copied, and the config lives on
// the source's node until the worker moves it to the target at the end.
func (j *cloneJob) initialConf() ctConf {
	conf := sectionCopy(j.srcConf, "lock", "parent", "snaptime", "snapstate", "template")
	for _, k := range diskKeys(conf) {
		delete(conf, k)
	}
	j.s.newMACs(conf)
	for _, k := range []string{"hostname", "description"} {
		if v := j.params[k]; v != "" {
			conf[k] = v
		}
	}
	conf["lock"] = "create"
	return conf
}

// checkTargetAndStorage are clone_vm's checks before it locks anything: the
// target node must exist, and an explicit storage must be usable here and,
// for another node, usable and shared there. All are plain dies (500).
func (j *cloneJob) checkTargetAndStorage() *apiError {
	s := j.s
	if s.nodes[j.target] == nil {
		return errf("no such cluster node '%s'", j.target)
	}
	if j.storage == "" {
		return nil
	}
	nodes := []string{j.node}
	if j.target != j.node {
		nodes = append(nodes, j.target)
	}
	def := s.storageByID[j.storage]
	for _, n := range nodes {
		switch {
		case def == nil:
			return errf("storage '%s' does not exist", j.storage)
		case def.spec.Disabled:
			return errf("storage '%s' is disabled", j.storage)
		case !def.availableOn(n):
			return errf("storage '%s' is not available on node '%s'", j.storage, n)
		}
	}
	if j.target != j.node && !def.spec.Shared {
		return errf("can't clone to non-shared storage '%s'", j.storage)
	}
	return nil
}

// check validates the clone of src in clone_vm's order and returns the
// config section to copy. The caller holds s.mu.
func (j *cloneJob) check(src *container) (ctConf, *apiError) {
	s, p := j.s, j.params
	if e := src.checkLock(); e != nil {
		return nil, e
	}
	if e := s.checkVMIDUnused(j.newid); e != nil {
		return nil, e
	}
	// full defaults to a linked clone for templates and a copy otherwise;
	// an explicit full=0 asks for a linked clone even of a normal CT, which
	// the storage then decides (lvmthin allows it from a snapshot).
	j.full = !src.isTemplate()
	if v, ok := p["full"]; ok {
		j.full = v == "1"
	}
	if !j.full && j.storage != "" {
		return nil, errf("parameter 'storage' not allowed for linked clones")
	}
	srcConf := src.conf
	snapname := p["snapname"]
	if snapname != "" {
		sn := src.snaps[snapname]
		if sn == nil {
			return nil, errf("snapshot '%s' does not exist", snapname)
		}
		srcConf = sn.conf
	}
	if e := j.checkDisks(srcConf, snapname, src.running); e != nil {
		return nil, e
	}
	return srcConf, j.checkStorages(srcConf)
}

// checkDisks is clone_vm's walk over the mount points, in sorted key order
// (mp0 before rootfs): bind and device mounts cannot be cloned, a full copy
// of a running CT needs a snapshot, and a linked clone needs the storage's
// 'clone' feature for that volume (pve-storage's volume_has_feature).
func (j *cloneJob) checkDisks(conf ctConf, snapname string, running bool) *apiError {
	keys := diskKeys(conf)
	sort.Strings(keys)
	for _, k := range keys {
		volid := diskVolid(conf[k])
		if _, _, ok := parseVolid(volid); !ok {
			typ := "bind"
			if strings.HasPrefix(volid, "/dev/") {
				typ = "device"
			}
			return errf("unable to clone mountpoint '%s' (type %s)", k, typ)
		}
		if j.full {
			if running && snapname == "" {
				return errf("Full clone of a running container is only possible from a snapshot")
			}
			continue
		}
		if !j.s.volumeHasFeature("clone", volid, snapname, j.node) {
			return errf("Linked clone feature for '%s' is not available", volid)
		}
	}
	return nil
}

// dstStorage is where a disk on storage sid is cloned to.
func (j *cloneJob) dstStorage(sid string) string {
	if j.storage != "" {
		return j.storage
	}
	return sid
}

// checkStorages: each disk's target storage must exist and take container
// directories on the target; a clone to another node needs every disk on
// shared storage (clone_vm's "CT uses local storage").
func (j *cloneJob) checkStorages(srcConf ctConf) *apiError {
	shared := true
	for _, k := range diskKeys(srcConf) {
		sid, _, _ := parseVolid(diskVolid(srcConf[k]))
		dst := j.dstStorage(sid)
		def := j.s.storageByID[dst]
		if def == nil {
			return errf("storage '%s' does not exist", dst)
		}
		shared = shared && def.spec.Shared
		if e := j.s.checkRootdirStorage(dst, j.target); e != nil {
			return e
		}
	}
	if j.target != j.node && !shared {
		return errf("can't clone CT to node '%s' (CT uses local storage)", j.target)
	}
	return nil
}

func (j *cloneJob) run(tr *taskRun) error {
	var allocErr error
	tr.locked(func() { allocErr = j.allocate(tr, j.dst.conf) })
	if allocErr != nil {
		tr.locked(j.rollback)
		return fmt.Errorf("clone failed: %w", allocErr)
	}
	return tr.commit(j.rollback, j.finish)
}

// allocate makes the copies or linked clones of the source's disks into
// conf, the target's config. The caller holds s.mu.
func (j *cloneJob) allocate(tr *taskRun, conf ctConf) error {
	for _, k := range diskKeys(j.srcConf) {
		val := j.srcConf[k]
		volid := diskVolid(val)
		sid, _, _ := parseVolid(volid)
		var v *volume
		var err error
		if j.full {
			tr.logLocked("create full clone of mountpoint %s (%s)", k, volid)
			v, err = j.s.allocDisk(j.dstStorage(sid), j.target, j.newid, diskSize(val), "vm")
		} else {
			tr.logLocked("create linked clone of mount point %s (%s)", k, volid)
			v, err = j.s.linkedClone(volid, j.node, j.newid, j.params["snapname"])
		}
		if err != nil {
			return err
		}
		j.allocated = append(j.allocated, v)
		ps, _ := parseProp(val, mpFormatLoose)
		ps.def = v.volid
		conf[k] = ps.print(diskFormat(k))
	}
	return nil
}

// linkedClone is pve-storage's vdisk_clone: a new vm-<newid>-disk-N volume
// sharing the source's blocks. ZFS and RBD name it after its base
// ("base-100-disk-0/vm-101-disk-0"; RBD not when cloning a snapshot),
// LVM-thin does not. The caller holds s.mu.
func (s *Server) linkedClone(volid, node string, newid int, snapname string) (*volume, error) {
	st, src := s.volumeOf(volid, node)
	if st == nil || src == nil {
		return nil, fmt.Errorf("no such volume '%s'", volid)
	}
	name := nextDiskName(st, newid, "vm")
	switch typ := st.def.spec.Type; {
	case typ == "zfspool", typ == "rbd" && snapname == "":
		name = src.volName() + "/" + name
	}
	v := &volume{
		volid: st.def.spec.ID + ":" + name, content: src.content, format: src.format, size: src.size,
		ctime: s.now().Unix(), vmid: newid, linkedTo: src.volid,
	}
	st.add(v)
	return v, nil
}

// rollback frees the copies and the target VMID and unlocks the source.
// The caller holds s.mu.
func (j *cloneJob) rollback() {
	s := j.s
	s.freeVolumes(j.allocated, j.target)
	if c := s.cts[j.newid]; c == j.dst {
		delete(s.cts, j.newid)
	}
	s.clearLock(j.vmid, "disk")
}

// finish adds the target to its pool, unlocks both and moves the
// target's config to the target node, in clone_vm's order. The caller
// holds s.mu.
func (j *cloneJob) finish() {
	s := j.s
	if pool := j.params["pool"]; pool != "" {
		s.poolMembers[j.newid] = pool
	}
	s.clearLock(j.vmid, "disk")
	j.dst.setLock("")
	j.dst.node = j.target
	j.dst.touch()
}

// ---- migrate ---------------------------------------------------------------

// migrateJob is a migrate call and its vzmigrate worker.
type migrateJob struct {
	s      *Server
	ct     *container
	node   string
	target *node
}

func hLXCMigrate(s *Server, rq *request) (any, *apiError) {
	p := rq.params
	node, vmid := rq.node(), rq.vmid()
	target := p["target"]
	if target == node {
		return nil, paramErr1("target", "target is local node.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tn := s.nodes[target]
	if tn == nil {
		return nil, paramErr1("target", fmt.Sprintf("no such cluster node '%s'", target))
	}
	if !tn.online {
		return nil, errf("target node '%s' is not online", target)
	}
	ct, e := s.ctOn(node, vmid)
	if e != nil {
		return nil, e
	}
	if ct.running {
		if boolParam(p, "online") {
			return nil, errf("lxc live migration is currently not implemented")
		}
		if !boolParam(p, "restart") {
			return nil, errf("can't migrate running container without --online or --restart")
		}
	}
	j := &migrateJob{s: s, ct: ct, node: node, target: tn}
	if s.haManaged(vmid) {
		// migrate_vm hands an HA-managed CT to HA (see h_ha_manager.go).
		return s.forkGuestTask(node, TaskHAMigrate, vmid, rq.authID(), false, j.requestHA).upid, nil
	}
	return s.forkGuestTask(node, TaskMigrate, vmid, rq.authID(), false, j.run).upid, nil
}

// run locks the CT, stops it if it runs (restart mode), moves it and starts
// it again on the target. A ghost migration keeps the CT where it is but
// still restarts it.
func (j *migrateJob) run(tr *taskRun) error {
	ct, vmid, target := j.ct, j.ct.vmid, j.target.name
	var lockErr error
	wasRunning := false
	tr.locked(func() {
		if e := ct.checkLock(); e != nil {
			lockErr = e
			return
		}
		// prepare's and phase1's refusals (h_lxc_migrate.go) come before
		// anything is locked or stopped.
		var warnings []string
		if warnings, lockErr = j.s.migrationRefusal(ct, target); lockErr != nil {
			for _, w := range warnings {
				tr.logLocked("%s", w)
			}
			return
		}
		ct.setLock("migrate")
		wasRunning = ct.running
	})
	if lockErr != nil {
		return lockErr
	}
	tr.log("starting migration of CT %d to node '%s' (%s)", vmid, target, j.target.ip)
	if wasRunning {
		tr.log("shutdown CT %d", vmid)
		tr.locked(func() { ct.running = false })
	}
	if err := tr.work(); err != nil {
		tr.locked(func() {
			ct.setLock("")
			if wasRunning {
				ct.running = true
			}
		})
		return err
	}
	tr.locked(func() {
		if !tr.ghost {
			j.move()
		}
		ct.setLock("")
	})
	tr.log("migration finished successfully (duration 00:00:01)")
	if wasRunning {
		tr.locked(func() {
			ct.running = true
			ct.startedAt = j.s.now()
			ct.pid = 10000 + j.s.randIntn(50000)
		})
		tr.log("start final cleanup")
	}
	return nil
}

// move hands the CT to the target; local volumes move with it to the same
// storage there. The caller holds s.mu.
func (j *migrateJob) move() {
	s, ct := j.s, j.ct
	for _, k := range diskKeys(ct.conf) {
		volid := diskVolid(ct.conf[k])
		st, v := s.volumeOf(volid, j.node)
		if v == nil || st.def.spec.Shared {
			continue
		}
		if dst := s.storeFor(st.def.spec.ID, j.target.name); dst != nil {
			st.remove(volid)
			dst.add(v)
		}
	}
	ct.node = j.target.name
}
