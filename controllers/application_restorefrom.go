package controllers

import (
	"context"
	"fmt"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/proxmox"
)

// restoreNewContainer creates the Application's container from a Completed
// Archive Backup (spec.restoreFrom) the way create does from a template:
// node and VMID are recorded in status before the call, and the ownership
// tag and description travel in the call itself (PVE merges the given
// options over the config it takes from the archive). MAC addresses are
// regenerated, since the backed-up container may still exist. The declared
// fields are applied afterwards by the normal converge.
func (r *ApplicationReconciler) restoreNewContainer(ctx context.Context, s *appScope) (ctrl.Result, error) {
	app := s.app
	b, o, err := r.restoreSource(ctx, app)
	if err != nil || b == nil {
		s.set(o)
		return ctrl.Result{RequeueAfter: 15 * time.Second}, err
	}
	if o, ok, err := r.verifyArchive(ctx, s, b); !ok || err != nil {
		s.set(o)
		return ctrl.Result{RequeueAfter: 15 * time.Second}, err
	}
	snap := s.host.Inventory.Snapshot()
	node, o := restoreNode(s.host, app, b)
	if node == "" {
		s.set(o)
		return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
	}
	storage, o := restoreStorage(snap, app, node)
	if storage == "" {
		s.set(o)
		return ctrl.Result{RequeueAfter: time.Minute}, nil
	}
	password, vmid, res, ok, err := r.reserve(ctx, s, node)
	if !ok || err != nil {
		return res, err
	}
	spec := proxmox.RestoreSpec{
		Archive: b.Status.VolID, Storage: storage, Unique: true,
		Params: lxcconfig.RestoreParams(app), Password: password,
	}
	upid, err := s.host.Client.RestoreContainer(ctx, node, vmid, spec)
	return r.started(s, upid, err, v1alpha1.ReasonCreating,
		fmt.Sprintf("creating container %d on %s from Backup %s (%s)", vmid, node, b.Name, b.Status.VolID))
}

// restoreSource returns the Backup to restore from, or nil and why not
// (yet): a Backup still running is waited for, a wrong one stalls.
func (r *ApplicationReconciler) restoreSource(ctx context.Context, app *v1alpha1.Application) (*v1alpha1.Backup, outcome, error) {
	name := app.Spec.RestoreFrom.BackupRef.Name
	b := &v1alpha1.Backup{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: app.Namespace, Name: name}, b); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, stalled(v1alpha1.ReasonBackupNotFound, fmt.Sprintf("Backup %q (restoreFrom) does not exist", name)), nil
		}
		return nil, outcome{}, err
	}
	switch {
	case backupType(b) != v1alpha1.BackupTypeArchive:
		return nil, stalled(v1alpha1.ReasonInvalidSpec, fmt.Sprintf("Backup %q is a %s; restoreFrom needs an Archive", name, b.Spec.Type)), nil
	case b.Status.Phase == v1alpha1.BackupPhaseFailed || !b.DeletionTimestamp.IsZero():
		return nil, stalled(v1alpha1.ReasonBackupNotCompleted, fmt.Sprintf("Backup %q failed or is being deleted; it cannot be restored", name)), nil
	case b.Status.Phase != v1alpha1.BackupPhaseCompleted || b.Status.VolID == "":
		return nil, progressing(v1alpha1.ReasonBackupNotCompleted, fmt.Sprintf("waiting for Backup %q to complete", name)), nil
	case backupHost(b) != app.Spec.HostRef.Name:
		return nil, stalled(v1alpha1.ReasonHostMismatch, fmt.Sprintf("Backup %q is on ProxmoxHost %q, this Application is on %q", name, backupHost(b), app.Spec.HostRef.Name)), nil
	}
	return b, outcome{}, nil
}

// verifyArchive checks, in Proxmox, that the Backup's archive exists and
// was made by that Backup (its notes marker), before anything is created.
func (r *ApplicationReconciler) verifyArchive(ctx context.Context, s *appScope, b *v1alpha1.Backup) (outcome, bool, error) {
	vols, err := s.host.Client.BackupVolumes(ctx, b.Status.Node, volStorage(b.Status.VolID), int(b.Status.VMID))
	if err != nil && !proxmox.IsNotFound(err) {
		return outcome{}, false, err
	}
	vol, found := findVolume(vols, b.Status.VolID)
	if !found {
		return stalled(v1alpha1.ReasonBackupNotFound, fmt.Sprintf("archive %s of Backup %q no longer exists on %s", b.Status.VolID, b.Name, b.Status.Node)), false, nil
	}
	o, ok := archiveMadeBy(b, vol)
	return o, ok, nil
}

// restoreNode picks the node as create does, except that an archive on a
// node-local storage can only be restored on the node that holds it.
func restoreNode(host *HostEntry, app *v1alpha1.Application, b *v1alpha1.Backup) (string, outcome) {
	archiveStorage := volStorage(b.Status.VolID)
	for _, st := range host.Inventory.Snapshot().Storages {
		if st.ID == archiveStorage && st.Shared {
			return pickNode(host, app)
		}
	}
	if app.Spec.Node != "" && app.Spec.Node != b.Status.Node {
		return "", stalled(v1alpha1.ReasonNoSuitableNode, fmt.Sprintf("archive %s is on node-local storage of %s, but spec.node is %s", b.Status.VolID, b.Status.Node, app.Spec.Node))
	}
	pinned := app.DeepCopy()
	pinned.Spec.Node = b.Status.Node
	return pickNode(host, pinned)
}

// restoreStorage is rootFS.storage, or the first active storage (by name)
// on node that takes container volumes.
func restoreStorage(snap *inventorySnapshot, app *v1alpha1.Application, node string) (string, outcome) {
	if app.Spec.RootFS != nil {
		return app.Spec.RootFS.Storage, outcome{}
	}
	var cands []string
	for _, st := range snap.Storages {
		if (st.Node == node || st.Shared) && st.Accepts("rootdir") && st.Active {
			cands = append(cands, st.ID)
		}
	}
	if len(cands) == 0 {
		return "", stalled(v1alpha1.ReasonNoSuitableNode, fmt.Sprintf("node %s has no storage for container volumes; set spec.rootFS", node))
	}
	sort.Strings(cands)
	return cands[0], outcome{}
}
