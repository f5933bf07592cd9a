package pvesim

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
)

// hSnapshotList lists snapshots oldest first plus the "current" pseudo-entry.
func hSnapshotList(s *Server, rq *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ct, e := s.ctOn(rq.node(), rq.vmid())
	if e != nil {
		return nil, e
	}
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
		item := map[string]any{"name": sn.name, "description": sn.conf["description"]}
		if t, err := strconv.ParseInt(sn.conf["snaptime"], 10, 64); err == nil {
			item["snaptime"] = t
		}
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
	out = append(out, cur)
	return out, nil
}

// hSnapshotCreate: reserved names fail synchronously; everything else
// (including a missing CT) fails inside the vzsnapshot task, because PVE
// does not load the config before forking.
func hSnapshotCreate(s *Server, rq *request) (any, *apiError) {
	node, vmid := rq.node(), rq.vmid()
	name := rq.params["snapname"]
	desc := rq.params["description"]
	if name == "current" || name == "vzdump" {
		return nil, errf("unable to use snapshot name '%s' (reserved name)", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.newTask(node, TaskSnapshot, vmidString(vmid), rq.authID())
	s.runTask(t, func(tr *taskRun) error {
		var err error
		var ct *container
		tr.locked(func() {
			ct, err = s.workerCT(node, vmid, false)
			if err != nil {
				return
			}
			if ct.snaps[name] != nil {
				err = fmt.Errorf("snapshot name '%s' already used", name)
				return
			}
			if ct.isTemplate() {
				err = errors.New("you can't take a snapshot if it's a template")
				return
			}
			for _, k := range diskKeys(ct.conf) {
				st, _ := s.volumeOf(diskVolid(ct.conf[k]), node)
				if st == nil || !st.def.snapshots() {
					err = errors.New("snapshot feature is not available")
					return
				}
			}
			// snapshot_prepare: lock, copy the config with snapstate=prepare.
			ct.setLock("snapshot")
			sc := ctConf{}
			for k, v := range ct.conf {
				switch k {
				case "lock", "digest", "description", "snapstate", "snaptime":
					continue
				}
				if _, ok := indexOf(k, "unused"); ok {
					continue
				}
				sc[k] = v
			}
			sc["snapstate"] = "prepare"
			sc["snaptime"] = strconv.FormatInt(s.now().Unix(), 10)
			if desc != "" {
				sc["description"] = desc
			}
			ct.snaps[name] = &snapshot{name: name, conf: sc}
			ct.touch()
		})
		if err != nil {
			return err
		}
		if ct.running {
			tr.log("create snapshot: freezing container %d", vmid)
		}
		undo := func() {
			tr.locked(func() {
				if c := s.cts[vmid]; c != nil {
					delete(c.snaps, name)
					if c.lock() == "snapshot" {
						c.setLock("")
					}
					c.touch()
				}
			})
		}
		if err := tr.work(); err != nil {
			undo()
			return err
		}
		if tr.ghost {
			undo()
			return nil
		}
		// snapshot_commit: drop snapstate, make it the parent, unlock.
		tr.locked(func() {
			c := s.cts[vmid]
			if c == nil || c.snaps[name] == nil {
				return
			}
			delete(c.snaps[name].conf, "snapstate")
			c.conf["parent"] = name
			c.setLock("")
			c.touch()
		})
		return nil
	})
	return t.upid, nil
}

func hSnapshotDelete(s *Server, rq *request) (any, *apiError) {
	node, vmid := rq.node(), rq.vmid()
	name := rq.params["snapname"]
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.newTask(node, TaskDelSnapshot, vmidString(vmid), rq.authID())
	s.runTask(t, func(tr *taskRun) error {
		var err error
		tr.locked(func() {
			var ct *container
			ct, err = s.workerCT(node, vmid, false)
			if err != nil {
				return
			}
			if ct.isTemplate() {
				err = errors.New("you can't delete a snapshot if vm is a template")
				return
			}
			if ct.snaps[name] == nil {
				err = fmt.Errorf("snapshot '%s' does not exist", name)
				return
			}
			ct.setLock("snapshot-delete")
		})
		if err != nil {
			return err
		}
		unlock := func() {
			tr.locked(func() {
				if c := s.cts[vmid]; c != nil && c.lock() == "snapshot-delete" {
					c.setLock("")
				}
			})
		}
		if err := tr.work(); err != nil {
			unlock()
			return err
		}
		if tr.ghost {
			unlock()
			return nil
		}
		tr.locked(func() {
			c := s.cts[vmid]
			if c == nil || c.snaps[name] == nil {
				return
			}
			parent := c.snaps[name].conf["parent"]
			for _, other := range c.snaps {
				if other.conf["parent"] == name {
					if parent == "" {
						delete(other.conf, "parent")
					} else {
						other.conf["parent"] = parent
					}
				}
			}
			if c.conf["parent"] == name {
				if parent == "" {
					delete(c.conf, "parent")
				} else {
					c.conf["parent"] = parent
				}
			}
			delete(c.snaps, name)
			if c.lock() == "snapshot-delete" {
				c.setLock("")
			}
			c.touch()
		})
		return nil
	})
	return t.upid, nil
}

// hSnapshotRollback kills a running CT, restores the snapshot's config and,
// with start=1, starts it again through a separate vzstart task.
func hSnapshotRollback(s *Server, rq *request) (any, *apiError) {
	node, vmid := rq.node(), rq.vmid()
	name := rq.params["snapname"]
	start := boolParam(rq.params, "start")
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.newTask(node, TaskRollback, vmidString(vmid), rq.authID())
	authID := rq.authID()
	s.runTask(t, func(tr *taskRun) error {
		var err error
		tr.locked(func() {
			var ct *container
			ct, err = s.workerCT(node, vmid, false)
			if err != nil {
				return
			}
			sn := ct.snaps[name]
			if sn == nil {
				err = fmt.Errorf("snapshot '%s' does not exist", name)
				return
			}
			if st := sn.conf["snapstate"]; st != "" {
				err = fmt.Errorf("unable to rollback to incomplete snapshot (snapstate = %s)", st)
				return
			}
			if ct.running {
				tr.t.lines = append(tr.t.lines, fmt.Sprintf("stopping container %d", vmid))
				s.markStopped(ct)
			}
			ct.setLock("rollback")
		})
		if err != nil {
			return err
		}
		if err := tr.work(); err != nil {
			tr.locked(func() {
				if c := s.cts[vmid]; c != nil && c.lock() == "rollback" {
					c.setLock("")
				}
			})
			return err
		}
		tr.locked(func() {
			c := s.cts[vmid]
			if c == nil {
				return
			}
			if sn := c.snaps[name]; sn != nil && !tr.ghost {
				conf := ctConf{}
				for k, v := range sn.conf {
					switch k {
					case "snaptime", "snapstate", "description":
						continue
					}
					conf[k] = v
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
		})
		if start && !tr.ghost {
			s.spawnStart(node, vmid, authID, tr.t)
		}
		return nil
	})
	return t.upid, nil
}

func hSnapshotConfigGet(s *Server, rq *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ct, e := s.ctOn(rq.node(), rq.vmid())
	if e != nil {
		return nil, e
	}
	sn := ct.snaps[rq.params["snapname"]]
	if sn == nil {
		return nil, errf("snapshot '%s' does not exist", rq.params["snapname"])
	}
	return typedConf(sn.conf), nil
}

func hSnapshotConfigPut(s *Server, rq *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ct, e := s.ctOn(rq.node(), rq.vmid())
	if e != nil {
		return nil, e
	}
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
	{
		if d == "" {
			delete(sn.conf, "description")
		} else {
			sn.conf["description"] = d
		}
		ct.touch()
	}
	return nil, nil
}

func hSnapshotIndex(s *Server, rq *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ct, e := s.ctOn(rq.node(), rq.vmid())
	if e != nil {
		return nil, e
	}
	if ct.snaps[rq.params["snapname"]] == nil {
		return nil, errf("snapshot '%s' does not exist", rq.params["snapname"])
	}
	return []map[string]any{{"rel": "rollback"}, {"rel": "config"}}, nil
}
