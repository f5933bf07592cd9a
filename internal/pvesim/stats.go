package pvesim

import (
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
	if n := s.nodes[ct.node]; n != nil {
		st.cpus = n.cpus
	} else {
		st.cpus = 1
	}
	if cores := atoiDefault(c["cores"], 0); cores > 0 {
		st.cpus = cores
	}
	// PVE copies cpulimit's raw string into cpus, which is why clients that
	// decode cpus as an integer break when cpulimit is set.
	if cl := c["cpulimit"]; cl != "" && cl != "0" {
		st.cpus = cl
	}
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

// listEntry renders one element of GET /nodes/{node}/lxc.
func (s *Server) lxcListEntry(ct *container, now time.Time) map[string]any {
	m := s.statusCurrent(ct, now)
	delete(m, "ha")
	m["vmid"] = strconv.Itoa(ct.vmid)
	return m
}
