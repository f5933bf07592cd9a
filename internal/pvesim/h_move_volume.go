package pvesim

import (
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
)

// TaskMoveVolume is the worker type of move_volume (pve-container
// API2/LXC.pm move_volume), for both of its modes.
const TaskMoveVolume = "move_volume"

// addMoveVolumeRoutes: POST /nodes/{node}/lxc/{vmid}/move_volume.
func addMoveVolumeRoutes(rt *router) {
	rt.add("POST", "/nodes/{node}/lxc/{vmid}/move_volume", nil, vmPerm("VM.Config.Disk"), hMoveVolume)
}

// hMoveVolume picks the mode: a storage moves the volume to another
// storage, a target-vmid hands it to a container on the same node.
func hMoveVolume(s *Server, rq *request) (any, *apiError) {
	p := rq.params
	storage, target := p["storage"], p["target-vmid"]
	switch {
	case storage != "" && target != "":
		return nil, errf("either set storage or target-vmid, but not both")
	case target != "":
		return s.reassignVolume(rq)
	case storage != "":
		return s.moveVolumeToStorage(rq)
	}
	msg := "both 'storage' and 'target-vmid' missing, either needs to be set"
	return nil, paramErr(map[string]string{"target-vmid": msg, "storage": msg})
}

// ---- move to another storage ---------------------------------------------

// storageMoveJob copies one mount point to another storage. The checks
// run under the config flock and set lock "disk"; the worker takes the
// flock again only to write the config, so a concurrent config update
// meets the lock, not a flock timeout.
type storageMoveJob struct {
	s       *Server
	node    string
	vmid    int
	key     string
	storage string
	del     bool
	// mp is the parsed mount point, oldVolid its volume at the call.
	mp       *propString
	oldVolid string
	newVol   *volume
}

func (s *Server) moveVolumeToStorage(rq *request) (any, *apiError) {
	p := rq.params
	j := &storageMoveJob{s: s, node: rq.node(), vmid: rq.vmid(), key: p["volume"], storage: p["storage"], del: boolParam(p, "delete")}
	s.mu.Lock()
	e := s.checkPerm(rq.auth, "/storage/"+j.storage, "Datastore.AllocateSpace")
	s.mu.Unlock()
	if e != nil {
		return nil, e
	}
	return s.onFlockedCT(rq, func(ct *container) (any, *apiError) {
		if e := j.check(ct, p["digest"]); e != nil {
			return nil, e
		}
		ct.setLock("disk")
		return s.forkGuestTask(j.node, TaskMoveVolume, j.vmid, rq.authID(), false, j.run).upid, nil
	})
}

// check is move_volume's $move_to_storage_checks. The caller holds s.mu.
func (j *storageMoveJob) check(ct *container, digest string) *apiError {
	if e := ct.checkLock(); e != nil {
		return e
	}
	if ct.running {
		return errf("cannot move volumes of a running container")
	}
	if _, ok := indexOf(j.key, "unused"); ok {
		return errf("cannot move volume '%s', only configured volumes can be moved to another storage", j.key)
	}
	val := ct.conf[j.key]
	if val == "" {
		return unsetVolumeError(j.key)
	}
	mp, err := parseProp(val, mpFormatLoose)
	if err != nil {
		return errf("%v", err)
	}
	j.mp, j.oldVolid = mp, mp.def
	if j.del && volumeInSnapshots(ct, j.oldVolid) {
		return errf("you can't move a volume with snapshots and delete the source")
	}
	if digest != "" && digest != ct.digest() {
		return errf("detected modified configuration - file changed by other user? Try again.")
	}
	return nil
}

// unsetVolumeError is parse_volume of a key the config lacks: the empty
// property string misses its required keys.
func unsetVolumeError(key string) *apiError {
	const missing = "property is missing and it is not optional"
	errs := map[string]string{"volume": missing}
	if key != "rootfs" {
		errs["mp"] = missing
	}
	return &apiError{status: 500, msg: "format error", errs: errs}
}

// volumeInSnapshots is is_volume_in_use_by_snapshots.
func volumeInSnapshots(ct *container, volid string) bool {
	for _, sn := range ct.snaps {
		for _, k := range diskKeys(sn.conf) {
			if diskVolid(sn.conf[k]) == volid {
				return true
			}
		}
	}
	return false
}

// run is $storage_realcmd: copy, then write the config, then free or keep
// the source; lock "disk" goes in every case.
func (j *storageMoveJob) run(tr *taskRun) error {
	var digest string
	err := tr.loadCT(j.node, j.vmid, true, func(ct *container) error {
		digest = ct.digest()
		return nil
	})
	if err == nil {
		err = j.copy(tr)
	}
	if err == nil {
		err = j.commit(tr, digest)
	}
	if err != nil {
		tr.locked(func() {
			if j.newVol != nil {
				j.s.freeVolumes([]*volume{j.newVol}, j.node)
			}
			j.s.clearLock(j.vmid, "disk")
		})
		return err
	}
	tr.locked(func() {
		switch {
		case tr.ghost:
			// A ghost task reports success having changed nothing.
			j.s.freeVolumes([]*volume{j.newVol}, j.node)
		case j.del:
			j.freeSource(tr)
		}
		j.s.clearLock(j.vmid, "disk")
	})
	return nil
}

// copy is LXC::copy_volume: allocate and format the new volume, rsync the
// files over (the work phase).
func (j *storageMoveJob) copy(tr *taskRun) error {
	var err error
	tr.locked(func() {
		if j.newVol, err = j.alloc(); err != nil {
			return
		}
		// rsync copies the files; the source keeps its own.
		if _, src := j.s.volumeOf(j.oldVolid, j.node); src != nil {
			j.newVol.files = maps.Clone(src.files)
		}
	})
	if err != nil {
		return err
	}
	v := j.newVol
	def := j.s.storageByID[j.storage]
	if def.spec.Type == "lvmthin" || def.spec.Type == "lvm" {
		tr.log("  Logical volume \"%s\" created.", v.volName())
	}
	if def.spec.Type != "zfspool" {
		tr.log("Creating filesystem with %d 4k blocks and %d inodes", v.size/4096, v.size/16384)
	}
	if err := tr.work(); err != nil {
		return err
	}
	// rsync --stats closes with these two lines (counts approx.).
	tr.log("sent %d bytes  received %d bytes  %d bytes/sec", v.size/4, 2048, v.size/8)
	tr.log("total size is %d  speedup is 1.00", v.size/4)
	return nil
}

// alloc is alloc_disk on the target storage, after copy_volume's refusal of
// bind and device mounts. The caller holds s.mu.
func (j *storageMoveJob) alloc() (*volume, error) {
	s := j.s
	if t := mountType(j.oldVolid); t != "volume" {
		return nil, fmt.Errorf("cannot copy volumes of type %s", t)
	}
	def := s.storageByID[j.storage]
	switch {
	case def == nil:
		return nil, fmt.Errorf("storage '%s' does not exist", j.storage)
	case !def.content["rootdir"] && def.spec.Type != "zfspool":
		return nil, fmt.Errorf("content type 'rootdir' is not available or configured on storage '%s'", j.storage)
	case def.spec.Disabled:
		return nil, fmt.Errorf("storage '%s' is disabled", j.storage)
	case !def.availableOn(j.node):
		return nil, fmt.Errorf("storage '%s' is not available on node '%s'", j.storage, j.node)
	}
	size, _ := parseSize(j.mp.keys["size"])
	if _, src := s.volumeOf(j.oldVolid, j.node); size == 0 && src != nil {
		size = src.size
	}
	return s.allocDisk(j.storage, j.node, j.vmid, size, "vm")
}

// mountType is LXC::Config->classify_mountpoint.
func mountType(vol string) string {
	switch {
	case strings.HasPrefix(vol, "/dev/"):
		return "device"
	case strings.HasPrefix(vol, "/"):
		return "bind"
	}
	return "volume"
}

// commit writes the moved mount point under the config flock: the config
// must be the one the worker loaded, and the old volume stays as unusedN
// unless it is to be deleted.
func (j *storageMoveJob) commit(tr *taskRun, digest string) error {
	if e := j.s.acquireFlock(j.vmid, tr.t.interrupt); e != nil {
		return e
	}
	defer j.s.releaseFlock(j.vmid)
	var err error
	tr.locked(func() {
		ct := j.s.cts[j.vmid]
		switch {
		case ct == nil:
			err = notFoundConfig(j.node, j.vmid)
			return
		case ct.digest() != digest:
			err = pveText("detected modified configuration - file changed by other user? Try again.")
			return
		case tr.ghost:
			return
		}
		if !j.del {
			if err = addUnusedVolume(ct.conf, j.oldVolid); err != nil {
				return
			}
		}
		j.placeNewVolume(tr, ct)
		ct.touch()
	})
	return err
}

// placeNewVolume points the mount point at the copy; a template's copy
// becomes a base volume first (vdisk_create_base). The caller holds s.mu.
func (j *storageMoveJob) placeNewVolume(tr *taskRun, ct *container) {
	v := j.newVol
	if st, _ := j.s.volumeOf(v.volid, j.node); ct.isTemplate() && st != nil && baseRenamed[st.def.spec.Type] {
		newID := strings.Replace(v.volid, fmt.Sprintf(":vm-%d-", j.vmid), fmt.Sprintf(":base-%d-", j.vmid), 1)
		if st.def.spec.Type == "lvmthin" {
			tr.logLocked("  Renamed \"%s\" to \"%s\" in volume group \"pve\"", v.volName(), lvName(newID))
		}
		st.remove(v.volid)
		v.volid = newID
		st.add(v)
	}
	j.mp.def = v.volid
	ct.conf[j.key] = j.mp.print(diskFormat(j.key))
}

// addUnusedVolume is AbstractConfig->add_unused_volume: the lowest free
// unusedN, nothing if the volume is listed already.
func addUnusedVolume(conf ctConf, volid string) error {
	key := ""
	for i := 255; i >= 0; i-- {
		k := "unused" + strconv.Itoa(i)
		if v, ok := conf[k]; ok {
			if v == volid {
				return nil
			}
			continue
		}
		key = k
	}
	if key == "" {
		return pveText("Too many unused volumes - please delete them first.")
	}
	conf[key] = volid
	return nil
}

// freeSource is vdisk_free of the old volume after a move with delete=1.
// The caller holds s.mu.
func (j *storageMoveJob) freeSource(tr *taskRun) {
	st, v := j.s.volumeOf(j.oldVolid, j.node)
	if v == nil {
		return
	}
	if t := st.def.spec.Type; t == "lvmthin" || t == "lvm" {
		tr.logLocked("  Logical volume \"%s\" successfully removed.", lvName(v.volid))
	}
	st.remove(v.volid)
}

// ---- reassign to another container ---------------------------------------

// reassignJob hands a mount point or unused volume to a container on the
// same node (or to another key of the same one) by renaming the volume.
// No guest lock is set: the worker holds both config flocks throughout.
type reassignJob struct {
	s                    *Server
	node                 string
	vmid, target         int
	key, targetKey       string
	digest, targetDigest string
}

func (s *Server) reassignVolume(rq *request) (any, *apiError) {
	p := rq.params
	j := &reassignJob{
		s: s, node: rq.node(), vmid: rq.vmid(), target: intParam(p, "target-vmid", 0), key: p["volume"],
		targetKey: p["target-volume"], digest: p["digest"], targetDigest: p["target-digest"],
	}
	if j.targetKey == "" {
		j.targetKey = j.key
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rq.authID() != "root@pam" {
		if e := s.checkPerm(rq.auth, "/vms/"+strconv.Itoa(j.target), "VM.Config.Disk"); e != nil {
			return nil, e
		}
	}
	volid, e := j.check()
	if e != nil {
		return nil, e
	}
	sid, _, _ := parseVolid(volid)
	if e := s.checkPerm(rq.auth, "/storage/"+sid, "Datastore.AllocateSpace"); e != nil {
		return nil, e
	}
	id := fmt.Sprintf("%d-%s>%d-%s", j.vmid, j.key, j.target, j.targetKey)
	t := s.newTask(j.node, TaskMoveVolume, id, rq.authID())
	s.runTask(t, j.run)
	return t.upid, nil
}

// check is $load_and_check_reassign_configs and returns the volume to
// move. The caller holds s.mu.
func (j *reassignJob) check() (string, *apiError) {
	if j.key == "rootfs" || j.targetKey == "rootfs" {
		return "", errf("Cannot move to/from 'rootfs'")
	}
	_, srcUnused := indexOf(j.key, "unused")
	if _, dstUnused := indexOf(j.targetKey, "unused"); srcUnused && !dstUnused {
		return "", errf("Moving an unused volume to a used one is not possible")
	}
	src, dst, e := j.loadConfigs()
	if e != nil {
		return "", e
	}
	if src.isTemplate() || dst.isTemplate() {
		return "", errf("Can't move volumes from or to template CT")
	}
	if j.digest != "" && j.digest != src.digest() {
		return "", errf("Container %d: detected modified configuration - file changed by other user? Try again.", j.vmid)
	}
	if j.targetDigest != "" && j.targetDigest != dst.digest() {
		return "", errf("Container %d: detected modified configuration - file changed by other user? Try again.", j.target)
	}
	return j.checkVolume(src, dst, srcUnused)
}

// loadConfigs finds both containers in the cluster's VM list, on one node,
// then loads and lock-checks their configs. The caller holds s.mu.
func (j *reassignJob) loadConfigs() (*container, *container, *apiError) {
	s := j.s
	_, srcNode, ok := s.vmidOwner(j.vmid)
	if !ok {
		return nil, nil, errf("could not find CT %d", j.vmid)
	}
	_, dstNode, ok := s.vmidOwner(j.target)
	if !ok {
		return nil, nil, errf("could not find CT %d", j.target)
	}
	if srcNode != dstNode {
		return nil, nil, errf("Both containers need to be on the same node (%s != %s)", srcNode, dstNode)
	}
	src, e := s.ctOn(j.node, j.vmid)
	if e == nil {
		e = src.checkLock()
	}
	if e != nil {
		return nil, nil, e
	}
	dst, e := s.ctOn(j.node, j.target)
	if e == nil {
		e = dst.checkLock()
	}
	if e != nil {
		return nil, nil, e
	}
	return src, dst, nil
}

// checkVolume: the source key must be set and the target key free; the
// volume must not be in a snapshot, its storage must rename volumes, and a
// running source keeps its mounted volumes. (PVE's bind-mount refusal
// comes after the rename test, which a path already fails.) The caller
// holds s.mu.
func (j *reassignJob) checkVolume(src, dst *container, srcUnused bool) (string, *apiError) {
	val, ok := src.conf[j.key]
	if !ok {
		return "", errf("volume '%s' for container '%d' does not exist", j.key, j.vmid)
	}
	if _, taken := dst.conf[j.targetKey]; taken {
		return "", errf("Target volume key '%s' is already in use for container '%d'", j.targetKey, j.target)
	}
	volid := diskVolid(val)
	if volumeInSnapshots(src, volid) {
		return "", errf("Cannot move volume used by a snapshot to another container")
	}
	if !j.s.canRename(volid, j.node) {
		return "", errf("Storage does not support moving of this disk to another container")
	}
	if src.running && !srcUnused {
		return "", errf("Cannot move in-use volume while the source CT is running - detach or shutdown first")
	}
	return volid, nil
}

// canRename is volume_has_feature(rename): file storages for raw, qcow2
// and vmdk images, LVM-thin and ZFS; plain LVM and paths cannot. The
// caller holds s.mu.
func (s *Server) canRename(volid, node string) bool {
	st, v := s.volumeOf(volid, node)
	if v == nil {
		return false
	}
	switch st.def.spec.Type {
	case "lvmthin", "zfspool":
		return true
	case "lvm", "rbd", "iscsi", "iscsidirect":
		return false
	}
	return storageDir(st.def) != "" && (v.format == "raw" || v.format == "qcow2" || v.format == "vmdk")
}

// run holds both config flocks (lock_config nested), checks again and
// renames the volume to the target's name.
func (j *reassignJob) run(tr *taskRun) error {
	s := j.s
	for _, vmid := range j.flockOrder() {
		if e := s.acquireFlock(vmid, tr.t.interrupt); e != nil {
			return e
		}
		defer s.releaseFlock(vmid)
	}
	var volid string
	var e *apiError
	tr.locked(func() { volid, e = j.check() })
	if e != nil {
		return e
	}
	tr.log("moving volume '%s' from container '%d' to '%d'", j.key, j.vmid, j.target)
	if err := tr.work(); err != nil {
		return err
	}
	var err error
	tr.locked(func() {
		if !tr.ghost {
			err = j.apply(tr, volid)
		}
	})
	return err
}

// flockOrder is the source's flock, then the target's unless it is the
// same container.
func (j *reassignJob) flockOrder() []int {
	if j.target == j.vmid {
		return []int{j.vmid}
	}
	return []int{j.vmid, j.target}
}

// apply renames the volume (rename_volume picks the target's next free
// disk name) and moves the key between the configs. The caller holds s.mu.
func (j *reassignJob) apply(tr *taskRun, volid string) error {
	s := j.s
	src, dst := s.cts[j.vmid], s.cts[j.target]
	if src == nil || dst == nil {
		return errors.New("container vanished during the move")
	}
	st, v := s.volumeOf(volid, j.node)
	if v == nil {
		return fmt.Errorf("volume '%s' does not exist", volid)
	}
	newID := st.def.spec.ID + ":" + diskVolName(st.def, j.target, nextDiskName(st, j.target, "vm"))
	if st.def.spec.Type == "lvmthin" {
		tr.logLocked("  Renamed \"%s\" to \"%s\" in volume group \"pve\"", v.volName(), lvName(newID))
	}
	st.remove(volid)
	v.volid, v.vmid = newID, j.target
	st.add(v)
	val := src.conf[j.key]
	delete(src.conf, j.key)
	src.touch()
	tr.logLocked("removing volume '%s' from container '%d' config", j.key, j.vmid)
	if _, unused := indexOf(j.targetKey, "unused"); unused {
		dst.conf[j.targetKey] = newID
	} else {
		ps, err := parseProp(val, mpFormatLoose)
		if err != nil {
			return err
		}
		ps.def = newID
		dst.conf[j.targetKey] = ps.print(diskFormat(j.targetKey))
	}
	dst.touch()
	tr.logLocked("target container '%d' updated with '%s'", j.target, j.targetKey)
	return nil
}
