package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/proxmox"
)

// deletionPolicy is spec.deletionPolicy, defaulting to Delete for containers
// the operator created and Retain for adopted ones.
func deletionPolicy(app *v1alpha1.Application) v1alpha1.DeletionPolicy {
	if app.Spec.DeletionPolicy != "" {
		return app.Spec.DeletionPolicy
	}
	if app.Spec.Adopt || app.Status.Adopted {
		return v1alpha1.DeletionPolicyRetain
	}
	return v1alpha1.DeletionPolicyDelete
}

// reconcileDelete destroys (Delete) or releases (Retain) the container, then
// drops the finalizer. A container the Application does not own is never
// touched. Backup archives are not this object's business.
func (r *ApplicationReconciler) reconcileDelete(ctx context.Context, app *v1alpha1.Application) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(app, ApplicationFinalizer) {
		return ctrl.Result{}, nil
	}
	before := app.DeepCopy()
	s := &appScope{app: app, before: before}
	res, done, err := r.deleteContainer(ctx, s)
	if err != nil || !done {
		if s.outcome.reason == "" {
			s.set(deletionWait(app.Status.Conditions, fmt.Sprintf("container %d", app.Status.VMID)))
		}
		if perr := r.finish(ctx, before, s); perr != nil {
			return ctrl.Result{}, perr
		}
		return res, err
	}
	r.forget(app)
	return ctrl.Result{}, removeFinalizer(ctx, r.Client, app, ApplicationFinalizer)
}

// forget drops what this reconciler and the host's entry remember about an
// Application whose deletion is done.
func (r *ApplicationReconciler) forget(app *v1alpha1.Application) {
	r.provisions.drop(app.UID)
	r.converged.Delete(app.UID)
	r.lockSeen.Delete(app.UID)
	r.createFailures.reset(app.UID)
	r.migrations.reset(app.UID)
	r.quota.forget(app.UID)
	if e, ok := r.Hosts.Get(app.Spec.HostRef.Name); ok {
		e.forgetApp(app.UID)
	}
}

func (r *ApplicationReconciler) deleteContainer(ctx context.Context, s *appScope) (ctrl.Result, bool, error) {
	app := s.app
	if app.Status.VMID == 0 && app.Status.Task == nil {
		return ctrl.Result{}, true, nil // nothing was ever created
	}
	t, o, ok, err := resolveTenancy(ctx, r.Client, app.Spec.HostRef.Name, app.Namespace)
	if t.hostMissing && t.host != nil && forcedDeletion(t.host) == forceRelease {
		return r.releaseForHost(ctx, s)
	}
	if t.hostMissing {
		// The host object is gone: there is nothing left to talk to. Only
		// an Application that had a container gets here, so its namespace
		// knew the host existed.
		r.event(app, corev1.EventTypeWarning, v1alpha1.ReasonHostNotFound,
			fmt.Sprintf("ProxmoxHost %q is gone; container %d is left as it is", app.Spec.HostRef.Name, app.Status.VMID))
		return ctrl.Result{}, true, nil
	}
	if err != nil || !ok {
		// A revoked namespace makes no more calls, not even to clean up.
		if err == nil {
			o.message += "; the deletion waits until the namespace is allowed again (or an admin removes the finalizer, leaving the container as it is)"
		}
		// Namespace labels are not watched: look again now and then.
		s.set(o)
		return ctrl.Result{RequeueAfter: time.Minute}, false, err
	}
	s.tenancy = t
	entry, ok := r.Hosts.Get(app.Spec.HostRef.Name)
	if !ok || entry.Inventory.Snapshot() == nil {
		s.set(hostWait(t.host, app.Spec.HostRef.Name, " to delete the container"))
		return ctrl.Result{RequeueAfter: 15 * time.Second}, false, nil
	}
	s.host = entry
	if res, done, err := r.pollTask(ctx, s); done || err != nil {
		if s.outcome.reason == v1alpha1.ReasonCreateFailed {
			return ctrl.Result{}, true, nil
		}
		return res, false, err
	}
	snap := entry.Inventory.Snapshot()
	if !entry.freshEnough(app.UID, snap.Time) {
		r.Hosts.RequestRefresh(entry.Name)
		return ctrl.Result{RequeueAfter: minRefreshGap}, false, nil
	}
	if res, done, err := r.deleteRolloutOther(ctx, s, snap); done || err != nil {
		return res, false, err
	}
	ct, found := snap.Containers[int(app.Status.VMID)]
	if !found {
		return ctrl.Result{}, true, nil
	}
	if !lxcconfig.OwnedBy(ct.Tags, string(app.UID)) && !r.ownClone(ctx, s, ct) {
		if ct.Lock == "create" {
			return ctrl.Result{RequeueAfter: taskPoll}, false, nil
		}
		r.event(app, corev1.EventTypeNormal, "Released", fmt.Sprintf("container %d is not owned by this Application; left untouched", ct.VMID))
		return ctrl.Result{}, true, nil
	}
	if ct.Lock != "" {
		holder := "Proxmox"
		if b := r.lockHolder(ctx, app); b != "" {
			holder = fmt.Sprintf("its Backup %q", b)
		}
		s.set(progressing(v1alpha1.ReasonLocked, fmt.Sprintf("container %d is locked by %s (%s); waiting to delete it", ct.VMID, holder, ct.Lock)))
		return ctrl.Result{RequeueAfter: 5 * time.Second}, false, nil
	}
	return r.destroyOrRelease(ctx, s, ct)
}

// destroyOrRelease applies the deletion policy to the Application's own,
// unlocked container: Retain (or an adoption the host does not let it
// destroy) releases it, Delete destroys it.
func (r *ApplicationReconciler) destroyOrRelease(ctx context.Context, s *appScope, ct proxmox.ContainerSummary) (ctrl.Result, bool, error) {
	app, t, entry := s.app, s.tenancy, s.host
	if deletionPolicy(app) == v1alpha1.DeletionPolicyRetain {
		return r.release(ctx, s, ct)
	}
	if app.Spec.Adopt || app.Status.Adopted {
		if allowDelete, _, ok := t.adoption(ct); !ok || !allowDelete {
			r.event(app, corev1.EventTypeWarning, v1alpha1.ReasonAdoptionNotAllowed, fmt.Sprintf(
				"container %d was adopted and ProxmoxHost %q does not let namespace %q destroy it (spec.grants[].adopt.allowDelete); retaining it", ct.VMID, t.host.Name, app.Namespace))
			return r.release(ctx, s, ct)
		}
	}
	upid, err := entry.Client.DeleteContainer(ctx, ct.Node, ct.VMID, proxmox.DeleteOptions{Force: true, Purge: true})
	if proxmox.IsProtected(err) {
		if p := app.Spec.Protection; p != nil && !*p {
			// The spec already says unprotected: apply that, then delete.
			if uerr := entry.Client.UpdateContainerConfig(ctx, ct.Node, ct.VMID, proxmox.ConfigUpdate{Set: map[string]string{"protection": "0"}}); uerr == nil {
				return ctrl.Result{RequeueAfter: requeueSoon}, false, nil
			}
		}
		s.set(stalled(v1alpha1.ReasonDeleting, fmt.Sprintf(
			"container %d has Proxmox protection enabled: set spec.protection: false, or lift it in Proxmox, to let the deletion finish", ct.VMID)))
		return ctrl.Result{RequeueAfter: 15 * time.Second}, false, nil
	}
	res, err := r.started(s, upid, err, v1alpha1.ReasonDeleting, fmt.Sprintf("deleting container %d on %s", ct.VMID, ct.Node))
	return res, false, err
}

// releaseForHost releases the container of an Application deleted while
// its host's deletion is forced with Release: the host releases the
// containers of the Applications it still sees, so one that goes first
// must release its own, or it would stay tagged for a dead owner.
func (r *ApplicationReconciler) releaseForHost(ctx context.Context, s *appScope) (ctrl.Result, bool, error) {
	entry, ok := r.Hosts.Get(s.app.Spec.HostRef.Name)
	if !ok || entry.Inventory.Snapshot() == nil {
		return ctrl.Result{RequeueAfter: 15 * time.Second}, false, nil
	}
	ct, found := entry.Inventory.Snapshot().Containers[int(s.app.Status.VMID)]
	if !found || !lxcconfig.OwnedBy(ct.Tags, string(s.app.UID)) {
		return ctrl.Result{}, true, nil
	}
	s.host = entry
	return r.release(ctx, s, ct)
}

// release removes the operator's tags so the container becomes unmanaged
// (and adoptable again) and leaves everything else as it is.
func (r *ApplicationReconciler) release(ctx context.Context, s *appScope, ct proxmox.ContainerSummary) (ctrl.Result, bool, error) {
	if err := s.host.Client.UpdateContainerConfig(ctx, ct.Node, ct.VMID, releaseUpdate(ct.Tags)); err != nil {
		if proxmox.IsTransient(err) {
			return ctrl.Result{RequeueAfter: 5 * time.Second}, false, nil
		}
		return ctrl.Result{}, false, err
	}
	r.Hosts.RequestRefresh(s.host.Name)
	r.event(s.app, corev1.EventTypeNormal, "Retained", fmt.Sprintf("container %d is left in Proxmox (deletionPolicy Retain)", ct.VMID))
	return ctrl.Result{}, true, nil
}

// deleteRolloutOther applies the deletion policy first to the second
// container of an image update cut short by the deletion (the new one
// before the switch, the old one after): both carry the Application's
// ownership tag, and either may hold data volumes. done is true while
// that pass is spent on it.
func (r *ApplicationReconciler) deleteRolloutOther(ctx context.Context, s *appScope, snap *inventorySnapshot) (ctrl.Result, bool, error) {
	app := s.app
	if app.Status.Image == nil || app.Status.Image.Rollout == nil {
		return ctrl.Result{}, false, nil
	}
	ro := app.Status.Image.Rollout
	other := ro.NewVMID
	if app.Status.VMID == ro.NewVMID {
		other = ro.OldVMID
	}
	oc, found := snap.Containers[int(other)]
	if other == 0 || !found || !lxcconfig.OwnedBy(oc.Tags, string(app.UID)) {
		return ctrl.Result{}, false, nil
	}
	if oc.Lock != "" {
		s.set(progressing(v1alpha1.ReasonLocked, fmt.Sprintf("container %d is locked (%s); waiting to delete it", oc.VMID, oc.Lock)))
		return ctrl.Result{RequeueAfter: 5 * time.Second}, true, nil
	}
	res, _, err := r.destroyOrRelease(ctx, s, oc)
	if res.IsZero() {
		res = ctrl.Result{RequeueAfter: requeueSoon}
	}
	return res, true, err
}
