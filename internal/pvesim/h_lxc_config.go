package pvesim

import (
	"fmt"
	"net"
	"regexp"
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
	s.mu.Lock()
	defer s.mu.Unlock()
	ct, e := s.ctOn(rq.node(), rq.vmid())
	if e != nil {
		return nil, e
	}
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
	s.mu.Lock()
	defer s.mu.Unlock()
	ct, e := s.ctOn(rq.node(), rq.vmid())
	if e != nil {
		return nil, e
	}
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
	return out, nil
}

// fastplugOptions apply at once even while running ($LXC_FASTPLUG_OPTIONS);
// hotplugOptions are applied live to a running CT; all else waits for the
// next start/reboot in [pve:pending].
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

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// hConfigPut is update_vm: synchronous, returns null.
func hConfigPut(s *Server, rq *request) (any, *apiError) {
	p := rq.params
	node, vmid := rq.node(), rq.vmid()
	del := splitList(p["delete"])
	revert := splitList(p["revert"])
	changes := map[string]string{}
	for k, v := range p {
		if !configUpdateParams[k] {
			changes[k] = v
		}
	}
	if len(changes) == 0 && len(del) == 0 && len(revert) == 0 {
		return nil, errf("no options specified")
	}
	for _, opt := range del {
		if _, ok := changes[opt]; ok {
			return nil, paramErr1("delete", fmt.Sprintf("you can't use '-%s' and -delete %s' at the same time", opt, opt))
		}
		if !optionExists(opt) {
			return nil, paramErr1("delete", fmt.Sprintf("unknown option '%s'", opt))
		}
		if contains(revert, opt) {
			return nil, paramErr1("revert", fmt.Sprintf("you can't use '-delete %s' and '-revert %s' at the same time", opt, opt))
		}
	}
	for _, opt := range revert {
		if !optionExists(opt) {
			return nil, paramErr1("revert", fmt.Sprintf("unknown option '%s'", opt))
		}
		if _, ok := changes[opt]; ok {
			return nil, paramErr1("revert", fmt.Sprintf("you can't use '-%s' and '-revert %s' at the same time", opt, opt))
		}
	}
	if e := s.acquireFlock(vmid, rq.r.Context().Done()); e != nil {
		return nil, e
	}
	defer s.releaseFlock(vmid)
	s.mu.Lock()
	defer s.mu.Unlock()
	ct, e := s.ctOn(node, vmid)
	if e != nil {
		return nil, e
	}
	vmPath := "/vms/" + strconv.Itoa(vmid)
	unprivileged := ct.conf["unprivileged"] == "1"
	for k, v := range changes {
		if e := s.checkPerm(rq.auth, vmPath, configPrivilege(k)); e != nil {
			return nil, e
		}
		if e := rootOnlyCheck(rq.authID(), k, v, ct.conf[k], unprivileged); e != nil {
			return nil, e
		}
	}
	for _, k := range del {
		if e := s.checkPerm(rq.auth, vmPath, configPrivilege(k)); e != nil {
			return nil, e
		}
	}
	// update_vm calls check_lock unconditionally: even "delete=lock" fails on
	// a locked CT. Only `pct unlock` on the node (or SetLock here) clears it.
	if e := ct.checkLock(); e != nil {
		return nil, e
	}
	if d := p["digest"]; d != "" && d != ct.digest() {
		return nil, errf("detected modified configuration - file changed by other user? Try again.")
	}
	if _, ok := changes["unprivileged"]; ok {
		return nil, errf("unable to modify read-only option: 'unprivileged'")
	}
	for _, k := range del {
		switch k {
		case "unprivileged":
			return nil, errf("unable to delete read-only option: '%s'", k)
		case "rootfs", "hostname", "memory":
			return nil, errf("unable to delete required option '%s'", k)
		}
	}
	// Normalize values the way PVE writes them.
	for k, v := range changes {
		switch {
		case k == "tags":
			changes[k] = normalizeTags(v)
		case strings.HasPrefix(k, "net"):
			old := ct.pending[k]
			if old == "" {
				old = ct.conf[k]
			}
			nv, err := s.normalizeNet(v, old)
			if err != nil {
				return nil, paramErr1(k, "invalid format - "+err.Error())
			}
			changes[k] = nv
		case k == "rootfs" || strings.HasPrefix(k, "mp"):
			nv, e := s.updateDisk(ct, k, v, rq.auth)
			if e != nil {
				return nil, e
			}
			changes[k] = nv
		}
	}
	running := ct.running
	for k, v := range changes {
		_, exists := ct.conf[k]
		if running && !appliesLive(k, false, exists) {
			ct.pending[k] = v
		} else {
			ct.conf[k] = v
			delete(ct.pending, k)
		}
		ct.pendingDel = removeString(ct.pendingDel, k)
	}
	for _, k := range del {
		_, inConf := ct.conf[k]
		_, inPending := ct.pending[k]
		delete(ct.pending, k)
		if !inConf && !inPending {
			continue
		}
		if running && !appliesLive(k, true, inConf) {
			if inConf && !contains(ct.pendingDel, k) {
				ct.pendingDel = append(ct.pendingDel, k)
			}
			continue
		}
		s.deleteOption(ct, k)
	}
	for _, k := range revert {
		delete(ct.pending, k)
		ct.pendingDel = removeString(ct.pendingDel, k)
	}
	ct.touch()
	return nil, nil
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
	f := rootfsFormat
	if key != "rootfs" {
		f = mpFormat
	}
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
	node, vmid := rq.node(), rq.vmid()
	disk := p["disk"]
	m := reResize.FindStringSubmatch(p["size"])
	if e := s.acquireFlock(vmid, rq.r.Context().Done()); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fail := func(e *apiError) (any, *apiError) {
		s.releaseFlockLocked(vmid)
		return nil, e
	}
	ct, e := s.ctOn(node, vmid)
	if e != nil {
		return fail(e)
	}
	if d := p["digest"]; d != "" && d != ct.digest() {
		return fail(errf("detected modified configuration - file changed by other user? Try again."))
	}
	if e := ct.checkLock(); e != nil {
		return fail(e)
	}
	val := ct.conf[disk]
	if val == "" {
		return fail(errf("unable to parse mountpoint '%s' - not defined", disk))
	}
	cur := diskSize(val)
	n, _ := parseSize(m[2] + m[3])
	newSize := n
	if m[1] == "+" {
		newSize = cur + n
	}
	if newSize < cur {
		return fail(errf("unable to shrink disk size"))
	}
	if newSize == cur {
		return fail(errf("disk is already at specified size"))
	}
	volid := diskVolid(val)
	t := s.newTask(node, TaskResize, vmidString(vmid), rq.authID())
	t.holdFlock(vmid)
	s.runTask(t, func(tr *taskRun) error {
		var err error
		tr.locked(func() {
			st, v := s.volumeOf(volid, node)
			if v == nil {
				return
			}
			if st.avail() < newSize-cur {
				//nolint:staticcheck // PVE's exact, capitalized text
				err = fmt.Errorf("Insufficient free space in thin pool (%d < %d)", st.avail(), newSize-cur)
			}
		})
		if err != nil {
			return err
		}
		tr.log("  Size of logical volume %s changed from %s to %s.", volid, humanSize(cur), humanSize(newSize))
		if err := tr.work(); err != nil {
			return err
		}
		if tr.ghost {
			return nil
		}
		tr.locked(func() {
			if st, v := s.volumeOf(volid, node); v != nil {
				_ = st
				v.size = newSize
			}
			if c := s.cts[vmid]; c != nil && c.conf[disk] != "" {
				ps, perr := parseProp(c.conf[disk], mpFormatLoose)
				if perr == nil {
					ps.keys["size"] = formatSize(newSize)
					f := rootfsFormat
					if disk != "rootfs" {
						f = mpFormat
					}
					c.conf[disk] = ps.print(f)
					c.touch()
				}
			}
		})
		tr.log("resize2fs 1.47.2 (1-Jan-2025)")
		tr.log("The filesystem on /dev/loop0 is now %d (4k) blocks long.", newSize/4096)
		return nil
	})
	return t.upid, nil
}

func humanSize(b uint64) string {
	return fmt.Sprintf("%.2f GiB", float64(b)/float64(GiB))
}

// ---- template ----------------------------------------------------------------

// hTemplate returns null but still forks a vztemplate worker whose UPID is
// never returned; clients poll the config for template: 1.
func hTemplate(s *Server, rq *request) (any, *apiError) {
	node, vmid := rq.node(), rq.vmid()
	if e := s.acquireFlock(vmid, rq.r.Context().Done()); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fail := func(e *apiError) (any, *apiError) {
		s.releaseFlockLocked(vmid)
		return nil, e
	}
	ct, e := s.ctOn(node, vmid)
	if e != nil {
		return fail(e)
	}
	if e := ct.checkLock(); e != nil {
		return fail(e)
	}
	if len(ct.snaps) > 0 {
		return fail(errf("unable to create template, because CT contains snapshots"))
	}
	if ct.isTemplate() {
		return fail(errf("you can't convert a template to a template"))
	}
	if ct.running {
		return fail(errf("you can't convert a CT to template if the CT is running"))
	}
	t := s.newTask(node, TaskTemplate, vmidString(vmid), rq.authID())
	t.holdFlock(vmid)
	s.runTask(t, func(tr *taskRun) error {
		if err := tr.work(); err != nil {
			return err
		}
		if tr.ghost {
			return nil
		}
		tr.locked(func() {
			c := s.cts[vmid]
			if c == nil {
				return
			}
			for _, k := range diskKeys(c.conf) {
				volid := diskVolid(c.conf[k])
				st, v := s.volumeOf(volid, node)
				if v == nil || st.def.spec.Type != "lvmthin" {
					continue
				}
				newID := strings.Replace(volid, fmt.Sprintf(":vm-%d-", vmid), fmt.Sprintf(":base-%d-", vmid), 1)
				tr.t.lines = append(tr.t.lines, fmt.Sprintf("  Renamed \"%s\" to \"%s\" in volume group \"pve\"", v.volName(), strings.SplitN(newID, ":", 2)[1]))
				st.remove(volid)
				v.volid = newID
				st.add(v)
				c.conf[k] = strings.Replace(c.conf[k], volid, newID, 1)
			}
			c.conf["template"] = "1"
			c.touch()
		})
		return nil
	})
	return nil, nil
}

// ---- interfaces ------------------------------------------------------------

// hInterfaces: data null while stopped; lo plus one entry per netN, with the
// static address or a DHCP lease that appears DHCPDelay after start.
func hInterfaces(s *Server, rq *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ct, e := s.ctOn(rq.node(), rq.vmid())
	if e != nil {
		return nil, e
	}
	if !ct.running {
		return nil, nil
	}
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
	return out, nil
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

func hFeature(s *Server, rq *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ct, e := s.ctOn(rq.node(), rq.vmid())
	if e != nil {
		return nil, e
	}
	conf := ct.conf
	if name := rq.params["snapname"]; name != "" {
		sn := ct.snaps[name]
		if sn == nil {
			return nil, errf("snapshot '%s' does not exist", name)
		}
		conf = sn.conf
	}
	has := true
	for _, k := range diskKeys(conf) {
		st, _ := s.volumeOf(diskVolid(conf[k]), ct.node)
		switch rq.params["feature"] {
		case "snapshot":
			has = has && st != nil && st.def.snapshots()
		case "clone":
			has = has && st != nil && st.def.snapshots() && ct.isTemplate()
		}
	}
	nodes := []string{}
	if has {
		nodes = append(nodes, ct.node)
	}
	return map[string]any{"hasFeature": b01(has), "nodes": nodes}, nil
}
