package pvesim

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
)

// hSnapshotList lists snapshots oldest first plus the "current" pseudo-entry.
func hSnapshotList(s *Server, rq *request) (any, *apiError) {
	return s.onCT(rq, func(ct *container) (any, *apiError) { return snapshotList(ct), nil })
}

func snapshotList(ct *container) []map[string]any {
	snaps := make([]*snapshot, 0, len(ct.snaps))
	for _, sn := range ct.snaps {
		snaps = append(snaps, sn)
	}
	sort.Slice(snaps, func(i, j int) bool {
		a, b := atoiDefault(snaps[i].conf["snaptime"], 0), atoiDefault(snaps[j].conf["snaptime"], 0)
		if a != b {
			return a < b
		}
		return snaps[i].name < snaps[j].name
	})
	out := []map[string]any{}
	for _, sn := range snaps {
		// pve-container's snapshot_list always sends snaptime and
		// description ("|| 0", "|| ''"), even for a snapshot lacking them.
		t, _ := strconv.ParseInt(sn.conf["snaptime"], 10, 64)
		item := map[string]any{"name": sn.name, "description": sn.conf["description"], "snaptime": t}
		if p := sn.conf["parent"]; p != "" {
			item["parent"] = p
		}
		if st := sn.conf["snapstate"]; st != "" {
			item["snapstate"] = st
		}
		out = append(out, item)
	}
	cur := map[string]any{"name": "current", "digest": ct.digest(), "running": b01(ct.running), "description": "You are here!"}
	if p := ct.conf["parent"]; p != "" {
		cur["parent"] = p
	}
	return append(out, cur)
}

// forkSnapshotTask forks the worker of a snapshot call at once: PVE does not
// load the config before forking, so everything but the parameters
// (including a missing or locked CT) fails inside the task.
func (s *Server) forkSnapshotTask(rq *request, typ string, work worker) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.forkGuestTask(rq.node(), typ, rq.vmid(), rq.authID(), false, work).upid, nil
}

// hSnapshotCreate: reserved names fail synchronously; everything else fails
// inside the vzsnapshot task.
func hSnapshotCreate(s *Server, rq *request) (any, *apiError) {
	node, vmid := rq.node(), rq.vmid()
	name := rq.params["snapname"]
	desc := rq.params["description"]
	if name == "current" || name == "vzdump" {
		return nil, errf("unable to use snapshot name '%s' (reserved name)", name)
	}
	return s.forkSnapshotTask(rq, TaskSnapshot, func(tr *taskRun) error {
		running := false
		if err := tr.loadCT(node, vmid, false, func(ct *container) error {
			running = ct.running
			return s.prepareSnapshot(ct, name, desc)
		}); err != nil {
			return err
		}
		if running {
			tr.log("create snapshot: freezing container %d", vmid)
		}
		undo := func() {
			if c := s.cts[vmid]; c != nil {
				delete(c.snaps, name)
				if c.lock() == "snapshot" {
					c.setLock("")
				}
				c.touch()
			}
		}
		// snapshot_commit: drop snapstate, make it the parent, unlock.
		return tr.commit(undo, func() {
			c := s.cts[vmid]
			if c == nil || c.snaps[name] == nil {
				return
			}
			delete(c.snaps[name].conf, "snapstate")
			c.conf["parent"] = name
			c.setLock("")
			c.touch()
		})
	})
}

// prepareSnapshot is snapshot_prepare after its checks: lock the CT and copy
// the config with snapstate=prepare. The caller holds s.mu.
func (s *Server) prepareSnapshot(ct *container, name, desc string) error {
	if ct.snaps[name] != nil {
		return fmt.Errorf("snapshot name '%s' already used", name)
	}
	if ct.isTemplate() {
		return errors.New("you can't take a snapshot if it's a template")
	}
	for _, k := range diskKeys(ct.conf) {
		st, _ := s.volumeOf(diskVolid(ct.conf[k]), ct.node)
		if st == nil || !st.def.snapshots() {
			return errors.New("snapshot feature is not available")
		}
	}
	ct.setLock("snapshot")
	sc := sectionCopy(ct.conf, "lock", "digest", "description", "snapstate", "snaptime")
	sc["snapstate"] = "prepare"
	sc["snaptime"] = strconv.FormatInt(s.now().Unix(), 10)
	if desc != "" {
		sc["description"] = desc
	}
	ct.snaps[name] = &snapshot{name: name, conf: sc}
	ct.touch()
	return nil
}

func hSnapshotDelete(s *Server, rq *request) (any, *apiError) {
	node, vmid := rq.node(), rq.vmid()
	name := rq.params["snapname"]
	return s.forkSnapshotTask(rq, TaskDelSnapshot, func(tr *taskRun) error {
		if err := tr.loadCT(node, vmid, false, func(ct *container) error {
			if ct.isTemplate() {
				return errors.New("you can't delete a snapshot if vm is a template")
			}
			if ct.snaps[name] == nil {
				return fmt.Errorf("snapshot '%s' does not exist", name)
			}
			ct.setLock("snapshot-delete")
			return nil
		}); err != nil {
			return err
		}
		return tr.commit(func() { s.clearLock(vmid, "snapshot-delete") }, func() { s.deleteSnapshot(vmid, name) })
	})
}

// deleteSnapshot removes a snapshot; its children (and the current config,
// if it is the parent) get its parent. The caller holds s.mu.
func (s *Server) deleteSnapshot(vmid int, name string) {
	c := s.cts[vmid]
	if c == nil || c.snaps[name] == nil {
		return
	}
	parent := c.snaps[name].conf["parent"]
	for _, other := range c.snaps {
		reparent(other.conf, name, parent)
	}
	reparent(c.conf, name, parent)
	delete(c.snaps, name)
	s.clearLock(vmid, "snapshot-delete")
	c.touch()
}

// reparent makes conf a child of to where it was a child of from ("" for
// none).
func reparent(conf ctConf, from, to string) {
	if conf["parent"] != from {
		return
	}
	if to == "" {
		delete(conf, "parent")
	} else {
		conf["parent"] = to
	}
}

// hSnapshotRollback kills a running CT, restores the snapshot's config and,
// with start=1, starts it again through a separate vzstart task.
func hSnapshotRollback(s *Server, rq *request) (any, *apiError) {
	node, vmid := rq.node(), rq.vmid()
	name := rq.params["snapname"]
	start := boolParam(rq.params, "start")
	authID := rq.authID()
	return s.forkSnapshotTask(rq, TaskRollback, func(tr *taskRun) error {
		if err := tr.loadCT(node, vmid, false, func(ct *container) error {
			sn := ct.snaps[name]
			if sn == nil {
				return fmt.Errorf("snapshot '%s' does not exist", name)
			}
			if st := sn.conf["snapstate"]; st != "" {
				return fmt.Errorf("unable to rollback to incomplete snapshot (snapstate = %s)", st)
			}
			if ct.running {
				tr.logLocked("stopping container %d", vmid)
				s.markStopped(ct)
			}
			ct.setLock("rollback")
			return nil
		}); err != nil {
			return err
		}
		if err := tr.work(); err != nil {
			tr.locked(func() { s.clearLock(vmid, "rollback") })
			return err
		}
		// A ghost rollback keeps the config but still unlocks.
		tr.locked(func() { s.rollbackTo(vmid, name, !tr.ghost) })
		if start && !tr.ghost {
			s.spawnStart(node, vmid, authID, tr.t)
		}
		return nil
	})
}

// rollbackTo puts the snapshot's config back (when restore is set; the
// current description stays) and unlocks. The caller holds s.mu.
func (s *Server) rollbackTo(vmid int, name string, restore bool) {
	c := s.cts[vmid]
	if c == nil {
		return
	}
	if sn := c.snaps[name]; sn != nil && restore {
		conf := sn.conf.clone()
		for _, k := range []string{"snaptime", "snapstate", "description"} {
			delete(conf, k)
		}
		if d := c.conf["description"]; d != "" {
			conf["description"] = d
		}
		conf["parent"] = name
		c.conf = conf
		c.pending = ctConf{}
		c.pendingDel = nil
	}
	c.setLock("")
	c.touch()
}

func hSnapshotConfigGet(s *Server, rq *request) (any, *apiError) {
	return s.onCT(rq, func(ct *container) (any, *apiError) {
		sn := ct.snaps[rq.params["snapname"]]
		if sn == nil {
			return nil, errf("snapshot '%s' does not exist", rq.params["snapname"])
		}
		return typedConf(sn.conf), nil
	})
}

func hSnapshotConfigPut(s *Server, rq *request) (any, *apiError) {
	return s.onCT(rq, func(ct *container) (any, *apiError) {
		name := rq.params["snapname"]
		d, ok := rq.params["description"]
		if !ok {
			return nil, nil
		}
		if e := ct.checkLock(); e != nil {
			return nil, e
		}
		sn := ct.snaps[name]
		if sn == nil {
			return nil, errf("snapshot '%s' does not exist", name)
		}
		if d == "" {
			delete(sn.conf, "description")
		} else {
			sn.conf["description"] = d
		}
		ct.touch()
		return nil, nil
	})
}

// hSnapshotIndex is pve-container's snapshot_cmd_idx: a fixed list of "cmd"
// entries. PVE loads no config there, so it answers the same for a snapshot
// or a CT that does not exist.
func hSnapshotIndex(*Server, *request) (any, *apiError) {
	return []map[string]any{{"cmd": "rollback"}, {"cmd": "config"}}, nil
}
