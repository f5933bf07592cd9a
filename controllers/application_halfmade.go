package controllers

import (
	"context"
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/proxmox"
)

// A create that dies with its node or pvedaemon leaves a half-made
// container: PVE writes a config holding only "lock: create" before it
// forks the create worker, and only that worker fills the config in,
// removes the lock, or (on an error) destroys its half. Its task stays in
// the node's index, stopped, with the exit status "unexpected status".
// Through the API nobody can clear that lock — the config update and the
// destroy both refuse a locked container, for root@pam too — so the
// operator cannot clean up even what it proves it made: it says so, with
// the commands, and keeps the VMID to create again once the half is gone.

// reservationSkew is how far the node's clock may trail the operator's
// when a task's start is held against the reservation time.
const reservationSkew = time.Minute

// createTaskType reports the worker types that make a container. A clone's
// task is named after its source VMID, so it never proves a half at the
// target: claimClone judges clones by the marker they carry.
func createTaskType(typ string) bool {
	return typ == "vzcreate" || typ == "vzrestore" || typ == "vzclone"
}

// createVanished handles a create task of ours whose worker died. It did
// not fail in PVE's sense: its cleanup never ran, so the container it had
// begun may be there; the next listing says, and lockedCreate judges it.
// pollTask has already cleared the task and marked the mutation.
func (r *ApplicationReconciler) createVanished(s *appScope, ref *v1alpha1.TaskReference) ctrl.Result {
	r.Hosts.RequestRefresh(s.host.Name)
	s.set(progressing(v1alpha1.ReasonCreating, fmt.Sprintf(
		"the %s task of container %d ended without finishing (its node or pvedaemon died); checking what it left", ref.Type, s.app.Status.VMID)))
	return ctrl.Result{RequeueAfter: minRefreshGap + 500*time.Millisecond}
}

// lockedCreate judges an untagged container locked "create" at the
// Application's VMID: half-made by a create of ours that died (proved by
// halfMadeProof), else a create in flight or a stranger's (createLockWait).
func (r *ApplicationReconciler) lockedCreate(ctx context.Context, s *appScope, ct proxmox.ContainerSummary) (proxmox.ContainerSummary, ctrl.Result, bool, error) {
	proof, err := halfMadeProof(ctx, s, ct)
	if err != nil {
		return ct, ctrl.Result{}, false, err
	}
	if proof == nil {
		s.set(r.createLockWait(s.app, ct))
		return ct, ctrl.Result{RequeueAfter: taskPoll}, false, nil
	}
	s.set(stalled(v1alpha1.ReasonHalfMadeContainer, fmt.Sprintf(
		"container %d on node %s is half-made: this Application's %s task %s died with its node or pvedaemon and left it locked (create); Proxmox' API refuses to unlock or destroy a container locked create, for root@pam too, so run `pct unlock %d && pct destroy %d` on node %s and the operator creates it again at VMID %d",
		ct.VMID, ct.Node, proof.UPID.Type, proof.UPID, ct.VMID, ct.VMID, ct.Node, ct.VMID)))
	// A person's destroy shows in the next listing, which wakes this
	// Application; the requeue is a safety net.
	return ct, ctrl.Result{RequeueAfter: time.Minute}, false, nil
}

// halfMadeProof returns the task that proves ct is a half-made container
// of this Application's, or nil. The proof: status recorded ct's VMID and
// node, with the reservation time, before the create call; the node's task
// index holds a create task for that VMID by the operator's own principal,
// started at or after the reservation (less reservationSkew), whose worker
// vanished; and no task of ours about the VMID still runs. Anything less
// is not proof.
func halfMadeProof(ctx context.Context, s *appScope, ct proxmox.ContainerSummary) (*proxmox.TaskSummary, error) {
	app := s.app
	at := app.Status.VMIDReservedAt
	if at == nil || app.Status.Task != nil || int(app.Status.VMID) != ct.VMID || app.Status.Node != ct.Node {
		return nil, nil
	}
	// UPIDs carry whole seconds of the node's clock, and the reservation
	// precedes the call; reservationSkew allows for the two clocks.
	since := at.Add(-reservationSkew).Truncate(time.Second)
	tasks, err := s.host.Client.OwnGuestTasks(ctx, ct.Node, ct.VMID, since)
	if err != nil {
		return nil, fmt.Errorf("look for the create task of container %d: %w", ct.VMID, err)
	}
	var proof *proxmox.TaskSummary
	for i, t := range tasks {
		if t.Running {
			return nil, nil
		}
		if proof == nil && t.Vanished && createTaskType(t.UPID.Type) && t.UPID.VMID() == ct.VMID && !t.StartTime.Before(since) {
			proof = &tasks[i]
		}
	}
	return proof, nil
}
