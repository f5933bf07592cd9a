package pvesim

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// The state file lets the long-running cmd/pvesim keep containers, backups
// and task history across restarts. Tasks that were running when the state
// was saved come back stopped with "unexpected status", like after a node
// reboot.

type persistedState struct {
	Version    int                  `json:"version"`
	Nodes      []NodeView           `json:"nodes"`
	Containers []persistedContainer `json:"containers"`
	VMs        []persistedVM        `json:"vms,omitempty"`
	Volumes    []persistedVolume    `json:"volumes"`
	Tasks      []persistedTask      `json:"tasks,omitempty"`
	Pools      []string             `json:"pools,omitempty"`
	// OCITagMoves are the MoveOCITag calls per tag, so a pull after a
	// restart copies the image the tag last pointed at.
	OCITagMoves []persistedOCITag `json:"ociTagMoves,omitempty"`
	// Config is the pools' details, HA, networks and firewall options.
	Config *persistedConfigFiles `json:"config,omitempty"`
}

type persistedContainer struct {
	VMID          int                          `json:"vmid"`
	Node          string                       `json:"node"`
	Config        map[string]string            `json:"config"`
	Pending       map[string]string            `json:"pending,omitempty"`
	PendingDelete []string                     `json:"pendingDelete,omitempty"`
	Snapshots     map[string]map[string]string `json:"snapshots,omitempty"`
	Running       bool                         `json:"running"`
	StartedAt     time.Time                    `json:"startedAt,omitempty"`
	Pool          string                       `json:"pool,omitempty"`
}

type persistedVM struct {
	VMID int    `json:"vmid"`
	Node string `json:"node"`
	Name string `json:"name"`
}

type persistedVolume struct {
	Storage    string            `json:"storage"`
	Node       string            `json:"node,omitempty"`
	Volid      string            `json:"volid"`
	Content    string            `json:"content"`
	Format     string            `json:"format"`
	Size       uint64            `json:"size"`
	CTime      int64             `json:"ctime"`
	VMID       int               `json:"vmid,omitempty"`
	Notes      string            `json:"notes,omitempty"`
	Protected  bool              `json:"protected,omitempty"`
	Subtype    string            `json:"subtype,omitempty"`
	BackupConf map[string]string `json:"backupConf,omitempty"`
	// OCI is the image a pulled OCI archive holds.
	OCI *persistedOCIArchive `json:"oci,omitempty"`
	// Files are the volume's files, relative path → content.
	Files map[string]string `json:"files,omitempty"`
}

type persistedOCIArchive struct {
	Repository string         `json:"repository"`
	Tag        string         `json:"tag"`
	Digest     string         `json:"digest"`
	Config     OCIImageConfig `json:"config"`
}

type persistedOCITag struct {
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
	Moves      int    `json:"moves"`
}

type persistedTask struct {
	UPID       string   `json:"upid"`
	Lines      []string `json:"lines"`
	Running    bool     `json:"running"`
	ExitStatus string   `json:"exitstatus"`
	EndTime    int64    `json:"endtime"`
}

// SaveState writes the simulated state as JSON (atomically).
func (s *Server) SaveState(path string) error {
	s.mu.Lock()
	st := persistedState{Version: 1, Pools: sortedKeys(s.pools), Config: s.saveConfigFiles()}
	for _, name := range s.nodeOrder {
		st.Nodes = append(st.Nodes, NodeView{Name: name, Online: s.nodes[name].online})
	}
	for _, ct := range s.cts {
		pc := persistedContainer{
			VMID: ct.vmid, Node: ct.node, Config: ct.conf.clone(), Pending: ct.pending.clone(),
			PendingDelete: ct.pendingDel, Running: ct.running, StartedAt: ct.startedAt, Pool: s.poolMembers[ct.vmid],
		}
		if len(ct.snaps) > 0 {
			pc.Snapshots = map[string]map[string]string{}
			for n, sn := range ct.snaps {
				pc.Snapshots[n] = sn.conf.clone()
			}
		}
		st.Containers = append(st.Containers, pc)
	}
	for _, vm := range s.qemus {
		st.VMs = append(st.VMs, persistedVM{VMID: vm.vmid, Node: vm.node, Name: vm.name})
	}
	for key, inst := range s.stores {
		for _, v := range inst.vols {
			st.Volumes = append(st.Volumes, persistedVolume{
				Storage: key.id, Node: key.node, Volid: v.volid, Content: v.content, Format: v.format,
				Size: v.size, CTime: v.ctime, VMID: v.vmid, Notes: v.notes, Protected: v.protected,
				Subtype: v.subtype, BackupConf: v.backupConf, OCI: saveOCIArchive(v.oci), Files: maps.Clone(v.files),
			})
		}
	}
	st.OCITagMoves = s.saveOCITagMoves()
	for _, t := range s.taskList {
		st.Tasks = append(st.Tasks, persistedTask{UPID: t.upid, Lines: t.lines, Running: t.running, ExitStatus: t.exitstatus, EndTime: t.endtime})
	}
	s.mu.Unlock()

	data, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// loadStateFile replaces the seeded state with the saved one; it runs before
// the server starts serving.
func (s *Server) loadStateFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var st persistedState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("parse: %w", err)
	}
	for _, n := range st.Nodes {
		if node := s.nodes[n.Name]; node != nil {
			node.online = n.Online
		}
	}
	for _, p := range st.Pools {
		s.pools[p] = true
	}
	s.loadConfigFiles(st.Config)
	s.loadOCITagMoves(st.OCITagMoves)
	s.loadVolumes(st.Volumes)
	for _, pc := range st.Containers {
		s.loadContainer(pc)
	}
	for _, vm := range st.VMs {
		s.qemus[vm.VMID] = &qemuVM{vmid: vm.VMID, node: vm.Node, name: vm.Name}
	}
	for _, pt := range st.Tasks {
		s.loadTask(pt)
	}
	return nil
}

// loadVolumes replaces every storage's volumes with the saved ones; a
// storage no longer configured loses its volumes.
func (s *Server) loadVolumes(vols []persistedVolume) {
	for _, inst := range s.stores {
		inst.vols = nil
		inst.byID = map[string]*volume{}
	}
	for _, pv := range vols {
		inst := s.stores[storeKey{pv.Storage, pv.Node}]
		if inst == nil {
			continue
		}
		inst.add(&volume{
			volid: pv.Volid, content: pv.Content, format: pv.Format, size: pv.Size, ctime: pv.CTime,
			vmid: pv.VMID, notes: pv.Notes, protected: pv.Protected, subtype: pv.Subtype, backupConf: pv.BackupConf,
			oci: loadOCIArchive(pv.OCI), files: pv.Files,
		})
	}
}

func saveOCIArchive(a *ociArchive) *persistedOCIArchive {
	if a == nil {
		return nil
	}
	return &persistedOCIArchive{Repository: a.repository, Tag: a.tag, Digest: a.digest, Config: cloneOCIConfig(a.config)}
}

func loadOCIArchive(p *persistedOCIArchive) *ociArchive {
	if p == nil {
		return nil
	}
	return &ociArchive{repository: p.Repository, tag: p.Tag, digest: p.Digest, config: p.Config}
}

// saveOCITagMoves lists the moved tags. The caller holds s.mu.
func (s *Server) saveOCITagMoves() []persistedOCITag {
	var out []persistedOCITag
	for _, img := range s.opts.OCIImages {
		for _, tag := range sortedKeys(img.moves) {
			out = append(out, persistedOCITag{Repository: img.Repository, Tag: tag, Moves: img.moves[tag]})
		}
	}
	return out
}

// loadOCITagMoves restores the moves of tags the catalogue still has.
func (s *Server) loadOCITagMoves(moves []persistedOCITag) {
	for _, m := range moves {
		img, _ := s.ociRepo(m.Repository)
		if img == nil || !slices.Contains(img.Tags, m.Tag) {
			continue
		}
		if img.moves == nil {
			img.moves = map[string]int{}
		}
		img.moves[m.Tag] = m.Moves
	}
}

// loadContainer restores a saved container unless its node is gone.
func (s *Server) loadContainer(pc persistedContainer) {
	if s.nodes[pc.Node] == nil {
		return
	}
	ct := newContainer(pc.VMID, pc.Node, s.opts.Now())
	ct.conf = pc.Config
	if pc.Pending != nil {
		ct.pending = pc.Pending
	}
	ct.pendingDel = pc.PendingDelete
	for n, sc := range pc.Snapshots {
		ct.snaps[n] = &snapshot{name: n, conf: sc}
	}
	ct.running = pc.Running
	ct.startedAt = pc.StartedAt
	if ct.running {
		ct.pid = 10000 + pc.VMID
	}
	if pc.Pool != "" {
		s.poolMembers[pc.VMID] = pc.Pool
	}
	s.cts[pc.VMID] = ct
}

// loadTask restores a task as finished: one that was running when the
// state was saved ends with "unexpected status", as after a node reboot.
// New tasks on its node get higher PIDs.
func (s *Server) loadTask(pt persistedTask) {
	info, ok := decodeUPID(pt.UPID)
	if !ok || s.nodes[info.node] == nil {
		return
	}
	t := &task{
		upid: pt.UPID, node: info.node, pid: info.pid, pstart: info.pstart, starttime: info.start,
		typ: info.typ, id: info.id, user: info.user, lines: pt.Lines, exitstatus: pt.ExitStatus,
		endtime: pt.EndTime, done: make(chan struct{}), interrupt: make(chan struct{}), release: make(chan struct{}),
	}
	if pt.Running {
		t.exitstatus = "unexpected status"
		t.endtime = s.opts.Now().Unix()
	}
	close(t.done)
	s.tasks[t.upid] = t
	s.taskList = append(s.taskList, t)
	if n := s.nodes[info.node]; n.nextPID <= info.pid {
		n.nextPID = info.pid + 1
	}
}
