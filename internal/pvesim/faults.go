package pvesim

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// FaultAction is what a RequestFault does to a matching request.
type FaultAction string

const (
	// FaultError answers with Status and Message without touching state.
	// 502/503/504/595/596 come with an empty body (a proxy's answer), other
	// statuses with PVE's JSON error envelope.
	FaultError FaultAction = "error"
	// FaultDrop closes the connection before the request is handled.
	FaultDrop FaultAction = "drop"
	// FaultDropAfterCommit handles the request (state changes, tasks start)
	// and then closes the connection without a response.
	FaultDropAfterCommit FaultAction = "drop-after-commit"
	// FaultPartialAfterCommit handles the request, then sends a 200 whose
	// body is cut off mid-JSON.
	FaultPartialAfterCommit FaultAction = "partial-after-commit"
	// FaultInvalidJSONAfterCommit handles the request, then sends a complete
	// 200 whose body is not JSON.
	FaultInvalidJSONAfterCommit FaultAction = "invalid-json-after-commit"
	// FaultDelay waits Delay before handling (headers are delayed).
	FaultDelay FaultAction = "delay"
	// FaultHang never answers; the request ends when the client gives up.
	FaultHang FaultAction = "hang"
)

// RequestFault selects requests and breaks them.
type RequestFault struct {
	// Method matches the HTTP method; empty matches any.
	Method string `json:"method,omitempty"`
	// Path matches the path below /api2/json: a route template
	// ("/nodes/{node}/lxc/{vmid}/config"), a glob ("*" within a segment,
	// "**" across segments) or, with a leading "~", a regular expression.
	// Empty matches every path.
	Path string `json:"path,omitempty"`
	// Count is how many matching requests are affected: 0 means 1, a
	// negative value means until cleared.
	Count int `json:"count,omitempty"`
	// Probability, when between 0 and 1, affects each matching request only
	// with that chance (drawn from the simulator's seeded generator, so a
	// run is reproducible); requests it spares do not use up Count. 0 (or
	// 1) affects every matching request.
	Probability float64       `json:"probability,omitempty"`
	Action      FaultAction   `json:"action"`
	Status      int           `json:"status,omitempty"`
	Message     string        `json:"message,omitempty"`
	Delay       time.Duration `json:"-"`
}

type requestFaultState struct {
	id        string
	f         RequestFault
	remaining int
	re        *regexp.Regexp
}

// globToRegexp converts a path glob to an anchored expression.
func globToRegexp(glob string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(glob); i++ {
		switch c := glob[i]; c {
		case '*':
			if i+1 < len(glob) && glob[i+1] == '*' {
				b.WriteString(".*")
				i++
			} else {
				b.WriteString("[^/]*")
			}
		case '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func compileFaultPath(p string) (*regexp.Regexp, error) {
	p = strings.TrimPrefix(p, "/api2/json")
	if p == "" {
		return nil, nil
	}
	if strings.HasPrefix(p, "~") {
		return regexp.Compile(p[1:])
	}
	return globToRegexp(p), nil
}

func (fs *requestFaultState) matches(method, rel string, rt *route) bool {
	if fs.f.Method != "" && !strings.EqualFold(fs.f.Method, method) {
		return false
	}
	if fs.f.Path == "" {
		return true
	}
	if rt != nil && strings.TrimPrefix(fs.f.Path, "/api2/json") == rt.template {
		return true
	}
	return fs.re != nil && fs.re.MatchString(rel)
}

// InjectFault arms a request fault and returns its id.
func (s *Server) InjectFault(f RequestFault) (string, error) {
	re, err := compileFaultPath(f.Path)
	if err != nil {
		return "", fmt.Errorf("fault path %q: %w", f.Path, err)
	}
	switch f.Action {
	case FaultError, FaultDrop, FaultDropAfterCommit, FaultPartialAfterCommit, FaultInvalidJSONAfterCommit, FaultDelay, FaultHang:
	default:
		return "", fmt.Errorf("unknown fault action %q", f.Action)
	}
	if f.Probability < 0 || f.Probability > 1 {
		return "", fmt.Errorf("fault probability %v: want 0 to 1", f.Probability)
	}
	if f.Action == FaultError && f.Status == 0 {
		f.Status = http.StatusInternalServerError
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextFaultID("fault")
	s.reqFaults = append(s.reqFaults, &requestFaultState{id: id, f: f, remaining: faultUses(f.Count), re: re})
	return id, nil
}

// faultUses is how often a fault with Count applies: 0 means once, a
// negative count until cleared.
func faultUses(count int) int {
	if count == 0 {
		return 1
	}
	return count
}

// nextFaultID numbers request and task faults in one sequence. The caller
// holds s.mu.
func (s *Server) nextFaultID(prefix string) string {
	s.faultSeq++
	return fmt.Sprintf("%s-%d", prefix, s.faultSeq)
}

// mustInjectFault is InjectFault for the shorthands below, whose faults
// are valid unless the path is a bad regular expression, a caller's bug.
func (s *Server) mustInjectFault(f RequestFault) string {
	id, err := s.InjectFault(f)
	if err != nil {
		panic(err)
	}
	return id
}

// FailRequests makes the next n requests matching method and path fail with
// status and message (the reason phrase is its first line).
func (s *Server) FailRequests(method, path string, n, status int, message string) string {
	return s.mustInjectFault(RequestFault{Method: method, Path: path, Count: n, Action: FaultError, Status: status, Message: message})
}

// DropAfterCommit makes the next n matching requests take effect and then
// lose their response.
func (s *Server) DropAfterCommit(method, path string, n int) string {
	return s.mustInjectFault(RequestFault{Method: method, Path: path, Count: n, Action: FaultDropAfterCommit})
}

// DelayRequests delays the next n matching requests by d.
func (s *Server) DelayRequests(method, path string, n int, d time.Duration) string {
	return s.mustInjectFault(RequestFault{Method: method, Path: path, Count: n, Action: FaultDelay, Delay: d})
}

// HangRequests makes the next n matching requests hang until the client
// cancels them.
func (s *Server) HangRequests(method, path string, n int) string {
	return s.mustInjectFault(RequestFault{Method: method, Path: path, Count: n, Action: FaultHang})
}

// RemoveFault disarms one request or task fault.
func (s *Server) RemoveFault(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.reqFaults {
		if f.id == id {
			s.reqFaults = removeAt(s.reqFaults, i)
			return true
		}
	}
	for i, f := range s.taskFaults {
		if f.id == id {
			s.taskFaults = removeAt(s.taskFaults, i)
			return true
		}
	}
	return false
}

// removeAt returns list without element i, in a new backing array.
func removeAt[T any](list []T, i int) []T {
	return append(list[:i:i], list[i+1:]...)
}

// useUp counts one use of a fault with *remaining uses left (a negative
// count never runs out) and reports whether that was the last.
func useUp(remaining *int) bool {
	if *remaining <= 0 {
		return false
	}
	*remaining--
	return *remaining == 0
}

// ClearFaults disarms every request and task fault (stalled tasks stay
// stalled until released).
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqFaults = nil
	s.taskFaults = nil
}

// takeRequestFault consumes the first armed fault matching the request.
func (s *Server) takeRequestFault(method, rel string, rt *route) *RequestFault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, fs := range s.reqFaults {
		if !fs.matches(method, rel, rt) {
			continue
		}
		if p := fs.f.Probability; p > 0 && p < 1 && s.randFloat() >= p {
			continue
		}
		f := fs.f
		if useUp(&fs.remaining) {
			s.reqFaults = removeAt(s.reqFaults, i)
		}
		return &f
	}
	return nil
}

// applyFaultBefore runs the pre-handling part of a fault; false means the
// response has been dealt with.
func (s *Server) applyFaultBefore(w http.ResponseWriter, r *http.Request, f *RequestFault) bool {
	switch f.Action {
	case FaultError:
		msg := f.Message
		empty := false
		switch f.Status {
		case 502, 503, 504, 595, 596:
			empty = true
		}
		if msg == "" {
			msg = http.StatusText(f.Status)
			if f.Status == 595 {
				msg = "Connection refused"
			} else if msg == "" {
				msg = "simulated failure"
			}
		}
		drainBody(r)
		writeError(w, &apiError{status: f.Status, msg: msg, emptyBody: empty}, s.now())
		return false
	case FaultDrop:
		dropConnection(w, r)
		return false
	case FaultDelay:
		select {
		case <-time.After(f.Delay):
			return true
		case <-r.Context().Done():
			return false
		case <-s.quit:
			return false
		}
	case FaultHang:
		select {
		case <-r.Context().Done():
		case <-s.quit:
		}
		dropConnection(w, r)
		return false
	}
	return true
}

// applyFaultAfter runs the post-commit part; true means the response has
// been dealt with.
func (s *Server) applyFaultAfter(w http.ResponseWriter, r *http.Request, f *RequestFault) bool {
	switch f.Action {
	case FaultDropAfterCommit:
		dropConnection(w, r)
		return true
	case FaultPartialAfterCommit:
		writePartial(w, r, s.now())
		return true
	case FaultInvalidJSONAfterCommit:
		drainBody(r)
		writeRaw(w, 200, "OK", []byte("<html><head><title>502 Proxy Error</title></head></html>"), s.now())
		return true
	}
	return false
}

// ---- task faults -------------------------------------------------------------

// TaskFaultAction is what a TaskFault does to a matching task.
type TaskFaultAction string

const (
	// TaskFaultFail ends the task with ExitStatus after its normal duration;
	// the operation is rolled back as on a real failure.
	TaskFaultFail TaskFaultAction = "fail"
	// TaskFaultStall keeps the task running until ReleaseTasks/ReleaseTask
	// or DELETE …/tasks/{upid}.
	TaskFaultStall TaskFaultAction = "stall"
	// TaskFaultWarnings finishes successfully with "TASK WARNINGS: n".
	TaskFaultWarnings TaskFaultAction = "warnings"
	// TaskFaultGhost reports OK without changing any state.
	TaskFaultGhost TaskFaultAction = "ghost"
	// TaskFaultForget runs normally, then its status and log answer
	// "no such task" (log rotation, node reboot).
	TaskFaultForget TaskFaultAction = "forget"
)

// TaskFault selects tasks by type, id and node when they are created.
type TaskFault struct {
	// Type is the worker type (vzcreate, vzstart, vzdump…); empty matches any.
	Type string `json:"type,omitempty"`
	// ID is the task id (usually the VMID); empty matches any.
	ID   string `json:"id,omitempty"`
	Node string `json:"node,omitempty"`
	// Count: 0 means 1, negative means until cleared.
	Count  int             `json:"count,omitempty"`
	Action TaskFaultAction `json:"action"`
	// ExitStatus is the exit status (and last log line) of a failed task.
	// In a vzcreate or vzrestore task, PasswordPlaceholder is replaced by
	// the request's password parameter, so a test can make a task echo the
	// root password; a fault feature for testing redaction, not a claim
	// about which PVE failures quote it.
	ExitStatus string `json:"exitstatus,omitempty"`
	Warnings   int    `json:"warnings,omitempty"`
}

// PasswordPlaceholder in TaskFault.ExitStatus stands for the password of the
// create or restore request whose task fails.
const PasswordPlaceholder = "{password}"

type taskFaultState struct {
	id        string
	f         TaskFault
	remaining int
}

// InjectTaskFault arms a task fault and returns its id.
func (s *Server) InjectTaskFault(f TaskFault) (string, error) {
	switch f.Action {
	case TaskFaultFail, TaskFaultStall, TaskFaultWarnings, TaskFaultGhost, TaskFaultForget:
	default:
		return "", fmt.Errorf("unknown task fault action %q", f.Action)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextFaultID("taskfault")
	s.taskFaults = append(s.taskFaults, &taskFaultState{id: id, f: f, remaining: faultUses(f.Count)})
	return id, nil
}

// FailTasks makes the next n tasks of type typ (and id, if set) fail with
// exitStatus.
func (s *Server) FailTasks(typ, id string, n int, exitStatus string) string {
	fid, _ := s.InjectTaskFault(TaskFault{Type: typ, ID: id, Count: n, Action: TaskFaultFail, ExitStatus: exitStatus})
	return fid
}

// StallTasks keeps the next n matching tasks running until released.
func (s *Server) StallTasks(typ, id string, n int) string {
	fid, _ := s.InjectTaskFault(TaskFault{Type: typ, ID: id, Count: n, Action: TaskFaultStall})
	return fid
}

// WarnTasks makes the next n matching tasks end with "WARNINGS: warnings".
func (s *Server) WarnTasks(typ, id string, n, warnings int) string {
	fid, _ := s.InjectTaskFault(TaskFault{Type: typ, ID: id, Count: n, Action: TaskFaultWarnings, Warnings: warnings})
	return fid
}

func (s *Server) takeTaskFault(t *task) *TaskFault {
	for i, fs := range s.taskFaults {
		f := fs.f
		if (f.Type != "" && f.Type != t.typ) || (f.ID != "" && f.ID != t.id) || (f.Node != "" && f.Node != t.node) {
			continue
		}
		if useUp(&fs.remaining) {
			s.taskFaults = removeAt(s.taskFaults, i)
		}
		return &f
	}
	return nil
}

// ReleaseTasks lets every stalled (and every future stalled-then-released)
// task finish; it returns how many tasks were stalled.
func (s *Server) ReleaseTasks() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.taskList {
		if t.running && t.fault != nil && t.fault.Action == TaskFaultStall {
			if t.stalled {
				n++
			}
			t.releaseStall()
		}
	}
	return n
}

// releaseStall lets a stalled task go on (once; later calls do nothing).
// The caller holds s.mu.
func (t *task) releaseStall() {
	select {
	case <-t.release:
	default:
		close(t.release)
	}
}

// ReleaseTask releases one stalled task.
func (s *Server) ReleaseTask(upid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tasks[upid]
	if t == nil || !t.running {
		return false
	}
	t.releaseStall()
	return true
}

// ForgetTask makes a task answer "no such task" from now on.
func (s *Server) ForgetTask(upid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tasks[upid]
	if t == nil {
		return false
	}
	t.forgotten = true
	return true
}

// StopTask interrupts a task as DELETE /nodes/{node}/tasks/{upid} does.
func (s *Server) StopTask(upid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tasks[upid]
	if t == nil || !t.running || t.interrupted {
		return false
	}
	t.stop()
	return true
}

// KillTask kills a running task's worker the way pvedaemon dying or the
// node rebooting does: the worker runs no cleanup, so a create leaves its
// config holding only "lock: create" (PVE's create_and_lock_config writes
// that before forking the worker and only the worker removes it). The task
// is no longer running and, its log lacking a final "TASK OK"/"TASK
// ERROR" line, reads "unexpected status" — PVE derives a stopped task's
// exit status from that last line (upid_read_status).
func (s *Server) KillTask(upid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tasks[upid]
	if t == nil || !t.running {
		return false
	}
	s.killLocked(t, s.now().Unix())
	return true
}

// killRunningTasks kills every running task (see KillTask).
func (s *Server) killRunningTasks() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().Unix()
	for _, t := range s.taskList {
		if t.running {
			s.killLocked(t, now)
		}
	}
}

// killLocked kills t; a dead process holds no flock. The caller holds s.mu.
func (s *Server) killLocked(t *task, now int64) {
	t.kill(now)
	if t.hasFlock {
		s.releaseFlockLocked(t.flockVMID)
		t.hasFlock = false
	}
	s.bumpVersion()
}

// kill ends t as a vanished worker and wakes the goroutine, whose further
// effects taskRun.locked and finishTask then drop. The caller holds s.mu.
func (t *task) kill(now int64) {
	t.killed = true
	t.running = false
	t.exitstatus = "unexpected status"
	t.endtime = now
	close(t.done)
	if !t.interrupted {
		t.interrupted = true
		close(t.interrupt)
	}
}

// stop interrupts a running task, as DELETE …/tasks/{upid} does; the worker
// rolls back and ends with "received interrupt". The caller holds s.mu.
func (t *task) stop() {
	if t.running && !t.interrupted {
		t.interrupted = true
		close(t.interrupt)
	}
}

// ---- state faults ------------------------------------------------------------

func (s *Server) withCT(vmid int, f func(ct *container) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ct := s.cts[vmid]
	if ct == nil {
		return fmt.Errorf("CT %d does not exist", vmid)
	}
	if err := f(ct); err != nil {
		return err
	}
	ct.touch()
	s.bumpVersion()
	return nil
}

// SetLock writes (or with "" removes) the config lock behind the API's back,
// e.g. the stale lock:backup a crashed vzdump leaves.
func (s *Server) SetLock(vmid int, lock string) error {
	return s.withCT(vmid, func(ct *container) error { ct.setLock(lock); return nil })
}

// SetConfigValue edits one option as another user would (value "" deletes
// it); the digest changes.
func (s *Server) SetConfigValue(vmid int, key, value string) error {
	return s.withCT(vmid, func(ct *container) error {
		if value == "" {
			delete(ct.conf, key)
		} else {
			ct.conf[key] = value
		}
		return nil
	})
}

// BumpDigest changes the config digest without changing any value, as an
// edit elsewhere in the file would.
func (s *Server) BumpDigest(vmid int) error {
	return s.withCT(vmid, func(ct *container) error { ct.digestSalt++; return nil })
}

// SetIgnoreShutdown makes the guest ignore shutdown requests.
func (s *Server) SetIgnoreShutdown(vmid int, ignore bool) error {
	return s.withCT(vmid, func(ct *container) error { ct.ignoreShutdown = ignore; return nil })
}

// SetRunning changes the power state out of band (a crash, a manual start).
func (s *Server) SetRunning(vmid int, running bool) error {
	return s.withCT(vmid, func(ct *container) error {
		if running && !ct.running {
			s.markRunning(ct)
		} else if !running {
			s.markStopped(ct)
		}
		return nil
	})
}

// RemoveContainer deletes a CT out of band (its disks too).
func (s *Server) RemoveContainer(vmid int) error {
	return s.withCT(vmid, func(ct *container) error {
		s.freeDisks(ct)
		delete(s.cts, vmid)
		return nil
	})
}

// SetNodeOnline takes a node offline (its guests show status "unknown", and
// calls to it fail with 595) or back online.
func (s *Server) SetNodeOnline(name string, online bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nodes[name]
	if n == nil {
		return fmt.Errorf("no node %q", name)
	}
	n.online = online
	s.bumpVersion()
	return nil
}

// RevokeToken makes a token fail authentication (401) until RestoreToken.
func (s *Server) RevokeToken(id string) error { return s.setRevoked(id, true) }

// RestoreToken undoes RevokeToken.
func (s *Server) RestoreToken(id string) error { return s.setRevoked(id, false) }

func (s *Server) setRevoked(id string, revoked bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.principals[id]
	if p == nil || p.token == "" {
		return fmt.Errorf("no token %q", id)
	}
	p.revoked = revoked
	return nil
}

// DropPrivilege denies priv to a user or token on path and below ("/" for
// everywhere), producing PVE's 403 "Permission check failed (path, priv)".
func (s *Server) DropPrivilege(principalID, path, priv string) error {
	if path == "" {
		path = "/"
	}
	return s.withPrincipal(principalID, func(p *principal) {
		if p.denied[path] == nil {
			p.denied[path] = map[string]bool{}
		}
		p.denied[path][priv] = true
	})
}

// RestorePrivileges removes every DropPrivilege of a principal.
func (s *Server) RestorePrivileges(principalID string) error {
	return s.withPrincipal(principalID, func(p *principal) { p.denied = map[string]map[string]bool{} })
}

// withPrincipal changes a user's or token's privileges under s.mu.
func (s *Server) withPrincipal(id string, f func(p *principal)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.principals[id]
	if p == nil {
		return fmt.Errorf("no user or token %q", id)
	}
	f(p)
	s.bumpVersion()
	return nil
}

// ExpireTickets invalidates every ticket and CSRF token issued so far.
func (s *Server) ExpireTickets() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ticketGen++
}

// SetStorageExtraUsed marks bytes of a storage instance as used by things
// outside the simulation (node "" for a shared storage), to fill it up.
func (s *Server) SetStorageExtraUsed(storage, node string, bytes uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.storeFor(storage, node)
	if st == nil {
		return fmt.Errorf("no storage %q on node %q", storage, node)
	}
	st.extra = bytes
	s.bumpVersion()
	return nil
}

// SetUnauthorizedDelay changes the 401 delay (PVE: 3 s).
func (s *Server) SetUnauthorizedDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.UnauthorizedDelay = d
}

// SetTaskDuration changes how long the next tasks of type typ run (a vzdump
// long enough to be polled, say) and returns the previous range, to
// restore it.
func (s *Server) SetTaskDuration(typ string, r DurationRange) DurationRange {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	prev := s.opts.Durations[typ]
	// A copy: Options handed to New may still be read by the caller.
	d := make(TaskDurations, len(s.opts.Durations)+1)
	for k, v := range s.opts.Durations {
		d[k] = v
	}
	d[typ] = r
	s.opts.Durations = d
	return prev
}
