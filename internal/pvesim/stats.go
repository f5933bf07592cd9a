package pvesim

import (
	"math"
	"strconv"
	"time"
)

// guestStats are the runtime numbers of a guest, as vmstatus and pvestatd's
// RRD report them. They are synthetic but deterministic per VMID and second.
type guestStats struct {
	name      string
	status    string
	template  int
	uptime    int64
	cpu       float64
	cpus      any // int, or the raw cpulimit string (PVE's type quirk)
	mem       uint64
	maxmem    uint64
	swap      uint64
	maxswap   uint64
	disk      uint64
	maxdisk   uint64
	netin     uint64
	netout    uint64
	diskread  uint64
	diskwrite uint64
	pid       int
}

const mib = uint64(1) << 20

// ctStats computes vmstatus for a container; the caller holds s.mu.
func (s *Server) ctStats(ct *container, now time.Time) guestStats {
	c := ct.conf
	st := guestStats{name: ct.hostname(), status: "stopped"}
	if ct.isTemplate() {
		st.template = 1
	}
	memMiB := uint64(atoiDefault(c["memory"], 512))
	st.maxmem = memMiB * mib
	st.maxswap = uint64(atoiDefault(c["swap"], 0)) * mib
	if r := c["rootfs"]; r != "" {
		st.maxdisk = diskSize(r)
	}
	st.cpus = s.vmstatusCPUs(ct)
	if !ct.running {
		return st
	}
	st.status = "running"
	st.pid = ct.pid
	up := int64(now.Sub(ct.startedAt) / time.Second)
	if up < 0 {
		up = 0
	}
	st.uptime = up
	v := uint64(ct.vmid)
	st.mem = st.maxmem / 100 * (12 + v%23)
	st.swap = 0
	st.disk = st.maxdisk / 100 * (18 + v%31)
	st.cpu = float64(1+(v+uint64(now.Unix()))%9) / 1000
	st.netin = uint64(up)*1843 + v*97
	st.netout = uint64(up)*911 + v*31
	st.diskread = 48*mib + v*4096
	st.diskwrite = 12*mib + uint64(up)*2048
	return st
}

// vmstatusCPUs is the cpus of PVE::LXC::vmstatus: "cores || cpulimit",
// falling back to the host's CPU count. cpulimit never caps cores; it only
// stands in when cores is unset. "Set" is Perl truth, so "" and "0" count as
// unset. cores comes from the config parser as an integer but cpulimit as
// the raw string (schema type number), so that fallback reaches the JSON as
// a string; clients that decode cpus as an integer break on it.
func (s *Server) vmstatusCPUs(ct *container) any {
	if cores := atoiDefault(ct.conf["cores"], 0); cores > 0 {
		return cores
	}
	if cl := ct.conf["cpulimit"]; cl != "" && cl != "0" {
		return cl
	}
	if n := s.nodes[ct.node]; n != nil && n.cpus > 0 {
		return n.cpus
	}
	return 1
}

// rrdNumber is how pve-manager's extract_vm_stats reads a value back from
// pvestatd's RRD line, "($v || 0) + 0": /cluster/resources gets a JSON
// number (1.5, not "1.5") even where vmstatus had cpulimit's string.
func rrdNumber(v any) any {
	str, ok := v.(string)
	if !ok {
		return v
	}
	f, err := strconv.ParseFloat(str, 64)
	if err != nil {
		return 0
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int(f)
	}
	return f
}

// statusCurrent renders GET …/status/current: lock and template are absent
// when unset, like PVE.
func (s *Server) statusCurrent(ct *container, now time.Time) map[string]any {
	st := s.ctStats(ct, now)
	m := map[string]any{
		"vmid": ct.vmid, "type": "lxc", "name": st.name, "status": st.status, "uptime": st.uptime,
		"cpu": st.cpu, "cpus": st.cpus, "mem": st.mem, "maxmem": st.maxmem, "swap": st.swap,
		"maxswap": st.maxswap, "disk": st.disk, "maxdisk": st.maxdisk, "netin": st.netin,
		"netout": st.netout, "diskread": st.diskread, "diskwrite": st.diskwrite,
		"ha": map[string]any{"managed": 0},
	}
	if st.pid > 0 {
		m["pid"] = st.pid
	}
	if t := ct.conf["tags"]; t != "" {
		m["tags"] = t
	}
	if l := ct.lock(); l != "" {
		m["lock"] = l
	}
	if st.template == 1 {
		m["template"] = 1
	}
	return m
}

// listEntry renders one element of GET /nodes/{node}/lxc: the vmstatus
// entry without ha. vmid is an integer, as pve-container's config_list has
// made it (int($vmid)) since PVE 8.1; it was a string before.
func (s *Server) lxcListEntry(ct *container, now time.Time) map[string]any {
	m := s.statusCurrent(ct, now)
	delete(m, "ha")
	return m
}
