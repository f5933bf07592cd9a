package pvesim

import (
	"fmt"
	"strings"
	"time"
)

// ContainerSpec describes a pre-existing container to seed.
type ContainerSpec struct {
	Node string `json:"node"`
	VMID int    `json:"vmid"`
	// Config holds raw option values ("memory": "2048", "net0": "name=eth0,…").
	// Missing arch, hostname, memory, swap, ostype, unprivileged and rootfs
	// are filled with PVE's defaults (rootfs: an 8G volume on the first
	// rootdir storage of the node); a nil Config also gets a DHCP net0.
	Config  map[string]string `json:"config,omitempty"`
	Running bool              `json:"running,omitempty"`
	Pool    string            `json:"pool,omitempty"`
}

// AddContainer seeds an existing, unmanaged container directly into state
// (no task, no API call).
func (s *Server) AddContainer(node string, vmid int, config map[string]string, running bool) error {
	return s.AddContainers([]ContainerSpec{{Node: node, VMID: vmid, Config: config, Running: running}})
}

// AddContainers seeds many containers at once.
func (s *Server) AddContainers(specs []ContainerSpec) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sp := range specs {
		if err := s.addContainerLocked(sp); err != nil {
			return err
		}
	}
	s.bumpVersion()
	return nil
}

// SeedContainers bulk-creates count stopped or running containers named
// "seed-<vmid>" with VMIDs firstVMID… on node. It is meant for scale tests
// (10,000 containers take well under a second) and ignores storage capacity.
func (s *Server) SeedContainers(node string, firstVMID, count int, running bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < count; i++ {
		vmid := firstVMID + i
		sp := ContainerSpec{Node: node, VMID: vmid, Running: running, Config: map[string]string{
			"hostname": fmt.Sprintf("seed-%d", vmid),
			"net0":     fmt.Sprintf("name=eth0,bridge=vmbr0,hwaddr=BC:24:%02X:%02X:%02X:%02X,ip=dhcp,type=veth", (vmid>>24)&0xff, (vmid>>16)&0xff, (vmid>>8)&0xff, vmid&0xff),
		}}
		if err := s.addContainerLocked(sp); err != nil {
			return err
		}
	}
	s.bumpVersion()
	return nil
}

func (s *Server) addContainerLocked(sp ContainerSpec) error {
	if s.nodes[sp.Node] == nil {
		return fmt.Errorf("no node %q", sp.Node)
	}
	if sp.VMID < 100 {
		return fmt.Errorf("invalid VMID %d", sp.VMID)
	}
	if e := s.checkVMIDUnused(sp.VMID); e != nil {
		return e
	}
	ct := newContainer(sp.VMID, sp.Node, s.now())
	defaultNet := sp.Config == nil
	for k, v := range sp.Config {
		if !optionExists(k) {
			return fmt.Errorf("CT %d: unknown option %q", sp.VMID, k)
		}
		ct.conf[k] = v
	}
	if defaultNet {
		ct.conf["net0"] = "name=eth0,bridge=vmbr0,hwaddr=" + s.genMAC() + ",ip=dhcp,type=veth"
	}
	defaults := map[string]string{
		"arch": "amd64", "hostname": fmt.Sprintf("CT%d", sp.VMID), "memory": "512", "swap": "512",
		"ostype": "debian", "unprivileged": "1",
	}
	for k, v := range defaults {
		if _, ok := ct.conf[k]; !ok {
			ct.conf[k] = v
		}
	}
	if ct.conf["rootfs"] == "" {
		var st *storeInst
		for _, def := range s.storages {
			if def.content["rootdir"] {
				if st = s.storeFor(def.spec.ID, sp.Node); st != nil {
					break
				}
			}
		}
		if st == nil {
			return fmt.Errorf("no rootdir storage on node %s", sp.Node)
		}
		name := fmt.Sprintf("vm-%d-disk-0", sp.VMID)
		volid := st.def.spec.ID + ":" + diskVolName(st.def, sp.VMID, name)
		ct.conf["rootfs"] = volid + ",size=8G"
	}
	// Register every referenced disk volume that the storage does not know.
	for _, k := range diskKeys(ct.conf) {
		volid := diskVolid(ct.conf[k])
		if strings.HasPrefix(volid, "/") {
			continue
		}
		sid, _, ok := parseVolid(volid)
		if !ok {
			return fmt.Errorf("CT %d: bad volume in %s: %q", sp.VMID, k, ct.conf[k])
		}
		st := s.storeFor(sid, sp.Node)
		if st == nil {
			return fmt.Errorf("CT %d: storage %q not available on %s", sp.VMID, sid, sp.Node)
		}
		if st.byID[volid] == nil {
			st.add(&volume{volid: volid, content: "rootdir", format: "raw", size: diskSize(ct.conf[k]), ctime: s.now().Unix(), vmid: sp.VMID})
		}
	}
	if sp.Running {
		s.markRunning(ct)
	}
	if sp.Pool != "" {
		s.pools[sp.Pool] = true
		s.poolMembers[sp.VMID] = sp.Pool
	}
	s.cts[sp.VMID] = ct
	return nil
}

// AddVM reserves a VMID for a (not simulated) QEMU VM, so VMID conflicts
// across guest types can be tested: "VM 100 already exists on node 'pve1'".
func (s *Server) AddVM(node string, vmid int, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nodes[node] == nil {
		return fmt.Errorf("no node %q", node)
	}
	if e := s.checkVMIDUnused(vmid); e != nil {
		return e
	}
	s.qemus[vmid] = &qemuVM{vmid: vmid, node: node, name: name}
	s.bumpVersion()
	return nil
}

// BackupSpec describes a backup archive to seed.
type BackupSpec struct {
	Storage string `json:"storage,omitempty"` // default "local"
	Node    string `json:"node,omitempty"`    // for non-shared storage
	VMID    int    `json:"vmid"`
	// Time is the archive timestamp (default now); it names the file.
	Time      int64  `json:"time,omitempty"`
	Notes     string `json:"notes,omitempty"`
	Protected bool   `json:"protected,omitempty"`
	// Config is the guest config inside the archive; default: a small
	// Debian CT with an 8G rootfs on local-lvm.
	Config   map[string]string `json:"config,omitempty"`
	Compress string            `json:"compress,omitempty"` // zstd (default), gzip, lzo, 0
}

// AddBackup seeds a vzdump archive and returns its volid.
func (s *Server) AddBackup(b BackupSpec) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b.Storage == "" {
		b.Storage = "local"
	}
	if b.Node == "" && len(s.nodeOrder) > 0 {
		b.Node = s.nodeOrder[0]
	}
	st := s.storeFor(b.Storage, b.Node)
	if st == nil {
		return "", fmt.Errorf("no storage %q on node %q", b.Storage, b.Node)
	}
	if b.Compress == "" {
		b.Compress = "zstd"
	}
	when := s.now()
	if b.Time > 0 {
		when = unixTime(b.Time)
	}
	ext, format := backupExt(b.Compress)
	file := fmt.Sprintf("vzdump-lxc-%d-%s%s", b.VMID, when.In(s.opts.Location).Format("2006_01_02-15_04_05"), ext)
	conf := ctConf{}
	for k, v := range b.Config {
		conf[k] = v
	}
	if len(conf) == 0 {
		conf = ctConf{
			"arch": "amd64", "hostname": fmt.Sprintf("restored-%d", b.VMID), "memory": "512", "swap": "512",
			"ostype": "debian", "unprivileged": "1", "rootfs": fmt.Sprintf("local-lvm:vm-%d-disk-0,size=8G", b.VMID),
			"net0": "name=eth0,bridge=vmbr0,hwaddr=" + s.genMAC() + ",ip=dhcp,type=veth",
		}
	}
	v := &volume{
		volid: b.Storage + ":backup/" + file, content: "backup", format: format, size: 300 * mib,
		ctime: backupCTime(file, s.opts.Location), vmid: b.VMID, subtype: "lxc", notes: b.Notes,
		protected: b.Protected, backupConf: conf,
	}
	st.add(v)
	s.bumpVersion()
	return v.volid, nil
}

// AddTemplate seeds the vztmpl volid on every instance of its storage, as
// an upload (pveam download) would.
func (s *Server) AddTemplate(volid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addTemplateLocked(volid, time.Now())
}

// AddSnippet puts a snippets volume, e.g. local:snippets/hook.sh, on every
// instance of its storage, as copying a script into the storage's
// snippets directory on each node would. PVE takes a hookscript only when
// it exists there; its content types do not matter (PVE resolves the
// path of any volume of a file-based storage).
func (s *Server) AddSnippet(volid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sid, name, ok := parseVolid(volid)
	if !ok || !strings.HasPrefix(name, "snippets/") || len(name) == len("snippets/") {
		return fmt.Errorf("snippet %q is not a snippets volid", volid)
	}
	if def := s.storageByID[sid]; def == nil || def.spec.Type != "dir" {
		return fmt.Errorf("snippet %q: storage %q is not a configured dir storage", volid, sid)
	}
	for key, st := range s.stores {
		if key.id == sid {
			st.add(&volume{volid: volid, content: "snippets", format: "raw", size: 512, ctime: time.Now().Unix()})
		}
	}
	return nil
}

func (s *Server) addTemplateLocked(tmpl string, ctime time.Time) error {
	sid, name, ok := parseVolid(tmpl)
	if !ok || !strings.HasPrefix(name, "vztmpl/") {
		return fmt.Errorf("template %q is not a vztmpl volid", tmpl)
	}
	if s.storageByID[sid] == nil {
		return fmt.Errorf("template %q: storage %q is not configured", tmpl, sid)
	}
	for key, st := range s.stores {
		if key.id != sid {
			continue
		}
		st.add(&volume{
			volid: tmpl, content: "vztmpl", format: templateFormat(name),
			size: templateSize(name), ctime: ctime.Unix(),
		})
	}
	return nil
}
