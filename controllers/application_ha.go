package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/proxmox"
	"github.com/pve-operator/pve-operator/internal/pveparams"
)

// HA resources and rules are cluster-level configuration (Sys.Console on
// / in PVE), but what the operator writes there names only the
// Application's own container: the resource ct:<vmid> and a
// node-affinity rule pve-operator-<vmid> whose only resource it is. That
// decides where and whether the namespace's own container runs, which
// the namespace decides already through spec.node and powerState, so
// spec.ha needs no grant of its own. What it cannot do is reach another
// guest: the operator reads, changes and removes only the resource of its
// container and only a rule it made (its comment carries the
// Application's UID).

// haRuleID names the node-affinity rule of container vmid.
func haRuleID(vmid int) string { return "pve-operator-" + strconv.Itoa(vmid) }

// haMarker is the comment of what the operator writes to HA for app.
func haMarker(app *v1alpha1.Application) string {
	return fmt.Sprintf("managed by pve-operator for Application %s/%s (uid %s)", app.Namespace, app.Name, app.UID)
}

// ownsHA reports whether an HA resource or rule with comment was made for
// app. A resource without a comment on a container the operator created
// came from ha-managed on its create.
func ownsHA(app *v1alpha1.Application, comment string) bool {
	return strings.Contains(comment, "(uid "+string(app.UID)+")") || (comment == "" && !app.Status.Adopted && !app.Spec.Adopt)
}

// withHAManaged adds ha-managed to a create when spec.ha is declared, so
// the container is an HA resource from the moment it exists (PVE adds it
// stopped; the HA step then sets the declared state and options).
func withHAManaged(p pveparams.List, app *v1alpha1.Application) pveparams.List {
	if app.Spec.HA != nil {
		p.Add("ha-managed", "1")
	}
	return p
}

// desiredHAState is spec.ha.state, or started/stopped after powerState.
func desiredHAState(app *v1alpha1.Application) string {
	if app.Spec.HA.State != "" {
		return string(app.Spec.HA.State)
	}
	if app.Spec.PowerState == v1alpha1.PowerStateStopped {
		return "stopped"
	}
	return "started"
}

// haRejection is a refusal of PVE's that a person must resolve.
type haRejection struct{ msg string }

func (e *haRejection) Error() string { return e.msg }

// convergeHA makes the container's HA resource and node-affinity rule
// match spec.ha, or removes what the operator made once spec.ha is gone.
// Between config passes it looks only when the listing's HA state and the
// spec disagree (a resource to add, or one removed outside).
func (r *ApplicationReconciler) convergeHA(ctx context.Context, s *appScope, ct proxmox.ContainerSummary, pass bool) (ctrl.Result, bool, error) {
	app := s.app
	app.Status.HA = ct.HAState
	declared, managed := app.Spec.HA != nil, ct.HAState != ""
	if (!declared && !managed) || (!pass && declared == managed) {
		return ctrl.Result{}, false, nil
	}
	var err error
	if declared {
		err = r.ensureHA(ctx, s, ct)
	} else {
		err = r.removeHA(ctx, s, ct)
	}
	var rej *haRejection
	switch {
	case err == nil:
		return ctrl.Result{}, false, nil
	case proxmox.IsDigestMismatch(err) || proxmox.IsAlreadyExists(err):
		// Someone changed HA's configuration meanwhile: read it again.
		return ctrl.Result{RequeueAfter: requeueSoon}, true, nil
	case errors.As(err, &rej):
		s.set(stalled(v1alpha1.ReasonHARejected, rej.msg))
	case proxmox.IsTransient(err) || proxmox.IsOutcomeUnknown(err):
		return ctrl.Result{}, true, err
	case proxmox.IsForbidden(err):
		s.set(stalled(v1alpha1.ReasonHARejected, fmt.Sprintf("spec.ha needs Sys.Console on / for the ProxmoxHost's credentials: %v", err)))
	default:
		s.set(stalled(v1alpha1.ReasonHARejected, fmt.Sprintf("Proxmox refused the HA configuration of container %d: %v", ct.VMID, err)))
	}
	// Not a loop: the spec, or the slow recheck, brings the next attempt.
	return ctrl.Result{RequeueAfter: migrationRecheck}, true, nil
}

// wantHAResource is the resource spec.ha declares.
func wantHAResource(app *v1alpha1.Application, vmid int) proxmox.HAResource {
	res := proxmox.HAResource{SID: proxmox.ContainerSID(vmid), State: desiredHAState(app), Comment: haMarker(app)}
	if n := app.Spec.HA.MaxRestart; n != nil {
		v := int(*n)
		res.MaxRestart = &v
	}
	if n := app.Spec.HA.MaxRelocate; n != nil {
		v := int(*n)
		res.MaxRelocate = &v
	}
	return res
}

// haResourceChanges are the options to set so that cur becomes want;
// options the spec leaves out are left as found.
func haResourceChanges(cur, want proxmox.HAResource) map[string]string {
	set := map[string]string{}
	state := cur.State
	if state == "" || state == "enabled" {
		state = "started" // PVE's default, and its old name
	}
	if state != want.State {
		set["state"] = want.State
	}
	if want.MaxRestart != nil && (cur.MaxRestart == nil || *cur.MaxRestart != *want.MaxRestart) {
		set["max_restart"] = strconv.Itoa(*want.MaxRestart)
	}
	if want.MaxRelocate != nil && (cur.MaxRelocate == nil || *cur.MaxRelocate != *want.MaxRelocate) {
		set["max_relocate"] = strconv.Itoa(*want.MaxRelocate)
	}
	if cur.Comment != want.Comment {
		set["comment"] = want.Comment
	}
	return set
}

// ensureHA adds or updates the HA resource, then the rule.
func (r *ApplicationReconciler) ensureHA(ctx context.Context, s *appScope, ct proxmox.ContainerSummary) error {
	app, c := s.app, s.host.Client
	want := wantHAResource(app, ct.VMID)
	cur, err := c.HAResource(ctx, want.SID)
	switch {
	case proxmox.IsNotFound(err):
		if err := c.CreateHAResource(ctx, want); err != nil {
			return err
		}
		r.event(app, corev1.EventTypeNormal, "HAEnabled", fmt.Sprintf("added container %d to HA as %s (state %s)", ct.VMID, want.SID, want.State))
		r.Hosts.RequestRefresh(s.host.Name)
	case err != nil:
		return err
	default:
		if set := haResourceChanges(cur, want); len(set) > 0 {
			if err := c.UpdateHAResource(ctx, want.SID, set, nil, cur.Digest); err != nil {
				return err
			}
			r.event(app, corev1.EventTypeNormal, "HAUpdated", fmt.Sprintf("set %s of HA resource %s", strings.Join(slices.Sorted(maps.Keys(set)), ", "), want.SID))
			r.Hosts.RequestRefresh(s.host.Name)
		}
	}
	return r.ensureHARule(ctx, s, ct)
}

// wantHARule is the node-affinity rule spec.ha.nodeAffinity declares.
func wantHARule(app *v1alpha1.Application, vmid int) proxmox.HARule {
	na := app.Spec.HA.NodeAffinity
	rule := proxmox.HARule{ID: haRuleID(vmid), Type: "node-affinity", Resources: []string{proxmox.ContainerSID(vmid)}, Strict: na.Strict, Comment: haMarker(app)}
	for _, n := range na.Nodes {
		p := 0
		if n.Priority != nil {
			p = int(*n.Priority)
		}
		rule.Nodes = append(rule.Nodes, proxmox.HANode{Name: n.Name, Priority: p})
	}
	return rule
}

// ensureHARule creates, updates or (without nodeAffinity) removes the
// container's own node-affinity rule.
func (r *ApplicationReconciler) ensureHARule(ctx context.Context, s *appScope, ct proxmox.ContainerSummary) error {
	app, c := s.app, s.host.Client
	id := haRuleID(ct.VMID)
	cur, err := c.HARule(ctx, id)
	exists := err == nil
	if err != nil && !proxmox.IsNotFound(err) {
		return err
	}
	if app.Spec.HA.NodeAffinity == nil {
		if exists && ownsHA(app, cur.Comment) {
			if err := c.DeleteHARule(ctx, id); err != nil {
				return err
			}
			r.event(app, corev1.EventTypeNormal, "HAUpdated", fmt.Sprintf("removed HA rule %s", id))
		}
		return nil
	}
	want := wantHARule(app, ct.VMID)
	switch {
	case !exists:
		if err := c.CreateHARule(ctx, want); err != nil {
			return err
		}
		r.event(app, corev1.EventTypeNormal, "HAUpdated", fmt.Sprintf("added HA rule %s (nodes %s)", id, proxmox.FormatHANodes(want.Nodes)))
	case !sameHARule(cur, want):
		if err := c.UpdateHARule(ctx, want, cur.Digest); err != nil {
			return err
		}
		r.event(app, corev1.EventTypeNormal, "HAUpdated", fmt.Sprintf("updated HA rule %s (nodes %s)", id, proxmox.FormatHANodes(want.Nodes)))
	case len(cur.Errors) > 0:
		// PVE keeps an infeasible rule but does not apply it.
		return &haRejection{fmt.Sprintf("Proxmox does not apply HA rule %s: %s", id, joinRuleErrors(cur.Errors))}
	}
	return nil
}

func sameHARule(cur, want proxmox.HARule) bool {
	return cur.Strict == want.Strict && cur.Comment == want.Comment &&
		proxmox.FormatHANodes(cur.Nodes) == proxmox.FormatHANodes(want.Nodes) && slices.Equal(cur.Resources, want.Resources)
}

func joinRuleErrors(errs map[string]string) string {
	parts := make([]string, 0, len(errs))
	for _, k := range slices.Sorted(maps.Keys(errs)) {
		parts = append(parts, k+": "+errs[k])
	}
	return strings.Join(parts, "; ")
}

// removeHA takes the container out of HA once spec.ha is gone, if the
// operator put it there; a resource someone else made is left alone (HA
// keeps managing the container, and the operator keeps following it).
func (r *ApplicationReconciler) removeHA(ctx context.Context, s *appScope, ct proxmox.ContainerSummary) error {
	app, c := s.app, s.host.Client
	sid := proxmox.ContainerSID(ct.VMID)
	cur, err := c.HAResource(ctx, sid)
	if proxmox.IsNotFound(err) {
		app.Status.HA = "" // the listing lags behind
		return nil
	}
	if err != nil || !ownsHA(app, cur.Comment) {
		return err
	}
	// purge also takes it out of the rules naming it; PVE removes a rule
	// left without resources, as ours is.
	if err := c.DeleteHAResource(ctx, sid, true); err != nil {
		return err
	}
	if rule, err := c.HARule(ctx, haRuleID(ct.VMID)); err == nil && ownsHA(app, rule.Comment) {
		if err := c.DeleteHARule(ctx, rule.ID); err != nil {
			return err
		}
	}
	r.event(app, corev1.EventTypeNormal, "HADisabled", fmt.Sprintf("removed container %d from HA", ct.VMID))
	r.Hosts.RequestRefresh(s.host.Name)
	app.Status.HA = ""
	return nil
}

// powerViaHA: while HA manages the container, powerState is carried out
// through HA's requested state (PVE turns a start or stop of an
// HA-managed container into such a request anyway), so the operator only
// waits for HA to get there. A container someone else put under HA is
// left to HA: its requested state is not the operator's to change.
// viaHA is false when power is the operator's own business (HA does not
// manage the container, or ignores it).
func (r *ApplicationReconciler) powerViaHA(s *appScope, ct proxmox.ContainerSummary) (res ctrl.Result, done, viaHA bool) {
	app := s.app
	if app.Spec.HA == nil {
		if ct.HAState == "" || ct.HAState == "ignored" {
			return ctrl.Result{}, false, false
		}
		if (app.Spec.PowerState == v1alpha1.PowerStateStopped) == (ct.Status == "running") {
			r.eventOnce(s, "NotApplied", fmt.Sprintf("powerState is not applied: HA manages container %d (HA state %s) outside spec.ha", ct.VMID, ct.HAState))
		}
		return ctrl.Result{}, false, true
	}
	state := desiredHAState(app)
	if state == "ignored" {
		return ctrl.Result{}, false, false
	}
	wantRunning := state == "started"
	if (ct.Status == "running") == wantRunning {
		return ctrl.Result{}, false, true
	}
	reason, verb := v1alpha1.ReasonStarting, "start"
	if !wantRunning {
		reason, verb = v1alpha1.ReasonStopping, "stop"
	}
	s.set(progressing(reason, fmt.Sprintf("waiting for HA to %s container %d on %s (HA state %s)", verb, ct.VMID, ct.Node, state)))
	return ctrl.Result{RequeueAfter: 5 * time.Second}, true, true
}
