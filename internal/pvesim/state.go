package pvesim

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// node is one cluster member.
type node struct {
	name     string
	nodeid   int
	online   bool
	cpus     int
	memory   uint64
	bootTime time.Time
	ip       string
	nextPID  int
	// vzdumpLock admits one vzdump job per node, like /var/run/vzdump.lock.
	vzdumpLock chan struct{}
}

// storageDef is one storage.cfg entry.
type storageDef struct {
	spec    StorageSpec
	content map[string]bool
}

func (d *storageDef) availableOn(node string) bool {
	if len(d.spec.Nodes) == 0 {
		return true
	}
	for _, n := range d.spec.Nodes {
		if n == node {
			return true
		}
	}
	return false
}

// snapshots reports whether the simulator's raw volumes on this storage
// support snapshots, by volume_has_feature's table (lvmthin, zfs, rbd,
// btrfs yes; raw files on dir and thick LVM no).
func (d *storageDef) snapshots() bool {
	f, ok := storageFeatures[featurePlugin(d.spec.Type)]["snapshot"]["current"]
	return ok && (f == "*" || strings.Contains(" "+f+" ", " raw "))
}

func (d *storageDef) contentString() string {
	keys := sortedKeys(d.content)
	return strings.Join(keys, ",")
}

// storeKey identifies a storage instance: per node, or node "" when shared.
type storeKey struct{ id, node string }

// storeInst holds the volumes of one storage instance.
type storeInst struct {
	def   *storageDef
	node  string
	vols  []*volume
	byID  map[string]*volume
	extra uint64 // bytes used by things outside the simulation (fault knob)
}

func (st *storeInst) used() uint64 {
	u := st.extra
	for _, v := range st.vols {
		if v.linkedTo == "" {
			u += v.size
		}
	}
	return u
}

func (st *storeInst) avail() uint64 {
	u := st.used()
	if u >= st.def.spec.Total {
		return 0
	}
	return st.def.spec.Total - u
}

func (st *storeInst) add(v *volume) {
	st.vols = append(st.vols, v)
	st.byID[v.volid] = v
}

func (st *storeInst) remove(volid string) {
	delete(st.byID, volid)
	for i, v := range st.vols {
		if v.volid == volid {
			st.vols = append(st.vols[:i:i], st.vols[i+1:]...)
			return
		}
	}
}

// volume is one storage volume.
type volume struct {
	volid     string // "local:backup/vzdump-lxc-100-….tar.zst"
	content   string // vztmpl, backup, rootdir, images, iso
	format    string
	size      uint64
	ctime     int64
	vmid      int
	notes     string
	protected bool
	subtype   string
	// backupConf is the guest config stored inside a backup archive.
	backupConf ctConf
	// linkedTo is the volume a linked clone shares its blocks with; such a
	// clone takes no space of its own until written, so used() skips it.
	linkedTo string
	// origin is the URL a download fetched the file from: it stands for
	// the file's bytes when a later download checks an existing file.
	origin string
	// oci is the image an OCI archive (oci-registry-pull's "<name>.tar")
	// holds; nil for any other volume, so only a pulled archive passes
	// archive_is_oci_format.
	oci *ociArchive
	// files is what is written on the volume, relative path → content
	// (see volume_data.go): it travels with the volume when move_volume
	// hands it to another container, and goes when the volume is
	// destroyed.
	files map[string]string
}

// volName is the part of the volid after "storage:".
func (v *volume) volName() string {
	_, name, _ := strings.Cut(v.volid, ":")
	return name
}

// container is one LXC guest.
type container struct {
	vmid       int
	node       string
	conf       ctConf
	pending    ctConf
	pendingDel []string
	snaps      map[string]*snapshot

	running   bool
	startedAt time.Time
	pid       int
	suspended bool
	createdAt time.Time

	// fault knobs
	ignoreShutdown bool
	digestSalt     int

	digestCache string
	// written is the file exactly as last written over SSH (pmxcfs keeps
	// the bytes); "" once PVE has rewritten it.
	written string
}

func newContainer(vmid int, node string, now time.Time) *container {
	return &container{vmid: vmid, node: node, conf: ctConf{}, pending: ctConf{}, snaps: map[string]*snapshot{}, createdAt: now}
}

func (ct *container) lock() string     { return ct.conf["lock"] }
func (ct *container) isTemplate() bool { return ct.conf["template"] == "1" }

func (ct *container) hostname() string {
	if h := ct.conf["hostname"]; h != "" {
		return h
	}
	return fmt.Sprintf("CT%d", ct.vmid)
}

// checkLock is AbstractConfig::check_lock.
func (ct *container) checkLock() *apiError {
	if l := ct.lock(); l != "" {
		return errf("CT is locked (%s)", l)
	}
	return nil
}

func (ct *container) setLock(l string) {
	if l == "" {
		delete(ct.conf, "lock")
	} else {
		ct.conf["lock"] = l
	}
	ct.touch()
}

// qemuVM only reserves a VMID: the simulator does not model VMs, but VMIDs
// are unique across qemu and lxc.
type qemuVM struct {
	vmid int
	node string
	name string
}

// ---- volumes & disks ------------------------------------------------------

var reVolid = regexp.MustCompile(`^(?i)([a-z][a-z0-9\-_.]*[a-z0-9]):(.+)$`)

// parseVolid splits "storage:name".
func parseVolid(volid string) (storage, name string, ok bool) {
	m := reVolid.FindStringSubmatch(volid)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// storeFor returns the storage instance of id as seen from node.
func (s *Server) storeFor(id, node string) *storeInst {
	def := s.storageByID[id]
	if def == nil {
		return nil
	}
	if def.spec.Shared {
		return s.stores[storeKey{id, ""}]
	}
	return s.stores[storeKey{id, node}]
}

// volumeOf resolves a volid on node.
func (s *Server) volumeOf(volid, node string) (*storeInst, *volume) {
	sid, _, ok := parseVolid(volid)
	if !ok {
		return nil, nil
	}
	st := s.storeFor(sid, node)
	if st == nil {
		return nil, nil
	}
	return st, st.byID[volid]
}

// diskKeys returns the rootfs and mpN keys of a config section in PVE's
// foreach_mountpoint order: rootfs, then mp0, mp1, … (so disk-0 is rootfs).
func diskKeys[V any](c map[string]V) []string {
	var keys []string
	for k := range c {
		if k == "rootfs" {
			keys = append(keys, k)
		} else if _, ok := indexOf(k, "mp"); ok {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return mountOrder(keys[i]) < mountOrder(keys[j]) })
	return keys
}

func mountOrder(k string) int {
	if k == "rootfs" {
		return -1
	}
	n, _ := indexOf(k, "mp")
	return n
}

// diskVolid extracts the volume of a rootfs/mp value.
func diskVolid(val string) string {
	v, _, _ := strings.Cut(val, ",")
	return v
}

// diskSize extracts size=… of a rootfs/mp value in bytes. It is on the
// /cluster/resources hot path, hence the plain string scan.
func diskSize(val string) uint64 {
	i := strings.Index(val, ",size=")
	if i < 0 {
		return 0
	}
	v := val[i+len(",size="):]
	if j := strings.IndexByte(v, ','); j >= 0 {
		v = v[:j]
	}
	n, _ := parseSize(v)
	return n
}

// mpFormatLoose parses rootfs and mp values alike when only reading them.
var mpFormatLoose = &propFormat{defaultKey: "volume", keys: mergeKeys(rootfsFormat.keys, mpFormat.keys)}

func mergeKeys(ms ...map[string]*regexp.Regexp) map[string]*regexp.Regexp {
	out := map[string]*regexp.Regexp{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// nextDiskName picks vm-<vmid>-disk-N (or base-…) unused on the storage.
func nextDiskName(st *storeInst, vmid int, prefix string) string {
	for i := 0; ; i++ {
		name := fmt.Sprintf("%s-%d-disk-%d", prefix, vmid, i)
		volid := st.def.spec.ID + ":" + diskVolName(st.def, vmid, name)
		if st.byID[volid] == nil {
			return name
		}
	}
}

// diskVolName is the storage-specific volume name of a guest disk.
func diskVolName(def *storageDef, vmid int, name string) string {
	if def.spec.Type == "dir" {
		return fmt.Sprintf("%d/%s.raw", vmid, name)
	}
	return name
}

// allocDisk allocates a guest disk; the caller holds s.mu.
func (s *Server) allocDisk(storage, node string, vmid int, size uint64, prefix string) (*volume, error) {
	st := s.storeFor(storage, node)
	if st == nil {
		return nil, fmt.Errorf("storage '%s' does not exist", storage)
	}
	if st.avail() < size {
		if st.def.spec.Type == "lvmthin" || st.def.spec.Type == "lvm" {
			return nil, fmt.Errorf("not enough free space (%d < %d)", st.avail(), size)
		}
		return nil, fmt.Errorf("mkfs.ext4: No space left on device while writing out and closing file system")
	}
	name := nextDiskName(st, vmid, prefix)
	v := &volume{
		volid:   storage + ":" + diskVolName(st.def, vmid, name),
		content: "rootdir",
		format:  "raw",
		size:    size,
		ctime:   s.now().Unix(),
		vmid:    vmid,
	}
	st.add(v)
	return v, nil
}

// freeDisks removes the volumes referenced by a config (and its snapshots).
func (s *Server) freeDisks(ct *container) {
	seen := map[string]bool{}
	collect := func(c ctConf) {
		for _, k := range diskKeys(c) {
			seen[diskVolid(c[k])] = true
		}
		for k, v := range c {
			if _, ok := indexOf(k, "unused"); ok {
				seen[v] = true
			}
		}
	}
	collect(ct.conf)
	collect(ct.pending)
	for _, sn := range ct.snaps {
		collect(sn.conf)
	}
	for volid := range seen {
		if st, v := s.volumeOf(volid, ct.node); v != nil && v.content != "backup" {
			st.remove(volid)
		}
	}
}

// ---- VMID registry ---------------------------------------------------------

// vmidOwner reports who holds a VMID: "CT" or "VM" and the node.
func (s *Server) vmidOwner(vmid int) (kind, node string, taken bool) {
	if ct := s.cts[vmid]; ct != nil {
		return "CT", ct.node, true
	}
	if vm := s.qemus[vmid]; vm != nil {
		return "VM", vm.node, true
	}
	return "", "", false
}

// checkVMIDUnused is PVE::Cluster::check_vmid_unused.
func (s *Server) checkVMIDUnused(vmid int) *apiError {
	if kind, node, taken := s.vmidOwner(vmid); taken {
		return errf("%s %d already exists on node '%s'", kind, vmid, node)
	}
	return nil
}

// ---- misc -----------------------------------------------------------------

func (s *Server) now() time.Time { return s.opts.Now() }

// genMAC returns a PVE-style BC:24:11:xx:xx:xx address.
func (s *Server) genMAC() string {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return fmt.Sprintf("BC:24:11:%02X:%02X:%02X", s.rng.IntN(256), s.rng.IntN(256), s.rng.IntN(256))
}

// randDuration picks a duration for a task type.
func (s *Server) taskDuration(typ string) time.Duration {
	// rngMu also guards Durations, which SetTaskDuration replaces.
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	r, ok := s.opts.Durations[typ]
	if !ok {
		r = DurationRange{50 * time.Millisecond, 100 * time.Millisecond}
	}
	if r.Max <= r.Min {
		return r.Min
	}
	return r.Min + time.Duration(s.rng.Int64N(int64(r.Max-r.Min)))
}

// osTypeFromTemplate guesses ostype like PVE's template inspection does.
func osTypeFromTemplate(volid string) string {
	name := strings.ToLower(volid)
	for _, os := range []string{"debian", "ubuntu", "alpine", "centos", "fedora", "archlinux", "opensuse", "gentoo", "devuan", "nixos"} {
		if strings.Contains(name, os) {
			return os
		}
	}
	if strings.Contains(name, "rocky") || strings.Contains(name, "alma") {
		return "centos"
	}
	return "unmanaged"
}

func atoiDefault(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return n
}

func (s *Server) bumpVersion() { s.version++ }

func (s *Server) randIntn(n int) int {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.IntN(n)
}

func (s *Server) randFloat() float64 {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.Float64()
}

func unixTime(sec int64) time.Time { return time.Unix(sec, 0) }
