package controllers

import (
	"context"
	"fmt"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
)

// admit checks everything that must hold before the operator touches
// Proxmox for this Application. ok is false when it must stop here.
func (r *ApplicationReconciler) admit(ctx context.Context, s *appScope) (ctrl.Result, bool, error) {
	app := s.app
	t, o, ok, err := resolveTenancy(ctx, r.Client, app.Spec.HostRef.Name, app.Namespace)
	if err != nil || !ok {
		s.set(o)
		return ctrl.Result{}, false, err
	}
	s.tenancy = t
	if wantsPrivileged(app) && !t.privileged() {
		s.set(t.privilegeDenied("the declared container (unprivileged: false)"))
		return ctrl.Result{}, false, nil
	}
	if o, ok := t.hostAccessAllowed(declaredHostAccess(app), "the declared container"); !ok {
		s.set(o)
		return ctrl.Result{}, false, nil
	}
	if o, conflict, err := r.uniqueness(ctx, app); err != nil || conflict {
		s.set(o)
		return ctrl.Result{}, false, err
	}
	host := t.host
	entry, ok := r.Hosts.Get(host.Name)
	hostReady := meta.IsStatusConditionTrue(host.Status.Conditions, v1alpha1.ConditionReady)
	if hostReady && (!ok || entry.Inventory.Snapshot() == nil) {
		// The host was Ready and this process has not listed it yet (it
		// just started): that is no news, and writing "host not ready" to
		// every Application at each restart would flap Ready and cost a
		// status write each. The first listing reports every container as
		// appeared, which wakes them; the requeue only covers the rest.
		s.keepStatus = true
		return ctrl.Result{RequeueAfter: 5 * time.Second}, false, nil
	}
	if !ok || entry.Inventory.Snapshot() == nil || !hostReady {
		s.set(hostWait(host, host.Name, ""))
		return ctrl.Result{RequeueAfter: 15 * time.Second}, false, nil
	}
	s.host = entry
	return ctrl.Result{}, true, nil
}

// uniqueness enforces at most one Application per (host, VMID) and per
// (host, hostname) across all namespaces; the hostname is the one each
// holds (lxcconfig.ClaimedHostname). The older Application keeps the
// claim (ties broken by namespace/name); the later one stalls untouched.
func (r *ApplicationReconciler) uniqueness(ctx context.Context, app *v1alpha1.Application) (outcome, bool, error) {
	host := app.Spec.HostRef.Name
	// Only explicit VMIDs are claims to arbitrate here; a VMID the operator
	// allocated is settled by PVE (one create wins) and the ownership tag.
	vmid := 0
	if app.Spec.VMID != nil {
		vmid = int(*app.Spec.VMID)
	}
	// An adopted container without spec.hostname keeps its own name, so
	// that (once read) is what it holds; before, it claims none.
	hostname := lxcconfig.ClaimedHostname(app)
	// Two indexed lookups instead of listing every Application on the host:
	// a full resync would otherwise cost O(N²) object copies.
	var rivals []v1alpha1.Application
	if hostname != "" {
		byName, err := r.listByIndex(ctx, appHostnameIndex, hostnameKey(host, hostname))
		if err != nil {
			return outcome{}, false, err
		}
		rivals = byName
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
		if hostname != "" && lxcconfig.ClaimedHostname(other) == hostname {
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
