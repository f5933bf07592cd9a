package pvesim

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// ctOn finds the CT on the request's node; elsewhere or nowhere is PVE's
// config-file-not-found 500. The caller holds s.mu.
func (s *Server) ctOn(node string, vmid int) (*container, *apiError) {
	ct := s.cts[vmid]
	if ct == nil || ct.node != node {
		return nil, notFoundConfig(node, vmid)
	}
	return ct, nil
}

// locked runs f under s.mu and marks state as changed.
func (tr *taskRun) locked(f func()) {
	tr.s.mu.Lock()
	defer tr.s.mu.Unlock()
	f()
	tr.s.bumpVersion()
}

func hLXCList(s *Server, rq *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	vmids := []int{}
	for id, ct := range s.cts {
		if ct.node == rq.node() && s.hasPriv(rq.auth, "/vms/"+strconv.Itoa(id), "VM.Audit") {
			vmids = append(vmids, id)
		}
	}
	sort.Ints(vmids)
	out := make([]map[string]any, 0, len(vmids))
	for _, id := range vmids {
		out = append(out, s.lxcListEntry(s.cts[id], now))
	}
	return out, nil
}

// ---- disks in create/restore/clone ---------------------------------------

var reBareSize = regexp.MustCompile(`^\d+(\.\d+)?$`)

var reAllocSpec = regexp.MustCompile(`^(?i)([a-z][a-z0-9\-_.]*[a-z0-9]):(\d+(?:\.\d+)?)$`)

// diskRequest is one rootfs/mpN parameter: either "storage:sizeGiB" (allocate)
// or an existing volume / bind mount.
type diskRequest struct {
	key     string
	ps      *propString
	storage string
	size    uint64
	alloc   bool
}

func parseDiskRequest(key, val string) (*diskRequest, error) {
	f := rootfsFormat
	if key != "rootfs" {
		f = mpFormat
	}
	ps, err := parseProp(val, f)
	if err != nil {
		return nil, err
	}
	dr := &diskRequest{key: key, ps: ps}
	if m := reAllocSpec.FindStringSubmatch(ps.def); m != nil {
		gib, _ := strconv.ParseFloat(m[2], 64)
		dr.alloc = true
		dr.storage = m[1]
		dr.size = uint64(gib * float64(GiB))
	} else if sid, _, ok := parseVolid(ps.def); ok {
		dr.storage = sid
		dr.size, _ = parseSize(ps.keys["size"])
	}
	return dr, nil
}

// checkRootdirStorage is create_vm's $check_and_activate_storage.
func (s *Server) checkRootdirStorage(sid, node string) *apiError {
	def := s.storageByID[sid]
	if def == nil {
		return errf("storage '%s' does not exist", sid)
	}
	if !def.availableOn(node) {
		return errf("storage '%s' is not available on node '%s'", sid, node)
	}
	if def.spec.Disabled {
		return errf("storage '%s' is disabled", sid)
	}
	if !def.content["rootdir"] {
		return paramErr1("storage", fmt.Sprintf("storage '%s' does not support container directories", sid))
	}
	return nil
}

// volType returns the content type encoded in a volume name.
func volType(name string) string {
	for _, t := range []string{"vztmpl", "backup", "iso", "snippets", "import"} {
		if strings.HasPrefix(name, t+"/") {
			return t
		}
	}
	return "images"
}

// normalizeNet parses netN, fills hwaddr (BC:24:11 prefix) and type=veth,
// and prints it in PVE's canonical order.
func (s *Server) normalizeNet(val, oldVal string) (string, error) {
	ps, err := parseProp(val, netFormat)
	if err != nil {
		return "", err
	}
	if ps.keys["hwaddr"] == "" {
		if old, err := parseProp(oldVal, netFormat); err == nil && old.keys["hwaddr"] != "" {
			ps.keys["hwaddr"] = old.keys["hwaddr"]
		} else {
			ps.keys["hwaddr"] = s.genMAC()
		}
	}
	ps.keys["type"] = "veth"
	return ps.print(netFormat), nil
}

// rootOnlyCheck mirrors check_ct_modify_config_perm's root@pam-only rules.
// API tokens — even root@pam's — are not root@pam there.
func rootOnlyCheck(authID string, key, newVal, oldVal string, unprivileged bool) *apiError {
	if authID == "root@pam" {
		return nil
	}
	switch {
	case key == "features":
		if !unprivileged {
			return permErr("changing feature flags for privileged container is only allowed for root@pam")
		}
		newF, _ := parseProp(newVal, featuresFormat)
		oldF, _ := parseProp(oldVal, featuresFormat)
		get := func(ps *propString, k string) string {
			if ps == nil {
				return ""
			}
			return ps.keys[k]
		}
		keys := map[string]bool{}
		for _, ps := range []*propString{newF, oldF} {
			if ps != nil {
				for k := range ps.keys {
					keys[k] = true
				}
			}
		}
		for k := range keys {
			if k != "nesting" && get(newF, k) != get(oldF, k) {
				return permErr("changing feature flags (except nesting) is only allowed for root@pam")
			}
		}
	case key == "hookscript":
		return permErr("changing the hookscript is only allowed for root@pam")
	case strings.HasPrefix(key, "dev"):
		return permErr("configuring device passthrough is only allowed for root@pam")
	case key == "rootfs" || strings.HasPrefix(key, "mp"):
		if v := diskVolid(newVal); strings.HasPrefix(v, "/dev/") {
			return permErr("mount point type device is only allowed for root@pam")
		} else if strings.HasPrefix(v, "/") {
			return permErr("mount point type bind is only allowed for root@pam")
		}
	}
	return nil
}

// configPrivilege maps an option to the VM.Config.* privilege it needs.
func configPrivilege(key string) string {
	switch {
	case key == "memory" || key == "swap":
		return "VM.Config.Memory"
	case key == "cores" || key == "cpulimit" || key == "cpuunits":
		return "VM.Config.CPU"
	case strings.HasPrefix(key, "net"):
		return "VM.Config.Network"
	case key == "rootfs" || strings.HasPrefix(key, "mp") || strings.HasPrefix(key, "unused"):
		return "VM.Config.Disk"
	}
	return "VM.Config.Options"
}

// createOnlyParams are create parameters that are not config options.
var createOnlyParams = map[string]bool{
	"vmid": true, "node": true, "ostemplate": true, "storage": true, "password": true,
	"ssh-public-keys": true, "pool": true, "start": true, "force": true, "restore": true,
	"unique": true, "ignore-unpack-errors": true, "bwlimit": true, "ha-managed": true,
}

var reSSHKeyLine = regexp.MustCompile(`^(ssh-(rsa|dss|ed25519)|ecdsa-sha2-nistp\d+|sk-[a-z0-9\-@.]+)\s+[A-Za-z0-9+/=]+(\s.*)?$`)

func validateSSHKeys(keys string) *apiError {
	for _, l := range strings.Split(keys, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if !reSSHKeyLine.MatchString(l) {
			return errf("SSH public key validation error")
		}
	}
	return nil
}

// ---- create / restore -----------------------------------------------------

func hLXCCreate(s *Server, rq *request) (any, *apiError) {
	p := rq.params
	node := rq.node()
	vmid := intParam(p, "vmid", 0)
	restore := boolParam(p, "restore")
	force := boolParam(p, "force")
	ostemplate := p["ostemplate"]
	storage := p["storage"]
	if storage == "" {
		storage = "local"
	}
	emsg := fmt.Sprintf("unable to create CT %d -", vmid)
	if restore {
		emsg = fmt.Sprintf("unable to restore CT %d -", vmid)
	}

	s.mu.Lock()
	if pool := p["pool"]; pool != "" {
		if !s.pools[pool] {
			s.mu.Unlock()
			return nil, permErr(fmt.Sprintf("pool '%s' does not exist", pool))
		}
		if e := s.checkPerm(rq.auth, "/pool/"+pool, "VM.Allocate"); e != nil {
			s.mu.Unlock()
			return nil, e
		}
	} else if e := s.checkPerm(rq.auth, "/vms/"+strconv.Itoa(vmid), "VM.Allocate"); e != nil {
		s.mu.Unlock()
		return nil, e
	}
	// check_vmid_unused comes before any storage or template check.
	if existing := s.cts[vmid]; existing == nil || !(restore && force && existing.node == node) {
		if e := s.checkVMIDUnused(vmid); e != nil {
			s.mu.Unlock()
			return nil, e
		}
	}
	s.mu.Unlock()

	_, volName, ok := parseVolid(ostemplate)
	if !ok {
		return nil, errf("unable to parse volume ID '%s'", ostemplate)
	}
	vtype := volType(volName)
	if !restore && vtype != "vztmpl" {
		return nil, errf("unable to use volume %s - content type needs to be 'vztmpl'", ostemplate)
	}
	if restore && vtype != "backup" {
		return nil, errf("unable to use volume %s - content type needs to be 'backup'", ostemplate)
	}
	if keys := p["ssh-public-keys"]; keys != "" {
		if e := validateSSHKeys(keys); e != nil {
			return nil, e
		}
	}

	// The rootfs default depends on the storage parameter; every disk's
	// storage must exist and allow container directories.
	disks := map[string]*diskRequest{}
	hasMP := false
	for k := range p {
		if _, ok := indexOf(k, "mp"); ok {
			hasMP = true
		}
	}
	if _, ok := p["rootfs"]; !ok && hasMP {
		return nil, errf("mount points configured, but 'rootfs' not set - aborting")
	}
	if _, ok := p["rootfs"]; !ok && !restore {
		p["rootfs"] = storage + ":4"
	}
	for _, k := range sortedKeys(p) {
		if k != "rootfs" && !strings.HasPrefix(k, "mp") {
			continue
		}
		if _, ok := indexOf(k, "mp"); k != "rootfs" && !ok {
			continue
		}
		// A bare number means GiB on the default storage.
		val := p[k]
		if head, rest, _ := strings.Cut(val, ","); reBareSize.MatchString(head) {
			val = storage + ":" + head
			if rest != "" {
				val += "," + rest
			}
			p[k] = val
		}
		dr, err := parseDiskRequest(k, val)
		if err != nil {
			return nil, paramErr1(k, "invalid format - "+err.Error())
		}
		disks[k] = dr
	}
	s.mu.Lock()
	for _, dr := range disks {
		if dr.storage != "" {
			if e := s.checkRootdirStorage(dr.storage, node); e != nil {
				s.mu.Unlock()
				return nil, e
			}
		}
	}
	if restore && disks["rootfs"] == nil {
		if e := s.checkRootdirStorage(storage, node); e != nil {
			s.mu.Unlock()
			return nil, e
		}
	}
	unprivileged := p["unprivileged"] != "0"
	for k, v := range p {
		if createOnlyParams[k] {
			continue
		}
		if e := rootOnlyCheck(rq.authID(), k, v, "", unprivileged); e != nil {
			s.mu.Unlock()
			return nil, e
		}
		if e := s.checkPerm(rq.auth, "/vms/"+strconv.Itoa(vmid), configPrivilege(k)); e != nil {
			s.mu.Unlock()
			return nil, e
		}
	}
	for _, dr := range disks {
		if dr.alloc {
			if e := s.checkPerm(rq.auth, "/storage/"+dr.storage, "Datastore.AllocateSpace"); e != nil {
				s.mu.Unlock()
				return nil, e
			}
		}
	}
	s.mu.Unlock()

	if e := s.acquireFlock(vmid, rq.r.Context().Done()); e != nil {
		return nil, &apiError{status: http.StatusInternalServerError, msg: emsg + " " + e.msg}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	existing := s.cts[vmid]
	var oldConf ctConf
	if existing != nil && restore && force && existing.node == node {
		if existing.running {
			s.releaseFlockLocked(vmid)
			return nil, errf("can't overwrite running container")
		}
		if existing.conf["protection"] == "1" {
			s.releaseFlockLocked(vmid)
			return nil, errf("unable to restore CT %d - protection mode enabled", vmid)
		}
		if e := existing.checkLock(); e != nil {
			s.releaseFlockLocked(vmid)
			return nil, errf("%s %s", emsg, e.msg)
		}
		oldConf = existing.conf.clone()
		existing.setLock("create")
	} else {
		if e := s.checkVMIDUnused(vmid); e != nil {
			s.releaseFlockLocked(vmid)
			return nil, e
		}
		// create_and_lock_config: the CT exists, stopped, with lock=create
		// before the worker is forked.
		ct := newContainer(vmid, node, s.now())
		ct.conf["lock"] = "create"
		s.cts[vmid] = ct
	}
	typ := TaskCreate
	if restore {
		typ = TaskRestore
	}
	t := s.newTask(node, typ, vmidString(vmid), rq.authID())
	t.holdFlock(vmid)
	job := &createJob{
		s: s, node: node, vmid: vmid, restore: restore, params: p, disks: disks,
		storage: storage, ostemplate: ostemplate, oldConf: oldConf, emsg: emsg, authID: rq.authID(),
	}
	s.runTask(t, job.run)
	return t.upid, nil
}

// createJob is the vzcreate / vzrestore worker.
type createJob struct {
	s          *Server
	node       string
	vmid       int
	restore    bool
	params     map[string]string
	disks      map[string]*diskRequest
	storage    string
	ostemplate string
	oldConf    ctConf
	emsg       string
	authID     string
	allocated  []*volume
}

// echoPassword fills the {password} placeholder of an injected failure
// with the request's password (see TaskFault.ExitStatus).
func (j *createJob) echoPassword(err error) error {
	var f injectedFailure
	if !errors.As(err, &f) {
		return err
	}
	return injectedFailure(strings.ReplaceAll(string(f), PasswordPlaceholder, j.params["password"]))
}

func (j *createJob) fail(err error) error {
	return fmt.Errorf("%s %v", j.emsg, err)
}

func (j *createJob) run(tr *taskRun) error {
	s := j.s
	var srcVol *volume
	tr.locked(func() { _, srcVol = s.volumeOf(j.ostemplate, j.node) })
	if srcVol == nil {
		j.rollback(tr)
		return j.fail(fmt.Errorf("volume '%s' does not exist", j.ostemplate))
	}
	conf := ctConf{}
	if j.restore {
		tr.log("recovering backed-up configuration from '%s'", j.ostemplate)
		conf = srcVol.backupConf.clone()
		for _, k := range []string{"lock", "digest", "parent", "snapstate", "snaptime"} {
			delete(conf, k)
		}
		// Disk sizes come from the backup; disks go to the given storage.
		for _, k := range diskKeys(conf) {
			if j.disks[k] != nil {
				continue
			}
			ps, err := parseProp(conf[k], mpFormatLoose)
			if err != nil {
				continue
			}
			size, _ := parseSize(ps.keys["size"])
			if size == 0 {
				size = 4 * GiB
			}
			j.disks[k] = &diskRequest{key: k, ps: ps, storage: j.storage, size: size, alloc: true}
		}
	}
	var allocErr error
	tr.locked(func() {
		if j.oldConf != nil {
			if ct := s.cts[j.vmid]; ct != nil {
				s.freeDisks(ct)
			}
		}
		for _, k := range diskKeys(j.disks) {
			dr := j.disks[k]
			if !dr.alloc {
				conf[k] = dr.ps.print(mpFormatLoose)
				continue
			}
			v, err := s.allocDisk(dr.storage, j.node, j.vmid, dr.size, "vm")
			if err != nil {
				allocErr = err
				return
			}
			j.allocated = append(j.allocated, v)
			ps := &propString{def: v.volid, keys: map[string]string{}}
			for kk, vv := range dr.ps.keys {
				ps.keys[kk] = vv
			}
			ps.keys["size"] = formatSize(dr.size)
			f := rootfsFormat
			if k != "rootfs" {
				f = mpFormat
			}
			conf[k] = ps.print(f)
		}
	})
	if allocErr != nil {
		j.rollback(tr)
		return j.fail(allocErr)
	}
	for _, v := range j.allocated {
		if strings.Contains(v.volid, "local-lvm") || !strings.Contains(v.volid, "/") {
			tr.log("  Logical volume \"%s\" created.", v.volName())
		}
		tr.log("Creating filesystem with %d 4k blocks and %d inodes", v.size/4096, v.size/16384)
	}
	if j.restore {
		tr.log("restoring '%s' now..", j.ostemplate)
		tr.log("extracting archive '%s'", j.archivePath(srcVol))
	} else {
		tr.log("extracting archive '%s'", j.archivePath(srcVol))
	}
	if err := tr.work(); err != nil {
		// Interrupts and injected task faults carry their exit status as is.
		j.rollback(tr)
		return j.echoPassword(err)
	}
	tr.log("Total bytes read: %d (%dMiB, 187MiB/s)", srcVol.size*4, srcVol.size*4/(1<<20))
	if tr.ghost {
		j.rollback(tr)
		return nil
	}
	p := j.params
	tr.locked(func() {
		ct := s.cts[j.vmid]
		if ct == nil {
			return
		}
		if !j.restore {
			conf["arch"] = "amd64"
			conf["ostype"] = osTypeFromTemplate(j.ostemplate)
			conf["unprivileged"] = "1"
		} else {
			tr.logLocked("merging backed-up and given configuration..")
		}
		for k, v := range p {
			if createOnlyParams[k] || k == "rootfs" || strings.HasPrefix(k, "mp") {
				continue
			}
			if _, ok := isIndexedOption(k); ok && strings.HasPrefix(k, "net") {
				nv, err := s.normalizeNet(v, "")
				if err == nil {
					v = nv
				}
			}
			if k == "tags" {
				v = normalizeTags(v)
			}
			conf[k] = v
		}
		if j.restore && boolParam(p, "unique") {
			for k, v := range conf {
				if strings.HasPrefix(k, "net") {
					if ps, err := parseProp(v, netFormat); err == nil {
						ps.keys["hwaddr"] = s.genMAC()
						conf[k] = ps.print(netFormat)
					}
				}
			}
		}
		for k, v := range conf {
			if strings.HasPrefix(k, "net") {
				if nv, err := s.normalizeNet(v, ""); err == nil {
					conf[k] = nv
				}
			}
		}
		if conf["hostname"] == "" {
			conf["hostname"] = fmt.Sprintf("CT%d", j.vmid)
		}
		if conf["memory"] == "" {
			conf["memory"] = "512"
		}
		if conf["swap"] == "" {
			conf["swap"] = "512"
		}
		ct.conf = conf
		ct.pending = ctConf{}
		ct.pendingDel = nil
		ct.snaps = map[string]*snapshot{}
		ct.touch()
		if pool := p["pool"]; pool != "" {
			s.poolMembers[j.vmid] = pool
		}
	})
	if !j.restore {
		tr.log("Detected container architecture: amd64")
		tr.log("Creating SSH host key 'ssh_host_ed25519_key' - this may take some time ...")
		tr.log("done: SHA256:%s root@%s", "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5", conf["hostname"])
	}
	if boolParam(p, "start") {
		s.spawnStart(j.node, j.vmid, j.authID, tr.t)
	}
	return nil
}

func (j *createJob) archivePath(v *volume) string {
	def := j.s.storageByID[strings.SplitN(v.volid, ":", 2)[0]]
	base := "/var/lib/vz"
	if def != nil && def.spec.Path != "" {
		base = def.spec.Path
	}
	name := v.volName()
	if strings.HasPrefix(name, "vztmpl/") {
		return base + "/template/cache/" + strings.TrimPrefix(name, "vztmpl/")
	}
	return base + "/dump/" + strings.TrimPrefix(name, "backup/")
}

// rollback removes the half-created CT and frees its VMID and volumes.
func (j *createJob) rollback(tr *taskRun) {
	s := j.s
	tr.locked(func() {
		for _, v := range j.allocated {
			if st, vol := s.volumeOf(v.volid, j.node); vol != nil {
				st.remove(v.volid)
			}
		}
		if ct := s.cts[j.vmid]; ct != nil && ct.lock() == "create" {
			if j.oldConf != nil {
				s.freeDisks(ct)
			}
			delete(s.cts, j.vmid)
		}
	})
}

// spawnStart is vm_start called from inside another worker (create with
// start=1, rollback with start=1): a separate vzstart task. PVE's flock is
// reentrant within the worker and inherited by the forked vzstart, so a
// parent holding the flock hands it over instead of waiting for itself.
func (s *Server) spawnStart(node string, vmid int, authID string, parent *task) {
	s.mu.Lock()
	inherited := parent != nil && parent.hasFlock && parent.flockVMID == vmid
	if inherited {
		parent.hasFlock = false
	}
	s.mu.Unlock()
	if !inherited {
		if e := s.acquireFlock(vmid, nil); e != nil {
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ct := s.cts[vmid]
	if ct == nil || ct.running {
		s.releaseFlockLocked(vmid)
		return
	}
	t := s.newTask(node, TaskStart, vmidString(vmid), authID)
	t.holdFlock(vmid)
	s.runTask(t, func(tr *taskRun) error { return s.startWorker(tr, node, vmid, false) })
}

// ---- delete ----------------------------------------------------------------

func hLXCDelete(s *Server, rq *request) (any, *apiError) {
	node, vmid := rq.node(), rq.vmid()
	force := boolParam(rq.params, "force")
	purge := boolParam(rq.params, "purge")
	s.mu.Lock()
	ct, e := s.ctOn(node, vmid)
	if e != nil {
		s.mu.Unlock()
		return nil, e
	}
	s.mu.Unlock()
	if e := s.acquireFlock(vmid, rq.r.Context().Done()); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fail := func(e *apiError) (any, *apiError) {
		s.releaseFlockLocked(vmid)
		return nil, e
	}
	if ct, e = s.ctOn(node, vmid); e != nil {
		return fail(e)
	}
	if ct.conf["protection"] == "1" {
		return fail(errf("can't remove CT %d - protection mode enabled", vmid))
	}
	if e := ct.checkLock(); e != nil {
		return fail(e)
	}
	if ct.running && !force {
		return fail(errf("unable to destroy CT %d - container is running", vmid))
	}
	ct.setLock("destroyed")
	wasRunning := ct.running
	t := s.newTask(node, TaskDestroy, vmidString(vmid), rq.authID())
	t.holdFlock(vmid)
	s.runTask(t, func(tr *taskRun) error {
		if wasRunning {
			tr.log("stopping container %d", vmid)
		}
		if err := tr.work(); err != nil {
			tr.locked(func() { ct.setLock("") })
			return err
		}
		if tr.ghost {
			tr.locked(func() { ct.setLock("") })
			return nil
		}
		tr.locked(func() {
			for _, k := range diskKeys(ct.conf) {
				if v := diskVolid(ct.conf[k]); !strings.HasPrefix(v, "/") {
					tr.t.lines = append(tr.t.lines, fmt.Sprintf("  Logical volume \"%s\" successfully removed.", strings.SplitN(v, ":", 2)[len(strings.SplitN(v, ":", 2))-1]))
				}
			}
			s.freeDisks(ct)
			ct.running = false
			delete(s.cts, vmid)
			if purge {
				delete(s.poolMembers, vmid)
				tr.t.lines = append(tr.t.lines, fmt.Sprintf("purging CT %d from related configurations..", vmid))
			}
		})
		return nil
	})
	return t.upid, nil
}

// ---- clone -----------------------------------------------------------------

func hLXCClone(s *Server, rq *request) (any, *apiError) {
	p := rq.params
	node, vmid := rq.node(), rq.vmid()
	newid := intParam(p, "newid", 0)
	target := p["target"]
	if target == "" {
		target = node
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if pool := p["pool"]; pool != "" {
		if !s.pools[pool] {
			return nil, permErr(fmt.Sprintf("pool '%s' does not exist", pool))
		}
		if e := s.checkPerm(rq.auth, "/pool/"+pool, "VM.Allocate"); e != nil {
			return nil, e
		}
	} else if e := s.checkPerm(rq.auth, "/vms/"+strconv.Itoa(newid), "VM.Allocate"); e != nil {
		return nil, e
	}
	src, e := s.ctOn(node, vmid)
	if e != nil {
		return nil, e
	}
	if e := src.checkLock(); e != nil {
		return nil, e
	}
	if e := s.checkVMIDUnused(newid); e != nil {
		return nil, e
	}
	if tn := s.nodes[target]; tn == nil {
		return nil, paramErr1("target", fmt.Sprintf("no such cluster node '%s'", target))
	}
	snapname := p["snapname"]
	srcConf := src.conf
	if snapname != "" {
		sn := src.snaps[snapname]
		if sn == nil {
			return nil, errf("snapshot '%s' does not exist", snapname)
		}
		srcConf = sn.conf
	}
	isTemplate := src.isTemplate()
	full := !isTemplate
	if v, ok := p["full"]; ok {
		full = v == "1"
		if !full && !isTemplate {
			return nil, errf("linked clone feature for '%s' is not available", "rootfs")
		}
	}
	if !full && p["storage"] != "" {
		return nil, paramErr1("storage", "parameter 'storage' not allowed for linked clones")
	}
	storage := p["storage"]
	for _, k := range diskKeys(srcConf) {
		sid, _, _ := parseVolid(diskVolid(srcConf[k]))
		dst := sid
		if storage != "" {
			dst = storage
		}
		def := s.storageByID[dst]
		if def == nil {
			return nil, errf("storage '%s' does not exist", dst)
		}
		if target != node && !def.spec.Shared {
			return nil, errf("can't clone to non-shared storage '%s'", dst)
		}
		if e := s.checkRootdirStorage(dst, target); e != nil {
			return nil, e
		}
	}
	// The source gets lock=disk and the target lock=create synchronously.
	src.setLock("disk")
	dst := newContainer(newid, target, s.now())
	dst.conf["lock"] = "create"
	s.cts[newid] = dst
	t := s.newTask(node, TaskClone, vmidString(vmid), rq.authID())
	srcSnapshot := srcConf.clone()
	s.runTask(t, func(tr *taskRun) error {
		var allocated []*volume
		rollback := func() {
			tr.locked(func() {
				for _, v := range allocated {
					if st, vol := s.volumeOf(v.volid, target); vol != nil {
						st.remove(v.volid)
					}
				}
				if c := s.cts[newid]; c == dst {
					delete(s.cts, newid)
				}
				if c := s.cts[vmid]; c != nil && c.lock() == "disk" {
					c.setLock("")
				}
			})
		}
		conf := ctConf{}
		for k, v := range srcSnapshot {
			switch k {
			case "lock", "parent", "snaptime", "snapstate", "template":
				continue
			}
			if _, ok := indexOf(k, "unused"); ok {
				continue
			}
			conf[k] = v
		}
		var allocErr error
		tr.locked(func() {
			for _, k := range diskKeys(srcSnapshot) {
				val := srcSnapshot[k]
				sid, _, _ := parseVolid(diskVolid(val))
				dstStorage := sid
				if storage != "" {
					dstStorage = storage
				}
				tr.t.lines = append(tr.t.lines, fmt.Sprintf("create full clone of mountpoint %s (%s)", k, diskVolid(val)))
				v, err := s.allocDisk(dstStorage, target, newid, diskSize(val), "vm")
				if err != nil {
					allocErr = err
					return
				}
				allocated = append(allocated, v)
				ps, _ := parseProp(val, mpFormatLoose)
				ps.def = v.volid
				f := rootfsFormat
				if k != "rootfs" {
					f = mpFormat
				}
				conf[k] = ps.print(f)
			}
		})
		if allocErr != nil {
			rollback()
			return fmt.Errorf("clone failed: %v", allocErr)
		}
		if err := tr.work(); err != nil {
			rollback()
			return err
		}
		if tr.ghost {
			rollback()
			return nil
		}
		tr.locked(func() {
			for k, v := range conf {
				if strings.HasPrefix(k, "net") {
					if ps, err := parseProp(v, netFormat); err == nil {
						ps.keys["hwaddr"] = s.genMAC()
						conf[k] = ps.print(netFormat)
					}
				}
			}
			if h := p["hostname"]; h != "" {
				conf["hostname"] = h
			}
			if d, ok := p["description"]; ok {
				conf["description"] = d
			}
			dst.conf = conf
			dst.touch()
			if pool := p["pool"]; pool != "" {
				s.poolMembers[newid] = pool
			}
			if c := s.cts[vmid]; c != nil && c.lock() == "disk" {
				c.setLock("")
			}
		})
		return nil
	})
	return t.upid, nil
}

// ---- migrate ---------------------------------------------------------------

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
	restart := boolParam(p, "restart")
	if ct.running {
		if boolParam(p, "online") {
			return nil, errf("lxc live migration is currently not implemented")
		}
		if !restart {
			return nil, errf("can't migrate running container without --online or --restart")
		}
	}
	t := s.newTask(node, TaskMigrate, vmidString(vmid), rq.authID())
	s.runTask(t, func(tr *taskRun) error {
		var lockErr error
		wasRunning := false
		tr.locked(func() {
			if e := ct.checkLock(); e != nil {
				lockErr = e
				return
			}
			ct.setLock("migrate")
			wasRunning = ct.running
		})
		if lockErr != nil {
			return lockErr
		}
		tr.log("starting migration of CT %d to node '%s' (%s)", vmid, target, tn.ip)
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
				// Local volumes move with the CT to the same storage on target.
				for _, k := range diskKeys(ct.conf) {
					volid := diskVolid(ct.conf[k])
					st, v := s.volumeOf(volid, node)
					if v == nil || st.def.spec.Shared {
						continue
					}
					if dst := s.storeFor(st.def.spec.ID, target); dst != nil {
						st.remove(volid)
						dst.add(v)
					}
				}
				ct.node = target
			}
			ct.setLock("")
		})
		tr.log("migration finished successfully (duration 00:00:01)")
		if wasRunning {
			tr.locked(func() {
				ct.running = true
				ct.startedAt = s.now()
				ct.pid = 10000 + s.randIntn(50000)
			})
			tr.log("start final cleanup")
		}
		return nil
	})
	return t.upid, nil
}
