package pvesim

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// reBackupName parses vzdump archive names; ctime comes from the name.
var reBackupName = regexp.MustCompile(`(?:^|/)vzdump-(lxc|qemu)-(\d+)-(\d{4})_(\d{2})_(\d{2})-(\d{2})_(\d{2})_(\d{2})\.(tar|vma)(\.zst|\.gz|\.lzo)?$`)

func backupExt(compress string) (string, string) {
	switch compress {
	case "zstd":
		return ".tar.zst", "tar.zst"
	case "1", "gzip":
		return ".tar.gz", "tar.gz"
	case "lzo":
		return ".tar.lzo", "tar.lzo"
	}
	return ".tar", "tar"
}

// vzdumpParamsCheck is verify_vzdump_parameters. That notes-template and
// protected need a storage is the schema's "requires", checked before.
func vzdumpParamsCheck(p map[string]string) *apiError {
	has := func(k string) bool { _, ok := p[k]; return ok }
	errs := map[string]string{}
	if boolParam(p, "all") && has("vmid") {
		errs["all"] = "option conflicts with option 'vmid'"
	}
	if has("exclude") && has("vmid") {
		errs["exclude"] = "option conflicts with option 'vmid'"
	}
	if has("pool") && has("vmid") {
		errs["pool"] = "option conflicts with option 'vmid'"
	}
	if selects := boolParam(p, "all") || boolParam(p, "stop") || has("pool") || has("exclude") || has("vmid"); !selects {
		errs["vmid"] = "property is missing"
	}
	if len(errs) > 0 {
		return paramErr(errs)
	}
	return nil
}

// vzdumpCommandLine renders PVE::VZDump::Common::command_line.
func vzdumpCommandLine(p map[string]string) string {
	var b strings.Builder
	b.WriteString("vzdump")
	if v := p["vmid"]; v != "" {
		b.WriteString(" " + strings.Join(splitList(v), " "))
	}
	for _, k := range sortedKeys(p) {
		if k == "vmid" || k == "stdout" {
			continue
		}
		v := p[k]
		if strings.ContainsAny(v, " '{}\"$") {
			v = "'" + strings.ReplaceAll(v, "'", `'"'"'`) + "'"
		}
		fmt.Fprintf(&b, " --%s %s", k, v)
	}
	return b.String()
}

// vzdumpRootOnly are the vzdump options only root@pam may pass, as
// pve-manager's assert_param_permission_common has them since PVE 7.3
// (job-id since 8.2.5). Until 7.3 maxfiles, prune-backups, bwlimit, ionice and
// performance were root-only too; now they need privileges instead.
var vzdumpRootOnly = []string{"tmpdir", "dumpdir", "script", "job-id"}

// vzdumpParamPermissions is pve-manager's assert_param_permission_vzdump
// (PVE 9.1), checked before anything else about the parameters. API tokens
// are never root@pam, even root@pam's own. The caller holds s.mu.
func (s *Server) vzdumpParamPermissions(rq *request) *apiError {
	p := rq.params
	if rq.authID() == "root@pam" {
		return nil
	}
	for _, k := range vzdumpRootOnly {
		if _, ok := p[k]; ok {
			return paramErr1(k, "Only root may set this option.")
		}
	}
	for _, k := range []string{"bwlimit", "ionice", "performance"} {
		if _, ok := p[k]; ok {
			if e := s.checkPerm(rq.auth, "/", "Sys.Modify"); e != nil {
				return e
			}
			break
		}
	}
	if f := p["fleecing"]; f != "" {
		if ps, err := parseProp(f, fleecingFormat); err == nil && ps.keys["storage"] != "" {
			if e := s.checkPerm(rq.auth, "/storage/"+ps.keys["storage"], "Datastore.AllocateSpace"); e != nil {
				return e
			}
		}
	}
	if _, ok := p["prune-backups"]; ok {
		return s.checkPerm(rq.auth, "/storage/"+vzdumpStorage(p), "Datastore.Allocate")
	}
	return nil
}

// fleecingFormat is vzdump's backup-fleecing property string.
var fleecingFormat = &propFormat{keys: map[string]*regexp.Regexp{"enabled": reBool01, "storage": nil}}

// vzdumpStorage is get_storage_param: the backup storage, "local" when none
// is named. (A dumpdir backup has none, but dumpdir is root@pam's alone.)
func vzdumpStorage(p map[string]string) string {
	if p["storage"] != "" {
		return p["storage"]
	}
	return "local"
}

func hVzdump(s *Server, rq *request) (any, *apiError) {
	p := rq.params
	node := rq.node()
	// stdout streams the archive to the caller: pve-manager allows it only
	// on the command line.
	if boolParam(p, "stdout") {
		return nil, paramErr1("stdout", "option is only allowed on the command line interface.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.vzdumpParamPermissions(rq); e != nil {
		return nil, e
	}
	if e := vzdumpParamsCheck(p); e != nil {
		return nil, e
	}
	storage := vzdumpStorage(p)
	vmids, e := s.vzdumpSelection(p)
	if e != nil {
		return nil, e
	}
	var local, skipped []int
	for _, id := range vmids {
		ct := s.cts[id]
		if ct != nil && ct.node != node {
			skipped = append(skipped, id)
			continue
		}
		if vm := s.qemus[id]; vm != nil && vm.node != node {
			skipped = append(skipped, id)
			continue
		}
		// Guests that exist nowhere are included and fail visibly later.
		local = append(local, id)
	}
	if len(local) == 0 && !boolParam(p, "all") {
		return "OK", nil
	}
	// Only now, and even when no storage is named (then local), does PVE
	// check the backup storage; a dumpdir backup has none to check.
	if _, ok := p["dumpdir"]; !ok {
		if e := s.checkPerm(rq.auth, "/storage/"+storage, "Datastore.AllocateSpace"); e != nil {
			return nil, e
		}
	}
	taskID := ""
	if len(local) == 1 {
		taskID = vmidString(local[0])
	}
	t := s.newTask(node, TaskVzdump, taskID, rq.authID())
	job := &vzdumpJob{s: s, node: node, vmids: local, skipped: skipped, params: p, storage: storage, auth: rq.auth}
	s.runTask(t, job.run)
	return t.upid, nil
}

// vzdumpSelection is the sorted list of guests the call names: vmid, the
// members of pool, or all but exclude. The caller holds s.mu.
func (s *Server) vzdumpSelection(p map[string]string) ([]int, *apiError) {
	var vmids []int
	switch {
	case p["vmid"] != "":
		for _, v := range splitList(p["vmid"]) {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, paramErr1("vmid", "invalid format - value does not look like a valid VM ID")
			}
			vmids = append(vmids, n)
		}
	case p["pool"] != "":
		for id, pool := range s.poolMembers {
			if pool == p["pool"] {
				vmids = append(vmids, id)
			}
		}
	default:
		excluded := map[int]bool{}
		for _, v := range splitList(p["exclude"]) {
			n, _ := strconv.Atoi(v)
			excluded[n] = true
		}
		for id := range s.cts {
			if !excluded[id] {
				vmids = append(vmids, id)
			}
		}
	}
	sort.Ints(vmids)
	return vmids, nil
}

type vzdumpJob struct {
	s       *Server
	node    string
	vmids   []int
	skipped []int
	params  map[string]string
	storage string
	auth    *principal
}

// run is the vzdump worker. Like PVE::VZDump->new and exec_backup, the
// storage and VM.Backup checks happen here, so they fail the task rather
// than the HTTP call.
func (j *vzdumpJob) run(tr *taskRun) error {
	s := j.s
	var setupErr error
	tr.locked(func() {
		def := s.storageByID[j.storage]
		switch {
		case def == nil:
			setupErr = fmt.Errorf("could not get storage information for '%s': storage '%s' does not exist", j.storage, j.storage)
		case !def.content["backup"]:
			setupErr = fmt.Errorf("could not get storage information for '%s': can't use storage '%s' for backups - wrong content type", j.storage, j.storage)
		}
	})
	if setupErr != nil {
		return setupErr
	}
	tr.log("INFO: starting new backup job: %s", vzdumpCommandLine(j.params))
	if len(j.skipped) > 0 {
		parts := make([]string, len(j.skipped))
		for i, id := range j.skipped {
			parts[i] = strconv.Itoa(id)
		}
		tr.log("INFO: skip external VMs: %s", strings.Join(parts, ", "))
	}
	var permErr error
	tr.locked(func() {
		for _, id := range j.vmids {
			if _, exists := s.cts[id]; !exists {
				continue
			}
			if e := s.checkPerm(j.auth, "/vms/"+strconv.Itoa(id), "VM.Backup"); e != nil {
				permErr = errors.New(e.msg)
				return
			}
		}
	})
	if permErr != nil {
		return permErr
	}
	n := s.nodes[j.node]
	if err := j.globalLock(tr, n); err != nil {
		return err
	}
	defer func() { <-n.vzdumpLock }()

	failures := 0
	for _, vmid := range j.vmids {
		err := j.backupOne(tr, vmid)
		var injected injectedFailure
		if errors.Is(err, errInterrupted) || errors.Is(err, errServerClosed) || errors.As(err, &injected) {
			return err
		}
		if err != nil {
			failures++
			tr.log("ERROR: Backup of VM %d failed - %v", vmid, err)
		}
	}
	if failures > 0 {
		tr.log("INFO: Backup job finished with errors")
		return errors.New("job errors")
	}
	tr.log("INFO: Backup job finished successfully")
	return nil
}

// globalLock takes the node's /var/run/vzdump.lock, waiting up to lockwait
// minutes for a running job.
func (j *vzdumpJob) globalLock(tr *taskRun, n *node) error {
	select {
	case n.vzdumpLock <- struct{}{}:
		return nil
	default:
	}
	tr.log("INFO: trying to get global lock - waiting...")
	lockwait := time.Duration(intParam(j.params, "lockwait", 180)) * 60 * j.s.opts.TimeoutUnit
	timer := time.NewTimer(lockwait)
	defer timer.Stop()
	select {
	case n.vzdumpLock <- struct{}{}:
		tr.log("INFO: got global lock")
		return nil
	case <-timer.C:
		return errors.New("can't acquire lock '/var/run/vzdump.lock' - got timeout")
	case <-tr.t.interrupt:
		return errInterrupted
	case <-j.s.quit:
		return errServerClosed
	}
}

// backupOne backs up one guest: lock "backup" for the duration, snapshot
// mode falls back to suspend on storage without snapshots, stop mode stops
// and restarts a running CT.
func (j *vzdumpJob) backupOne(tr *taskRun, vmid int) error {
	s := j.s
	start := s.now()
	tr.log("INFO: Starting Backup of VM %d (lxc)", vmid)
	tr.log("INFO: Backup started at %s", start.In(s.opts.Location).Format("2006-01-02 15:04:05"))
	g, err := j.lockGuest(tr, vmid)
	if err != nil {
		return err
	}
	mode := j.backupMode(tr, g)
	j.enterMode(tr, g, mode)
	size, err := j.writeArchive(tr, g, start)
	if err != nil {
		j.release(tr, g)
		return err
	}
	tr.log("INFO: Total bytes written: %d (%dMiB, 160MiB/s)", size*2, size*2/mib)
	tr.log("INFO: archive file size: %s", vzdumpFormatSize(size))
	if _, ok := j.params["notes-template"]; ok {
		tr.log("INFO: adding notes to backup")
	}
	if boolParam(j.params, "protected") {
		tr.log("INFO: marking backup as protected")
	}
	if mode == "snapshot" {
		tr.log("INFO: cleanup temporary 'vzdump' snapshot")
	}
	j.release(tr, g)
	elapsed := s.now().Sub(start)
	tr.log("INFO: Finished Backup of VM %d (%s)", vmid, hhmmss(elapsed))
	return nil
}

// backupGuest is the guest as backupOne found it when it locked it.
type backupGuest struct {
	vmid      int
	ct        *container
	running   bool
	pid       int
	snapOK    bool // every volume supports snapshots
	hostname  string
	rootfsVol string
	// stoppedByUs is set when stop mode stopped a running CT, which is
	// then started again.
	stoppedByUs bool
}

// lockGuest finds the CT on the node and sets lock=backup for the duration.
func (j *vzdumpJob) lockGuest(tr *taskRun, vmid int) (*backupGuest, error) {
	s := j.s
	g := &backupGuest{vmid: vmid, snapOK: true}
	var err error
	tr.locked(func() {
		ct := s.cts[vmid]
		if ct == nil || ct.node != j.node {
			err = fmt.Errorf("unable to find configuration file for VM %d on node '%s'", vmid, j.node)
			return
		}
		if e := ct.checkLock(); e != nil {
			err = e
			return
		}
		ct.setLock("backup")
		g.ct, g.running, g.pid, g.hostname = ct, ct.running, ct.pid, ct.hostname()
		for _, k := range diskKeys(ct.conf) {
			st, _ := s.volumeOf(diskVolid(ct.conf[k]), ct.node)
			if st == nil || !st.def.snapshots() {
				g.snapOK = false
			}
		}
		g.rootfsVol = diskVolid(ct.conf["rootfs"])
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// backupMode logs the guest and picks the mode: a stopped CT is always
// backed up in stop mode, snapshot mode falls back to suspend on storage
// without snapshots.
func (j *vzdumpJob) backupMode(tr *taskRun, g *backupGuest) string {
	status := "stopped"
	if g.running {
		status = "running"
	}
	tr.log("INFO: status = %s", status)
	tr.log("INFO: CT Name: %s", g.hostname)
	tr.log("INFO: including mount point rootfs ('/') in backup")
	mode := j.params["mode"]
	if mode == "" {
		mode = "snapshot"
	}
	if !g.running {
		mode = "stop"
	} else if mode == "snapshot" && !g.snapOK {
		tr.log("INFO: mode failure - some volumes do not support snapshots")
		tr.log("INFO: trying 'suspend' mode instead")
		mode = "suspend"
	}
	tr.log("INFO: backup mode: %s", mode)
	tr.log("INFO: ionice priority: 7")
	return mode
}

// enterMode stops a running CT (stop mode), syncs and suspends it (suspend
// mode) or snapshots its volumes (snapshot mode).
func (j *vzdumpJob) enterMode(tr *taskRun, g *backupGuest, mode string) {
	switch mode {
	case "stop":
		if g.running {
			tr.log("INFO: stopping virtual guest")
			tr.locked(func() { j.s.markStopped(g.ct) })
			g.stoppedByUs = true
		}
	case "suspend":
		tmp := fmt.Sprintf("/var/tmp/vzdumptmp%d_%d/", tr.t.pid, g.vmid)
		tr.log("INFO: starting first sync /proc/%d/root/ to %s", g.pid, tmp)
		tr.log("INFO: first sync finished (1 seconds)")
		tr.log("INFO: suspending guest")
		tr.log("INFO: starting final sync /proc/%d/root/ to %s", g.pid, tmp)
		tr.log("INFO: final sync finished (0 seconds)")
		tr.log("INFO: resuming guest")
	case "snapshot":
		tr.log("INFO: create storage snapshot 'vzdump'")
		if g.rootfsVol != "" {
			tr.log("  Logical volume \"snap_%s_vzdump\" created.", lvName(g.rootfsVol))
		}
	}
}

// release restarts a CT stop mode stopped and removes lock=backup.
func (j *vzdumpJob) release(tr *taskRun, g *backupGuest) {
	s := j.s
	if g.stoppedByUs {
		tr.log("INFO: restarting vm")
		tr.locked(func() {
			if c := s.cts[g.vmid]; c != nil {
				s.markRunning(c)
			}
		})
	}
	tr.locked(func() { s.clearLock(g.vmid, "backup") })
}

// writeArchive runs the archiving work phase and stores the archive, named
// after the start time; it returns the archive size.
func (j *vzdumpJob) writeArchive(tr *taskRun, g *backupGuest, start time.Time) (uint64, error) {
	s := j.s
	ext, format := backupExt(j.params["compress"])
	file := fmt.Sprintf("vzdump-lxc-%d-%s%s", g.vmid, start.In(s.opts.Location).Format("2006_01_02-15_04_05"), ext)
	var st *storeInst
	tr.locked(func() { st = s.storeFor(j.storage, j.node) })
	if st == nil {
		return 0, fmt.Errorf("storage '%s' is not available on node '%s'", j.storage, j.node)
	}
	tr.log("INFO: creating vzdump archive '%s/dump/%s'", st.def.spec.Path, file)
	if err := tr.work(); err != nil {
		return 0, err
	}
	var size uint64
	var err error
	tr.locked(func() { size, err = j.storeArchive(tr, g.vmid, st, file, format) })
	return size, err
}

// storeArchive adds the backup volume, with the config as it is now, unless
// the storage is full or holds too many protected backups of the guest. A
// ghost task stores nothing. The caller holds s.mu.
func (j *vzdumpJob) storeArchive(tr *taskRun, vmid int, st *storeInst, file, format string) (uint64, error) {
	s, p := j.s, j.params
	c := s.cts[vmid]
	if c == nil {
		return 0, fmt.Errorf("unable to find configuration file for VM %d on node '%s'", vmid, j.node)
	}
	size := diskSize(c.conf["rootfs"])/10 + uint64(vmid%97)*mib + 37*mib
	if tr.ghost {
		return size, nil
	}
	if st.avail() < size {
		return size, errors.New("command 'tar cpf - ...' failed: exit code 2 (tar: write error: No space left on device)")
	}
	if boolParam(p, "protected") {
		if max := st.def.spec.MaxProtectedBackups; max > 0 && countProtected(st, vmid) >= max {
			//nolint:staticcheck // PVE's exact, capitalized text
			return size, fmt.Errorf("The number of protected backups per guest is limited to %d on storage '%s'", max, j.storage)
		}
	}
	conf := c.conf.clone()
	delete(conf, "lock")
	volid := j.storage + ":backup/" + file
	v := &volume{
		volid: volid, content: "backup", format: format, size: size, ctime: backupCTime(file, s.opts.Location),
		vmid: vmid, subtype: "lxc", protected: boolParam(p, "protected"), backupConf: conf,
	}
	if tmpl, ok := p["notes-template"]; ok {
		v.notes = expandNotes(tmpl, s.opts.ClusterName, c.hostname(), j.node, vmid)
	}
	if old := st.byID[volid]; old != nil {
		st.remove(volid)
	}
	st.add(v)
	return size, nil
}

// vzdumpFormatSize is PVE::VZDump::format_size.
func vzdumpFormatSize(size uint64) string {
	kb := float64(size) / 1024
	if kb < 1024 {
		return fmt.Sprintf("%dKB", int(kb))
	}
	mb := float64(size) / (1024 * 1024)
	if mb < 1024 {
		return fmt.Sprintf("%dMB", int(mb))
	}
	gb := mb / 1024
	if gb < 1024 {
		return fmt.Sprintf("%.2fGB", gb)
	}
	return fmt.Sprintf("%.2fTB", gb/1024)
}

func hhmmss(d time.Duration) string {
	sec := int(d / time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", sec/3600, sec/60%60, sec%60)
}

// backupCTime parses the timestamp in the file name as node-local time,
// as pve-storage does.
func backupCTime(name string, loc *time.Location) int64 {
	m := reBackupName.FindStringSubmatch(name)
	if m == nil {
		return 0
	}
	t, err := time.ParseInLocation("2006_01_02-15_04_05", fmt.Sprintf("%s_%s_%s-%s_%s_%s", m[3], m[4], m[5], m[6], m[7], m[8]), loc)
	if err != nil {
		return 0
	}
	return t.Unix()
}

// expandNotes fills {{cluster}}, {{guestname}}, {{node}}, {{vmid}} and the
// \n and \\ escapes of notes-template.
func expandNotes(tmpl, cluster, guest, node string, vmid int) string {
	var b strings.Builder
	for i := 0; i < len(tmpl); i++ {
		if tmpl[i] == '\\' && i+1 < len(tmpl) {
			switch tmpl[i+1] {
			case 'n':
				b.WriteByte('\n')
				i++
				continue
			case '\\':
				b.WriteByte('\\')
				i++
				continue
			}
		}
		b.WriteByte(tmpl[i])
	}
	r := strings.NewReplacer("{{cluster}}", cluster, "{{guestname}}", guest, "{{node}}", node, "{{vmid}}", strconv.Itoa(vmid))
	return r.Replace(b.String())
}
