package pvesim

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// task is one worker process as PVE's task index knows it.
type task struct {
	upid      string
	node      string
	pid       int
	pstart    int
	starttime int64
	typ       string
	id        string
	user      string // full auth id, "root@pam!operator" for tokens

	lines      []string
	running    bool
	exitstatus string
	endtime    int64
	// forgotten tasks answer "no such task", as after log rotation or a
	// node reboot.
	forgotten bool

	done        chan struct{}
	interrupt   chan struct{}
	release     chan struct{} // closes a stall
	fault       *TaskFault
	stalled     bool
	interrupted bool
	// killed is set by KillTask: the worker process died, so nothing it
	// still does reaches the state (no rollback, no final log line).
	killed bool
	// flock is the per-CT config flock held for the whole run, if any.
	flockVMID int
	hasFlock  bool
}

// UPID renders PVE::Tools::upid_encode: every field hex except type, id, user.
func encodeUPID(node string, pid, pstart int, start int64, typ, id, user string) string {
	return fmt.Sprintf("UPID:%s:%08X:%08X:%08X:%s:%s:%s:", node, pid, pstart, start, typ, id, user)
}

var reUPID = regexp.MustCompile(`^UPID:([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s]+):([^:\s]*):([^:\s]+):$`)

type upidInfo struct {
	node, typ, id, user string
	pid, pstart         int
	start               int64
}

func decodeUPID(s string) (upidInfo, bool) {
	m := reUPID.FindStringSubmatch(s)
	if m == nil {
		return upidInfo{}, false
	}
	pid, _ := strconv.ParseInt(m[3], 16, 64)
	pstart, _ := strconv.ParseInt(m[4], 16, 64)
	start, _ := strconv.ParseInt(m[5], 16, 64)
	return upidInfo{node: m[1], pid: int(pid), pstart: int(pstart), start: start, typ: m[6], id: m[7], user: m[8]}, true
}

// splitAuthID splits "root@pam!operator" into user and token name.
func splitAuthID(id string) (user, token string) {
	user, token, _ = strings.Cut(id, "!")
	return user, token
}

// taskStatus is the GET …/tasks/{upid}/status object.
func (t *task) status() map[string]any {
	user, token := splitAuthID(t.user)
	m := map[string]any{
		"upid": t.upid, "node": t.node, "pid": t.pid, "pstart": t.pstart, "starttime": t.starttime,
		"type": t.typ, "id": t.id, "user": user, "status": "running",
	}
	if token != "" {
		m["tokenid"] = token
	}
	if !t.running {
		m["status"] = "stopped"
		m["exitstatus"] = t.exitstatus
	}
	return m
}

// listEntry is a row of /nodes/{n}/tasks and /cluster/tasks, where "status"
// is the exit status ("RUNNING" while active in the node list).
func (t *task) listEntry(runningStatus bool) map[string]any {
	user, token := splitAuthID(t.user)
	m := map[string]any{
		"upid": t.upid, "node": t.node, "pid": t.pid, "pstart": t.pstart, "starttime": t.starttime,
		"type": t.typ, "id": t.id, "user": user,
	}
	if token != "" {
		m["tokenid"] = token
	}
	if t.running {
		if runningStatus {
			m["status"] = "RUNNING"
		}
	} else {
		m["status"] = t.exitstatus
		m["endtime"] = t.endtime
	}
	return m
}

// errInterrupted is how a stopped task ends (RESTEnvironment fork_worker).
var errInterrupted = errors.New("received interrupt")

// injectedFailure is a TaskFaultFail: its text is the task's exit status
// verbatim, even for jobs (vzdump) that would otherwise summarize errors.
type injectedFailure string

func (e injectedFailure) Error() string { return string(e) }

// errServerClosed ends workers when the simulator shuts down.
var errServerClosed = errors.New("simulator shut down")

// taskRun is the worker-side handle of a running task.
type taskRun struct {
	s *Server
	t *task
	// ghost is set by a "ghost" task fault: the worker must report success
	// without changing state.
	ghost bool
}

// log appends a line to the task log.
func (tr *taskRun) log(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	tr.s.mu.Lock()
	tr.t.lines = append(tr.t.lines, strings.Split(line, "\n")...)
	tr.s.mu.Unlock()
}

// logLocked appends a log line; the caller holds s.mu.
func (tr *taskRun) logLocked(format string, args ...any) {
	tr.t.lines = append(tr.t.lines, strings.Split(fmt.Sprintf(format, args...), "\n")...)
}

// sleep waits d, returning early with errInterrupted on DELETE tasks/{upid}.
func (tr *taskRun) sleep(d time.Duration) error {
	if d <= 0 {
		select {
		case <-tr.t.interrupt:
			return errInterrupted
		case <-tr.s.quit:
			return errServerClosed
		default:
			return nil
		}
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-tr.t.interrupt:
		return errInterrupted
	case <-tr.s.quit:
		return errServerClosed
	}
}

// work is the main phase of a worker: it lasts the task type's duration and
// is where task faults apply (stall until released, or fail with the chosen
// exit status).
func (tr *taskRun) work() error {
	return tr.workFor(tr.s.taskDuration(tr.t.typ))
}

func (tr *taskRun) workFor(d time.Duration) error {
	if err := tr.sleep(d); err != nil {
		return err
	}
	f := tr.t.fault
	if f == nil {
		return nil
	}
	switch f.Action {
	case TaskFaultStall:
		tr.s.mu.Lock()
		tr.t.stalled = true
		tr.s.mu.Unlock()
		select {
		case <-tr.t.release:
		case <-tr.t.interrupt:
			return errInterrupted
		case <-tr.s.quit:
			return errServerClosed
		}
		tr.s.mu.Lock()
		tr.t.stalled = false
		tr.s.mu.Unlock()
	case TaskFaultFail:
		msg := f.ExitStatus
		if msg == "" {
			msg = "simulated task failure"
		}
		return injectedFailure(msg)
	case TaskFaultGhost:
		tr.ghost = true
	}
	return nil
}

// locked runs f under s.mu and marks state as changed.
func (tr *taskRun) locked(f func()) {
	tr.s.mu.Lock()
	defer tr.s.mu.Unlock()
	if tr.t.killed {
		return
	}
	f()
	tr.s.bumpVersion()
}

// loadCT is the worker's load_config: under s.mu it finds the CT (a missing
// config, or a lock unless skiplock, fails the task, not the HTTP call) and
// runs check, whose error fails the task too.
func (tr *taskRun) loadCT(node string, vmid int, skiplock bool, check func(ct *container) error) error {
	var err error
	tr.locked(func() {
		var ct *container
		if ct, err = tr.s.workerCT(node, vmid, skiplock); err == nil && check != nil {
			err = check(ct)
		}
	})
	return err
}

// commit runs the work phase and then apply under s.mu.
func (tr *taskRun) commit(undo, apply func()) error {
	return tr.commitAfter(tr.work(), undo, apply)
}

// commitAfter ends a worker whose work phase returned err: on an error undo
// runs and err is the exit status; a ghost task also undoes, and reports
// success having changed nothing; otherwise apply runs. undo and apply run
// under s.mu; undo may be nil.
func (tr *taskRun) commitAfter(err error, undo, apply func()) error {
	if err != nil || tr.ghost {
		if undo != nil {
			tr.locked(undo)
		}
		return err
	}
	tr.locked(apply)
	return nil
}

// newTask registers a running task; the caller holds s.mu. The task is
// visible (status "running") as soon as the HTTP call returns its UPID.
func (s *Server) newTask(nodeName, typ, id string, authID string) *task {
	n := s.nodes[nodeName]
	n.nextPID += 1 + s.randIntn(37)
	pid := n.nextPID
	now := s.now()
	pstart := int(now.Sub(n.bootTime)/(10*time.Millisecond)) + 1000
	t := &task{
		upid:      encodeUPID(nodeName, pid, pstart, now.Unix(), typ, id, authID),
		node:      nodeName,
		pid:       pid,
		pstart:    pstart,
		starttime: now.Unix(),
		typ:       typ,
		id:        id,
		user:      authID,
		running:   true,
		done:      make(chan struct{}),
		interrupt: make(chan struct{}),
		release:   make(chan struct{}),
	}
	t.fault = s.takeTaskFault(t)
	s.tasks[t.upid] = t
	s.taskList = append(s.taskList, t)
	s.pruneTasks()
	s.bumpVersion()
	return t
}

// maxTasks bounds the task archive so long benchmarks do not grow forever.
const maxTasks = 20000

func (s *Server) pruneTasks() {
	if len(s.taskList) <= maxTasks {
		return
	}
	keep := s.taskList[:0]
	drop := len(s.taskList) - maxTasks
	for _, t := range s.taskList {
		if drop > 0 && !t.running {
			delete(s.tasks, t.upid)
			drop--
			continue
		}
		keep = append(keep, t)
	}
	s.taskList = keep
}

// runTask starts the worker goroutine (callers usually still hold s.mu; the
// worker takes it itself). work returns nil for success or the error whose
// text becomes the exit status.
func (s *Server) runTask(t *task, work func(tr *taskRun) error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tr := &taskRun{s: s, t: t}
		err := work(tr)
		s.finishTask(tr, err)
	}()
}

// finishTask writes the final log line and computes the exit status from it,
// as PVE does.
func (s *Server) finishTask(tr *taskRun, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := tr.t
	if t.killed {
		return
	}
	if err == nil && t.fault != nil && t.fault.Action == TaskFaultWarnings {
		n := t.fault.Warnings
		if n <= 0 {
			n = 1
		}
		for i := 0; i < n; i++ {
			t.lines = append(t.lines, fmt.Sprintf("WARN: simulated warning %d", i+1))
		}
	}
	warnings := 0
	for _, l := range t.lines {
		if strings.HasPrefix(l, "WARN: ") || strings.HasPrefix(l, "WARNING: ") {
			warnings++
		}
	}
	switch {
	case err != nil:
		msg := err.Error()
		if errors.Is(err, errInterrupted) && t.typ == TaskVzdump {
			msg = "interrupted by signal"
		}
		msg = strings.TrimRight(msg, "\n")
		t.lines = append(t.lines, "", "TASK ERROR: "+msg)
		t.exitstatus = msg
	case warnings > 0:
		t.lines = append(t.lines, fmt.Sprintf("TASK WARNINGS: %d", warnings))
		t.exitstatus = fmt.Sprintf("WARNINGS: %d", warnings)
	default:
		t.lines = append(t.lines, "TASK OK")
		t.exitstatus = "OK"
	}
	t.running = false
	t.endtime = s.now().Unix()
	if t.hasFlock {
		s.releaseFlockLocked(t.flockVMID)
		t.hasFlock = false
	}
	if t.fault != nil && t.fault.Action == TaskFaultForget {
		t.forgotten = true
	}
	s.bumpVersion()
	close(t.done)
	s.opts.Logf("task %s finished: %s", t.upid, t.exitstatus)
}

// ---- per-CT config flock ---------------------------------------------------

// flockChan returns the flock of a VMID; the caller holds s.mu.
func (s *Server) flockChan(vmid int) chan struct{} {
	ch := s.flocks[vmid]
	if ch == nil {
		ch = make(chan struct{}, 1)
		s.flocks[vmid] = ch
	}
	return ch
}

// acquireFlock emulates PVE::LXC::Config->lock_config: wait up to
// FlockTimeout for /run/lock/lxc/pve-config-<vmid>.lock. The caller must
// not hold s.mu.
func (s *Server) acquireFlock(vmid int, cancel <-chan struct{}) *apiError {
	s.mu.Lock()
	ch := s.flockChan(vmid)
	s.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return nil
	default:
	}
	timer := time.NewTimer(s.opts.FlockTimeout)
	defer timer.Stop()
	select {
	case ch <- struct{}{}:
		return nil
	case <-timer.C:
	case <-cancel:
	case <-s.quit:
	}
	return errf("can't lock file '/run/lock/lxc/pve-config-%d.lock' - got timeout", vmid)
}

func (s *Server) releaseFlock(vmid int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releaseFlockLocked(vmid)
}

func (s *Server) releaseFlockLocked(vmid int) {
	select {
	case <-s.flockChan(vmid):
	default:
	}
}

// holdFlock transfers a flock taken by the API call to the worker, which
// keeps it until it exits (the forked worker inherits the lock fd).
func (t *task) holdFlock(vmid int) {
	t.flockVMID = vmid
	t.hasFlock = true
}
