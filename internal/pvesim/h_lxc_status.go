package pvesim

import (
	"errors"
	"time"
)

func hStatusCurrent(s *Server, rq *request) (any, *apiError) {
	return s.onCT(rq, func(ct *container) (any, *apiError) { return s.statusCurrent(ct, s.now()), nil })
}

// powerWorker is the worker of a status/* call.
type powerWorker func(tr *taskRun, node string, vmid int) error

// powerTask is the shape every status/* call shares: a sync precondition,
// the config flock taken before the fork and held by the worker, and the
// lock check inside the worker (so a locked CT still gets a UPID).
func (s *Server) powerTask(rq *request, typ string, pre func(ct *container) *apiError, work powerWorker) (any, *apiError) {
	return s.powerTaskOpts(rq, typ, true, pre, work)
}

// powerTaskOpts is powerTask; flock false is for the calls PVE forks without
// lock_config (reboot, resume).
func (s *Server) powerTaskOpts(rq *request, typ string, flock bool, pre func(ct *container) *apiError, work powerWorker) (any, *apiError) {
	node, vmid := rq.node(), rq.vmid()
	if e := s.checkPowerPrecondition(node, vmid, pre); e != nil {
		return nil, e
	}
	if t := s.haPowerRequest(rq, typ); t != nil {
		return t.upid, nil // an HA-managed CT: HA is asked instead (h_ha_manager.go)
	}
	if flock {
		if e := s.acquireFlock(vmid, rq.r.Context().Done()); e != nil {
			return nil, e
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.forkGuestTask(node, typ, vmid, rq.authID(), flock, func(tr *taskRun) error { return work(tr, node, vmid) })
	return t.upid, nil
}

// checkPowerPrecondition runs pre with the CT, or nil when it is not on the
// node: the precondition decides what a missing CT means.
func (s *Server) checkPowerPrecondition(node string, vmid int, pre func(ct *container) *apiError) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	ct := s.cts[vmid]
	if ct != nil && ct.node != node {
		ct = nil
	}
	if pre == nil {
		return nil
	}
	return pre(ct)
}

// workerCT loads the config inside a worker: missing config and locks fail
// the task, not the HTTP call.
func (s *Server) workerCT(node string, vmid int, skiplock bool) (*container, error) {
	ct := s.cts[vmid]
	if ct == nil || ct.node != node {
		return nil, notFoundConfig(node, vmid)
	}
	if !skiplock {
		if e := ct.checkLock(); e != nil {
			return nil, e
		}
	}
	return ct, nil
}

// checkSkiplock: only root@pam may skip the lock check.
func checkSkiplock(rq *request) (bool, *apiError) {
	skiplock := boolParam(rq.params, "skiplock")
	if skiplock && rq.authID() != "root@pam" {
		return false, paramErr1("skiplock", "Only root may use this option.")
	}
	return skiplock, nil
}

func alreadyRunning(ct *container, vmid int) *apiError {
	if ct != nil && ct.running {
		return errf("CT %d already running", vmid)
	}
	return nil
}

func hStart(s *Server, rq *request) (any, *apiError) {
	skiplock, e := checkSkiplock(rq)
	if e != nil {
		return nil, e
	}
	vmid := rq.vmid()
	return s.powerTask(rq, TaskStart, func(ct *container) *apiError { return alreadyRunning(ct, vmid) },
		func(tr *taskRun, node string, vmid int) error { return s.startWorker(tr, node, vmid, skiplock) })
}

// startWorker is vm_start: pending changes are applied at start.
func (s *Server) startWorker(tr *taskRun, node string, vmid int, skiplock bool) error {
	err := tr.loadCT(node, vmid, skiplock, func(ct *container) error {
		if ct.isTemplate() {
			return errors.New("you can't start a CT if it's a template")
		}
		if ct.running {
			return errorsf("CT %d already running", vmid)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var gone error
	if err := tr.commit(nil, func() {
		ct := s.cts[vmid]
		if ct == nil {
			gone = notFoundConfig(node, vmid)
			return
		}
		s.applyPending(ct)
		s.markRunning(ct)
	}); err != nil {
		return err
	}
	return gone
}

func (s *Server) markRunning(ct *container) {
	ct.running = true
	ct.suspended = false
	ct.startedAt = s.now()
	ct.pid = 10000 + s.randIntn(3000000)
}

func (s *Server) markStopped(ct *container) {
	ct.running = false
	ct.suspended = false
	ct.pid = 0
}

// markStoppedIfPresent is the commit of stop and shutdown. The caller holds
// s.mu.
func (s *Server) markStoppedIfPresent(vmid int) {
	if ct := s.cts[vmid]; ct != nil {
		s.markStopped(ct)
	}
}

func notRunning(ct *container, vmid int, label string) *apiError {
	if ct == nil || !ct.running {
		return errf("%s %d not running", label, vmid)
	}
	return nil
}

func hStop(s *Server, rq *request) (any, *apiError) {
	skiplock, e := checkSkiplock(rq)
	if e != nil {
		return nil, e
	}
	vmid := rq.vmid()
	return s.powerTask(rq, TaskStop, func(ct *container) *apiError { return notRunning(ct, vmid, "CT") },
		func(tr *taskRun, node string, vmid int) error {
			if err := tr.loadCT(node, vmid, skiplock, nil); err != nil {
				return err
			}
			return tr.commit(nil, func() { s.markStoppedIfPresent(vmid) })
		})
}

// hShutdown honours timeout (default 60) and forceStop. A guest that ignores
// the shutdown request (fault knob) makes the task wait the timeout and then
// either fail with "container did not stop" or be killed with forceStop.
func hShutdown(s *Server, rq *request) (any, *apiError) {
	vmid := rq.vmid()
	timeout := intParam(rq.params, "timeout", 60)
	forceStop := boolParam(rq.params, "forceStop")
	return s.powerTask(rq, TaskShutdown, func(ct *container) *apiError { return notRunning(ct, vmid, "CT") },
		func(tr *taskRun, node string, vmid int) error {
			ignores := false
			if err := tr.loadCT(node, vmid, false, func(ct *container) error {
				ignores = ct.ignoreShutdown
				return nil
			}); err != nil {
				return err
			}
			err := s.waitShutdown(tr, ignores, timeout, forceStop)
			return tr.commitAfter(err, nil, func() { s.markStoppedIfPresent(vmid) })
		})
}

// waitShutdown is the shutdown's work phase; a guest that ignores the
// request is waited for timeout seconds and then killed or given up on.
func (s *Server) waitShutdown(tr *taskRun, ignores bool, timeout int, forceStop bool) error {
	if !ignores {
		return tr.work()
	}
	if err := tr.sleep(time.Duration(timeout) * s.opts.TimeoutUnit); err != nil {
		return err
	}
	if !forceStop {
		return errors.New("container did not stop")
	}
	tr.log("container did not stop in time - forcing stop")
	return nil
}

// hReboot: PVE says "VM" here even for containers, and forks vzreboot
// without taking the config flock or checking the lock.
func hReboot(s *Server, rq *request) (any, *apiError) {
	vmid := rq.vmid()
	return s.powerTaskOpts(rq, TaskReboot, false, func(ct *container) *apiError { return notRunning(ct, vmid, "VM") },
		func(tr *taskRun, node string, vmid int) error {
			if err := tr.loadCT(node, vmid, true, nil); err != nil {
				return err
			}
			return tr.commit(nil, func() {
				if ct := s.cts[vmid]; ct != nil {
					s.applyPending(ct)
					s.markRunning(ct)
				}
			})
		})
}

// hSuspend is lxc-checkpoint -s: the CT is checkpointed and stops running.
func hSuspend(s *Server, rq *request) (any, *apiError) {
	vmid := rq.vmid()
	return s.powerTask(rq, TaskSuspend, func(ct *container) *apiError { return notRunning(ct, vmid, "CT") },
		func(tr *taskRun, node string, vmid int) error {
			if err := tr.loadCT(node, vmid, false, nil); err != nil {
				return err
			}
			return tr.commit(nil, func() {
				if ct := s.cts[vmid]; ct != nil {
					s.markStopped(ct)
					ct.suspended = true
				}
			})
		})
}

// hResume restores the checkpoint; PVE takes neither flock nor lock here.
func hResume(s *Server, rq *request) (any, *apiError) {
	vmid := rq.vmid()
	return s.powerTaskOpts(rq, TaskResume, false, func(ct *container) *apiError { return alreadyRunning(ct, vmid) },
		func(tr *taskRun, node string, vmid int) error {
			if err := tr.loadCT(node, vmid, true, nil); err != nil {
				return err
			}
			return tr.commit(nil, func() {
				if ct := s.cts[vmid]; ct != nil {
					s.markRunning(ct)
				}
			})
		})
}

type simpleError string

func (e simpleError) Error() string { return string(e) }

func errorsf(format string, args ...any) error { return simpleError(errf(format, args...).msg) }
