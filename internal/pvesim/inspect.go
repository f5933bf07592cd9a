package pvesim

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// RequestCounts returns the number of API requests per "METHOD /route
// template", e.g. "GET /cluster/resources" or
// "PUT /nodes/{node}/lxc/{vmid}/config". Unroutable requests are counted
// under their concrete path.
func (s *Server) RequestCounts() map[string]int {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	out := make(map[string]int, len(s.counters))
	for k, v := range s.counters {
		out[k] = v
	}
	return out
}

// RequestCount returns one counter, e.g. RequestCount("GET /cluster/resources").
func (s *Server) RequestCount(key string) int {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	return s.counters[key]
}

// ResetRequestCounts zeroes every counter.
func (s *Server) ResetRequestCounts() {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.counters = map[string]int{}
	s.mutations = nil
}

// MutatingRequests returns how many POST, PUT and DELETE requests named the
// guest vmid, in the path or in a vmid parameter (vzdump's list included),
// whatever their outcome.
func (s *Server) MutatingRequests(vmid int) int {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	return s.mutations[vmid]
}

// countMutation records a mutating request for every VMID in ids, a single
// VMID or a vzdump-style list ("100,101" or "100 101").
func (s *Server) countMutation(ids string) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	for _, f := range strings.FieldsFunc(ids, func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
		if id, err := strconv.Atoi(f); err == nil {
			if s.mutations == nil {
				s.mutations = map[int]int{}
			}
			s.mutations[id]++
		}
	}
}

// NodeView is a node as the simulator sees it.
type NodeView struct {
	Name   string `json:"name"`
	Online bool   `json:"online"`
}

// SnapshotView is one snapshot section.
type SnapshotView struct {
	Name        string `json:"name"`
	Parent      string `json:"parent,omitempty"`
	Description string `json:"description,omitempty"`
	SnapState   string `json:"snapstate,omitempty"`
	SnapTime    int64  `json:"snaptime"`
}

// ContainerView is a read-only copy of a container's state.
type ContainerView struct {
	VMID            int               `json:"vmid"`
	Node            string            `json:"node"`
	Status          string            `json:"status"` // running | stopped
	Lock            string            `json:"lock,omitempty"`
	Template        bool              `json:"template"`
	Config          map[string]string `json:"config"` // current section, raw strings
	Pending         map[string]string `json:"pending,omitempty"`
	PendingDelete   []string          `json:"pendingDelete,omitempty"`
	Snapshots       []SnapshotView    `json:"snapshots,omitempty"`
	Digest          string            `json:"digest"`
	Pool            string            `json:"pool,omitempty"`
	IgnoresShutdown bool              `json:"ignoresShutdown,omitempty"`
}

// VolumeView is one storage volume (templates, backups, disks).
type VolumeView struct {
	Volid     string `json:"volid"`
	Storage   string `json:"storage"`
	Node      string `json:"node,omitempty"` // "" for shared storage
	Content   string `json:"content"`
	Format    string `json:"format"`
	Size      uint64 `json:"size"`
	CTime     int64  `json:"ctime"`
	VMID      int    `json:"vmid,omitempty"`
	Notes     string `json:"notes,omitempty"`
	Protected bool   `json:"protected,omitempty"`
}

// TaskView is a read-only copy of a task.
type TaskView struct {
	UPID       string   `json:"upid"`
	Node       string   `json:"node"`
	Type       string   `json:"type"`
	ID         string   `json:"id"`
	User       string   `json:"user"`
	Running    bool     `json:"running"`
	ExitStatus string   `json:"exitstatus,omitempty"`
	StartTime  int64    `json:"starttime"`
	EndTime    int64    `json:"endtime,omitempty"`
	Stalled    bool     `json:"stalled,omitempty"`
	Log        []string `json:"log"`
}

// StateView is a consistent snapshot of the whole simulated cluster.
type StateView struct {
	Nodes      []NodeView      `json:"nodes"`
	Containers []ContainerView `json:"containers"`
	Volumes    []VolumeView    `json:"volumes"`
	Tasks      []TaskView      `json:"tasks"`
}

func (s *Server) containerView(ct *container) ContainerView {
	v := ContainerView{
		VMID: ct.vmid, Node: ct.node, Status: "stopped", Lock: ct.lock(), Template: ct.isTemplate(),
		Config: ct.conf.clone(), Digest: ct.digest(), Pool: s.poolMembers[ct.vmid], IgnoresShutdown: ct.ignoreShutdown,
	}
	if ct.running {
		v.Status = "running"
	}
	if len(ct.pending) > 0 {
		v.Pending = ct.pending.clone()
	}
	v.PendingDelete = append([]string(nil), ct.pendingDel...)
	for _, name := range sortedKeys(ct.snaps) {
		sn := ct.snaps[name]
		v.Snapshots = append(v.Snapshots, SnapshotView{
			Name: name, Parent: sn.conf["parent"], Description: sn.conf["description"],
			SnapState: sn.conf["snapstate"], SnapTime: int64(atoiDefault(sn.conf["snaptime"], 0)),
		})
	}
	return v
}

func taskView(t *task) TaskView {
	return TaskView{
		UPID: t.upid, Node: t.node, Type: t.typ, ID: t.id, User: t.user, Running: t.running,
		ExitStatus: t.exitstatus, StartTime: t.starttime, EndTime: t.endtime, Stalled: t.stalled,
		Log: append([]string(nil), t.lines...),
	}
}

// State returns a copy of the whole simulated state.
func (s *Server) State() StateView {
	s.mu.Lock()
	defer s.mu.Unlock()
	var v StateView
	for _, name := range s.nodeOrder {
		v.Nodes = append(v.Nodes, NodeView{Name: name, Online: s.nodes[name].online})
	}
	ids := make([]int, 0, len(s.cts))
	for id := range s.cts {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		v.Containers = append(v.Containers, s.containerView(s.cts[id]))
	}
	v.Volumes = s.volumesLocked(func(*volume) bool { return true })
	for _, t := range s.taskList {
		v.Tasks = append(v.Tasks, taskView(t))
	}
	return v
}

func (s *Server) volumesLocked(keep func(*volume) bool) []VolumeView {
	var out []VolumeView
	keys := make([]storeKey, 0, len(s.stores))
	for k := range s.stores {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].id != keys[j].id {
			return keys[i].id < keys[j].id
		}
		return keys[i].node < keys[j].node
	})
	for _, k := range keys {
		for _, vol := range s.stores[k].vols {
			if !keep(vol) {
				continue
			}
			out = append(out, VolumeView{
				Volid: vol.volid, Storage: k.id, Node: k.node, Content: vol.content, Format: vol.format,
				Size: vol.size, CTime: vol.ctime, VMID: vol.vmid, Notes: vol.notes, Protected: vol.protected,
			})
		}
	}
	return out
}

// Container returns one container's state.
func (s *Server) Container(vmid int) (ContainerView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ct := s.cts[vmid]
	if ct == nil {
		return ContainerView{}, false
	}
	return s.containerView(ct), true
}

// Backups lists backup archives of vmid (0 for all), oldest first.
func (s *Server) Backups(vmid int) []VolumeView {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.volumesLocked(func(v *volume) bool { return v.content == "backup" && (vmid == 0 || v.vmid == vmid) })
	sort.SliceStable(out, func(i, j int) bool { return out[i].CTime < out[j].CTime })
	return out
}

// Tasks lists tasks in creation order, optionally filtered by type and id.
func (s *Server) Tasks(typ, id string) []TaskView {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []TaskView
	for _, t := range s.taskList {
		if (typ == "" || t.typ == typ) && (id == "" || t.id == id) {
			out = append(out, taskView(t))
		}
	}
	return out
}

// Task returns one task.
func (s *Server) Task(upid string) (TaskView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tasks[upid]
	if t == nil {
		return TaskView{}, false
	}
	return taskView(t), true
}

// WaitTask blocks until the task has finished (or ctx ends).
func (s *Server) WaitTask(ctx context.Context, upid string) (TaskView, error) {
	s.mu.Lock()
	t := s.tasks[upid]
	s.mu.Unlock()
	if t == nil {
		return TaskView{}, fmt.Errorf("no such task %q", upid)
	}
	select {
	case <-t.done:
	case <-ctx.Done():
		return TaskView{}, ctx.Err()
	}
	v, _ := s.Task(upid)
	return v, nil
}

// WaitIdle waits until no task is running (or ctx ends).
func (s *Server) WaitIdle(ctx context.Context) error {
	for {
		s.mu.Lock()
		var running *task
		for _, t := range s.taskList {
			if t.running {
				running = t
				break
			}
		}
		s.mu.Unlock()
		if running == nil {
			return nil
		}
		select {
		case <-running.done:
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// TaskLog returns a task's log joined by newlines.
func (s *Server) TaskLog(upid string) string {
	v, _ := s.Task(upid)
	return strings.Join(v.Log, "\n")
}
