package pvesim

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// lookupTask resolves {upid} for the task endpoints: a malformed UPID and an
// unknown one are both 400 parameter errors.
func (s *Server) lookupTask(rq *request) (*task, *apiError) {
	upid := rq.params["upid"]
	info, ok := decodeUPID(upid)
	if !ok {
		return nil, paramErr1("upid", fmt.Sprintf("unable to parse worker upid '%s'", upid))
	}
	t := s.tasks[upid]
	if t == nil || t.forgotten || info.node != rq.node() {
		return nil, paramErr1("upid", "no such task")
	}
	return t, nil
}

// canSeeTask: users see their own tasks (tokens those of their user);
// Sys.Audit on the node shows everybody's.
func (s *Server) canSeeTask(p *principal, t *task, priv string) bool {
	if p == nil {
		return false
	}
	if t.user == p.id {
		return true
	}
	if u, _ := splitAuthID(t.user); p.token == "" && u == p.user {
		return true
	}
	return s.hasPriv(p, "/nodes/"+t.node, priv)
}

// onTask runs f under s.mu with the task {upid} names, if the caller may
// see it: their own, or anybody's with priv on the node.
func (s *Server) onTask(rq *request, priv string, f func(t *task) (any, *apiError)) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, e := s.lookupTask(rq)
	if e != nil {
		return nil, e
	}
	if !s.canSeeTask(rq.auth, t, priv) {
		return nil, permErr("/nodes/" + t.node + ", " + priv)
	}
	return f(t)
}

func hTaskStatus(s *Server, rq *request) (any, *apiError) {
	return s.onTask(rq, "Sys.Audit", func(t *task) (any, *apiError) { return t.status(), nil })
}

// hTaskLog pages the log: start is 0-based, n counts from 1, total is the
// line count. An empty log reads "no content", like PVE.
func hTaskLog(s *Server, rq *request) (any, *apiError) {
	start := intParam(rq.params, "start", 0)
	limit := intParam(rq.params, "limit", 50)
	return s.onTask(rq, "Sys.Audit", func(t *task) (any, *apiError) {
		lines := t.lines
		out := []map[string]any{}
		if len(lines) == 0 {
			if start == 0 {
				out = append(out, map[string]any{"n": 1, "t": "no content"})
			}
			return dataWithTotal{Data: out, Total: 1}, nil
		}
		for i := start; i < len(lines) && (limit <= 0 || i < start+limit); i++ {
			out = append(out, map[string]any{"n": i + 1, "t": lines[i]})
		}
		return dataWithTotal{Data: out, Total: len(lines)}, nil
	})
}

// hTaskStop interrupts a running task; the worker rolls back and ends with
// "received interrupt".
func hTaskStop(s *Server, rq *request) (any, *apiError) {
	return s.onTask(rq, "Sys.Modify", func(t *task) (any, *apiError) {
		t.stop()
		return nil, nil
	})
}

// hNodeTasks is GET /nodes/{node}/tasks: newest first, "status" is the exit
// status or "RUNNING".
func hNodeTasks(s *Server, rq *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := rq.params
	source := p["source"]
	if source == "" {
		source = "archive"
	}
	vmid := p["vmid"]
	typeFilter := p["typefilter"]
	userFilter := p["userfilter"]
	statusFilter := p["statusfilter"]
	errorsOnly := boolParam(p, "errors")
	since := int64(intParam(p, "since", 0))
	until := int64(intParam(p, "until", 0))
	start := intParam(p, "start", 0)
	limit := intParam(p, "limit", 50)
	seeAll := s.hasPriv(rq.auth, "/nodes/"+rq.node(), "Sys.Audit")

	var matched []*task
	for _, t := range s.taskList {
		if t.node != rq.node() || t.forgotten {
			continue
		}
		switch source {
		case "active":
			if !t.running {
				continue
			}
		case "archive":
			if t.running {
				continue
			}
		}
		if vmid != "" && t.id != vmid {
			continue
		}
		if typeFilter != "" && t.typ != typeFilter {
			continue
		}
		if userFilter != "" && !strings.Contains(t.user, userFilter) {
			continue
		}
		if errorsOnly && (t.running || t.exitstatus == "OK") {
			continue
		}
		if statusFilter != "" && !matchStatusFilter(t, statusFilter) {
			continue
		}
		if since > 0 && t.starttime < since {
			continue
		}
		if until > 0 && t.starttime > until {
			continue
		}
		if !seeAll && !s.canSeeTask(rq.auth, t, "Sys.Audit") {
			continue
		}
		matched = append(matched, t)
	}
	sort.SliceStable(matched, func(i, j int) bool { return matched[i].starttime > matched[j].starttime })
	out := []map[string]any{}
	for i := start; i < len(matched) && (limit <= 0 || i < start+limit); i++ {
		out = append(out, matched[i].listEntry(true))
	}
	return dataWithTotal{Data: out, Total: len(matched)}, nil
}

func matchStatusFilter(t *task, filter string) bool {
	for _, f := range strings.Split(filter, ",") {
		switch f {
		case "ok":
			if !t.running && t.exitstatus == "OK" {
				return true
			}
		case "warning":
			if !t.running && strings.HasPrefix(t.exitstatus, "WARNINGS") {
				return true
			}
		case "error":
			if !t.running && t.exitstatus != "OK" && !strings.HasPrefix(t.exitstatus, "WARNINGS") {
				return true
			}
		case "unknown":
			if t.running {
				return true
			}
		}
	}
	return false
}

// hClusterTasks lists recent tasks of all nodes (running ones without status).
func hClusterTasks(s *Server, rq *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for i := len(s.taskList) - 1; i >= 0 && len(out) < 2000; i-- {
		t := s.taskList[i]
		if t.forgotten || !s.canSeeTask(rq.auth, t, "Sys.Audit") {
			continue
		}
		out = append(out, t.listEntry(false))
	}
	return out, nil
}

// vmidString is the task id of guest tasks.
func vmidString(vmid int) string { return strconv.Itoa(vmid) }
