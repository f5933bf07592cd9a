package pvesim

import (
	"errors"
	"time"
)

func hStatusCurrent(s *Server, rq *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ct, e := s.ctOn(rq.node(), rq.vmid())
	if e != nil {
		return nil, e
	}
	return s.statusCurrent(ct, s.now()), nil
}

// powerTask is the shape every status/* call shares: a sync precondition,
// the config flock taken before the fork and held by the worker, and the
// lock check inside the worker (so a locked CT still gets a UPID).
func (s *Server) powerTask(rq *request, typ string, pre func(ct *container) *apiError, work func(tr *taskRun, node string, vmid int) error) (any, *apiError) {
	return s.powerTaskOpts(rq, typ, true, pre, work)
}

// powerTaskOpts is powerTask; flock false is for the calls PVE forks without
// lock_config (reboot, resume).
func (s *Server) powerTaskOpts(rq *request, typ string, flock bool, pre func(ct *container) *apiError, work func(tr *taskRun, node string, vmid int) error) (any, *apiError) {
	node, vmid := rq.node(), rq.vmid()
	s.mu.Lock()
	ct := s.cts[vmid]
	if ct != nil && ct.node != node {
		ct = nil
	}
	if pre != nil {
		if e := pre(ct); e != nil {
			s.mu.Unlock()
			return nil, e
		}
	}
	s.mu.Unlock()
	if flock {
		if e := s.acquireFlock(vmid, rq.r.Context().Done()); e != nil {
			return nil, e
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.newTask(node, typ, vmidString(vmid), rq.authID())
	if flock {
		t.holdFlock(vmid)
	}
	s.runTask(t, func(tr *taskRun) error { return work(tr, node, vmid) })
	return t.upid, nil
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

func hStart(s *Server, rq *request) (any, *apiError) {
	skiplock := boolParam(rq.params, "skiplock")
	if skiplock && rq.authID() != "root@pam" {
		return nil, paramErr1("skiplock", "Only root may use this option.")
	}
	return s.powerTask(rq, TaskStart, func(ct *container) *apiError {
		if ct != nil && ct.running {
			return errf("CT %d already running", ct.vmid)
		}
		return nil
	}, func(tr *taskRun, node string, vmid int) error {
		return s.startWorker(tr, node, vmid, skiplock)
	})
}

// startWorker is vm_start: pending changes are applied at start.
func (s *Server) startWorker(tr *taskRun, node string, vmid int, skiplock bool) error {
	var err error
	tr.locked(func() {
		var ct *container
		ct, err = s.workerCT(node, vmid, skiplock)
		if err != nil {
			return
		}
		if ct.isTemplate() {
			err = errors.New("you can't start a CT if it's a template")
			return
		}
		if ct.running {
			err = errorsf("CT %d already running", vmid)
		}
	})
	if err != nil {
		return err
	}
	if err := tr.work(); err != nil {
		return err
	}
	if tr.ghost {
		return nil
	}
	tr.locked(func() {
		ct := s.cts[vmid]
		if ct == nil {
			err = notFoundConfig(node, vmid)
			return
		}
		s.applyPending(ct)
		s.markRunning(ct)
	})
	return err
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

func notRunning(ct *container, vmid int, label string) *apiError {
	if ct == nil || !ct.running {
		return errf("%s %d not running", label, vmid)
	}
	return nil
}

func hStop(s *Server, rq *request) (any, *apiError) {
	skiplock := boolParam(rq.params, "skiplock")
	if skiplock && rq.authID() != "root@pam" {
		return nil, paramErr1("skiplock", "Only root may use this option.")
	}
	vmid := rq.vmid()
	return s.powerTask(rq, TaskStop, func(ct *container) *apiError { return notRunning(ct, vmid, "CT") },
		func(tr *taskRun, node string, vmid int) error {
			var err error
			tr.locked(func() { _, err = s.workerCT(node, vmid, skiplock) })
			if err != nil {
				return err
			}
			if err := tr.work(); err != nil {
				return err
			}
			if tr.ghost {
				return nil
			}
			tr.locked(func() {
				if ct := s.cts[vmid]; ct != nil {
					s.markStopped(ct)
				}
			})
			return nil
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
			var err error
			ignores := false
			tr.locked(func() {
				var ct *container
				ct, err = s.workerCT(node, vmid, false)
				if ct != nil {
					ignores = ct.ignoreShutdown
				}
			})
			if err != nil {
				return err
			}
			if ignores {
				if err := tr.sleep(time.Duration(timeout) * s.opts.TimeoutUnit); err != nil {
					return err
				}
				if !forceStop {
					return errors.New("container did not stop")
				}
				tr.log("container did not stop in time - forcing stop")
			} else if err := tr.work(); err != nil {
				return err
			}
			if tr.ghost {
				return nil
			}
			tr.locked(func() {
				if ct := s.cts[vmid]; ct != nil {
					s.markStopped(ct)
				}
			})
			return nil
		})
}

// hReboot: PVE says "VM" here even for containers, and forks vzreboot
// without taking the config flock or checking the lock.
func hReboot(s *Server, rq *request) (any, *apiError) {
	vmid := rq.vmid()
	return s.powerTaskOpts(rq, TaskReboot, false, func(ct *container) *apiError { return notRunning(ct, vmid, "VM") },
		func(tr *taskRun, node string, vmid int) error {
			var err error
			tr.locked(func() { _, err = s.workerCT(node, vmid, true) })
			if err != nil {
				return err
			}
			if err := tr.work(); err != nil {
				return err
			}
			if tr.ghost {
				return nil
			}
			tr.locked(func() {
				if ct := s.cts[vmid]; ct != nil {
					s.applyPending(ct)
					s.markRunning(ct)
				}
			})
			return nil
		})
}

// hSuspend is lxc-checkpoint -s: the CT is checkpointed and stops running.
func hSuspend(s *Server, rq *request) (any, *apiError) {
	vmid := rq.vmid()
	return s.powerTask(rq, TaskSuspend, func(ct *container) *apiError { return notRunning(ct, vmid, "CT") },
		func(tr *taskRun, node string, vmid int) error {
			var err error
			tr.locked(func() { _, err = s.workerCT(node, vmid, false) })
			if err != nil {
				return err
			}
			if err := tr.work(); err != nil {
				return err
			}
			tr.locked(func() {
				if ct := s.cts[vmid]; ct != nil && !tr.ghost {
					s.markStopped(ct)
					ct.suspended = true
				}
			})
			return nil
		})
}

// hResume restores the checkpoint; PVE takes neither flock nor lock here.
func hResume(s *Server, rq *request) (any, *apiError) {
	vmid := rq.vmid()
	return s.powerTaskOpts(rq, TaskResume, false, func(ct *container) *apiError {
		if ct != nil && ct.running {
			return errf("CT %d already running", vmid)
		}
		return nil
	}, func(tr *taskRun, node string, vmid int) error {
		var err error
		tr.locked(func() { _, err = s.workerCT(node, vmid, true) })
		if err != nil {
			return err
		}
		if err := tr.work(); err != nil {
			return err
		}
		tr.locked(func() {
			if ct := s.cts[vmid]; ct != nil && !tr.ghost {
				s.markRunning(ct)
			}
		})
		return nil
	})
}

type simpleError string

func (e simpleError) Error() string { return string(e) }

func errorsf(format string, args ...any) error { return simpleError(errf(format, args...).msg) }
