package pvesim

import (
	"fmt"
	"strconv"
)

// The shapes the container handlers share: PVE's API calls either read the
// config and answer synchronously, or take the per-CT config flock, check
// the config and fork a worker that inherits the flock.

// worker is the body of a forked task; its error's text is the exit status.
type worker func(tr *taskRun) error

// ctOn finds the CT on the request's node; elsewhere or nowhere is PVE's
// config-file-not-found 500. The caller holds s.mu.
func (s *Server) ctOn(node string, vmid int) (*container, *apiError) {
	ct := s.cts[vmid]
	if ct == nil || ct.node != node {
		return nil, notFoundConfig(node, vmid)
	}
	return ct, nil
}

// onCT runs f under s.mu with the CT the request names.
func (s *Server) onCT(rq *request, f func(ct *container) (any, *apiError)) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ct, e := s.ctOn(rq.node(), rq.vmid())
	if e != nil {
		return nil, e
	}
	return f(ct)
}

// onFlockedCT is onCT for the synchronous calls PVE makes under lock_config:
// the config flock is held around f, so f waits for running workers.
func (s *Server) onFlockedCT(rq *request, f func(ct *container) (any, *apiError)) (any, *apiError) {
	vmid := rq.vmid()
	if e := s.acquireFlock(vmid, rq.r.Context().Done()); e != nil {
		return nil, e
	}
	defer s.releaseFlock(vmid)
	return s.onCT(rq, f)
}

// flockedCTTask is the shape of the calls PVE forks under lock_config: the
// config flock is taken first, then plan checks the CT under s.mu and
// returns the worker, which inherits the flock and holds it until it exits.
// A failed check releases the flock.
func (s *Server) flockedCTTask(rq *request, typ string, plan func(ct *container) (worker, *apiError)) (*task, *apiError) {
	node, vmid := rq.node(), rq.vmid()
	if e := s.acquireFlock(vmid, rq.r.Context().Done()); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ct, e := s.ctOn(node, vmid)
	var work worker
	if e == nil {
		work, e = plan(ct)
	}
	if e != nil {
		s.releaseFlockLocked(vmid)
		return nil, e
	}
	return s.forkGuestTask(node, typ, vmid, rq.authID(), true, work), nil
}

// forkGuestTask registers a task whose id is vmid and starts work. With
// holdFlock the worker takes over the config flock the caller acquired (the
// forked worker inherits the lock fd) and releases it when it exits. The
// caller holds s.mu.
func (s *Server) forkGuestTask(node, typ string, vmid int, authID string, holdFlock bool, work worker) *task {
	t := s.newTask(node, typ, vmidString(vmid), authID)
	if holdFlock {
		t.holdFlock(vmid)
	}
	s.runTask(t, work)
	return t
}

// upidResult is a task-forking handler's answer: the UPID, or the error.
func upidResult(t *task, e *apiError) (any, *apiError) {
	if e != nil {
		return nil, e
	}
	return t.upid, nil
}

// checkAllocate is the VM.Allocate check of create and clone: on the pool
// when one is given (an unknown pool is a 403 too), else on the new VMID.
// The caller holds s.mu.
func (s *Server) checkAllocate(p *principal, pool string, vmid int) *apiError {
	if pool == "" {
		return s.checkPerm(p, "/vms/"+strconv.Itoa(vmid), "VM.Allocate")
	}
	if !s.pools[pool] {
		return permErr(fmt.Sprintf("pool '%s' does not exist", pool))
	}
	return s.checkPerm(p, "/pool/"+pool, "VM.Allocate")
}

// clearLock removes lock l from CT vmid if it is still the CT's lock: a
// worker undoes only its own lock. The caller holds s.mu.
func (s *Server) clearLock(vmid int, l string) {
	if ct := s.cts[vmid]; ct != nil && ct.lock() == l {
		ct.setLock("")
	}
}

// freeVolumes removes volumes a failed worker allocated. The caller holds
// s.mu.
func (s *Server) freeVolumes(vols []*volume, node string) {
	for _, v := range vols {
		if st, vol := s.volumeOf(v.volid, node); vol != nil {
			st.remove(v.volid)
		}
	}
}

// diskFormat is the property format a disk key is printed with.
func diskFormat(key string) *propFormat {
	if key == "rootfs" {
		return rootfsFormat
	}
	return mpFormat
}
