package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/proxmox"
)

// restoreHold is how long one pass of a Restore keeps the Application
// controller off the container; every pass renews it, so it only lapses if
// the Restore controller stops looking (the container's PVE lock still
// protects a restore in flight then).
const restoreHold = 30 * time.Second

// RestoreReconciler restores a Completed Backup in place: an archive is
// restored over the Application's container (stop, then restore with
// force=1 onto the same VMID and storage), a snapshot is rolled back to.
// The Application keeps owning the container and converges afterwards.
type RestoreReconciler struct {
	client.Client
	Hosts    *Hosts
	Recorder events.EventRecorder
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// TaskDeadline is how long a task may run before the Restore is Stalled
	// with TaskStuck; 0 means DefaultTaskDeadline.
	TaskDeadline time.Duration
}

type restoreScope struct {
	restore *v1alpha1.Restore
	before  *v1alpha1.Restore
	backup  *v1alpha1.Backup
	app     *v1alpha1.Application
	host    *HostEntry
	outcome outcome
}

func (s *restoreScope) set(o outcome) { s.outcome = o }

// Reconcile performs a Restore once:
//  1. admission, before anything is touched: the Backup exists and is
//     Completed (a Pending or Running one is waited for), the Application exists, is on the Backup's host and owns its
//     container, and no other Restore of it runs; a refusal is final;
//  2. phase Running and the start time are recorded before the first call;
//  3. a recorded task is polled, never waited for;
//  4. Archive: stop the container, then restore over it; Snapshot: roll back;
//  5. Completed or Failed, and the Application is let go.
func (r *RestoreReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	rs := &v1alpha1.Restore{}
	if err := r.Get(ctx, req.NamespacedName, rs); err != nil {
		return ctrl.Result{}, forgetIfGone("Restore", req, err)
	}
	if !rs.DeletionTimestamp.IsZero() || rs.Status.Phase == v1alpha1.RestorePhaseCompleted || rs.Status.Phase == v1alpha1.RestorePhaseFailed {
		return ctrl.Result{}, nil
	}
	s := &restoreScope{restore: rs, before: rs.DeepCopy()}
	res, err := r.reconcileRestore(ctx, s)
	if err != nil && !isTransientK8s(err) {
		logf.FromContext(ctx).Error(err, "reconcile failed")
		s.set(progressing(v1alpha1.ReasonProxmoxError, err.Error()))
		res, err = ctrl.Result{RequeueAfter: 10 * time.Second}, nil
	}
	if perr := r.finish(ctx, s); perr != nil {
		return ctrl.Result{}, perr
	}
	return res, err
}

func (r *RestoreReconciler) reconcileRestore(ctx context.Context, s *restoreScope) (ctrl.Result, error) {
	rs := s.restore
	if res, ok, err := r.admit(ctx, s); !ok || err != nil {
		return res, err
	}
	if rs.Status.Phase != v1alpha1.RestorePhaseRunning {
		// Recorded before the first call, so a pass after a lost status
		// write knows which tasks are this Restore's.
		rs.Status.Phase = v1alpha1.RestorePhaseRunning
		rs.Status.StartTime = metaTime(r.now())
		rs.Status.VMID = s.app.Status.VMID
		if err := r.Status().Patch(ctx, rs, client.MergeFromWithOptions(s.before, client.MergeFromWithOptimisticLock{})); err != nil {
			return ctrl.Result{}, err
		}
		s.before = rs.DeepCopy()
	}
	// Holds the Application controller off the container while it is
	// overwritten and has it read the config again afterwards (see
	// holdForRestore).
	s.host.holdForRestore(s.app.UID, time.Now().Add(restoreHold))
	if rs.Status.Task != nil {
		return r.pollTask(ctx, s)
	}
	return r.step(ctx, s)
}

// admit resolves the Backup, the Application and the host. Refusals (a
// Backup that failed or is being deleted, another host...) fail the Restore before it
// touched anything; waits (host not ready, another Restore running) do not.
func (r *RestoreReconciler) admit(ctx context.Context, s *restoreScope) (ctrl.Result, bool, error) {
	rs := s.restore
	running := rs.Status.Phase == v1alpha1.RestorePhaseRunning
	b := &v1alpha1.Backup{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: rs.Namespace, Name: rs.Spec.BackupRef.Name}, b); err != nil {
		if apierrors.IsNotFound(err) {
			return r.refuse(s, v1alpha1.ReasonBackupNotFound, fmt.Sprintf("Backup %q does not exist", rs.Spec.BackupRef.Name))
		}
		return ctrl.Result{}, false, err
	}
	s.backup = b
	if !running && (b.Status.Phase != v1alpha1.BackupPhaseCompleted || !b.DeletionTimestamp.IsZero()) {
		return r.awaitBackup(s, b)
	}
	appName := b.Spec.ApplicationRef.Name
	if rs.Spec.ApplicationRef != nil {
		appName = rs.Spec.ApplicationRef.Name
	}
	app := &v1alpha1.Application{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: rs.Namespace, Name: appName}, app); err != nil {
		if apierrors.IsNotFound(err) {
			return r.refuse(s, v1alpha1.ReasonApplicationNotFound, fmt.Sprintf("Application %q does not exist", appName))
		}
		return ctrl.Result{}, false, err
	}
	s.app = app
	rs.Status.ApplicationName = app.Name
	t, o, ok, err := resolveTenancy(ctx, r.Client, app.Spec.HostRef.Name, rs.Namespace)
	if err != nil || !ok {
		if running || err != nil {
			// Revoked while it ran: no further call until it is allowed again.
			s.set(o)
			return ctrl.Result{}, false, err
		}
		return r.refuse(s, o.reason, o.message)
	}
	if !running {
		if res, ok, err := r.admitTarget(ctx, s); !ok || err != nil {
			return res, ok, err
		}
	}
	entry, ok := r.Hosts.Get(app.Spec.HostRef.Name)
	if !ok || entry.Inventory.Snapshot() == nil || !meta.IsStatusConditionTrue(t.host.Status.Conditions, v1alpha1.ConditionReady) {
		s.set(hostWait(t.host, app.Spec.HostRef.Name, ""))
		setRestorePhaseIfEmpty(rs)
		return ctrl.Result{RequeueAfter: 15 * time.Second}, false, nil
	}
	s.host = entry
	return ctrl.Result{}, true, nil
}

// awaitBackup judges a Restore whose Backup is not Completed (yet). One
// applied together with its Backup (a GitOps sync, a script) waits for it,
// woken by the Backup watch; it fails only once the Backup failed or is
// being deleted.
func (r *RestoreReconciler) awaitBackup(s *restoreScope, b *v1alpha1.Backup) (ctrl.Result, bool, error) {
	if !b.DeletionTimestamp.IsZero() || b.Status.Phase == v1alpha1.BackupPhaseFailed {
		phase := "Failed"
		if !b.DeletionTimestamp.IsZero() {
			phase = "being deleted"
		}
		return r.refuse(s, v1alpha1.ReasonBackupNotCompleted, fmt.Sprintf("Backup %q is %s, not Completed; nothing was touched", b.Name, phase))
	}
	setRestorePhaseIfEmpty(s.restore)
	if c := meta.FindStatusCondition(b.Status.Conditions, v1alpha1.ConditionStalled); c != nil && c.Status == metav1.ConditionTrue {
		// Stuck with its Backup, and on again if the Backup recovers.
		s.set(stalled(v1alpha1.ReasonBackupNotCompleted, fmt.Sprintf("waiting for Backup %q, which is stalled (%s: %s)", b.Name, c.Reason, c.Message)))
	} else {
		s.set(progressing(v1alpha1.ReasonBackupNotCompleted, fmt.Sprintf("waiting for Backup %q (%s) to complete", b.Name, orUnknown(string(b.Status.Phase)))))
	}
	return ctrl.Result{RequeueAfter: time.Minute}, false, nil
}

// admitTarget checks that the Backup may overwrite the Application's container.
func (r *RestoreReconciler) admitTarget(ctx context.Context, s *restoreScope) (ctrl.Result, bool, error) {
	rs, b, app := s.restore, s.backup, s.app
	switch {
	case !app.DeletionTimestamp.IsZero():
		return r.refuse(s, v1alpha1.ReasonApplicationNotFound, fmt.Sprintf("Application %q is being deleted", app.Name))
	case backupHost(b) != app.Spec.HostRef.Name:
		return r.refuse(s, v1alpha1.ReasonHostMismatch, fmt.Sprintf("Backup %q was taken on ProxmoxHost %q, Application %q is on %q; nothing was touched",
			b.Name, backupHost(b), app.Name, app.Spec.HostRef.Name))
	case app.Status.VMID == 0:
		s.set(progressing(v1alpha1.ReasonApplicationNotReady, fmt.Sprintf("Application %q has no container yet", app.Name)))
		setRestorePhaseIfEmpty(rs)
		return ctrl.Result{RequeueAfter: 10 * time.Second}, false, nil
	case backupType(b) == v1alpha1.BackupTypeSnapshot && b.Status.VMID != app.Status.VMID:
		return r.refuse(s, v1alpha1.ReasonHostMismatch, fmt.Sprintf("snapshot %s belongs to container %d; Application %q has container %d: a snapshot can only be rolled back on its own container",
			b.Status.SnapshotName, b.Status.VMID, app.Name, app.Status.VMID))
	}
	list := &v1alpha1.RestoreList{}
	if err := r.List(ctx, list, client.InNamespace(rs.Namespace)); err != nil {
		return ctrl.Result{}, false, err
	}
	for i := range list.Items {
		o := &list.Items[i]
		if o.UID != rs.UID && o.Status.Phase == v1alpha1.RestorePhaseRunning && o.Status.VMID == app.Status.VMID {
			s.set(progressing(v1alpha1.ReasonRestoring, fmt.Sprintf("Restore %q of container %d is running; waiting for it", o.Name, app.Status.VMID)))
			setRestorePhaseIfEmpty(rs)
			return ctrl.Result{RequeueAfter: 5 * time.Second}, false, nil
		}
	}
	return ctrl.Result{}, true, nil
}

// refuse fails the Restore: before it touched anything, or, when the
// Backup or Application vanished while it ran, part way.
func (r *RestoreReconciler) refuse(s *restoreScope, reason, msg string) (ctrl.Result, bool, error) {
	if s.restore.Status.Phase == v1alpha1.RestorePhaseRunning {
		return r.fail(s, reason, strings.TrimSuffix(msg, "; nothing was touched")+" while the restore was running"), false, nil
	}
	s.restore.Status.Phase = v1alpha1.RestorePhaseFailed
	s.set(stalled(reason, msg))
	return ctrl.Result{}, false, nil
}

// step takes the next action on the container, judged by its live state.
func (r *RestoreReconciler) step(ctx context.Context, s *restoreScope) (ctrl.Result, error) {
	rs, b, c := s.restore, s.backup, s.host.Client
	vmid := int(rs.Status.VMID)
	node := s.app.Status.Node
	if ct, ok := s.host.Inventory.Container(vmid); ok {
		node = ct.Node
	}
	cs, err := c.ContainerStatus(ctx, node, vmid)
	switch {
	case proxmox.IsNotFound(err):
		return r.fail(s, v1alpha1.ReasonContainerMissing, fmt.Sprintf("container %d is no longer on %s", vmid, node)), nil
	case err != nil:
		return ctrl.Result{}, err
	}
	if adopted, err := r.adoptTask(ctx, s, node, vmid); adopted || err != nil {
		return ctrl.Result{RequeueAfter: taskPoll}, err
	}
	if cs.Lock != "" {
		s.set(progressing(v1alpha1.ReasonLocked, fmt.Sprintf("container %d is locked by Proxmox (%s); waiting", vmid, cs.Lock)))
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}
	// Everything that would make PVE refuse the restore, and anything that
	// makes the container not this Application's to overwrite, is checked
	// before the container is stopped.
	cfg, err := c.ContainerConfig(ctx, node, vmid, false)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !lxcconfig.OwnedBy(lxcconfig.SplitTags(cfg["tags"]), string(s.app.UID)) {
		return r.fail(s, v1alpha1.ReasonNotOwned, fmt.Sprintf(
			"container %d does not carry Application %q's ownership marker: it is not this namespace's to overwrite; nothing was touched", vmid, s.app.Name)), nil
	}
	if backupType(b) == v1alpha1.BackupTypeSnapshot {
		upid, err := c.RollbackSnapshot(ctx, node, vmid, b.Status.SnapshotName, startAfter(s))
		return r.started(s, upid, err, fmt.Sprintf("rolling container %d back to snapshot %s (Backup %s)", vmid, b.Status.SnapshotName, b.Name))
	}
	if cfg["protection"] == "1" {
		return r.fail(s, v1alpha1.ReasonFailed, fmt.Sprintf("container %d has Proxmox protection enabled, which blocks a restore; lift it (spec.protection: false) and create a new Restore", vmid)), nil
	}
	if res, ok, err := r.archiveReachable(ctx, s, node); !ok || err != nil {
		return res, err
	}
	if cs.Running() {
		upid, err := c.StopContainer(ctx, node, vmid)
		if proxmox.IsNotRunning(err) {
			return ctrl.Result{RequeueAfter: requeueSoon}, nil
		}
		return r.started(s, upid, err, fmt.Sprintf("stopping container %d to restore Backup %s", vmid, b.Name))
	}
	return r.restoreArchive(ctx, s, node, vmid, cfg)
}

// archiveReachable checks that the archive still exists where node can read
// it: an archive on node-local storage can only be restored on its node.
func (r *RestoreReconciler) archiveReachable(ctx context.Context, s *restoreScope, node string) (ctrl.Result, bool, error) {
	b := s.backup
	storage := volStorage(b.Status.VolID)
	shared := false
	for _, st := range s.host.Inventory.Snapshot().Storages {
		shared = shared || (st.ID == storage && st.Shared)
	}
	if !shared && b.Status.Node != "" && b.Status.Node != node {
		return r.fail(s, v1alpha1.ReasonHostMismatch, fmt.Sprintf("archive %s is on storage %q local to node %s; container %d is on %s",
			b.Status.VolID, storage, b.Status.Node, s.restore.Status.VMID, node)), false, nil
	}
	vols, err := s.host.Client.BackupVolumes(ctx, node, storage, int(b.Status.VMID))
	if err != nil && !proxmox.IsNotFound(err) {
		return ctrl.Result{}, false, err
	}
	vol, found := findVolume(vols, b.Status.VolID)
	if !found {
		return r.fail(s, v1alpha1.ReasonBackupNotFound, fmt.Sprintf("archive %s no longer exists on %s", b.Status.VolID, node)), false, nil
	}
	if o, ok := archiveMadeBy(b, vol); !ok {
		return r.fail(s, o.reason, o.message), false, nil
	}
	return ctrl.Result{}, true, nil
}

// restoreArchive restores the archive over the stopped container onto its
// own storage. PVE takes the whole config from the archive; the ownership
// markers (tags, description) are passed along so the Application still
// owns the container afterwards.
func (r *RestoreReconciler) restoreArchive(ctx context.Context, s *restoreScope, node string, vmid int, cfg proxmox.ContainerConfig) (ctrl.Result, error) {
	b, c := s.backup, s.host.Client
	vol, _, _ := strings.Cut(cfg["rootfs"], ",")
	spec := proxmox.RestoreSpec{Archive: b.Status.VolID, Storage: volStorage(vol), Force: true, Start: startAfter(s)}
	// step checked that cfg carries this Application's marker.
	for _, k := range []string{"tags", "description"} {
		if v := cfg[k]; v != "" {
			spec.Params.Add(k, v)
		}
	}
	upid, err := c.RestoreContainer(ctx, node, vmid, spec)
	return r.started(s, upid, err, fmt.Sprintf("restoring container %d from %s (Backup %s)", vmid, b.Status.VolID, b.Name))
}

// adoptTask picks up a task this Restore started before a lost status
// write, found in the node's active task list by type and start time.
func (r *RestoreReconciler) adoptTask(ctx context.Context, s *restoreScope, node string, vmid int) (bool, error) {
	rs := s.restore
	tasks, err := s.host.Client.ActiveTasks(ctx, node, vmid)
	if err != nil {
		return false, err
	}
	since := rs.Status.StartTime.Truncate(time.Second)
	for _, t := range tasks {
		typ := t.UPID.Type
		ours := (typ == "vzrestore" || typ == "vzrollback" || (typ == "vzstop" && t.Running)) && t.UPID.VMID() == vmid
		if ours && !t.StartTime.Before(since) {
			rs.Status.Task = taskRef(t.UPID, t.StartTime)
			return true, nil
		}
	}
	return false, nil
}

// started records a task the Restore started, or classifies the refusal.
func (r *RestoreReconciler) started(s *restoreScope, upid proxmox.UPID, err error, msg string) (ctrl.Result, error) {
	rs := s.restore
	switch {
	case err == nil:
		rs.Status.Task = taskRef(upid, r.now())
		r.event(rs, eventNormal, v1alpha1.ReasonRestoring, msg)
		s.set(progressing(v1alpha1.ReasonRestoring, msg))
		return ctrl.Result{RequeueAfter: taskPoll}, nil
	case proxmox.IsOutcomeUnknown(err):
		s.set(progressing(v1alpha1.ReasonRestoring, msg+": the answer was lost; checking what Proxmox did"))
		return ctrl.Result{RequeueAfter: taskPoll}, nil
	case proxmox.IsLocked(err) || proxmox.IsLockTimeout(err) || proxmox.IsAlreadyRunning(err):
		// Someone started it or locked it meanwhile: look again.
		s.set(progressing(v1alpha1.ReasonLocked, msg+": "+err.Error()+"; retrying"))
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	case proxmox.IsProtected(err):
		return r.fail(s, v1alpha1.ReasonFailed, "the container has Proxmox protection enabled; lift it (spec.protection: false) and create a new Restore"), nil
	case proxmox.IsBadRequest(err) || proxmox.IsForbidden(err) || proxmox.IsNotFound(err):
		return r.fail(s, v1alpha1.ReasonFailed, err.Error()), nil
	}
	return ctrl.Result{}, err
}

// pollTask checks the recorded task; after the stop it goes straight on to
// the restore in the same pass, leaving the container stopped and unlocked
// for as short a time as possible.
func (r *RestoreReconciler) pollTask(ctx context.Context, s *restoreScope) (ctrl.Result, error) {
	rs := s.restore
	ref := rs.Status.Task
	res, st, err := checkTask(ctx, s.host.Client, ref)
	if err != nil {
		return ctrl.Result{}, err
	}
	if res == taskRunning {
		s.set(taskInFlight(ref, rs.Status.VMID, v1alpha1.ReasonRestoring, r.TaskDeadline, r.now()))
		return ctrl.Result{RequeueAfter: taskPoll}, nil
	}
	rs.Status.Task = nil
	if ref.Type == "vzstop" {
		if res == taskFailed && !proxmox.IsNotRunning(st.Err) {
			return r.fail(s, v1alpha1.ReasonTaskFailed, fmt.Sprintf("stopping container %d failed: %s", rs.Status.VMID, taskFailure(st))), nil
		}
		return r.step(ctx, s)
	}
	if res == taskFailed {
		return r.fail(s, v1alpha1.ReasonTaskFailed, fmt.Sprintf("%s of container %d failed: %s", taskVerb(ref.Type), rs.Status.VMID, taskFailure(st))), nil
	}
	return r.complete(s), nil
}

func (r *RestoreReconciler) complete(s *restoreScope) ctrl.Result {
	rs, b := s.restore, s.backup
	rs.Status.Phase = v1alpha1.RestorePhaseCompleted
	rs.Status.CompletionTime = metaTime(r.now())
	what := b.Status.VolID
	if backupType(b) == v1alpha1.BackupTypeSnapshot {
		what = "snapshot " + b.Status.SnapshotName
	}
	msg := fmt.Sprintf("container %d restored from %s (Backup %s)", rs.Status.VMID, what, b.Name)
	s.set(readyOutcome(v1alpha1.ReasonCompleted, msg))
	r.event(rs, eventNormal, v1alpha1.ReasonCompleted, msg)
	s.host.releaseFromRestore(s.app.UID)
	r.Hosts.RequestRefresh(s.host.Name)
	return ctrl.Result{}
}

func (r *RestoreReconciler) fail(s *restoreScope, reason, msg string) ctrl.Result {
	rs := s.restore
	rs.Status.Phase = v1alpha1.RestorePhaseFailed
	rs.Status.Task = nil
	s.set(stalled(reason, "restore failed: "+msg))
	if s.host != nil {
		s.host.releaseFromRestore(s.app.UID)
		r.Hosts.RequestRefresh(s.host.Name)
	}
	return ctrl.Result{}
}

// restorePassEnd: events for refusals and locks (starts and completions
// have their own); the patch is optimistic, since a pass that started from
// a stale copy must not undo a recorded task or phase.
var restorePassEnd = passEnd{
	eventFor:      func(o outcome) bool { return o.stalled || o.reason == v1alpha1.ReasonLocked },
	optimistic:    true,
	skipUnchanged: true,
}

func (r *RestoreReconciler) finish(ctx context.Context, s *restoreScope) error {
	rs := s.restore
	return restorePassEnd.end(ctx, r.Client, r.Recorder, rs, s.before,
		statusOf{conditions: &rs.Status.Conditions, observed: &rs.Status.ObservedGeneration, was: &s.before.Status, is: &rs.Status}, s.outcome)
}

func (r *RestoreReconciler) event(rs *v1alpha1.Restore, kind, reason, msg string) {
	emit(r.Recorder, rs, kind, reason, msg)
}

func (r *RestoreReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// SetupWithManager registers the controller.
func (r *RestoreReconciler) SetupWithManager(mgr ctrl.Manager, concurrency int) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.Restore{}, restoreBackupIndex, func(o client.Object) []string {
		return []string{o.(*v1alpha1.Restore).Spec.BackupRef.Name}
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Restore{}).
		// A Restore waiting for its Backup proceeds (or fails) as soon as
		// the Backup completes, fails or goes away.
		Watches(&v1alpha1.Backup{}, handler.EnqueueRequestsFromMapFunc(r.restoresOf)).
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrency}).
		Named("restore").
		Complete(r)
}

// startAfter says whether PVE starts the container after the restore:
// spec.start, unless the Application wants it stopped anyway (it would only
// shut it down again).
func startAfter(s *restoreScope) bool {
	start := s.restore.Spec.Start == nil || *s.restore.Spec.Start
	return start && s.app.Spec.PowerState != v1alpha1.PowerStateStopped
}

const restoreBackupIndex = "spec.backupRef.name"

// restoresOf wakes the unfinished Restores naming Backup o.
func (r *RestoreReconciler) restoresOf(ctx context.Context, o client.Object) []reconcile.Request {
	list := &v1alpha1.RestoreList{}
	if err := r.List(ctx, list, client.InNamespace(o.GetNamespace()), client.MatchingFields{restoreBackupIndex: o.GetName()}); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if p := list.Items[i].Status.Phase; p != v1alpha1.RestorePhaseCompleted && p != v1alpha1.RestorePhaseFailed {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return reqs
}

func setRestorePhaseIfEmpty(rs *v1alpha1.Restore) {
	if rs.Status.Phase == "" {
		rs.Status.Phase = v1alpha1.RestorePhasePending
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "not started"
	}
	return s
}
