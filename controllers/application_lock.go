package controllers

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/proxmox"
)

// ForeignLockBound is how long a PVE lock that none of this Application's
// Backups holds may last before the Application stops being Ready: a
// vzdump or snapshot started by hand, or a lock left behind by a crashed
// task, is routine for minutes and a fault after that.
const ForeignLockBound = 10 * time.Minute

// lockMark is when this reconciler first saw the current lock.
type lockMark struct {
	lock  string
	since time.Time
}

// lockedWait judges a container Proxmox holds a lock on. Ready means what
// the Application declares is in place, and a lock does not change that:
// while its own Backup holds the lock, or a foreign lock is younger than
// ForeignLockBound, a Ready Application whose generation is applied stays Ready and Reconciling (and
// status.activity) says what is going on. doing says what the pass was
// about to do.
func (r *ApplicationReconciler) lockedWait(ctx context.Context, s *appScope, ct proxmox.ContainerSummary, doing string) ctrl.Result {
	app := s.app
	res := ctrl.Result{RequeueAfter: 5 * time.Second}
	holder := r.lockHolder(ctx, app)
	since := r.lockSince(app, ct.Lock)
	var activity string
	switch {
	case holder != "":
		activity = fmt.Sprintf("container %d is locked (%s) by Backup %q; %s", ct.VMID, ct.Lock, holder, doing)
	case r.now().Sub(since) < ForeignLockBound:
		activity = fmt.Sprintf("container %d is locked by Proxmox (%s) since %s, not by one of its Backups; %s", ct.VMID, ct.Lock, since.UTC().Format(time.RFC3339), doing)
	default:
		s.set(progressing(v1alpha1.ReasonLocked, fmt.Sprintf("container %d has been locked by Proxmox (%s) since %s, longer than %s, and not by one of its Backups; %s",
			ct.VMID, ct.Lock, since.UTC().Format(time.RFC3339), ForeignLockBound, doing)))
		return res
	}
	prev := meta.FindStatusCondition(app.Status.Conditions, v1alpha1.ConditionReady)
	if prev == nil || prev.Status != "True" || app.Status.ObservedGeneration != app.Generation {
		// Not Ready before the lock, or a spec change the lock keeps from
		// being applied: the lock is the news.
		s.set(progressing(v1alpha1.ReasonLocked, activity))
		return res
	}
	app.Status.Activity = activity
	s.set(readyButBusy(*prev, v1alpha1.ReasonLocked, activity))
	return res
}

// lockHolder names a Backup of app that is running (or deleting its
// snapshot), so the container's lock is the operator's own doing; "" if
// there is none.
func (r *ApplicationReconciler) lockHolder(ctx context.Context, app *v1alpha1.Application) string {
	list := &v1alpha1.BackupList{}
	if err := r.List(ctx, list, client.InNamespace(app.Namespace), client.MatchingFields{backupAppIndex: app.Name}); err != nil {
		return ""
	}
	for i := range list.Items {
		b := &list.Items[i]
		if b.Status.Phase == v1alpha1.BackupPhaseRunning || b.Status.Phase == v1alpha1.BackupPhaseDeleting {
			return b.Name
		}
	}
	return ""
}

// lockSince is when lock was first seen on app's container by this
// process; a restart starts the bound again, which errs towards Ready.
func (r *ApplicationReconciler) lockSince(app *v1alpha1.Application, lock string) time.Time {
	if v, ok := r.lockSeen.Load(app.UID); ok && v.(lockMark).lock == lock {
		return v.(lockMark).since
	}
	m := lockMark{lock: lock, since: r.now()}
	r.lockSeen.Store(app.UID, m)
	return m.since
}
