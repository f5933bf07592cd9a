package pvesim

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// hConfigGet: pending values are shown unless current=1; snapshot=name reads
// a snapshot section.
func hConfigGet(s *Server, rq *request) (any, *apiError) {
	if rq.params["snapshot"] != "" && boolParam(rq.params, "current") {
		msg := "cannot use 'snapshot' parameter with 'current'"
		return nil, paramErr(map[string]string{"snapshot": msg, "current": msg})
	}
	return s.onCT(rq, func(ct *container) (any, *apiError) {
		if name := rq.params["snapshot"]; name != "" {
			sn := ct.snaps[name]
			if sn == nil {
				return nil, errf("snapshot '%s' does not exist", name)
			}
			out := typedConf(sn.conf)
			out["digest"] = ct.digest()
			return out, nil
		}
		return s.effectiveConfig(ct, boolParam(rq.params, "current")), nil
	})
}

// effectiveConfig is load_current_config: the config with pending changes
// folded in (unless current), plus the digest.
func (s *Server) effectiveConfig(ct *container, current bool) map[string]any {
	c := ct.conf.clone()
	if !current {
		for k, v := range ct.pending {
			c[k] = v
		}
		for _, k := range ct.pendingDel {
			delete(c, k)
		}
	}
	out := typedConf(c)
	out["digest"] = ct.digest()
	return out
}

// hPending is config_with_pending_array.
func hPending(s *Server, rq *request) (any, *apiError) {
	return s.onCT(rq, func(ct *container) (any, *apiError) { return pendingArray(ct), nil })
}

func pendingArray(ct *container) []map[string]any {
	del := map[string]bool{}
	for _, k := range ct.pendingDel {
		del[k] = true
	}
	keys := map[string]bool{"digest": true}
	for k := range ct.conf {
		keys[k] = true
	}
	for k := range ct.pending {
		keys[k] = true
	}
	for k := range del {
		keys[k] = true
	}
	out := []map[string]any{}
	for _, k := range sortedKeys(keys) {
		item := map[string]any{"key": k}
		if k == "digest" {
			item["value"] = ct.digest()
		} else if v, ok := ct.conf[k]; ok {
			item["value"] = typedValue(k, v)
		}
		if v, ok := ct.pending[k]; ok {
			item["pending"] = typedValue(k, v)
		}
		if del[k] {
			item["delete"] = 1
		}
		out = append(out, item)
	}
	return out
}

// fastplugOptions apply at once even while running ($LXC_FASTPLUG_OPTIONS);
// hotplugOptions are applied live to a running CT; all else waits for the
// next start/reboot in [pve:pending]. That includes entrypoint and env,
// set or deleted: vmconfig_hotplug_pending skips them, as LXC reads them
// only when it starts the init (lxc.init.cmd, lxc.environment.runtime).
var fastplugOptions = map[string]bool{
	"description": true, "onboot": true, "startup": true, "protection": true, "hostname": true,
	"hookscript": true, "cores": true, "tags": true, "lock": true,
}

var hotplugOptions = map[string]bool{"memory": true, "swap": true, "cpulimit": true, "cpuunits": true}

// appliesLive mirrors vmconfig_hotplug_pending for a running CT: new mount
// points and devices hotplug, changed ones wait; memory cannot be removed
// live, mount points are only unplugged at the next start.
func appliesLive(key string, deleting, exists bool) bool {
	if fastplugOptions[key] {
		return true
	}
	if _, ok := indexOf(key, "net"); ok {
		return true
	}
	if deleting {
		if _, ok := indexOf(key, "unused"); ok {
			return true
		}
		return key == "swap" || key == "cpulimit" || key == "cpuunits"
	}
	if hotplugOptions[key] {
		return true
	}
	if _, ok := indexOf(key, "mp"); ok {
		return !exists
	}
	if _, ok := indexOf(key, "dev"); ok {
		return !exists
	}
	return false
}

// configUpdateParams are PUT config parameters that are not options.
var configUpdateParams = map[string]bool{"node": true, "vmid": true, "digest": true, "delete": true, "revert": true}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\n' })
}

// configUpdate is a PUT config call: the options to set, delete and
// revert.
type configUpdate struct {
	changes map[string]string
	del     []string
	revert  []string
}

// parseConfigUpdate checks the call before any lock is taken: it must
// change something, and no option may be set, deleted or reverted twice.
func parseConfigUpdate(p map[string]string) (*configUpdate, *apiError) {
	u := &configUpdate{changes: map[string]string{}, del: splitList(p["delete"]), revert: splitList(p["revert"])}
	for k, v := range p {
		if !configUpdateParams[k] {
			u.changes[k] = v
		}
	}
	if len(u.changes) == 0 && len(u.del) == 0 && len(u.revert) == 0 {
		return nil, errf("no options specified")
	}
	for _, opt := range u.del {
		if _, ok := u.changes[opt]; ok {
			return nil, paramErr1("delete", fmt.Sprintf("you can't use '-%s' and -delete %s' at the same time", opt, opt))
		}
		if !optionExists(opt) {
			return nil, paramErr1("delete", fmt.Sprintf("unknown option '%s'", opt))
		}
		if slices.Contains(u.revert, opt) {
			return nil, paramErr1("revert", fmt.Sprintf("you can't use '-delete %s' and '-revert %s' at the same time", opt, opt))
		}
	}
	for _, opt := range u.revert {
		if !optionExists(opt) {
			return nil, paramErr1("revert", fmt.Sprintf("unknown option '%s'", opt))
		}
		if _, ok := u.changes[opt]; ok {
			return nil, paramErr1("revert", fmt.Sprintf("you can't use '-%s' and '-revert %s' at the same time", opt, opt))
		}
	}
	return u, nil
}

// hConfigPut is update_vm: synchronous, returns null.
func hConfigPut(s *Server, rq *request) (any, *apiError) {
	u, e := parseConfigUpdate(rq.params)
	if e != nil {
		return nil, e
	}
	return s.onFlockedCT(rq, func(ct *container) (any, *apiError) {
		if e := s.checkConfigUpdate(rq, ct, u); e != nil {
			return nil, e
		}
		if h, ok := u.changes["hookscript"]; ok {
			if e := s.checkHookscript(ct.node, h); e != nil {
				return nil, e
			}
		}
		if e := s.normalizeChanges(ct, u.changes, rq.auth); e != nil {
			return nil, e
		}
		// update_vm's write_config refuses the file, after every check.
		if k := newlineOption(u.changes); k != "" {
			return nil, errf("detected invalid newline inside property '%s'", k)
		}
		u.apply(s, ct)
		return nil, nil
	})
}

// checkConfigUpdate checks privileges, the lock, the digest and the options
// that cannot be changed. The caller holds s.mu.
func (s *Server) checkConfigUpdate(rq *request, ct *container, u *configUpdate) *apiError {
	vmPath := "/vms/" + strconv.Itoa(ct.vmid)
	unprivileged := ct.conf["unprivileged"] == "1"
	for k, v := range u.changes {
		if e := s.checkPerm(rq.auth, vmPath, configPrivilege(k)); e != nil {
			return e
		}
		if e := rootOnlyCheck(rq.authID(), k, v, ct.conf[k], unprivileged); e != nil {
			return e
		}
	}
	for _, k := range u.del {
		if e := s.checkPerm(rq.auth, vmPath, configPrivilege(k)); e != nil {
			return e
		}
		if e := rootOnlyDeleteCheck(rq.authID(), k, ct.conf[k], unprivileged); e != nil {
			return e
		}
	}
	// update_vm calls check_lock unconditionally: even "delete=lock" fails on
	// a locked CT. Only `pct unlock` on the node (or SetLock here) clears it.
	if e := ct.checkLock(); e != nil {
		return e
	}
	if d := rq.params["digest"]; d != "" && d != ct.digest() {
		return errf("detected modified configuration - file changed by other user? Try again.")
	}
	if _, ok := u.changes["unprivileged"]; ok {
		return errf("unable to modify read-only option: 'unprivileged'")
	}
	for _, k := range u.del {
		switch k {
		case "unprivileged":
			return errf("unable to delete read-only option: '%s'", k)
		case "rootfs", "hostname", "memory":
			return errf("unable to delete required option '%s'", k)
		}
	}
	return nil
}

// normalizeChanges rewrites values the way PVE writes them (and, for the
// free-text entrypoint and env, the way GET config reads them back); a
// mount point given as "storage:size" is allocated here. The caller holds
// s.mu.
func (s *Server) normalizeChanges(ct *container, changes map[string]string, p *principal) *apiError {
	for k, v := range changes {
		switch {
		case k == "tags":
			changes[k] = normalizeTags(v)
		case k == "entrypoint":
			changes[k] = rereadOption(k, v)
		case k == "env":
			changes[k], _ = fileEnv(v)
		case strings.HasPrefix(k, "net"):
			old := ct.pending[k]
			if old == "" {
				old = ct.conf[k]
			}
			nv, err := s.normalizeNet(v, old)
			if err != nil {
				return paramErr1(k, "invalid format - "+err.Error())
			}
			changes[k] = nv
		case k == "rootfs" || strings.HasPrefix(k, "mp"):
			nv, e := s.updateDisk(ct, k, v, p)
			if e != nil {
				return e
			}
			changes[k] = nv
		}
	}
	return nil
}

// apply writes the update: on a running CT what cannot apply live goes to
// [pve:pending] (or the pending deletions). The caller holds s.mu.
func (u *configUpdate) apply(s *Server, ct *container) {
	running := ct.running
	for k, v := range u.changes {
		_, exists := ct.conf[k]
		if running && !appliesLive(k, false, exists) {
			ct.pending[k] = v
		} else {
			ct.conf[k] = v
			delete(ct.pending, k)
		}
		ct.pendingDel = removeString(ct.pendingDel, k)
	}
	for _, k := range u.del {
		_, inConf := ct.conf[k]
		_, inPending := ct.pending[k]
		delete(ct.pending, k)
		if !inConf && !inPending {
			continue
		}
		if running && !appliesLive(k, true, inConf) {
			if inConf && !slices.Contains(ct.pendingDel, k) {
				ct.pendingDel = append(ct.pendingDel, k)
			}
			continue
		}
		s.deleteOption(ct, k)
	}
	for _, k := range u.revert {
		delete(ct.pending, k)
		ct.pendingDel = removeString(ct.pendingDel, k)
	}
	ct.touch()
}

func removeString(list []string, v string) []string {
	out := list[:0:0]
	for _, x := range list {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

// deleteOption removes an option: a deleted mount point's volume becomes
// unusedN, a deleted unusedN is destroyed.
func (s *Server) deleteOption(ct *container, k string) {
	val := ct.conf[k]
	delete(ct.conf, k)
	if _, ok := indexOf(k, "mp"); ok && val != "" {
		volid := diskVolid(val)
		if !strings.HasPrefix(volid, "/") {
			for i := 0; ; i++ {
				key := fmt.Sprintf("unused%d", i)
				if _, used := ct.conf[key]; !used {
					ct.conf[key] = volid
					break
				}
			}
		}
	}
	if _, ok := indexOf(k, "unused"); ok && val != "" {
		if st, v := s.volumeOf(val, ct.node); v != nil {
			st.remove(val)
		}
	}
}

// updateDisk validates a rootfs/mpN update; "storage:size" allocates a new
// volume for a mount point.
func (s *Server) updateDisk(ct *container, key, val string, p *principal) (string, *apiError) {
	dr, err := parseDiskRequest(key, val)
	if err != nil {
		return "", paramErr1(key, "invalid format - "+err.Error())
	}
	f := diskFormat(key)
	if !dr.alloc {
		return dr.ps.print(f), nil
	}
	if key == "rootfs" {
		return "", paramErr1(key, "invalid format - changing the rootfs volume is not possible with a size allocation")
	}
	if e := s.checkRootdirStorage(dr.storage, ct.node); e != nil {
		return "", e
	}
	if e := s.checkPerm(p, "/storage/"+dr.storage, "Datastore.AllocateSpace"); e != nil {
		return "", e
	}
	v, err := s.allocDisk(dr.storage, ct.node, ct.vmid, dr.size, "vm")
	if err != nil {
		return "", errf("%v", err)
	}
	dr.ps.def = v.volid
	dr.ps.keys["size"] = formatSize(dr.size)
	return dr.ps.print(f), nil
}

// applyPending is vmconfig_apply_pending, run at start and reboot.
func (s *Server) applyPending(ct *container) {
	if len(ct.pending) == 0 && len(ct.pendingDel) == 0 {
		return
	}
	for k, v := range ct.pending {
		ct.conf[k] = v
	}
	for _, k := range ct.pendingDel {
		s.deleteOption(ct, k)
	}
	ct.pending = ctConf{}
	ct.pendingDel = nil
	ct.touch()
}

// ---- resize ----------------------------------------------------------------

var reResize = regexp.MustCompile(`^(\+)?(\d+(?:\.\d+)?)([KMGT])?$`)

func hResize(s *Server, rq *request) (any, *apiError) {
	p := rq.params
	disk := p["disk"]
	m := reResize.FindStringSubmatch(p["size"])
	return upidResult(s.flockedCTTask(rq, TaskResize, func(ct *container) (worker, *apiError) {
		if d := p["digest"]; d != "" && d != ct.digest() {
			return nil, errf("detected modified configuration - file changed by other user? Try again.")
		}
		if e := ct.checkLock(); e != nil {
			return nil, e
		}
		val := ct.conf[disk]
		if val == "" {
			return nil, errf("unable to parse mountpoint '%s' - not defined", disk)
		}
		j := &resizeJob{s: s, node: ct.node, vmid: ct.vmid, disk: disk, volid: diskVolid(val), cur: diskSize(val)}
		n, _ := parseSize(m[2] + m[3])
		j.newSize = n
		if m[1] == "+" {
			j.newSize = j.cur + n
		}
		if j.newSize < j.cur {
			return nil, errf("unable to shrink disk size")
		}
		if j.newSize == j.cur {
			return nil, errf("disk is already at specified size")
		}
		return j.run, nil
	}))
}

// resizeJob is the resize worker of one disk.
type resizeJob struct {
	s            *Server
	node         string
	vmid         int
	disk, volid  string
	cur, newSize uint64
}

func (j *resizeJob) run(tr *taskRun) error {
	var err error
	tr.locked(func() {
		st, v := j.s.volumeOf(j.volid, j.node)
		if v == nil {
			return
		}
		if grow := j.newSize - j.cur; st.avail() < grow {
			//nolint:staticcheck // PVE's exact, capitalized text
			err = fmt.Errorf("Insufficient free space in thin pool (%d < %d)", st.avail(), grow)
		}
	})
	if err != nil {
		return err
	}
	tr.log("  Size of logical volume %s changed from %s to %s.", j.volid, humanSize(j.cur), humanSize(j.newSize))
	if err := tr.commit(nil, j.apply); err != nil || tr.ghost {
		return err
	}
	tr.log("resize2fs 1.47.2 (1-Jan-2025)")
	tr.log("The filesystem on /dev/loop0 is now %d (4k) blocks long.", j.newSize/4096)
	return nil
}

// apply grows the volume and records the size in the config. The caller
// holds s.mu.
func (j *resizeJob) apply() {
	if _, v := j.s.volumeOf(j.volid, j.node); v != nil {
		v.size = j.newSize
	}
	c := j.s.cts[j.vmid]
	if c == nil || c.conf[j.disk] == "" {
		return
	}
	if ps, err := parseProp(c.conf[j.disk], mpFormatLoose); err == nil {
		ps.keys["size"] = formatSize(j.newSize)
		c.conf[j.disk] = ps.print(diskFormat(j.disk))
		c.touch()
	}
}

func humanSize(b uint64) string {
	return fmt.Sprintf("%.2f GiB", float64(b)/float64(GiB))
}

// ---- template ----------------------------------------------------------------

// hTemplate returns null but still forks a vztemplate worker whose UPID is
// never returned; clients poll the config for template: 1.
func hTemplate(s *Server, rq *request) (any, *apiError) {
	_, e := s.flockedCTTask(rq, TaskTemplate, func(ct *container) (worker, *apiError) {
		if e := ct.checkLock(); e != nil {
			return nil, e
		}
		if len(ct.snaps) > 0 {
			return nil, errf("unable to create template, because CT contains snapshots")
		}
		if ct.isTemplate() {
			return nil, errf("you can't convert a template to a template")
		}
		if ct.running {
			return nil, errf("you can't convert a CT to template if the CT is running")
		}
		node, vmid := ct.node, ct.vmid
		return func(tr *taskRun) error {
			return tr.commit(nil, func() { s.convertToTemplate(tr, node, vmid) })
		}, nil
	})
	return nil, e
}

// baseRenamed are the storage types whose create_base renames a template's
// volumes to base-<vmid>-… (ZFS and RBD as well as LVM-thin): the clone
// feature tells a base from a normal volume by that name.
var baseRenamed = map[string]bool{"lvmthin": true, "zfspool": true, "rbd": true}

// convertToTemplate renames the CT's volumes to base-<vmid>-… where the
// storage does, and marks it a template. The caller holds s.mu.
func (s *Server) convertToTemplate(tr *taskRun, node string, vmid int) {
	c := s.cts[vmid]
	if c == nil {
		return
	}
	for _, k := range diskKeys(c.conf) {
		volid := diskVolid(c.conf[k])
		st, v := s.volumeOf(volid, node)
		if v == nil || !baseRenamed[st.def.spec.Type] {
			continue
		}
		newID := strings.Replace(volid, fmt.Sprintf(":vm-%d-", vmid), fmt.Sprintf(":base-%d-", vmid), 1)
		if st.def.spec.Type == "lvmthin" {
			tr.logLocked("  Renamed \"%s\" to \"%s\" in volume group \"pve\"", v.volName(), lvName(newID))
		}
		st.remove(volid)
		v.volid = newID
		st.add(v)
		c.conf[k] = strings.Replace(c.conf[k], volid, newID, 1)
	}
	c.conf["template"] = "1"
	c.touch()
}

// ---- interfaces ------------------------------------------------------------

// hInterfaces: data null while stopped; lo plus one entry per netN, with the
// static address or a DHCP lease that appears DHCPDelay after start.
func hInterfaces(s *Server, rq *request) (any, *apiError) {
	return s.onCT(rq, func(ct *container) (any, *apiError) {
		if !ct.running {
			return nil, nil
		}
		return s.interfaces(ct), nil
	})
}

func (s *Server) interfaces(ct *container) []map[string]any {
	leased := s.now().Sub(ct.startedAt) >= s.opts.DHCPDelay
	out := []map[string]any{ifaceEntry("lo", "00:00:00:00:00:00", "127.0.0.1/8", "::1/128", "")}
	var keys []string
	for k := range ct.conf {
		if _, ok := indexOf(k, "net"); ok {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		a, _ := indexOf(keys[i], "net")
		b, _ := indexOf(keys[j], "net")
		return a < b
	})
	for _, k := range keys {
		ps, err := parseProp(ct.conf[k], netFormat)
		if err != nil {
			continue
		}
		mac := strings.ToLower(ps.keys["hwaddr"])
		inet := ""
		switch ip := ps.keys["ip"]; ip {
		case "", "manual":
		case "dhcp":
			if leased {
				inet = dhcpAddress(ct.vmid)
			}
		default:
			inet = ip
		}
		inet6 := ""
		switch ip6 := ps.keys["ip6"]; ip6 {
		case "", "manual":
		case "auto", "dhcp":
			if leased {
				inet6 = fmt.Sprintf("fd00::%x/64", ct.vmid)
			}
		default:
			inet6 = ip6
		}
		out = append(out, ifaceEntry(ps.keys["name"], mac, inet, inet6, linkLocal(mac)))
	}
	return out
}

// dhcpAddress is the deterministic lease of a CT.
func dhcpAddress(vmid int) string {
	return fmt.Sprintf("10.10.%d.%d/16", (vmid/250)%256, vmid%250+2)
}

// linkLocal derives the EUI-64 fe80:: address from a MAC.
func linkLocal(mac string) string {
	hw, err := net.ParseMAC(mac)
	if err != nil || len(hw) != 6 {
		return ""
	}
	return fmt.Sprintf("fe80::%02x%02x:%02xff:fe%02x:%02x%02x/64", hw[0]^2, hw[1], hw[2], hw[3], hw[4], hw[5])
}

func ifaceEntry(name, mac, inet, inet6, ll string) map[string]any {
	e := map[string]any{"name": name, "hwaddr": mac, "hardware-address": mac}
	var addrs []map[string]any
	add := func(cidr, typ string) {
		ip, prefix, _ := strings.Cut(cidr, "/")
		n, _ := strconv.Atoi(prefix)
		addrs = append(addrs, map[string]any{"ip-address": ip, "ip-address-type": typ, "prefix": n})
	}
	if inet != "" {
		e["inet"] = inet
		add(inet, "inet")
	}
	if inet6 != "" {
		e["inet6"] = inet6
		add(inet6, "inet6")
	}
	if ll != "" {
		if inet6 == "" {
			e["inet6"] = ll
		}
		add(ll, "inet6")
	}
	if addrs == nil {
		addrs = []map[string]any{}
	}
	e["ip-addresses"] = addrs
	return e
}

// ---- feature ----------------------------------------------------------------

// hFeature is pve-container's vm_feature: has_feature over every mount
// point, answered as {hasFeature: 0|1} alone. PVE has the node list of
// shared storage commented out, so there is no "nodes" member.
func hFeature(s *Server, rq *request) (any, *apiError) {
	return s.onCT(rq, func(ct *container) (any, *apiError) {
		conf := ct.conf
		name := rq.params["snapname"]
		if name != "" {
			sn := ct.snaps[name]
			if sn == nil {
				return nil, errf("snapshot '%s' does not exist", name)
			}
			conf = sn.conf
		}
		has := s.ctHasFeature(rq.params["feature"], conf, name, ct.node)
		return map[string]any{"hasFeature": b01(has)}, nil
	})
}
