package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/proxmox"
)

// snapshotName derives the Proxmox snapshot name from the Backup. PVE wants
// ^[a-z][a-z0-9_-]+$ (case-insensitive), at most 40 characters, and not
// "current" or "vzdump". The name is the Backup's name made valid and cut to
// 31 characters, then "-" and 8 hex digits of a hash of its UID: readable in
// the Proxmox UI, and distinct from a retained snapshot of an earlier Backup
// with the same name.
func snapshotName(b *v1alpha1.Backup) string {
	var sb strings.Builder
	for _, r := range strings.ToLower(b.Name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			sb.WriteRune(r)
		default:
			sb.WriteByte('_')
		}
	}
	base := sb.String()
	if base == "" || base[0] < 'a' || base[0] > 'z' {
		base = "b" + base
	}
	if len(base) > 31 {
		base = base[:31]
	}
	sum := sha256.Sum256([]byte(b.UID))
	return base + "-" + hex.EncodeToString(sum[:4])
}

// startSnapshot takes the container snapshot, unless an earlier attempt of
// this Backup already did or is still doing it.
func (r *BackupReconciler) startSnapshot(ctx context.Context, s *backupScope) (ctrl.Result, error) {
	b, ct, c := s.backup, s.ct, s.host.Client
	name := snapshotName(b)
	b.Status.VMID, b.Status.Node = int32(ct.VMID), ct.Node
	snaps, err := c.Snapshots(ctx, ct.Node, ct.VMID)
	if err != nil {
		return ctrl.Result{}, err
	}
	if sn, ok := findSnapshot(snaps, name); ok {
		// Ours, from before a lost status write.
		b.Status.SnapshotName = name
		return r.resumeSnapshot(ctx, s, sn)
	}
	if ct.Lock != "" {
		return r.locked(s, ct.Lock)
	}
	b.Status.SnapshotName = name
	desc := fmt.Sprintf("%s %s/%s", backupMarker(b), b.Namespace, b.Name)
	upid, err := c.CreateSnapshot(ctx, ct.Node, ct.VMID, name, desc)
	return r.started(s, upid, err, fmt.Sprintf("taking snapshot %s of container %d on %s", name, ct.VMID, ct.Node))
}

// resumeSnapshot picks up this Backup's snapshot found on the container:
// complete, still being taken, or left half-made by a task that ended.
func (r *BackupReconciler) resumeSnapshot(ctx context.Context, s *backupScope, sn proxmox.Snapshot) (ctrl.Result, error) {
	ct, c := s.ct, s.host.Client
	if sn.State == "" {
		r.snapshotted(s, sn)
		return ctrl.Result{}, nil
	}
	t, running, err := runningTask(ctx, c, ct.Node, ct.VMID, "vzsnapshot")
	if err != nil || running {
		if running {
			s.set(progressing(v1alpha1.ReasonTaskRunning, fmt.Sprintf("snapshot %s of container %d is being taken (task %s)", sn.Name, ct.VMID, t.UPID)))
		}
		return ctrl.Result{RequeueAfter: taskPoll}, err
	}
	// The task may have committed between the two reads: PVE clears
	// snapstate inside the task, so only a read made after the task was
	// seen ended tells a half-made snapshot from a finished one.
	snaps, err := c.Snapshots(ctx, ct.Node, ct.VMID)
	if err != nil {
		return ctrl.Result{}, err
	}
	now, ok := findSnapshot(snaps, sn.Name)
	switch {
	case !ok:
		// The task failed and PVE removed what it had prepared: take it again.
		return ctrl.Result{RequeueAfter: requeueSoon}, nil
	case now.State == "":
		r.snapshotted(s, now)
		return ctrl.Result{}, nil
	}
	r.fail(s, v1alpha1.ReasonTaskFailed, fmt.Sprintf("snapshot %s of container %d was left half-made (snapstate %s) by an interrupted attempt", sn.Name, ct.VMID, sn.State))
	return ctrl.Result{RequeueAfter: requeueSoon}, nil
}

// snapshotTaskEnded checks that the snapshot is complete (not left in
// snapstate prepare) and otherwise fails the Backup; the half-made
// snapshot is then removed by reconcileFailed.
func (r *BackupReconciler) snapshotTaskEnded(ctx context.Context, s *backupScope, res taskResult, st proxmox.TaskStatus) (ctrl.Result, error) {
	b := s.backup
	if res == taskFailed {
		if proxmox.IsLocked(st.Err) || proxmox.IsLockTimeout(st.Err) {
			// PVE checks the lock before preparing anything.
			return r.locked(s, proxmox.LockName(st.Err))
		}
		r.fail(s, v1alpha1.ReasonTaskFailed, fmt.Sprintf("snapshot %s of container %d: %s", b.Status.SnapshotName, b.Status.VMID, taskFailure(st)))
		return ctrl.Result{RequeueAfter: requeueSoon}, nil
	}
	snaps, err := s.host.Client.Snapshots(ctx, b.Status.Node, int(b.Status.VMID))
	if proxmox.IsNotFound(err) {
		r.fail(s, v1alpha1.ReasonTaskFailed, fmt.Sprintf("the snapshot task ended but container %d no longer exists (deleted meanwhile), and its snapshots with it", b.Status.VMID))
		return ctrl.Result{RequeueAfter: requeueSoon}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if sn, ok := findSnapshot(snaps, b.Status.SnapshotName); ok && sn.State == "" {
		r.snapshotted(s, sn)
		return ctrl.Result{}, nil
	}
	// Deleted with its Application while the snapshot was taken, the VMID
	// may already hold someone else's new container: say so plainly.
	app := &v1alpha1.Application{}
	err = r.Get(ctx, client.ObjectKey{Namespace: b.Namespace, Name: b.Spec.ApplicationRef.Name}, app)
	gone := apierrors.IsNotFound(err)
	if err != nil && !gone {
		return ctrl.Result{}, err
	}
	if gone || app.Status.VMID != b.Status.VMID {
		r.fail(s, v1alpha1.ReasonTaskFailed, fmt.Sprintf("the snapshot task ended but Application %q no longer has container %d (deleted meanwhile), and its snapshots went with it", b.Spec.ApplicationRef.Name, b.Status.VMID))
		return ctrl.Result{RequeueAfter: requeueSoon}, nil
	}
	r.fail(s, v1alpha1.ReasonTaskFailed, fmt.Sprintf("the snapshot task ended but snapshot %s of container %d is missing or incomplete", b.Status.SnapshotName, b.Status.VMID))
	return ctrl.Result{RequeueAfter: requeueSoon}, nil
}

func (r *BackupReconciler) snapshotted(s *backupScope, sn proxmox.Snapshot) {
	b := s.backup
	if b.Status.StartTime == nil && !sn.Time.IsZero() {
		b.Status.StartTime = metaTime(sn.Time)
	}
	msg := fmt.Sprintf("snapshot %s of container %d", sn.Name, b.Status.VMID)
	r.complete(s, msg)
	r.event(b, eventNormal, v1alpha1.ReasonCompleted, msg)
}

// reconcileFailed removes what a failed snapshot Backup left behind, so a
// failure never leaves a snapshot (least of all a half-made one) in
// Proxmox. The failure's conditions are left as they are.
func (r *BackupReconciler) reconcileFailed(ctx context.Context, s *backupScope) (ctrl.Result, error) {
	b := s.backup
	if b.Spec.Type != v1alpha1.BackupTypeSnapshot || b.Status.SnapshotName == "" {
		return ctrl.Result{}, nil
	}
	entry, ok := r.Hosts.Get(backupHost(b))
	if !ok || entry.Inventory.Snapshot() == nil {
		return ctrl.Result{RequeueAfter: 15 * time.Second}, nil
	}
	if _, ok, err := r.allowed(ctx, s, entry.Name); !ok || err != nil {
		return ctrl.Result{}, err
	}
	s.host = entry
	if ref := b.Status.Task; ref != nil {
		res, _, err := checkTask(ctx, entry.Client, ref)
		if err != nil || res == taskRunning {
			return ctrl.Result{RequeueAfter: taskPoll}, err
		}
		b.Status.Task = nil
		if res == taskFailed {
			// Try again, but not hot.
			return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
		}
	}
	done, res, err := r.removeSnapshot(ctx, s, "half-made snapshot of a failed Backup")
	if done {
		b.Status.SnapshotName = ""
	}
	return res, err
}

// removeSnapshot deletes the Backup's snapshot. done is true once it is
// gone (or its container is); otherwise a task was started or must be
// waited for.
func (r *BackupReconciler) removeSnapshot(ctx context.Context, s *backupScope, what string) (bool, ctrl.Result, error) {
	b, c := s.backup, s.host.Client
	vmid, name := int(b.Status.VMID), b.Status.SnapshotName
	node := b.Status.Node
	if ct, ok := s.host.Inventory.Container(vmid); ok {
		node = ct.Node
		if theirs, err := r.ownedByAnother(ctx, b, ct.Tags); theirs || err != nil {
			// The snapshot went with the container it was taken of; a
			// container another Application owns now is not ours to touch.
			return err == nil, ctrl.Result{}, err
		}
	}
	snaps, err := c.Snapshots(ctx, node, vmid)
	switch {
	case proxmox.IsNotFound(err):
		return true, ctrl.Result{}, nil // the container is gone, and its snapshots with it
	case err != nil:
		return false, ctrl.Result{}, err
	}
	if _, ok := findSnapshot(snaps, name); !ok {
		return true, ctrl.Result{}, nil
	}
	if _, running, err := runningTask(ctx, c, node, vmid, "vzsnapshot", "vzdelsnapshot", "vzrollback"); err != nil || running {
		return false, ctrl.Result{RequeueAfter: taskPoll}, err
	}
	upid, err := c.DeleteSnapshot(ctx, node, vmid, name)
	switch {
	case proxmox.IsNotFound(err):
		return true, ctrl.Result{}, nil
	case proxmox.IsLocked(err) || proxmox.IsLockTimeout(err) || proxmox.IsOutcomeUnknown(err):
		return false, ctrl.Result{RequeueAfter: 10 * time.Second}, nil
	case err != nil:
		return false, ctrl.Result{}, err
	}
	b.Status.Task = taskRef(upid, r.now())
	r.event(b, eventNormal, v1alpha1.ReasonSnapshotRemoved, fmt.Sprintf("removing %s %s of container %d", what, name, vmid))
	return false, ctrl.Result{RequeueAfter: taskPoll}, nil
}

// ownedByAnother reports whether tags carry an owner marker that is not the
// one of the Backup's Application (also when that Application is gone).
func (r *BackupReconciler) ownedByAnother(ctx context.Context, b *v1alpha1.Backup, tags []string) (bool, error) {
	if _, tagged := lxcconfig.OwnerOf(tags); !tagged {
		return false, nil
	}
	app := &v1alpha1.Application{}
	err := r.Get(ctx, client.ObjectKey{Namespace: b.Namespace, Name: b.Spec.ApplicationRef.Name}, app)
	switch {
	case apierrors.IsNotFound(err):
		return true, nil // a marker naming a deleted Application is not this Backup's
	case err != nil:
		return false, err
	}
	return !lxcconfig.OwnedBy(tags, string(app.UID)), nil
}

func findSnapshot(snaps []proxmox.Snapshot, name string) (proxmox.Snapshot, bool) {
	for _, sn := range snaps {
		if sn.Name == name {
			return sn, true
		}
	}
	return proxmox.Snapshot{}, false
}
