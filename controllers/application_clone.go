package controllers

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/proxmox"
)

// Cloning is the third way to create (spec.cloneFrom), and the one where
// ownership needs the most care: PVE's clone copies the source's config,
// its ownership tags included, and takes no tags parameter. So a clone of
// Application A's container starts out carrying A's owner tag. The design:
//
//  1. As for every create, the VMID (and node) are recorded in status
//     before the call, so the clone is only ever looked for there.
//  2. The call's description is the cloner's ownership marker. PVE writes
//     it into the new config together with lock "create" in the same step
//     that reserves the VMID, before it answers: from the first instant
//     anything can observe the clone, its description names its owner.
//  3. Once the vzclone task has ended (no lock), the first write is one
//     PUT of the tags, with the digest of the config whose marker was
//     checked: the source's operator tags are replaced by the cloner's.
//     Until then the cloner keeps finding it at status.vmid (claimClone),
//     so a crash between the clone and the PUT is recovered by the next
//     pass, and deleting the cloner destroys it (ownClone), so it never
//     belongs to nobody.
//  4. The source's owner never takes a container that is not at its own
//     status.vmid without reading its description: the only place it looks
//     elsewhere, crash recovery by tag (recoverOwned), skips any container
//     whose marker names another Application.
//  5. The marker stands in for the tags only until the cloner has first
//     seen its container (status.state empty, see cloning): afterwards the
//     tags alone prove ownership, as for any container, so tags an admin
//     strips are not taken back on the strength of the description.

// cloneNewContainer starts the vzclone task of spec.cloneFrom.
func (r *ApplicationReconciler) cloneNewContainer(ctx context.Context, s *appScope) (ctrl.Result, error) {
	app := s.app
	src, o, ok, err := r.cloneSource(ctx, s)
	if err != nil || !ok {
		s.set(o)
		return ctrl.Result{RequeueAfter: 30 * time.Second}, err
	}
	target, o := cloneTarget(s.host, app, src)
	if target == "" {
		s.set(o)
		return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
	}
	if o, ok := r.provisionPrerequisites(ctx, s); !ok {
		s.set(o)
		return ctrl.Result{RequeueAfter: time.Minute}, nil
	}
	vmid, res, ok, err := r.allocateVMID(ctx, s, target)
	if !ok || err != nil {
		return res, err
	}
	s.host.place(target, plannedMemory(app))
	upid, err := s.host.Client.CloneContainer(ctx, src.Node, src.VMID, cloneRequest(app, vmid, src.Node, target))
	msg := fmt.Sprintf("cloning container %d on %s into container %d on %s", src.VMID, src.Node, vmid, target)
	if proxmox.IsRefused(err) {
		return r.cloneRefused(s, err, msg), nil
	}
	return r.started(s, upid, err, v1alpha1.ReasonCreating, msg)
}

// cloneRequest is the clone call: the marker in the description, the
// hostname, and the declared copy. A storage means a full copy (PVE
// refuses one for a linked clone, the default from a template).
func cloneRequest(app *v1alpha1.Application, vmid int, srcNode, target string) proxmox.CloneRequest {
	cf := app.Spec.CloneFrom
	full := cf.Full
	if full == nil && cf.Storage != "" {
		full = ptr.To(true)
	}
	req := proxmox.CloneRequest{
		NewID: vmid, Hostname: lxcconfig.Hostname(app),
		Description: lxcconfig.DesiredDescription(app),
		Full:        full, Snapshot: cf.Snapshot, Storage: cf.Storage, Pool: app.Spec.Pool,
	}
	if target != srcNode {
		req.Target = target
	}
	return req
}

// cloneRefused stalls a clone PVE refused as requested (a linked clone the
// storage cannot make, say) with PVE's words, retried only slowly: the
// VMID stays recorded, so every attempt names the same one.
func (r *ApplicationReconciler) cloneRefused(s *appScope, err error, msg string) ctrl.Result {
	s.host.markMutation(s.app.UID)
	o := stalled(v1alpha1.ReasonCreateFailed, msg+": "+err.Error())
	s.set(o)
	return ctrl.Result{RequeueAfter: r.createFailures.record(s.app.UID, createInputsOf(s), failureNeedsPerson, o, r.now())}
}

// cloneTarget is spec.node, or the source's node when none is declared
// (a clone elsewhere needs shared storage, which PVE checks).
func cloneTarget(host *HostEntry, app *v1alpha1.Application, src proxmox.ContainerSummary) (string, outcome) {
	if app.Spec.Node == "" {
		return src.Node, outcome{}
	}
	for _, n := range host.Inventory.Snapshot().Nodes {
		if n.Name == app.Spec.Node && n.Online() {
			return n.Name, outcome{}
		}
	}
	return "", stalled(v1alpha1.ReasonNoSuitableNode, fmt.Sprintf("node %q is not online", app.Spec.Node))
}

// cloneSource resolves spec.cloneFrom to a container of this host the
// namespace may copy; ok is false with the outcome saying why not (yet).
func (r *ApplicationReconciler) cloneSource(ctx context.Context, s *appScope) (proxmox.ContainerSummary, outcome, bool, error) {
	cf := s.app.Spec.CloneFrom
	snap := s.host.Inventory.Snapshot()
	if cf.ApplicationRef != nil {
		return r.cloneSourceApp(ctx, s, cf.ApplicationRef.Name)
	}
	vmid := int(ptr.Deref(cf.VMID, 0))
	ct, found := snap.Containers[vmid]
	if !found {
		return ct, cloneSourceUnavailable(s, vmid), false, nil
	}
	// Looked at before the lock, so a waiting clone tells the tenant
	// nothing about a container it may not use.
	if o, ok, err := r.mayClone(ctx, s, ct); !ok || err != nil {
		return ct, o, ok, err
	}
	if ct.Lock == "create" {
		return ct, progressing(v1alpha1.ReasonCreating, fmt.Sprintf("waiting for container %d, the clone source, to be created", vmid)), false, nil
	}
	return ct, outcome{}, true, nil
}

// cloneSourceUnavailable is what a namespace is told about a VMID it may
// not clone, whether no container has it or the container is another
// tenant's: telling the two apart would let a tenant map which VMIDs exist
// and which belong to other namespaces. It is re-checked like any Stalled
// clone, so a source that appears later is still picked up.
func cloneSourceUnavailable(s *appScope, vmid int) outcome {
	return stalled(v1alpha1.ReasonCloneSourceNotAllowed, fmt.Sprintf(
		"container %d does not exist on ProxmoxHost %q or namespace %q may not clone it (only a template, a container an Application of this namespace owns, or one the host's spec.grants[].adopt covers); nothing was touched",
		vmid, s.app.Spec.HostRef.Name, s.app.Namespace))
}

// cloneSourceApp is the container of the named Application of this
// namespace, once that Application owns one on the same host.
func (r *ApplicationReconciler) cloneSourceApp(ctx context.Context, s *appScope, name string) (proxmox.ContainerSummary, outcome, bool, error) {
	src := &v1alpha1.Application{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: s.app.Namespace, Name: name}, src); err != nil {
		if apierrors.IsNotFound(err) {
			return proxmox.ContainerSummary{}, stalled(v1alpha1.ReasonCloneSourceNotFound, fmt.Sprintf("Application %q (cloneFrom.applicationRef) does not exist", name)), false, nil
		}
		return proxmox.ContainerSummary{}, outcome{}, false, err
	}
	if src.Spec.HostRef.Name != s.app.Spec.HostRef.Name {
		return proxmox.ContainerSummary{}, stalled(v1alpha1.ReasonHostMismatch, fmt.Sprintf(
			"Application %q is on ProxmoxHost %q, this one on %q: a clone stays on its source's host", name, src.Spec.HostRef.Name, s.app.Spec.HostRef.Name)), false, nil
	}
	ct, found := s.host.Inventory.Snapshot().Containers[int(src.Status.VMID)]
	if src.Status.VMID == 0 || !found || !lxcconfig.OwnedBy(ct.Tags, string(src.UID)) {
		return ct, progressing(v1alpha1.ReasonCloneSourceNotFound, fmt.Sprintf("waiting for Application %q to own a container to clone", name)), false, nil
	}
	return ct, outcome{}, true, nil
}

// mayClone is the tenancy rule for a source named by VMID: a container an
// Application of this namespace owns (at that Application's own VMID), a
// template no Application owns (an admin's), or an unowned container the
// host's adoption grant gives the namespace. Anything else is another
// tenant's, and copying it would hand over its data.
func (r *ApplicationReconciler) mayClone(ctx context.Context, s *appScope, ct proxmox.ContainerSummary) (outcome, bool, error) {
	owner, tagged := lxcconfig.OwnerOf(ct.Tags)
	if tagged {
		apps := &v1alpha1.ApplicationList{}
		if err := r.List(ctx, apps, client.InNamespace(s.app.Namespace)); err != nil {
			return outcome{}, false, err
		}
		for _, a := range apps.Items {
			if owner != "" && string(a.UID) == owner && int(a.Status.VMID) == ct.VMID && a.Spec.HostRef.Name == s.app.Spec.HostRef.Name {
				return outcome{}, true, nil
			}
		}
		return cloneSourceUnavailable(s, ct.VMID), false, nil
	}
	if ct.Template {
		return outcome{}, true, nil
	}
	if _, _, ok := s.tenancy.adoption(ct); ok {
		return outcome{}, true, nil
	}
	return cloneSourceUnavailable(s, ct.VMID), false, nil
}

// cloning reports whether ct, at the Application's VMID without its tags,
// may be its clone before the tag fix: only while the Application has not
// yet seen its container (status.state is set by the first pass that
// does). Later, a container stripped of its tags is judged like any other
// (claim), whatever its description says.
func cloning(app *v1alpha1.Application, ct proxmox.ContainerSummary) bool {
	return app.Spec.CloneFrom != nil && app.Status.State == "" && !lxcconfig.OwnedBy(ct.Tags, string(app.UID))
}

// claimClone decides about the container at a cloning Application's VMID
// that does not carry its tags: the clone in flight or just finished when
// its description bears this Application's marker (then its tags are made
// ours, with the digest of the config that showed the marker), else
// whatever claim makes of a stranger.
func (r *ApplicationReconciler) claimClone(ctx context.Context, s *appScope, ct proxmox.ContainerSummary) (proxmox.ContainerSummary, ctrl.Result, bool, error) {
	app := s.app
	cfg, err := s.host.Client.ContainerConfig(ctx, ct.Node, ct.VMID, false)
	if proxmox.IsNotFound(err) {
		// Moved to its target node at the end of the clone, or removed by
		// a failed one: the next listing says which.
		r.Hosts.RequestRefresh(s.host.Name)
		return ct, ctrl.Result{RequeueAfter: minRefreshGap}, false, nil
	}
	if err != nil {
		return ct, ctrl.Result{}, false, err
	}
	if !lxcconfig.MarkedFor(cfg["description"], string(app.UID)) {
		return r.claim(ctx, s, ct)
	}
	if lock := cfg["lock"]; lock != "" {
		s.set(r.cloneLockWait(app, ct, lock))
		return ct, ctrl.Result{RequeueAfter: taskPoll}, false, nil
	}
	r.lockSeen.Delete(app.UID)
	update := proxmox.ConfigUpdate{Set: map[string]string{"tags": lxcconfig.CloneTags(cfg["tags"], string(app.UID))}, Digest: cfg.Digest()}
	err = s.host.Client.UpdateContainerConfig(ctx, ct.Node, ct.VMID, update)
	s.host.markMutation(app.UID)
	r.Hosts.RequestRefresh(s.host.Name)
	switch {
	case proxmox.IsDigestMismatch(err), proxmox.IsLocked(err), proxmox.IsLockTimeout(err):
		return ct, ctrl.Result{RequeueAfter: time.Second}, false, nil
	case err != nil:
		return ct, ctrl.Result{}, false, err
	}
	app.Status.VMID = int32(ct.VMID)
	r.event(app, corev1.EventTypeNormal, "Cloned", fmt.Sprintf("container %d is a clone owned by this Application", ct.VMID))
	s.set(progressing(v1alpha1.ReasonCreating, fmt.Sprintf("container %d was cloned; its ownership tags are this Application's now", ct.VMID)))
	return ct, ctrl.Result{RequeueAfter: minRefreshGap}, false, nil
}

// cloneLockWait judges the lock on a clone of ours: the copy in flight,
// or, past ForeignLockBound, a clone whose worker died with its node or
// daemon. PVE removes a failed clone itself, so one left locked needs a
// person; the operator says how and clones again once it is gone.
func (r *ApplicationReconciler) cloneLockWait(app *v1alpha1.Application, ct proxmox.ContainerSummary, lock string) outcome {
	since := r.lockSince(app, lock)
	if r.now().Sub(since) < ForeignLockBound {
		return progressing(v1alpha1.ReasonCreating, fmt.Sprintf("container %d is being cloned (lock %s)", ct.VMID, lock))
	}
	return stalled(v1alpha1.ReasonLocked, fmt.Sprintf(
		"container %d, this Application's clone, has been locked (%s) since %s, longer than %s: a clone that died with its node left it behind; if no clone is running, remove it on node %s with `pct unlock %d && pct destroy %d` and the operator clones again",
		ct.VMID, lock, since.UTC().Format(time.RFC3339), ForeignLockBound, ct.Node, ct.VMID, ct.VMID))
}

// ownClone reports whether a cloning Application's container, found at its
// VMID without its tags, is its clone by the marker: deleting the
// Application then deletes it too, rather than leaving it to nobody.
func (r *ApplicationReconciler) ownClone(ctx context.Context, s *appScope, ct proxmox.ContainerSummary) bool {
	if !cloning(s.app, ct) {
		return false
	}
	cfg, err := s.host.Client.ContainerConfig(ctx, ct.Node, ct.VMID, false)
	return err == nil && lxcconfig.MarkedFor(cfg["description"], string(s.app.UID))
}

// recoverOwned finds, after a lost status write, a container carrying this
// Application's owner tag. A clone of its container carries that tag too
// until the cloner has fixed it, so a candidate whose description names
// another Application is skipped. This is one config read, and only on
// this rare path.
func (r *ApplicationReconciler) recoverOwned(ctx context.Context, s *appScope, snap *inventorySnapshot) (int, error) {
	uid := string(s.app.UID)
	var cands []int
	for vmid, ct := range snap.Containers {
		if lxcconfig.OwnedBy(ct.Tags, uid) {
			cands = append(cands, vmid)
		}
	}
	sort.Ints(cands)
	for _, vmid := range cands {
		ct := snap.Containers[vmid]
		cfg, err := s.host.Client.ContainerConfig(ctx, ct.Node, vmid, false)
		if proxmox.IsNotFound(err) {
			continue
		}
		if err != nil {
			return 0, err
		}
		if !lxcconfig.MarkedForOther(cfg["description"], uid) {
			return vmid, nil
		}
	}
	return 0, nil
}

// convergeTemplate makes the container a template (spec.convertToTemplate)
// once it is stopped and its config and disks are converged, which is where
// converge calls it. PVE starts a vztemplate worker without naming it; its
// UPID is looked up and polled like any task.
func (r *ApplicationReconciler) convergeTemplate(ctx context.Context, s *appScope, ct proxmox.ContainerSummary) (ctrl.Result, bool, error) {
	app := s.app
	if !app.Spec.ConvertToTemplate || ct.Template || ct.Status != "stopped" {
		return ctrl.Result{}, false, nil
	}
	msg := fmt.Sprintf("converting container %d on %s to a template", ct.VMID, ct.Node)
	upid, err := s.host.Client.ConvertToTemplate(ctx, ct.Node, ct.VMID)
	switch {
	case err == nil && upid.IsZero():
		s.host.markMutation(app.UID)
		r.Hosts.RequestRefresh(s.host.Name)
		r.event(app, corev1.EventTypeNormal, v1alpha1.ReasonUpdating, msg)
		s.set(progressing(v1alpha1.ReasonUpdating, msg))
		return ctrl.Result{RequeueAfter: minRefreshGap}, true, nil
	case proxmox.IsRefused(err), err != nil && classifyFailure(err) == failureNeedsPerson:
		s.host.markMutation(app.UID)
		s.set(stalled(v1alpha1.ReasonConvertToTemplateFailed, fmt.Sprintf("%s: %v", msg, err)))
		return ctrl.Result{RequeueAfter: needsPersonRetry}, true, nil
	}
	res, err := r.started(s, upid, err, v1alpha1.ReasonUpdating, msg)
	return res, true, err
}
