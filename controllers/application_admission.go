package controllers

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
)

// admit checks everything that must hold before the operator touches
// Proxmox for this Application. ok is false when it must stop here.
func (r *ApplicationReconciler) admit(ctx context.Context, s *appScope) (ctrl.Result, bool, error) {
	app := s.app
	host := &v1alpha1.ProxmoxHost{}
	if err := r.Get(ctx, client.ObjectKey{Name: app.Spec.HostRef.Name}, host); err != nil {
		if apierrors.IsNotFound(err) {
			s.set(stalled(v1alpha1.ReasonHostNotFound, fmt.Sprintf("ProxmoxHost %q does not exist", app.Spec.HostRef.Name)))
			return ctrl.Result{}, false, nil
		}
		return ctrl.Result{}, false, err
	}
	allowed, err := r.namespaceAllowed(ctx, host, app.Namespace)
	if err != nil {
		return ctrl.Result{}, false, err
	}
	if !allowed {
		s.set(stalled(v1alpha1.ReasonNamespaceNotAllowed,
			fmt.Sprintf("ProxmoxHost %q does not allow namespace %q (spec.allowedNamespaces)", host.Name, app.Namespace)))
		return ctrl.Result{}, false, nil
	}
	if o, conflict, err := r.uniqueness(ctx, app); err != nil || conflict {
		s.set(o)
		return ctrl.Result{}, false, err
	}
	entry, ok := r.Hosts.Get(host.Name)
	if !ok || entry.Inventory.Snapshot() == nil || !meta.IsStatusConditionTrue(host.Status.Conditions, v1alpha1.ConditionReady) {
		msg := fmt.Sprintf("waiting for ProxmoxHost %q to become Ready", host.Name)
		if c := meta.FindStatusCondition(host.Status.Conditions, v1alpha1.ConditionReady); c != nil && c.Status != metav1.ConditionTrue {
			msg += ": " + c.Reason
		}
		s.set(progressing(v1alpha1.ReasonHostNotReady, msg))
		return ctrl.Result{RequeueAfter: 15 * time.Second}, false, nil
	}
	s.host = entry
	return ctrl.Result{}, true, nil
}

func (r *ApplicationReconciler) namespaceAllowed(ctx context.Context, host *v1alpha1.ProxmoxHost, namespace string) (bool, error) {
	if host.Spec.AllowedNamespaces == nil {
		return true, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(host.Spec.AllowedNamespaces)
	if err != nil {
		return false, nil
	}
	ns := &corev1.Namespace{}
	if err := r.Get(ctx, client.ObjectKey{Name: namespace}, ns); err != nil {
		return false, err
	}
	return sel.Matches(labels.Set(ns.Labels)), nil
}

// uniqueness enforces at most one Application per (host, VMID) and per
// (host, hostname) across all namespaces. The older Application keeps the
// claim (ties broken by namespace/name); the later one stalls untouched.
func (r *ApplicationReconciler) uniqueness(ctx context.Context, app *v1alpha1.Application) (outcome, bool, error) {
	host := app.Spec.HostRef.Name
	// Only explicit VMIDs are claims to arbitrate here; a VMID the operator
	// allocated is settled by PVE (one create wins) and the ownership tag.
	vmid := 0
	if app.Spec.VMID != nil {
		vmid = int(*app.Spec.VMID)
	}
	hostname := lxcconfig.Hostname(app)
	// Two indexed lookups instead of listing every Application on the host:
	// a full resync would otherwise cost O(N²) object copies.
	rivals, err := r.listByIndex(ctx, appHostnameIndex, hostnameKey(host, hostname))
	if err != nil {
		return outcome{}, false, err
	}
	if vmid != 0 {
		byVMID, err := r.listByIndex(ctx, appVMIDIndex, hostVMIDKey(host, vmid))
		if err != nil {
			return outcome{}, false, err
		}
		rivals = append(rivals, byVMID...)
	}
	sort.Slice(rivals, func(i, j int) bool { return claimsFirst(&rivals[i], &rivals[j]) })
	for i := range rivals {
		other := &rivals[i]
		if other.UID == app.UID {
			// Everything sorted after this one lost to it, not the other way round.
			break
		}
		if !other.DeletionTimestamp.IsZero() {
			continue
		}
		if vmid != 0 && claimedVMID(other) == vmid {
			return stalled(v1alpha1.ReasonVMIDConflict, fmt.Sprintf("VMID %d on host %q is already claimed by Application %s/%s",
				vmid, host, other.Namespace, other.Name)), true, nil
		}
		if lxcconfig.Hostname(other) == hostname {
			return stalled(v1alpha1.ReasonHostnameConflict, fmt.Sprintf("hostname %q on host %q is already used by Application %s/%s",
				hostname, host, other.Namespace, other.Name)), true, nil
		}
	}
	return outcome{}, false, nil
}

func (r *ApplicationReconciler) listByIndex(ctx context.Context, index, key string) ([]v1alpha1.Application, error) {
	apps := &v1alpha1.ApplicationList{}
	if err := r.List(ctx, apps, client.MatchingFields{index: key}); err != nil {
		return nil, err
	}
	return apps.Items, nil
}

func hostnameKey(host, hostname string) string { return host + "/" + hostname }

func claimedVMID(a *v1alpha1.Application) int {
	if a.Spec.VMID != nil {
		return int(*a.Spec.VMID)
	}
	return int(a.Status.VMID)
}

func claimsFirst(a, b *v1alpha1.Application) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	return a.Name < b.Name
}
