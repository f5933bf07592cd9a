package pvesim

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// createRequest is a create or restore call (POST /nodes/{node}/lxc).
type createRequest struct {
	node       string
	vmid       int
	restore    bool
	force      bool
	ostemplate string
	storage    string
	params     map[string]string
	// emsg prefixes errors the way create_vm's die messages do.
	emsg string
}

func newCreateRequest(rq *request) *createRequest {
	p := rq.params
	cr := &createRequest{
		node: rq.node(), vmid: intParam(p, "vmid", 0), restore: boolParam(p, "restore"), force: boolParam(p, "force"),
		ostemplate: p["ostemplate"], storage: p["storage"], params: p,
	}
	if cr.storage == "" {
		cr.storage = "local"
	}
	cr.emsg = fmt.Sprintf("unable to create CT %d -", cr.vmid)
	if cr.restore {
		cr.emsg = fmt.Sprintf("unable to restore CT %d -", cr.vmid)
	}
	return cr
}

// overwrites reports whether the call restores over existing: restore=1
// with force=1 onto the CT's own node is the one case where the VMID may
// already be taken.
func (cr *createRequest) overwrites(existing *container) bool {
	return existing != nil && cr.restore && cr.force && existing.node == cr.node
}

func hLXCCreate(s *Server, rq *request) (any, *apiError) {
	cr := newCreateRequest(rq)
	if e := s.checkCreateAllowed(rq.auth, cr); e != nil {
		return nil, e
	}
	if e := s.checkHAManagedCreate(rq); e != nil {
		return nil, e
	}
	if e := cr.checkSource(); e != nil {
		return nil, e
	}
	disks, e := cr.parseDisks()
	if e != nil {
		return nil, e
	}
	if e := s.checkCreateConfig(rq, cr, disks); e != nil {
		return nil, e
	}
	if e := s.acquireFlock(cr.vmid, rq.r.Context().Done()); e != nil {
		return nil, &apiError{status: http.StatusInternalServerError, msg: cr.emsg + " " + e.msg}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	oldConf, e := s.reserveCreate(cr)
	if e != nil {
		s.releaseFlockLocked(cr.vmid)
		return nil, e
	}
	typ := TaskCreate
	if cr.restore {
		typ = TaskRestore
	}
	job := &createJob{createRequest: cr, s: s, disks: disks, oldConf: oldConf, authID: rq.authID()}
	return s.forkGuestTask(cr.node, typ, cr.vmid, rq.authID(), true, job.run).upid, nil
}

// checkCreateAllowed is the VM.Allocate check and then check_vmid_unused,
// which comes before any storage or template check.
func (s *Server) checkCreateAllowed(p *principal, cr *createRequest) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.checkAllocate(p, cr.params["pool"], cr.vmid); e != nil {
		return e
	}
	if cr.overwrites(s.cts[cr.vmid]) {
		return nil
	}
	return s.checkVMIDUnused(cr.vmid)
}

// checkSource checks the template (or, for a restore, the archive) volume
// ID and the SSH keys.
func (cr *createRequest) checkSource() *apiError {
	_, volName, ok := parseVolid(cr.ostemplate)
	if !ok {
		return errf("unable to parse volume ID '%s'", cr.ostemplate)
	}
	want := "vztmpl"
	if cr.restore {
		want = "backup"
	}
	if volType(volName) != want {
		return errf("unable to use volume %s - content type needs to be '%s'", cr.ostemplate, want)
	}
	if keys := cr.params["ssh-public-keys"]; keys != "" {
		return validateSSHKeys(keys)
	}
	return nil
}

// parseDisks reads rootfs and mpN. The rootfs default depends on the
// storage parameter, and a bare number means GiB on that storage; both are
// written back into the parameters.
func (cr *createRequest) parseDisks() (map[string]*diskRequest, *apiError) {
	p := cr.params
	_, hasRootfs := p["rootfs"]
	if !hasRootfs {
		for k := range p {
			if _, ok := indexOf(k, "mp"); ok {
				return nil, errf("mount points configured, but 'rootfs' not set - aborting")
			}
		}
		if !cr.restore {
			p["rootfs"] = cr.storage + ":4"
		}
	}
	disks := map[string]*diskRequest{}
	for _, k := range sortedKeys(p) {
		if _, ok := indexOf(k, "mp"); k != "rootfs" && !ok {
			continue
		}
		val := p[k]
		if head, rest, _ := strings.Cut(val, ","); reBareSize.MatchString(head) {
			val = cr.storage + ":" + head
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
	return disks, nil
}

// checkCreateConfig: every disk's storage must exist and allow container
// directories; then come the root-only options, the config privileges and
// the right to allocate space.
func (s *Server) checkCreateConfig(rq *request, cr *createRequest, disks map[string]*diskRequest) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, dr := range disks {
		if dr.storage != "" {
			if e := s.checkRootdirStorage(dr.storage, cr.node); e != nil {
				return e
			}
		}
	}
	if cr.restore && disks["rootfs"] == nil {
		if e := s.checkRootdirStorage(cr.storage, cr.node); e != nil {
			return e
		}
	}
	unprivileged := cr.params["unprivileged"] != "0"
	vmPath := "/vms/" + strconv.Itoa(cr.vmid)
	for k, v := range cr.params {
		if createOnlyParams[k] {
			continue
		}
		if e := rootOnlyCheck(rq.authID(), k, v, "", unprivileged); e != nil {
			return e
		}
		if e := s.checkPerm(rq.auth, vmPath, configPrivilege(k)); e != nil {
			return e
		}
	}
	for _, dr := range disks {
		if dr.alloc {
			if e := s.checkPerm(rq.auth, "/storage/"+dr.storage, "Datastore.AllocateSpace"); e != nil {
				return e
			}
		}
	}
	if h, ok := cr.params["hookscript"]; ok {
		return s.checkHookscript(cr.node, h)
	}
	return nil
}

// reserveCreate is create_and_lock_config: before the worker is forked a new
// CT exists, stopped, with lock=create; a restore over the existing CT locks
// that one instead and returns its config. The caller holds s.mu and the
// flock.
func (s *Server) reserveCreate(cr *createRequest) (ctConf, *apiError) {
	existing := s.cts[cr.vmid]
	if !cr.overwrites(existing) {
		if e := s.checkVMIDUnused(cr.vmid); e != nil {
			return nil, e
		}
		ct := newContainer(cr.vmid, cr.node, s.now())
		ct.conf["lock"] = "create"
		s.cts[cr.vmid] = ct
		return nil, nil
	}
	if existing.running {
		return nil, errf("can't overwrite running container")
	}
	if existing.conf["protection"] == "1" {
		return nil, errf("unable to restore CT %d - protection mode enabled", cr.vmid)
	}
	if e := existing.checkLock(); e != nil {
		return nil, errf("%s %s", cr.emsg, e.msg)
	}
	oldConf := existing.conf.clone()
	existing.setLock("create")
	return oldConf, nil
}

// createJob is the vzcreate / vzrestore worker.
type createJob struct {
	*createRequest
	s     *Server
	disks map[string]*diskRequest
	// oldConf is the config a restore overwrites; nil for a new CT.
	oldConf   ctConf
	authID    string
	allocated []*volume
	// oci is the image of an OCI archive template, ociMap what the create
	// maps from it; both nil otherwise.
	oci    *ociArchive
	ociMap *ociCreate
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
	return fmt.Errorf("%s %w", j.emsg, err)
}

func (j *createJob) run(tr *taskRun) error {
	var srcVol *volume
	tr.locked(func() { _, srcVol = j.s.volumeOf(j.ostemplate, j.node) })
	if srcVol == nil {
		tr.locked(j.rollback)
		return j.fail(fmt.Errorf("volume '%s' does not exist", j.ostemplate))
	}
	conf := ctConf{}
	if j.restore {
		conf = j.restoredConf(tr, srcVol)
	}
	var allocErr error
	tr.locked(func() { allocErr = j.allocate(conf) })
	if allocErr != nil {
		tr.locked(j.rollback)
		return j.fail(allocErr)
	}
	j.oci = j.ociSource(srcVol)
	err := j.extract(tr, srcVol)
	if err == nil {
		if perr := j.prepare(tr); perr != nil {
			tr.locked(j.rollback)
			return j.fail(perr)
		}
	}
	if err := tr.commitAfter(err, j.rollback, func() { j.commit(tr, conf) }); err != nil || tr.ghost {
		// Interrupts and injected task faults carry their exit status as is.
		return j.echoPassword(err)
	}
	if !j.restore && j.oci == nil {
		tr.log("Detected container architecture: amd64")
		tr.log("Creating SSH host key 'ssh_host_ed25519_key' - this may take some time ...")
		tr.log("done: SHA256:%s root@%s", "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5", conf["hostname"])
	}
	if boolParam(j.params, "start") {
		j.s.spawnStart(j.node, j.vmid, j.authID, tr.t)
	}
	if boolParam(j.params, "ha-managed") {
		j.s.haAddAfterCreate(tr, j.vmid, boolParam(j.params, "start"))
	}
	return nil
}

// extract unpacks the template or backup: restore_archive, whose tar
// reports the bytes read, or for an OCI archive PVE::RS::OCI's
// parse_and_extract_image, which prints nothing.
func (j *createJob) extract(tr *taskRun, srcVol *volume) error {
	j.logDisks(tr)
	if j.oci != nil {
		tr.log("Detected OCI archive")
		return tr.work()
	}
	if j.restore {
		tr.log("restoring '%s' now..", j.ostemplate)
	}
	tr.log("extracting archive '%s'", j.archivePath(srcVol))
	err := tr.work()
	if err == nil {
		tr.log("Total bytes read: %d (%dMiB, 187MiB/s)", srcVol.size*4, srcVol.size*4/(1<<20))
	}
	return err
}

// prepare is what create_vm does between the extraction and its first
// write_config: for an OCI archive, restore_oci_archive and Setup's
// detection (the SSH host keys come after, and an OCI image has no
// /etc/ssh to put them in); then write_config's refusal of an option with
// a newline.
func (j *createJob) prepare(tr *taskRun) error {
	opts := map[string]string{}
	for k, v := range j.params {
		if !createOnlyParams[k] {
			opts[k] = v
		}
	}
	if j.oci != nil {
		m, err := j.restoreOCI(tr)
		if err != nil {
			return err
		}
		j.ociMap = m
		if m.entrypoint != "" {
			opts["entrypoint"] = m.entrypoint
		}
	}
	if k := newlineOption(opts); k != "" {
		return fmt.Errorf("detected invalid newline inside property '%s'", k)
	}
	return nil
}

// restoredConf is the backed-up config without its lock and snapshot state.
// Disk sizes come from the backup; disks not given in the call go to the
// given storage.
func (j *createJob) restoredConf(tr *taskRun, srcVol *volume) ctConf {
	tr.log("recovering backed-up configuration from '%s'", j.ostemplate)
	conf := srcVol.backupConf.clone()
	for _, k := range []string{"lock", "digest", "parent", "snapstate", "snaptime"} {
		delete(conf, k)
	}
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
	return conf
}

// allocate frees the disks of the CT a restore overwrites and allocates the
// new ones into conf. The caller holds s.mu.
func (j *createJob) allocate(conf ctConf) error {
	s := j.s
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
			return err
		}
		j.allocated = append(j.allocated, v)
		ps := &propString{def: v.volid, keys: map[string]string{}}
		for kk, vv := range dr.ps.keys {
			ps.keys[kk] = vv
		}
		ps.keys["size"] = formatSize(dr.size)
		conf[k] = ps.print(diskFormat(k))
	}
	return nil
}

func (j *createJob) logDisks(tr *taskRun) {
	for _, v := range j.allocated {
		if strings.Contains(v.volid, "local-lvm") || !strings.Contains(v.volid, "/") {
			tr.log("  Logical volume \"%s\" created.", v.volName())
		}
		tr.log("Creating filesystem with %d 4k blocks and %d inodes", v.size/4096, v.size/16384)
	}
}

// commit writes the new config: the template's facts (or the backup's
// config), the given options over them, fresh MACs for a unique restore,
// and PVE's defaults. The caller holds s.mu.
func (j *createJob) commit(tr *taskRun, conf ctConf) {
	s, p := j.s, j.params
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
	s.mergeCreateOptions(conf, p)
	if j.ociMap != nil {
		j.ociMap.apply(conf)
	}
	if j.restore && boolParam(p, "unique") {
		s.newMACs(conf)
	}
	for k, v := range conf {
		if strings.HasPrefix(k, "net") {
			if nv, err := s.normalizeNet(v, ""); err == nil {
				conf[k] = nv
			}
		}
	}
	for k, def := range map[string]string{"hostname": fmt.Sprintf("CT%d", j.vmid), "memory": "512", "swap": "512"} {
		if conf[k] == "" {
			conf[k] = def
		}
	}
	ct.conf = conf
	ct.pending = ctConf{}
	ct.pendingDel = nil
	ct.snaps = map[string]*snapshot{}
	ct.touch()
	if pool := p["pool"]; pool != "" {
		s.poolMembers[j.vmid] = pool
	}
}

// mergeCreateOptions copies the call's config options (disks are already
// in conf) into conf, normalized the way PVE writes them.
func (s *Server) mergeCreateOptions(conf ctConf, p map[string]string) {
	for k, v := range p {
		if createOnlyParams[k] || k == "rootfs" || strings.HasPrefix(k, "mp") {
			continue
		}
		if _, ok := isIndexedOption(k); ok && strings.HasPrefix(k, "net") {
			if nv, err := s.normalizeNet(v, ""); err == nil {
				v = nv
			}
		}
		switch k {
		case "tags":
			v = normalizeTags(v)
		case "entrypoint":
			v = rereadOption(k, v)
		case "env":
			var ok bool
			if v, ok = fileEnv(v); !ok {
				continue
			}
		}
		conf[k] = v
	}
}

// newMACs gives every netN a fresh hwaddr, as a unique restore and a clone
// do.
func (s *Server) newMACs(conf ctConf) {
	for k, v := range conf {
		if strings.HasPrefix(k, "net") {
			if ps, err := parseProp(v, netFormat); err == nil {
				ps.keys["hwaddr"] = s.genMAC()
				conf[k] = ps.print(netFormat)
			}
		}
	}
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

// rollback removes the half-created CT and frees its VMID and volumes. The
// caller holds s.mu.
func (j *createJob) rollback() {
	s := j.s
	s.freeVolumes(j.allocated, j.node)
	if ct := s.cts[j.vmid]; ct != nil && ct.lock() == "create" {
		if j.oldConf != nil {
			s.freeDisks(ct)
		}
		delete(s.cts, j.vmid)
	}
}
