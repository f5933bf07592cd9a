package controllers

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/proxmox"
)

// reconcileDelete removes the archive or snapshot (deletionPolicy Delete)
// or leaves it (Retain), then drops the finalizer. What is already gone
// counts as deleted; a protected archive stalls the deletion, visibly and
// without a hot loop, until a human lifts the protection.
func (r *BackupReconciler) reconcileDelete(ctx context.Context, b *v1alpha1.Backup) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(b, BackupFinalizer) {
		return ctrl.Result{}, nil
	}
	key, t := client.ObjectKeyFromObject(b), b.Status.Task
	// A deleted Backup starts nothing more: the next in line may go. One
	// whose task runs keeps the node (a dump) or its Application (any task)
	// until the task ends.
	if t == nil || t.Type != "vzdump" {
		r.queue.forget(key)
	}
	if t == nil {
		r.apps.forget(key)
	}
	before := b.DeepCopy()
	s := &backupScope{backup: b}
	done, res, err := r.deleteData(ctx, s)
	if err != nil && !isTransientK8s(err) {
		logf.FromContext(ctx).Error(err, "deleting backup data failed")
		s.set(progressing(v1alpha1.ReasonProxmoxError, err.Error()))
		res, err = ctrl.Result{RequeueAfter: 10 * time.Second}, nil
	}
	if !done || err != nil {
		b.Status.Phase = v1alpha1.BackupPhaseDeleting
		if s.outcome.reason == "" {
			s.set(deletionWait(b.Status.Conditions, orNothing(backupData(b))))
		}
		if perr := r.finish(ctx, before, s); perr != nil {
			return ctrl.Result{}, perr
		}
		return res, err
	}
	if err := removeFinalizer(ctx, r.Client, b, BackupFinalizer); err != nil {
		return ctrl.Result{}, err
	}
	r.lockRetries.Delete(b.UID)
	r.queue.forget(client.ObjectKeyFromObject(b))
	r.apps.forget(client.ObjectKeyFromObject(b))
	r.pacer.forget(b.UID)
	r.syncLastBackup(ctx, b.Namespace, b.Spec.ApplicationRef.Name)
	return ctrl.Result{}, nil
}

// deleteData does one step of removing the Backup's data from Proxmox.
// done is true when nothing is left to do.
func (r *BackupReconciler) deleteData(ctx context.Context, s *backupScope) (bool, ctrl.Result, error) {
	b := s.backup
	if b.Spec.DeletionPolicy == v1alpha1.DeletionPolicyRetain {
		if what := backupData(b); what != "" {
			r.event(b, eventNormal, "Retained", fmt.Sprintf("%s is left in Proxmox (deletionPolicy Retain)", what))
		}
		return true, ctrl.Result{}, nil
	}
	hostName := backupHost(b)
	if hostName == "" || (b.Status.VMID == 0 && b.Status.Task == nil) {
		return true, ctrl.Result{}, nil // nothing was ever started
	}
	if gone, res, ok, err := r.deletionHost(ctx, s, hostName); gone || !ok || err != nil {
		return gone, res, err
	}
	if res, wait, err := r.settleTask(ctx, s); wait || err != nil {
		return false, res, err
	}
	if b.Spec.Type == v1alpha1.BackupTypeSnapshot {
		if b.Status.SnapshotName == "" {
			return true, ctrl.Result{}, nil
		}
		return r.removeSnapshot(ctx, s, "snapshot")
	}
	return r.deleteArchive(ctx, s)
}

// deletionHost connects to the Backup's host (ok). When the ProxmoxHost
// object is gone there is nothing left to talk to: the deletion ends with a
// warning (gone).
func (r *BackupReconciler) deletionHost(ctx context.Context, s *backupScope, name string) (gone bool, res ctrl.Result, ok bool, err error) {
	if entry, found := r.Hosts.Get(name); found && entry.Inventory.Snapshot() != nil {
		if _, ok, err := r.allowed(ctx, s, name); !ok || err != nil {
			// A revoked namespace makes no more calls, not even to clean up.
			return false, ctrl.Result{RequeueAfter: time.Minute}, false, err
		}
		s.host = entry
		return false, ctrl.Result{}, true, nil
	}
	host := &v1alpha1.ProxmoxHost{}
	err = r.Get(ctx, client.ObjectKey{Name: name}, host)
	switch {
	case apierrors.IsNotFound(err):
		r.event(s.backup, eventWarning, v1alpha1.ReasonHostNotFound, fmt.Sprintf("ProxmoxHost %q is gone; %s is left as it is", name, orNothing(backupData(s.backup))))
		return true, ctrl.Result{}, false, nil
	case err != nil:
		return false, ctrl.Result{}, false, err
	}
	s.set(hostWait(host, name, " to delete "+orNothing(backupData(s.backup))))
	return false, ctrl.Result{RequeueAfter: 15 * time.Second}, false, nil
}

// settleTask waits for a task in flight: deleting before a dump or snapshot
// ends would leave its result behind. wait is true while it runs.
func (r *BackupReconciler) settleTask(ctx context.Context, s *backupScope) (ctrl.Result, bool, error) {
	b := s.backup
	ref := b.Status.Task
	if ref == nil {
		return ctrl.Result{}, false, nil
	}
	res, st, err := checkTask(ctx, s.host.Client, ref)
	if err != nil {
		return ctrl.Result{}, true, err
	}
	if res == taskRunning {
		s.set(progressing(v1alpha1.ReasonDeleting, fmt.Sprintf("waiting for task %s to finish before deleting", ref.UPID)))
		return ctrl.Result{RequeueAfter: taskPoll}, true, nil
	}
	b.Status.Task = nil
	if res != taskFailed {
		return ctrl.Result{}, false, nil
	}
	switch ref.Type {
	case "imgdel":
		if proxmox.IsProtected(st.Err) {
			return r.protectedArchive(s, b.Status.VolID), true, nil
		}
		s.set(progressing(v1alpha1.ReasonDeleting, fmt.Sprintf("deleting archive %s failed: %s; retrying", b.Status.VolID, taskFailure(st))))
		return ctrl.Result{RequeueAfter: 30 * time.Second}, true, nil
	case "vzdelsnapshot":
		s.set(progressing(v1alpha1.ReasonDeleting, fmt.Sprintf("deleting snapshot %s failed: %s; retrying", b.Status.SnapshotName, taskFailure(st))))
		return ctrl.Result{RequeueAfter: 30 * time.Second}, true, nil
	}
	return ctrl.Result{}, false, nil
}

// deleteArchive removes the archive; one that is already gone is deleted.
func (r *BackupReconciler) deleteArchive(ctx context.Context, s *backupScope) (bool, ctrl.Result, error) {
	b, c := s.backup, s.host.Client
	node, volid := b.Status.Node, b.Status.VolID
	if volid == "" {
		// A dump that finished unobserved (status write lost, deleted while
		// running) is found by its marker.
		storage, _ := backupStorage(s.host.Inventory.Snapshot(), b, node)
		vol, found, err := findArchive(ctx, c, b, node, storage)
		if err != nil || !found {
			return err == nil, ctrl.Result{}, err
		}
		volid = vol.VolID
		b.Status.VolID = volid
	}
	storage := volStorage(volid)
	vols, err := c.BackupVolumes(ctx, node, storage, int(b.Status.VMID))
	switch {
	case proxmox.IsNotFound(err):
		return true, ctrl.Result{}, nil // the storage is gone, and the archive with it
	case err != nil:
		return false, ctrl.Result{}, err
	}
	vol, found := findVolume(vols, volid)
	if !found {
		return true, ctrl.Result{}, nil
	}
	if vol.Protected {
		return false, r.protectedArchive(s, volid), nil
	}
	upid, err := c.DeleteVolume(ctx, node, storage, volid)
	switch {
	case proxmox.IsNotFound(err):
		return true, ctrl.Result{}, nil
	case proxmox.IsProtected(err):
		return false, r.protectedArchive(s, volid), nil
	case proxmox.IsOutcomeUnknown(err):
		return false, ctrl.Result{RequeueAfter: 2 * taskPoll}, nil
	case err != nil:
		return false, ctrl.Result{}, err
	}
	r.event(b, eventNormal, v1alpha1.ReasonDeleting, fmt.Sprintf("deleting archive %s (deletionPolicy Delete)", volid))
	if upid.IsZero() {
		return true, ctrl.Result{}, nil
	}
	b.Status.Task = taskRef(upid, r.now())
	s.set(progressing(v1alpha1.ReasonDeleting, fmt.Sprintf("deleting archive %s (task %s)", volid, upid)))
	return false, ctrl.Result{RequeueAfter: taskPoll}, nil
}

// protectedArchive stalls the deletion: the archive is protected in Proxmox
// and the operator does not lift a protection someone asked for.
func (r *BackupReconciler) protectedArchive(s *backupScope, volid string) ctrl.Result {
	b := s.backup
	s.set(stalled(v1alpha1.ReasonArchiveProtected, fmt.Sprintf(
		"archive %s is protected in Proxmox, so it is not deleted: lift the protection (e.g. pvesh set /nodes/%s/storage/%s/content/%s --protected 0) "+
			"to let the deletion finish, or remove the finalizer %s to keep the archive and delete only this object",
		volid, b.Status.Node, volStorage(volid), volid, BackupFinalizer)))
	return ctrl.Result{RequeueAfter: protectedRetry}
}

// expire keeps status.expiresAt current and deletes an expired Backup; the
// finalizer then honours deletionPolicy as for any deletion.
func (r *BackupReconciler) expire(ctx context.Context, s *backupScope) (bool, error) {
	b := s.backup
	if b.Spec.TTL == nil {
		b.Status.ExpiresAt = nil
		return false, nil
	}
	at := metav1.NewTime(b.CreationTimestamp.Add(b.Spec.TTL.Duration))
	b.Status.ExpiresAt = &at
	if r.now().Before(at.Time) {
		return false, nil
	}
	msg := fmt.Sprintf("ttl %s expired at %s; deleting the Backup (deletionPolicy %s)", b.Spec.TTL.Duration, at.UTC().Format(time.RFC3339), deletionPolicyOf(b))
	if err := r.Delete(ctx, b, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
		return true, err
	}
	r.event(b, eventNormal, v1alpha1.ReasonExpired, msg)
	s.deleted = true
	return true, nil
}

// untilExpiry makes sure the Backup is looked at again when it expires.
func (r *BackupReconciler) untilExpiry(res ctrl.Result, b *v1alpha1.Backup) ctrl.Result {
	if b.Status.ExpiresAt == nil {
		return res
	}
	d := b.Status.ExpiresAt.Sub(r.now()) + time.Second
	if res.RequeueAfter == 0 || d < res.RequeueAfter {
		res.RequeueAfter = d
	}
	return res
}

func findVolume(vols []proxmox.BackupVolume, volid string) (proxmox.BackupVolume, bool) {
	for _, v := range vols {
		if v.VolID == volid {
			return v, true
		}
	}
	return proxmox.BackupVolume{}, false
}

// backupData names what a Backup holds in Proxmox, or "".
func backupData(b *v1alpha1.Backup) string {
	switch {
	case b.Status.VolID != "":
		return "archive " + b.Status.VolID
	case b.Status.SnapshotName != "":
		return fmt.Sprintf("snapshot %s of container %d", b.Status.SnapshotName, b.Status.VMID)
	}
	return ""
}

func orNothing(what string) string {
	if what == "" {
		return "whatever the backup left"
	}
	return what
}

func deletionPolicyOf(b *v1alpha1.Backup) v1alpha1.DeletionPolicy {
	if b.Spec.DeletionPolicy == "" {
		return v1alpha1.DeletionPolicyDelete
	}
	return b.Spec.DeletionPolicy
}
