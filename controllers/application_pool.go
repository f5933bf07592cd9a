package controllers

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/proxmox"
	"github.com/pve-operator/pve-operator/internal/pveparams"
)

// poolAllowed: a pool's members are governed by the pool's permissions, so
// spec.pool must be named exactly by a grant of the host. Checked on every
// pass, before anything is sent, so a revoked grant stops the operator.
func poolAllowed(s *appScope) (outcome, bool) {
	pool := s.app.Spec.Pool
	if pool == "" || s.tenancy.grantsPool(pool) {
		return outcome{}, true
	}
	return stalled(v1alpha1.ReasonPoolNotAllowed, fmt.Sprintf(
		"ProxmoxHost %q grants namespace %q no pool %q (spec.grants[].pools); nothing was touched", s.tenancy.host.Name, s.app.Namespace, pool)), false
}

// grantsPool reports whether a grant names pool for the namespace.
func (t tenancy) grantsPool(pool string) bool {
	return slices.ContainsFunc(t.grants, func(g v1alpha1.TenantGrant) bool { return slices.Contains(g.Pools, pool) })
}

// withPool adds spec.pool to a create's parameters: the container is a
// member from the instant it exists.
func withPool(p pveparams.List, app *v1alpha1.Application) pveparams.List {
	if app.Spec.Pool != "" {
		p.Add("pool", app.Spec.Pool)
	}
	return p
}

// convergePool makes the container's pool membership the declared one.
// Membership comes with the cluster listing (its pool field), so a settled
// Application costs no read; a change is one PUT /pools naming only this
// container. Without spec.pool the container leaves a pool the grants
// name (one the namespace put it in); a pool they do not name is an
// admin's, and an adopted container keeps the pool it was found in.
func (r *ApplicationReconciler) convergePool(ctx context.Context, s *appScope, ct proxmox.ContainerSummary) (ctrl.Result, bool) {
	app := s.app
	want, have := app.Spec.Pool, ct.Pool
	if want == have || (want == "" && (app.Spec.Adopt || app.Status.Adopted || !s.tenancy.grantsPool(have))) {
		return ctrl.Result{}, false
	}
	var err error
	msg := fmt.Sprintf("container %d joins pool %s", ct.VMID, want)
	if want == "" {
		msg = fmt.Sprintf("container %d leaves pool %s", ct.VMID, have)
		err = s.host.Client.LeavePool(ctx, have, ct.VMID)
	} else {
		err = s.host.Client.JoinPool(ctx, want, ct.VMID)
	}
	s.host.markMutation(app.UID)
	r.Hosts.RequestRefresh(s.host.Name)
	if err != nil {
		o := progressing(v1alpha1.ReasonPoolMembershipFailed, fmt.Sprintf("%s: %v", msg, err))
		wait := 30 * time.Second
		if classifyFailure(err) == failureNeedsPerson {
			o.stalled, wait = true, needsPersonRetry
		}
		s.set(o)
		return ctrl.Result{RequeueAfter: wait}, true
	}
	r.event(app, corev1.EventTypeNormal, v1alpha1.ReasonUpdating, msg)
	s.set(progressing(v1alpha1.ReasonUpdating, msg))
	return ctrl.Result{RequeueAfter: minRefreshGap}, true
}
