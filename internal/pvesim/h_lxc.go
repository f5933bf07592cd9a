package pvesim

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

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
	ps, err := parseProp(val, diskFormat(key))
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

// rootOnlyDeleteCheck is check_ct_modify_config_perm for a deleted
// option: removing a device or the hookscript is as root-only as setting
// one, removing features is unless they are nothing but nesting=1 (on an
// unprivileged container), and removing a mount point of any type is
// not root-only.
func rootOnlyDeleteCheck(authID string, key, oldVal string, unprivileged bool) *apiError {
	if authID == "root@pam" {
		return nil
	}
	switch {
	case key == "hookscript":
		return permErr("changing the hookscript is only allowed for root@pam")
	case strings.HasPrefix(key, "dev"):
		return permErr("configuring device passthrough is only allowed for root@pam")
	case key == "features":
		if !unprivileged {
			return permErr("changing feature flags for privileged container is only allowed for root@pam")
		}
		if f, _ := parseProp(oldVal, featuresFormat); f != nil && len(f.keys) > 0 && (len(f.keys) != 1 || f.keys["nesting"] != "1") {
			return permErr("changing feature flags (except nesting) is only allowed for root@pam")
		}
	}
	return nil
}

// checkHookscript is PVE's check_hookscript (GuestHelpers), run while the
// config is updated, at create before the container is reserved: the
// volume must resolve on node, be a snippets volume, and exist as a file
// (the simulator has no file modes, so every snippet counts as
// executable). The caller holds s.mu.
func (s *Server) checkHookscript(node, volid string) *apiError {
	sid, name, ok := parseVolid(volid)
	if !ok {
		return errf("unable to parse volume ID '%s'", volid)
	}
	if s.storageByID[sid] == nil {
		return errf("storage '%s' does not exist", sid)
	}
	if volType(name) != "snippets" {
		return errf("'%s' is not in the snippets directory", volid)
	}
	if _, v := s.volumeOf(volid, node); v == nil {
		return errf("script '%s' does not exist", volid)
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
	s.forkGuestTask(node, TaskStart, vmid, authID, true, func(tr *taskRun) error { return s.startWorker(tr, node, vmid, false) })
}

// ---- delete ----------------------------------------------------------------

func hLXCDelete(s *Server, rq *request) (any, *apiError) {
	force := boolParam(rq.params, "force")
	purge := boolParam(rq.params, "purge")
	// A missing CT fails at once, without waiting for the flock.
	if _, e := s.onCT(rq, func(*container) (any, *apiError) { return nil, nil }); e != nil {
		return nil, e
	}
	return upidResult(s.flockedCTTask(rq, TaskDestroy, func(ct *container) (worker, *apiError) {
		if ct.conf["protection"] == "1" {
			return nil, errf("can't remove CT %d - protection mode enabled", ct.vmid)
		}
		if e := ct.checkLock(); e != nil {
			return nil, e
		}
		if e := s.haBlocksDestroy(ct.vmid, purge); e != nil {
			return nil, e
		}
		if ct.running && !force {
			return nil, errf("unable to destroy CT %d - container is running", ct.vmid)
		}
		ct.setLock("destroyed")
		return s.destroyWorker(ct, purge), nil
	}))
}

// destroyWorker is the vzdestroy worker: a failed or ghost task leaves the
// CT, unlocked.
func (s *Server) destroyWorker(ct *container, purge bool) worker {
	wasRunning := ct.running
	return func(tr *taskRun) error {
		if wasRunning {
			tr.log("stopping container %d", ct.vmid)
		}
		return tr.commit(func() { ct.setLock("") }, func() {
			for _, k := range diskKeys(ct.conf) {
				if v := diskVolid(ct.conf[k]); !strings.HasPrefix(v, "/") {
					tr.logLocked("  Logical volume \"%s\" successfully removed.", lvName(v))
				}
			}
			s.freeDisks(ct)
			ct.running = false
			delete(s.cts, ct.vmid)
			haManaged := s.ha.resources[haSID(ct.vmid)] != nil
			s.forgetGuest(ct.vmid, purge)
			if purge {
				tr.logLocked("purging CT %d from related configurations..", ct.vmid)
				if haManaged {
					tr.logLocked("NOTE: removed CT %d from HA resource configuration.", ct.vmid)
				}
			}
		})
	}
}

// lvName is the part of a volume ID after the storage, as LVM's messages
// name the volume.
func lvName(volid string) string {
	if _, name, ok := strings.Cut(volid, ":"); ok {
		return name
	}
	return volid
}
