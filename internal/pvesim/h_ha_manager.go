package pvesim

import (
	"fmt"
	"strconv"
	"strings"
)

// The simulator runs no CRM or LRM daemons. This file stands in for the
// part of them a client can see: the state HA reports for a guest in
// /cluster/resources (hastate), the LRM carrying out a requested state
// (it starts or shuts down the container, as root@pam, with the same
// tasks a user would see), a guest HA moved to another node (HAMove, the
// test hook for a relocation or a recovery after fencing), and the
// resource pve-container's create adds with ha-managed.

// haRequested is the state a resource asks for: PVE's default is started,
// and enabled is the old name of started.
func haRequested(opts map[string]string) string {
	switch st := opts["state"]; st {
	case "", "enabled":
		return "started"
	default:
		return st
	}
}

// haManaged is PVE::HA::Config::vm_is_ha_managed: a resource that is not
// ignored. Power and migrate calls on such a guest become HA requests.
// The caller holds s.mu.
func (s *Server) haManaged(vmid int) bool {
	opts := s.ha.resources[haSID(vmid)]
	return opts != nil && haRequested(opts) != "ignored"
}

// haStateOf is the hastate /cluster/resources shows for container vmid:
// the manager's state of the service, which once settled is the requested
// one; "" when HA does not know the guest. The caller holds s.mu.
func (s *Server) haStateOf(vmid int) string {
	opts := s.ha.resources[haSID(vmid)]
	if opts == nil {
		return ""
	}
	return haRequested(opts)
}

// haSettleSID runs haSettle in the background for a container resource:
// the API call that changed the request returns first, as PVE's does
// (the CRM and LRM act on their next round). The caller holds s.mu.
func (s *Server) haSettleSID(sid string) {
	typ, name, _ := strings.Cut(sid, ":")
	vmid, err := strconv.Atoi(name)
	if typ != "ct" || err != nil {
		return
	}
	go s.haSettle(vmid)
}

// haSettle is the LRM carrying out the requested state: started on a
// stopped container starts it, stopped or disabled on a running one shuts
// it down; both as root@pam tasks on the container's node.
func (s *Server) haSettle(vmid int) {
	s.mu.Lock()
	ct, opts := s.cts[vmid], s.ha.resources[haSID(vmid)]
	if ct == nil || opts == nil {
		s.mu.Unlock()
		return
	}
	want, node, running := haRequested(opts), ct.node, ct.running
	s.mu.Unlock()
	switch {
	case want == "started" && !running:
		s.spawnStart(node, vmid, "root@pam", nil)
	case (want == "stopped" || want == "disabled") && running:
		s.spawnHAShutdown(node, vmid)
	}
}

// spawnHAShutdown is the LRM's request_stop: a vzshutdown task.
func (s *Server) spawnHAShutdown(node string, vmid int) {
	if e := s.acquireFlock(vmid, nil); e != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ct := s.cts[vmid]; ct == nil || !ct.running || ct.node != node {
		s.releaseFlockLocked(vmid)
		return
	}
	s.forkGuestTask(node, TaskShutdown, vmid, "root@pam", true, func(tr *taskRun) error {
		if err := tr.loadCT(node, vmid, false, nil); err != nil {
			return err
		}
		return tr.commit(nil, func() { s.markStoppedIfPresent(vmid) })
	})
}

// HAMove moves an HA-managed container to node target the way HA does when
// it relocates a service or recovers it from a fenced node: the config
// (and, in the simulator, its local volumes) goes to target, and a running
// container runs there afterwards, freshly started. No task of the API's
// caller is involved, which is the point: a client sees the guest on
// another node in the next listing.
func (s *Server) HAMove(vmid int, target string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ct := s.cts[vmid]
	switch {
	case ct == nil:
		return fmt.Errorf("CT %d does not exist", vmid)
	case !s.haManaged(vmid):
		return fmt.Errorf("CT %d is not HA managed", vmid)
	case s.nodes[target] == nil:
		return fmt.Errorf("no node %q", target)
	case ct.node == target:
		return fmt.Errorf("CT %d is already on %s", vmid, target)
	}
	j := &migrateJob{s: s, ct: ct, node: ct.node, target: s.nodes[target]}
	j.move()
	if ct.running {
		s.markRunning(ct)
	}
	ct.touch()
	s.bumpVersion()
	return nil
}

// checkHAManagedCreate is create's early check of ha-managed: adding the
// new container to HA needs Sys.Console on /.
func (s *Server) checkHAManagedCreate(rq *request) *apiError {
	if !boolParam(rq.params, "ha-managed") {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checkPerm(rq.auth, "/", "Sys.Console")
}

// haAddAfterCreate is the end of create's worker with ha-managed: the
// container becomes an HA resource, started when the create started it,
// else stopped (a failure there is only a warning in PVE, and cannot
// happen here).
func (s *Server) haAddAfterCreate(tr *taskRun, vmid int, started bool) {
	state := "stopped"
	if started {
		state = "started"
	}
	tr.log("Add as HA resource")
	tr.locked(func() {
		if s.ha.resources[haSID(vmid)] == nil {
			s.ha.resources[haSID(vmid)] = map[string]string{"state": state}
		}
	})
}

// TaskHAMigrate is the task migrate_vm starts for an HA-managed guest.
const TaskHAMigrate = "hamigrate"

// requestHA is the hamigrate worker: it only asks HA to move the guest
// (ha-manager migrate). The CRM then has the LRM on the source node run
// the migration itself, as root@pam, restarting a running container.
func (j *migrateJob) requestHA(tr *taskRun) error {
	tr.log("Requesting HA migration for CT %d to node %s", j.ct.vmid, j.target.name)
	if err := tr.work(); err != nil || tr.ghost {
		return err
	}
	tr.locked(func() {
		if ct := j.s.cts[j.ct.vmid]; ct == j.ct && ct.node == j.node {
			j.s.forkGuestTask(j.node, TaskMigrate, ct.vmid, "root@pam", false, j.run)
		}
	})
	return nil
}

// Tasks pve-container starts instead of a power action on an HA-managed
// container: they only change what HA is asked for.
const (
	TaskHAStart = "hastart"
	TaskHAStop  = "hastop"
)

// haPowerRequests maps the power tasks PVE hands to HA for an HA-managed
// container (vm_start, vm_stop, vm_shutdown) to the requested state.
var haPowerRequests = map[string]struct{ typ, state, verb string }{
	TaskStart:    {TaskHAStart, "started", "start"},
	TaskStop:     {TaskHAStop, "stopped", "stop"},
	TaskShutdown: {TaskHAStop, "stopped", "stop"},
}

// haPowerRequest forks the hastart or hastop task that replaces power
// task typ when HA manages the container, or returns nil. Its worker is
// `ha-manager set --state started` or `crm-command stop`: the requested
// state changes, and the LRM then acts (haSettle).
func (s *Server) haPowerRequest(rq *request, typ string) *task {
	node, vmid := rq.node(), rq.vmid()
	req, ok := haPowerRequests[typ]
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ok || !s.haManaged(vmid) {
		return nil
	}
	sid := haSID(vmid)
	return s.forkGuestTask(node, req.typ, vmid, rq.authID(), false, func(tr *taskRun) error {
		tr.log("Requesting HA %s for CT %d", req.verb, vmid)
		if err := tr.work(); err != nil || tr.ghost {
			return err
		}
		tr.locked(func() {
			if opts := s.ha.resources[sid]; opts != nil {
				opts["state"] = req.state
				s.haSettleSID(sid)
			}
		})
		return nil
	})
}
