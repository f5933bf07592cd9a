package pvesim

import (
	"fmt"
	"sort"
	"strconv"
	"time"
)

func hVersion(s *Server, rq *request) (any, *apiError) {
	return map[string]any{"version": PVEVersion, "release": PVERelease, "repoid": "14a22df5"}, nil
}

func hIndex(entries ...string) handlerFunc {
	return func(s *Server, rq *request) (any, *apiError) {
		out := make([]map[string]any, 0, len(entries))
		for _, e := range entries {
			out = append(out, map[string]any{"subdir": e})
		}
		return out, nil
	}
}

// hCTIndex is a per-CT directory index; like PVE it loads the config first.
func hCTIndex(entries ...string) handlerFunc {
	idx := hIndex(entries...)
	return func(s *Server, rq *request) (any, *apiError) {
		s.mu.Lock()
		_, e := s.ctOn(rq.node(), rq.vmid())
		s.mu.Unlock()
		if e != nil {
			return nil, e
		}
		return idx(s, rq)
	}
}

// hClusterStatus: the "cluster" entry exists only when clustered; booleans
// are 0/1 (go-proxmox does v.(float64) on them).
func hClusterStatus(s *Server, rq *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	online := 0
	for _, name := range s.nodeOrder {
		if s.nodes[name].online {
			online++
		}
	}
	if len(s.nodeOrder) > 1 {
		out = append(out, map[string]any{
			"type": "cluster", "id": "cluster", "name": s.opts.ClusterName, "nodes": len(s.nodeOrder),
			"version": len(s.nodeOrder) + 2, "quorate": b01(online*2 > len(s.nodeOrder)),
		})
	}
	for i, name := range s.nodeOrder {
		n := s.nodes[name]
		out = append(out, map[string]any{
			"type": "node", "id": "node/" + name, "name": name, "nodeid": n.nodeid,
			"local": b01(i == 0), "online": b01(n.online), "ip": n.ip, "level": "",
		})
	}
	return out, nil
}

func b01(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ---- /cluster/resources ----------------------------------------------------

// rrdSnapshot is pvestatd's view of guest statistics, refreshed periodically
// when Options.ResourcesRefresh is set.
type rrdSnapshot struct {
	gen    int
	guests map[int]guestStats
}

func (s *Server) startRRDRefresher() {
	s.mu.Lock()
	s.refreshRRDLocked()
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(s.opts.ResourcesRefresh)
		defer t.Stop()
		for {
			select {
			case <-s.quit:
				return
			case <-t.C:
				s.mu.Lock()
				s.refreshRRDLocked()
				s.mu.Unlock()
			}
		}
	}()
}

// refreshRRDLocked samples every guest on an online node; guests on offline
// nodes keep their last sample, as no pvestatd reports for them.
func (s *Server) refreshRRDLocked() {
	now := s.now()
	next := &rrdSnapshot{guests: make(map[int]guestStats, len(s.cts))}
	if s.rrd != nil {
		next.gen = s.rrd.gen + 1
	}
	for vmid, ct := range s.cts {
		if n := s.nodes[ct.node]; n != nil && !n.online {
			if s.rrd != nil {
				if old, ok := s.rrd.guests[vmid]; ok {
					next.guests[vmid] = old
				}
			}
			continue
		}
		next.guests[vmid] = s.ctStats(ct, now)
	}
	s.rrd = next
}

// RefreshResources forces an immediate pvestatd-style refresh of the
// /cluster/resources statistics (only meaningful with ResourcesRefresh set).
func (s *Server) RefreshResources() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.ResourcesRefresh > 0 {
		s.refreshRRDLocked()
	}
	s.bumpVersion()
}

type guestResource struct {
	ID        string  `json:"id"`
	Type      string  `json:"type"`
	VMID      int     `json:"vmid"`
	Node      string  `json:"node"`
	Name      string  `json:"name"`
	Status    string  `json:"status"`
	Template  int     `json:"template"`
	MaxCPU    any     `json:"maxcpu"`
	CPU       float64 `json:"cpu"`
	MaxMem    uint64  `json:"maxmem"`
	Mem       uint64  `json:"mem"`
	MaxDisk   uint64  `json:"maxdisk"`
	Disk      uint64  `json:"disk"`
	NetIn     uint64  `json:"netin"`
	NetOut    uint64  `json:"netout"`
	DiskRead  uint64  `json:"diskread"`
	DiskWrite uint64  `json:"diskwrite"`
	Uptime    int64   `json:"uptime"`
	Tags      string  `json:"tags,omitempty"`
	Lock      string  `json:"lock,omitempty"`
	Pool      string  `json:"pool,omitempty"`
	HAState   string  `json:"hastate,omitempty"`
}

// unknownGuest is a guest pvestatd has not reported yet (or whose node is
// offline): no name and no numbers.
type unknownGuest struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	VMID   int    `json:"vmid"`
	Node   string `json:"node"`
	Status string `json:"status"`
	Tags   string `json:"tags,omitempty"`
	Lock   string `json:"lock,omitempty"`
	Pool   string `json:"pool,omitempty"`
}

type resourcesCacheEntry struct {
	key  string
	body []byte
}

// hClusterResources serves the resource list. The full list for a caller
// with every privilege is cached per state version and second, so polling
// 10,000 guests stays cheap while values remain live.
func hClusterResources(s *Server, rq *request) (any, *apiError) {
	typ := rq.params["type"]
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	unrestricted := s.unrestricted(rq.auth)
	rrdGen := -1
	if s.rrd != nil {
		rrdGen = s.rrd.gen
	}
	key := fmt.Sprintf("%d|%d|%d", s.version, now.Unix(), rrdGen)
	if unrestricted {
		if e := s.resCache[typ]; e != nil && e.key == key {
			return rawJSON(e.body), nil
		}
	}
	var out []any
	if typ == "" || typ == "node" {
		out = append(out, s.nodeResources(rq.auth)...)
	}
	if typ == "" || typ == "storage" {
		out = append(out, s.storageResources(rq.auth)...)
	}
	if typ == "" || typ == "vm" {
		out = append(out, s.guestResources(rq.auth, now)...)
	}
	if typ == "" || typ == "sdn" {
		for _, name := range s.nodeOrder {
			status := "ok"
			if !s.nodes[name].online {
				status = "unknown"
			}
			out = append(out, map[string]any{"id": "sdn/" + name + "/localnetwork", "type": "sdn", "sdn": "localnetwork", "node": name, "status": status})
		}
	}
	body, err := encodeResources(out)
	if err != nil {
		return nil, errf("%v", err)
	}
	if unrestricted {
		s.resCache[typ] = &resourcesCacheEntry{key: key, body: body}
	}
	return rawJSON(body), nil
}

// unrestricted reports whether p holds every privilege everywhere, which
// makes filtered listings identical to the full ones.
func (s *Server) unrestricted(p *principal) bool {
	if p == nil || p.privs != nil || len(p.denied) > 0 {
		return false
	}
	if p.token != "" {
		if u := s.principals[p.user]; u != nil && (u.privs != nil || len(u.denied) > 0) {
			return false
		}
	}
	return true
}

func (s *Server) nodeResources(p *principal) []any {
	var out []any
	for _, name := range s.nodeOrder {
		n := s.nodes[name]
		if !s.hasPriv(p, "/nodes/"+name, "Sys.Audit") {
			continue
		}
		e := map[string]any{"id": "node/" + name, "type": "node", "node": name, "level": "", "cgroup-mode": 2}
		s.addNodeStatus(e, n)
		out = append(out, e)
	}
	return out
}

// addNodeStatus fills the status and, for an online node, the load figures
// of a /nodes or /cluster/resources entry.
func (s *Server) addNodeStatus(e map[string]any, n *node) {
	if !n.online {
		e["status"] = "offline"
		return
	}
	e["status"] = "online"
	e["cpu"] = 0.031
	e["maxcpu"] = n.cpus
	e["mem"] = s.nodeMemUsed(n.name)
	e["maxmem"] = n.memory
	e["disk"] = 7 * GiB
	e["maxdisk"] = 100 * GiB
	e["uptime"] = int64(s.now().Sub(n.bootTime) / time.Second)
}

func (s *Server) nodeMemUsed(name string) uint64 {
	used := 2 * GiB
	for _, ct := range s.cts {
		if ct.node == name && ct.running {
			used += uint64(atoiDefault(ct.conf["memory"], 512)) * mib / 5
		}
	}
	return used
}

func (s *Server) storageResources(p *principal) []any {
	var out []any
	for _, def := range s.storages {
		id := def.spec.ID
		if !s.hasPriv(p, "/storage/"+id, "Datastore.Audit") && !s.hasPriv(p, "/storage/"+id, "Datastore.AllocateSpace") {
			continue
		}
		for _, name := range s.nodeOrder {
			if !def.availableOn(name) {
				continue
			}
			st := s.storeFor(id, name)
			status := "available"
			if !s.nodes[name].online {
				status = "unknown"
			}
			out = append(out, map[string]any{
				"id": "storage/" + name + "/" + id, "type": "storage", "storage": id, "node": name,
				"status": status, "content": def.contentString(), "plugintype": def.spec.Type,
				"shared": b01(def.spec.Shared), "maxdisk": def.spec.Total, "disk": st.used(),
			})
		}
	}
	return out
}

func (s *Server) guestResources(p *principal, now time.Time) []any {
	vmids := make([]int, 0, len(s.cts)+len(s.qemus))
	for id := range s.cts {
		vmids = append(vmids, id)
	}
	for id := range s.qemus {
		vmids = append(vmids, id)
	}
	sort.Ints(vmids)
	out := make([]any, 0, len(vmids))
	all := s.unrestricted(p)
	for _, vmid := range vmids {
		if !all && !s.hasPriv(p, "/vms/"+strconv.Itoa(vmid), "VM.Audit") {
			continue
		}
		if vm := s.qemus[vmid]; vm != nil {
			out = append(out, guestResource{ID: fmt.Sprintf("qemu/%d", vmid), Type: "qemu", VMID: vmid, Node: vm.node, Name: vm.name, Status: "stopped", MaxCPU: 1, MaxMem: 2 * GiB, MaxDisk: 32 * GiB})
			continue
		}
		ct := s.cts[vmid]
		var st guestStats
		known := true
		if s.rrd != nil {
			st, known = s.rrd.guests[vmid]
		} else {
			st = s.ctStats(ct, now)
		}
		n := s.nodes[ct.node]
		if !known || (n != nil && !n.online) {
			out = append(out, unknownGuest{
				ID: fmt.Sprintf("lxc/%d", vmid), Type: "lxc", VMID: vmid, Node: ct.node, Status: "unknown",
				Tags: ct.conf["tags"], Lock: ct.lock(), Pool: s.poolMembers[vmid],
			})
			continue
		}
		out = append(out, guestResource{
			ID: fmt.Sprintf("lxc/%d", vmid), Type: "lxc", VMID: vmid, Node: ct.node, Name: st.name,
			Status: st.status, Template: st.template, MaxCPU: rrdNumber(st.cpus), CPU: st.cpu, MaxMem: st.maxmem,
			Mem: st.mem, MaxDisk: st.maxdisk, Disk: st.disk, NetIn: st.netin, NetOut: st.netout,
			DiskRead: st.diskread, DiskWrite: st.diskwrite, Uptime: st.uptime,
			Tags: ct.conf["tags"], Lock: ct.lock(), Pool: s.poolMembers[vmid], HAState: s.haStateOf(vmid),
		})
	}
	return out
}

// ---- /cluster/nextid -------------------------------------------------------

const (
	nextIDLower = 100
	nextIDUpper = 1000000
)

// hNextID returns the VMID as a string (go-proxmox decodes into string).
func hNextID(s *Server, rq *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := rq.params["vmid"]; ok {
		vmid, _ := strconv.Atoi(v)
		if _, _, taken := s.vmidOwner(vmid); taken {
			return nil, paramErr1("vmid", fmt.Sprintf("VM %d already exists", vmid))
		}
		return strconv.Itoa(vmid), nil
	}
	for i := nextIDLower; i < nextIDUpper; i++ {
		if _, _, taken := s.vmidOwner(i); !taken {
			return strconv.Itoa(i), nil
		}
	}
	return nil, errf("unable to get any free VMID in range [%d, %d]", nextIDLower, nextIDUpper-1)
}

// ---- /nodes ----------------------------------------------------------------

func hNodes(s *Server, rq *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, name := range s.nodeOrder {
		n := s.nodes[name]
		if !s.hasPriv(rq.auth, "/nodes/"+name, "Sys.Audit") {
			continue
		}
		e := map[string]any{"node": name, "id": "node/" + name, "type": "node", "level": "", "ssl_fingerprint": s.certFP}
		s.addNodeStatus(e, n)
		out = append(out, e)
	}
	return out, nil
}

// hNodeStatus: loadavg as strings, mhz as a string, like PVE.
func hNodeStatus(s *Server, rq *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nodes[rq.node()]
	used := s.nodeMemUsed(n.name)
	return map[string]any{
		"uptime":         int64(s.now().Sub(n.bootTime) / time.Second),
		"loadavg":        []string{"0.12", "0.18", "0.21"},
		"cpu":            0.031,
		"wait":           0.0004,
		"idle":           0,
		"kversion":       "Linux 6.14.11-2-pve #1 SMP PREEMPT_DYNAMIC PMX 6.14.11-2 (2025-09-12T09:46Z)",
		"current-kernel": map[string]any{"sysname": "Linux", "release": "6.14.11-2-pve", "version": "#1 SMP PREEMPT_DYNAMIC PMX 6.14.11-2 (2025-09-12T09:46Z)", "machine": "x86_64"},
		"boot-info":      map[string]any{"mode": "efi", "secureboot": 0},
		"cpuinfo": map[string]any{
			"cpus": n.cpus, "cores": n.cpus / 2, "sockets": 1, "model": "AMD EPYC 7302P 16-Core Processor",
			"mhz": "2999.998", "flags": "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr", "hvm": "1", "user_hz": 100,
		},
		"memory":     map[string]any{"total": n.memory, "used": used, "free": n.memory - used, "available": n.memory - used},
		"swap":       map[string]any{"total": 8 * GiB, "used": 0, "free": 8 * GiB},
		"ksm":        map[string]any{"shared": 0},
		"rootfs":     map[string]any{"total": 100 * GiB, "used": 7 * GiB, "free": 93 * GiB, "avail": 88 * GiB},
		"pveversion": "pve-manager/" + PVEVersion + "/14a22df5e0c2b9a1",
	}, nil
}
