package pvesim

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/pve-operator/pve-operator/internal/pvesim/sshd"
)

// The container config files as pmxcfs holds them, for the node SSH daemon:
// what cat shows, what a write over SSH changes, and what `pct config` and
// `pct list` print. A write is pmxcfs storing bytes: no lock, flock or
// digest is checked, and the API answers the new config (and a new digest)
// at once.

var _ sshd.ConfigFiles = (*Server)(nil)

// errCreateByFile refuses a config file for a VMID no container has. pmxcfs
// would store it and PVE would then list a container with no volumes behind
// it; the simulator creates containers only through the API.
var errCreateByFile = errors.New("the simulator does not create guests by writing a config file; create the container through the API")

// HasNode implements sshd.ConfigFiles.
func (s *Server) HasNode(node string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nodes[node] != nil
}

// ReadConfigFile implements sshd.ConfigFiles: the file's bytes, whose SHA-1
// is the digest the API reports.
func (s *Server) ReadConfigFile(node string, vmid int) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ct := s.cts[vmid]
	if ct == nil || ct.node != node {
		return "", syscall.ENOENT
	}
	return ct.fileText(), nil
}

// ConfigWritable implements sshd.ConfigFiles.
func (s *Server) ConfigWritable(node string, vmid int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.writableCT(node, vmid)
	return err
}

// writableCT is the container whose file node/lxc/<vmid>.conf is. pmxcfs
// refuses (EEXIST) a VMID that belongs to another node or to a VM. The
// caller holds s.mu.
func (s *Server) writableCT(node string, vmid int) (*container, error) {
	if s.nodes[node] == nil {
		return nil, syscall.ENOENT
	}
	if s.qemus[vmid] != nil {
		return nil, syscall.EEXIST
	}
	ct := s.cts[vmid]
	switch {
	case ct == nil:
		return nil, errCreateByFile
	case ct.node != node:
		return nil, syscall.EEXIST
	}
	return ct, nil
}

// WriteConfigFile implements sshd.ConfigFiles: the file becomes text, and
// the container's config is what PVE parses from it. Lines PVE's parser
// skips stay in the file (cat shows them) but reach no option.
func (s *Server) WriteConfigFile(node string, vmid int, text string) error {
	if len(text) > sshd.MaxConfigFileSize {
		return syscall.EFBIG
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ct, err := s.writableCT(node, vmid)
	if err != nil {
		return err
	}
	p := parseConfigText(vmid, text)
	ct.conf, ct.pending, ct.pendingDel, ct.snaps = p.conf, p.pending, p.pendingDel, p.snaps
	// The file is now exactly these bytes: an earlier out-of-band edit
	// (BumpDigest) is overwritten with the rest of the file.
	ct.digestSalt = 0
	ct.touch()
	ct.written = text
	s.bumpVersion()
	return nil
}

// ContainerConfig implements sshd.ConfigFiles. Like pct, it parses the file
// afresh, so the parser's warnings come with it.
func (s *Server) ContainerConfig(node string, vmid int, q sshd.ConfigQuery) (sshd.ConfigView, error) {
	s.mu.Lock()
	ct := s.cts[vmid]
	if ct == nil || ct.node != node {
		s.mu.Unlock()
		return sshd.ConfigView{}, notFoundConfig(node, vmid)
	}
	text := ct.fileText()
	s.mu.Unlock()

	p := parseConfigText(vmid, text)
	conf := p.conf
	if q.Snapshot != "" {
		sn := p.snaps[q.Snapshot]
		if sn == nil {
			return sshd.ConfigView{}, fmt.Errorf("snapshot '%s' does not exist", q.Snapshot)
		}
		conf = sn.conf
	} else if !q.Current {
		conf = foldPending(p)
	}
	view := sshd.ConfigView{Options: map[string]string{}, Warnings: p.warnings}
	for k, v := range conf {
		switch k {
		case lxcConfKey:
			for _, line := range strings.Split(v, "\n") {
				lk, lv, _ := strings.Cut(line, ": ")
				view.LXC = append(view.LXC, [2]string{lk, lv})
			}
		case "description":
			view.Options[k] = encodeDescription(v)
		default:
			view.Options[k] = v
		}
	}
	return view, nil
}

// foldPending is load_current_config: pending values replace current ones
// (the raw lxc.* lines excepted), then pending deletions apply to options
// whose value Perl counts as true.
func foldPending(p *parsedConfig) ctConf {
	c := p.conf.clone()
	for k, v := range p.pending {
		if k != lxcConfKey {
			c[k] = v
		}
	}
	for _, k := range p.pendingDel {
		if v := c[k]; v != "" && v != "0" {
			delete(c, k)
		}
	}
	return c
}

// ListContainers implements sshd.ConfigFiles with the rows of the API's
// container list.
func (s *Server) ListContainers(node string) []sshd.ContainerSummary {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var out []sshd.ContainerSummary
	for vmid, ct := range s.cts {
		if ct.node != node {
			continue
		}
		e := s.lxcListEntry(ct, now)
		name, _ := e["name"].(string)
		status, _ := e["status"].(string)
		out = append(out, sshd.ContainerSummary{VMID: vmid, Status: status, Lock: ct.lock(), Name: name})
	}
	return out
}
