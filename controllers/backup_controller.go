package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/proxmox"
)

const (
	// BackupFinalizer keeps a Backup until its archive or snapshot has been
	// dealt with according to deletionPolicy.
	BackupFinalizer = "proxmox.pve-operator.io/backup"

	// AnnotationBackupHost records the ProxmoxHost a Backup was taken on. It
	// is written before anything is started, so a Backup can still be deleted
	// (and restored, or refused for the wrong host) after its Application is gone.
	AnnotationBackupHost = "proxmox.pve-operator.io/host"

	backupAppIndex = "spec.applicationRef.name"

	// defaultLockDeadline is how long a Backup keeps retrying a container
	// locked by another operation before it is marked Failed.
	defaultLockDeadline = time.Hour
	// protectedRetry is how often a deletion blocked by a protected archive
	// looks again: slowly, it waits for a human.
	protectedRetry = time.Minute
	// requeueSoon is for a next step that can follow at once.
	requeueSoon = 100 * time.Millisecond
)

// BackupReconciler takes one vzdump archive or container snapshot per Backup
// and removes it again when the Backup is deleted (deletionPolicy Delete) or
// expires (ttl).
type BackupReconciler struct {
	client.Client
	Hosts    *Hosts
	Recorder events.EventRecorder
	// Now is the clock; nil means time.Now. Tests inject a fake one.
	Now func() time.Time
	// LockDeadline is how long a locked container is waited for before the
	// Backup fails; 0 means one hour.
	LockDeadline time.Duration
	// TaskDeadline is how long a task may run before the Backup is Stalled
	// with TaskStuck; 0 means DefaultTaskDeadline.
	TaskDeadline time.Duration

	// lockRetries holds a lockRetry per Backup UID for the backoff. It is
	// only a pacing aid: losing it on restart restarts the backoff, the
	// deadline itself is measured from the Backup's creation.
	lockRetries sync.Map
	// queue lets one vzdump of the operator run per node; pacer spaces
	// the polls of the running one.
	queue vzdumpQueue
	pacer vzdumpPacer
	// apps lets one Backup per Application run at a time.
	apps appQueue
}

// backupScope carries one reconcile's state.
type backupScope struct {
	backup *v1alpha1.Backup
	app    *v1alpha1.Application
	host   *HostEntry
	// ct is the Application's container as the inventory shows it.
	ct      proxmox.ContainerSummary
	outcome outcome
	// deleted is set when this pass deleted the Backup (expiry); the
	// deletion's own passes report from then on.
	deleted bool
	// slot is what this pass left the Backup holding on its node's vzdump
	// queue (archives only).
	slot slotUse
	// appTurn is what this pass left it holding in its Application's
	// lane, once appTurnSeen says the pass got that far.
	appTurn     slotUse
	appTurnSeen bool
	// grants are what the host gives the Backup's namespace.
	grants []v1alpha1.TenantGrant
}

func (s *backupScope) set(o outcome) { s.outcome = o }

// Reconcile drives a Backup through Pending, (Queued,) Running and Completed or Failed:
//  1. finalizer first, before any Proxmox side effect;
//  2. ttl: expiresAt is kept current, and an expired Backup is deleted;
//  3. a terminal Backup only keeps Application.status.lastBackup current
//     (and a failed snapshot's leftovers removed);
//  4. the Application, its host (recorded in an annotation) and its
//     container are resolved;
//  5. a recorded task is polled, never waited for;
//  6. otherwise the dump or snapshot is started, unless an earlier attempt
//     is still running or already produced it; an archive first waits,
//     Queued, while another of the operator's dumps runs on its node.
func (r *BackupReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	b := &v1alpha1.Backup{}
	if err := r.Get(ctx, req.NamespacedName, b); err != nil {
		if apierrors.IsNotFound(err) {
			r.queue.forget(req.NamespacedName)
			r.apps.forget(req.NamespacedName)
		}
		return ctrl.Result{}, forgetIfGone("Backup", req, err)
	}
	if !b.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, b)
	}
	if err := seedBackupQueues(ctx, r.Client, &r.queue, &r.apps); err != nil {
		return ctrl.Result{}, err
	}
	if added, err := addFinalizer(ctx, r.Client, b, BackupFinalizer); added || err != nil {
		return ctrl.Result{RequeueAfter: requeueSoon}, err
	}
	before := b.DeepCopy()
	s := &backupScope{backup: b}
	res, err := r.reconcileNormal(ctx, s)
	r.settleSlot(s)
	r.settleAppTurn(s)
	if err != nil && !isTransientK8s(err) {
		logf.FromContext(ctx).Error(err, "reconcile failed")
		s.set(progressing(v1alpha1.ReasonProxmoxError, err.Error()))
		res, err = ctrl.Result{RequeueAfter: 10 * time.Second}, nil
	}
	if s.deleted {
		return ctrl.Result{}, err
	}
	if perr := r.finish(ctx, before, s); perr != nil {
		return ctrl.Result{}, perr
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if backupEnded(s.backup) {
		r.syncLastBackup(ctx, b.Namespace, b.Spec.ApplicationRef.Name)
	}
	return res, nil
}

func (r *BackupReconciler) reconcileNormal(ctx context.Context, s *backupScope) (ctrl.Result, error) {
	b := s.backup
	if expired, err := r.expire(ctx, s); expired || err != nil {
		return ctrl.Result{}, err
	}
	switch b.Status.Phase {
	case v1alpha1.BackupPhaseCompleted:
		return r.untilExpiry(ctrl.Result{}, b), nil
	case v1alpha1.BackupPhaseFailed:
		res, err := r.reconcileFailed(ctx, s)
		return r.untilExpiry(res, b), err
	}
	if b.Status.Task == nil {
		if res, ok, err := r.resolveApplication(ctx, s); !ok || err != nil {
			return res, err
		}
	}
	if res, ok, err := r.resolveHost(ctx, s); !ok || err != nil {
		return res, err
	}
	if b.Status.Task != nil {
		return r.pollTask(ctx, s)
	}
	if res, ok := r.resolveContainer(s); !ok {
		return res, nil
	}
	if ok, err := r.withinPendingQuota(ctx, s, backupHost(b)); !ok || err != nil {
		return ctrl.Result{}, err
	}
	if res, turn := r.takeAppTurn(s); !turn {
		return res, nil
	}
	if b.Spec.Type == v1alpha1.BackupTypeSnapshot {
		return r.startSnapshot(ctx, s)
	}
	return r.startArchive(ctx, s)
}

// resolveApplication finds the Application to back up and records its host
// on the Backup before anything is started.
func (r *BackupReconciler) resolveApplication(ctx context.Context, s *backupScope) (ctrl.Result, bool, error) {
	b := s.backup
	app := &v1alpha1.Application{}
	err := r.Get(ctx, client.ObjectKey{Namespace: b.Namespace, Name: b.Spec.ApplicationRef.Name}, app)
	switch {
	case apierrors.IsNotFound(err):
		s.set(stalled(v1alpha1.ReasonApplicationNotFound, fmt.Sprintf("Application %q does not exist", b.Spec.ApplicationRef.Name)))
		setPhaseIfEmpty(b, v1alpha1.BackupPhasePending)
		return ctrl.Result{RequeueAfter: time.Minute}, false, nil
	case err != nil:
		return ctrl.Result{}, false, err
	case !app.DeletionTimestamp.IsZero():
		s.set(stalled(v1alpha1.ReasonApplicationNotFound, fmt.Sprintf("Application %q is being deleted", app.Name)))
		setPhaseIfEmpty(b, v1alpha1.BackupPhasePending)
		return ctrl.Result{RequeueAfter: time.Minute}, false, nil
	}
	s.app = app
	if host := b.Annotations[AnnotationBackupHost]; host != app.Spec.HostRef.Name {
		if host != "" && (b.Status.VolID != "" || b.Status.SnapshotName != "") {
			// Never rewrite where existing data lives.
			s.set(stalled(v1alpha1.ReasonHostMismatch, fmt.Sprintf("Backup was taken on host %q, Application %q is on %q", host, app.Name, app.Spec.HostRef.Name)))
			return ctrl.Result{}, false, nil
		}
		// The next pass starts from the updated object.
		return ctrl.Result{RequeueAfter: requeueSoon}, false, patchMeta(ctx, r.Client, b, func() {
			if b.Annotations == nil {
				b.Annotations = map[string]string{}
			}
			b.Annotations[AnnotationBackupHost] = app.Spec.HostRef.Name
		})
	}
	setPhaseIfEmpty(b, v1alpha1.BackupPhasePending)
	if app.Status.VMID == 0 {
		s.set(progressing(v1alpha1.ReasonApplicationNotReady, fmt.Sprintf("Application %q has no container yet", app.Name)))
		return ctrl.Result{RequeueAfter: 10 * time.Second}, false, nil
	}
	return ctrl.Result{}, true, nil
}

// resolveHost returns the connected host the Backup lives on, if it still
// allows the Backup's namespace.
func (r *BackupReconciler) resolveHost(ctx context.Context, s *backupScope) (ctrl.Result, bool, error) {
	name := backupHost(s.backup)
	host, ok, err := r.allowed(ctx, s, name)
	if !ok || err != nil {
		// Namespace labels are not watched: look again now and then.
		return ctrl.Result{RequeueAfter: time.Minute}, false, err
	}
	entry, ok := r.Hosts.Get(name)
	if !ok || entry.Inventory.Snapshot() == nil || !meta.IsStatusConditionTrue(host.Status.Conditions, v1alpha1.ConditionReady) {
		s.set(hostWait(host, name, ""))
		return ctrl.Result{RequeueAfter: 15 * time.Second}, false, nil
	}
	s.host = entry
	return ctrl.Result{}, true, nil
}

// allowed re-checks, before any call to Proxmox, that the host still allows
// the Backup's namespace; when not, the Backup reports why and waits.
func (r *BackupReconciler) allowed(ctx context.Context, s *backupScope, host string) (*v1alpha1.ProxmoxHost, bool, error) {
	t, o, ok, err := resolveTenancy(ctx, r.Client, host, s.backup.Namespace)
	if !ok && err == nil {
		s.set(o)
		setPhaseIfEmpty(s.backup, v1alpha1.BackupPhasePending)
	}
	s.grants = t.grants
	return t.host, ok, err
}

// resolveContainer finds the Application's own container in the inventory.
func (r *BackupReconciler) resolveContainer(s *backupScope) (ctrl.Result, bool) {
	vmid := int(s.app.Status.VMID)
	ct, found := s.host.Inventory.Snapshot().Containers[vmid]
	if !found {
		s.set(progressing(v1alpha1.ReasonApplicationNotReady, fmt.Sprintf("container %d of Application %q is not on host %q", vmid, s.app.Name, s.host.Name)))
		return ctrl.Result{RequeueAfter: 10 * time.Second}, false
	}
	if !lxcconfig.OwnedBy(ct.Tags, string(s.app.UID)) {
		s.set(progressing(v1alpha1.ReasonApplicationNotReady, fmt.Sprintf("container %d is not (yet) owned by Application %q", vmid, s.app.Name)))
		return ctrl.Result{RequeueAfter: 10 * time.Second}, false
	}
	if ct.Status == "unknown" {
		s.set(progressing(v1alpha1.ReasonHostNotReady, fmt.Sprintf("node %s of container %d is not reporting", ct.Node, vmid)))
		return ctrl.Result{RequeueAfter: 30 * time.Second}, false
	}
	s.ct = ct
	return ctrl.Result{}, true
}

// pollTask checks the recorded task and moves the Backup on when it ended.
func (r *BackupReconciler) pollTask(ctx context.Context, s *backupScope) (ctrl.Result, error) {
	b := s.backup
	ref := b.Status.Task
	k := nodeKey{s.host.Name, ref.Node}
	if wait, early := r.pacer.early(b.UID, r.now()); early && ref.Type == "vzdump" {
		// Woken before the planned poll (by this Backup's own status
		// write): asking now would double the polls of every dump.
		s.set(taskInFlight(ref, b.Status.VMID, v1alpha1.ReasonTaskRunning, r.TaskDeadline, r.now()))
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	res, st, err := checkTask(ctx, s.host.Client, ref)
	if err != nil {
		return ctrl.Result{}, err
	}
	if res == taskRunning {
		b.Status.Phase = v1alpha1.BackupPhaseRunning
		s.set(taskInFlight(ref, b.Status.VMID, v1alpha1.ReasonTaskRunning, r.TaskDeadline, r.now()))
		if ref.Type == "vzdump" {
			return ctrl.Result{RequeueAfter: r.pacer.running(k, b.UID, ref, r.now())}, nil
		}
		return ctrl.Result{RequeueAfter: taskPoll}, nil
	}
	b.Status.Task = nil
	switch ref.Type {
	case "vzdump":
		r.pacer.ended(k, b.UID, ref, r.now())
		return r.archiveTaskEnded(ctx, s, ref, res, st)
	case "vzsnapshot":
		return r.snapshotTaskEnded(ctx, s, res, st)
	}
	// A cleanup task of a failed snapshot: the next pass looks again.
	return ctrl.Result{RequeueAfter: requeueSoon}, nil
}

// taskFailure is PVE's own words for why a task failed: the per-guest
// error behind vzdump's generic "job errors" when there is one.
func taskFailure(st proxmox.TaskStatus) string {
	var tf *proxmox.TaskFailedError
	if asTaskFailed(st.Err, &tf) && tf.Detail != "" {
		return tf.Detail
	}
	return st.ExitStatus
}

// locked waits for a container locked by another operation, backing off,
// and fails the Backup once the lock outlived the deadline.
func (r *BackupReconciler) locked(s *backupScope, lock string) (ctrl.Result, error) {
	b := s.backup
	deadline := r.LockDeadline
	if deadline <= 0 {
		deadline = defaultLockDeadline
	}
	if r.now().Sub(b.CreationTimestamp.Time) > deadline {
		r.fail(s, v1alpha1.ReasonLocked, fmt.Sprintf("container %d stayed locked by Proxmox (%s) for more than %s", b.Status.VMID, lock, deadline))
		return ctrl.Result{}, nil
	}
	v, _ := r.lockRetries.Load(b.UID)
	lr, _ := v.(lockRetry)
	now := time.Now()
	b.Status.Phase = v1alpha1.BackupPhasePending
	if now.Before(lr.next) {
		// Woken before the retry is due (by this Backup's own status
		// write, an inventory change): not another attempt, or the
		// backoff would climb to its cap within one second.
		s.set(lockedWait(b, lock, lr.delay))
		return ctrl.Result{RequeueAfter: lr.next.Sub(now)}, nil
	}
	delay := min(5*time.Second<<min(lr.attempts, 5), 2*time.Minute)
	r.lockRetries.Store(b.UID, lockRetry{attempts: lr.attempts + 1, next: now.Add(delay), delay: delay})
	s.set(lockedWait(b, lock, delay))
	return ctrl.Result{RequeueAfter: delay}, nil
}

// lockRetry is where a Backup's wait for a locked container stands.
type lockRetry struct {
	attempts int
	// next is when the next attempt is due, delay the wait before it.
	next  time.Time
	delay time.Duration
}

func lockedWait(b *v1alpha1.Backup, lock string, delay time.Duration) outcome {
	return progressing(v1alpha1.ReasonLocked, fmt.Sprintf("container %d is locked by Proxmox (%s); retrying in %s", b.Status.VMID, lock, delay))
}

// started records a task a Backup started, or classifies why it did not start.
func (r *BackupReconciler) started(s *backupScope, upid proxmox.UPID, err error, msg string) (ctrl.Result, error) {
	b := s.backup
	switch {
	case err == nil:
		now := r.now()
		b.Status.Task = taskRef(upid, now)
		b.Status.Phase = v1alpha1.BackupPhaseRunning
		b.Status.StartTime = metaTime(now)
		r.event(b, eventNormal, "Started", msg)
		s.set(progressing(v1alpha1.ReasonTaskRunning, msg))
		return ctrl.Result{RequeueAfter: taskPoll}, nil
	case proxmox.IsOutcomeUnknown(err):
		// PVE may have started it: the next pass finds the running task or
		// its result by the marker, and never starts blindly again.
		s.set(progressing(v1alpha1.ReasonTaskRunning, msg+": the answer was lost; checking what Proxmox did"))
		return ctrl.Result{RequeueAfter: 2 * taskPoll}, nil
	case proxmox.IsLocked(err) || proxmox.IsLockTimeout(err):
		return r.locked(s, proxmox.LockName(err))
	case proxmox.IsWrongNode(err):
		// The container moved (HA, migration) since the last listing.
		r.Hosts.RequestRefresh(s.host.Name)
		s.set(progressing(v1alpha1.ReasonProgressing, fmt.Sprintf("container %d is no longer on %s; waiting for a fresh listing", b.Status.VMID, s.ct.Node)))
		return ctrl.Result{RequeueAfter: 2 * minRefreshGap}, nil
	case proxmox.IsBadRequest(err):
		// PVE refused the parameters: retrying cannot help.
		r.fail(s, v1alpha1.ReasonFailed, err.Error())
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, err
}

// fail marks the Backup Failed with PVE's reason.
func (r *BackupReconciler) fail(s *backupScope, reason, msg string) {
	b := s.backup
	b.Status.Phase = v1alpha1.BackupPhaseFailed
	b.Status.Task = nil
	r.lockRetries.Delete(b.UID)
	s.set(stalled(reason, "backup failed: "+msg))
	backupOutcomes.WithLabelValues(b.Namespace, b.Spec.ApplicationRef.Name, string(backupType(b)), "failed").Inc()
}

// complete marks the Backup Completed.
func (r *BackupReconciler) complete(s *backupScope, msg string) {
	b := s.backup
	b.Status.Phase = v1alpha1.BackupPhaseCompleted
	b.Status.Task = nil
	b.Status.CompletionTime = metaTime(r.now())
	r.lockRetries.Delete(b.UID)
	s.set(readyOutcome(v1alpha1.ReasonCompleted, msg))
	backupOutcomes.WithLabelValues(b.Namespace, b.Spec.ApplicationRef.Name, string(backupType(b)), "completed").Inc()
}

func (r *BackupReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// SetupWithManager registers the controller and its index. A Queued
// Backup is woken through the queue's channel when its turn comes.
func (r *BackupReconciler) SetupWithManager(mgr ctrl.Manager, concurrency int) error {
	r.queue.wake = make(chan event.GenericEvent, 1024)
	r.apps.wake = r.queue.wake
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.Backup{}, backupAppIndex, func(o client.Object) []string {
		return []string{o.(*v1alpha1.Backup).Spec.ApplicationRef.Name}
	}); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.Backup{}, backupPendingIndex, pendingOnHost); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Backup{}).
		// A Pending Backup proceeds as soon as its Application has a container.
		Watches(&v1alpha1.Application{}, handler.EnqueueRequestsFromMapFunc(r.backupsOfApp), builder.WithPredicates(appContainerChanged())).
		WatchesRawSource(source.Channel(r.queue.wake, &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrency}).
		Named("backup").
		Complete(r)
}

func (r *BackupReconciler) backupsOfApp(ctx context.Context, o client.Object) []reconcile.Request {
	list := &v1alpha1.BackupList{}
	if err := r.List(ctx, list, client.InNamespace(o.GetNamespace()), client.MatchingFields{backupAppIndex: o.GetName()}); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if p := list.Items[i].Status.Phase; p == "" || p == v1alpha1.BackupPhasePending {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return reqs
}

// appContainerChanged passes Application events that can unblock a Pending
// Backup: a container appearing or the Application becoming Ready.
func appContainerChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, ok1 := e.ObjectOld.(*v1alpha1.Application)
			n, ok2 := e.ObjectNew.(*v1alpha1.Application)
			if !ok1 || !ok2 {
				return true
			}
			return o.Status.VMID != n.Status.VMID ||
				meta.IsStatusConditionTrue(o.Status.Conditions, v1alpha1.ConditionReady) != meta.IsStatusConditionTrue(n.Status.Conditions, v1alpha1.ConditionReady)
		},
		DeleteFunc: func(event.DeleteEvent) bool { return false },
	}
}
