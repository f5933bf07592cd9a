package controllers

import (
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// takeAppTurn admits the Backup to its Application's lane, or leaves it
// Queued, without a Proxmox request, until the Backup ahead of it ends.
// One at a time per Application: each snapshot or dump locks the
// container, so a burst of Backups would otherwise post task after task
// against a locked container and keep it locked for everyone.
func (r *BackupReconciler) takeAppTurn(s *backupScope) (ctrl.Result, bool) {
	s.appTurnSeen = true
	res, use, ok := takeLane(&r.apps, appKeyOf(s.backup), s)
	s.appTurn = use
	return res, ok
}

// takeLane admits the pass's Backup to lane k of q (back to Pending if it
// was Queued), or leaves it Queued with its place in line.
func takeLane[K laneKey](q *turnQueue[K], k K, s *backupScope) (ctrl.Result, slotUse, bool) {
	b := s.backup
	pos, ok := q.admit(k, entryOf(b))
	if ok {
		if b.Status.Phase == v1alpha1.BackupPhaseQueued {
			b.Status.Phase = v1alpha1.BackupPhasePending
		}
		return ctrl.Result{}, slotHeld, true
	}
	b.Status.Phase = v1alpha1.BackupPhaseQueued
	s.set(progressing(v1alpha1.ReasonQueued, pos.message()))
	return ctrl.Result{RequeueAfter: queuedRecheck}, slotQueued, false
}

// settleAppTurn records in the Application's lane what this pass left the
// Backup holding. A pass that ended before its turn was looked at (the
// host unreachable, say) changes nothing, so a Backup keeps the turn it
// has; an ended one, or one with a task in flight, settles by itself.
func (r *BackupReconciler) settleAppTurn(s *backupScope) {
	b := s.backup
	key := client.ObjectKeyFromObject(b)
	switch {
	case s.deleted || backupEnded(b):
		r.apps.forget(key)
	case b.Status.Task != nil:
		r.apps.settle(appKeyOf(b), entryOf(b), slotHeld)
	case s.appTurnSeen:
		r.apps.settle(appKeyOf(b), entryOf(b), s.appTurn)
	}
}
