package controllers

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/proxmox"
)

const (
	// HostFinalizer keeps a ProxmoxHost while anything uses it: deleting a
	// host under its Applications would leave their containers tagged for
	// owners that can never reach them again, and so never adoptable.
	HostFinalizer = "proxmox.pve-operator.io/in-use"
	// AnnotationForceDelete lets an admin delete a host in use: Retain
	// leaves every container as it is, still tagged as its Application's
	// (a host of the same name picks them up again); Release first removes
	// the operator's tags from the containers of the host's Applications,
	// which makes them unmanaged and adoptable. Either way the
	// Applications stay, and find their host gone.
	AnnotationForceDelete = "proxmox.pve-operator.io/force-delete"

	forceRetain  = "Retain"
	forceRelease = "Release"
)

// forcedDeletion is the host's valid force-delete mode: "" when there is
// none, or when the annotation holds anything but Retain or Release.
func forcedDeletion(host *v1alpha1.ProxmoxHost) string {
	if host.DeletionTimestamp.IsZero() {
		return ""
	}
	switch m := host.Annotations[AnnotationForceDelete]; m {
	case forceRetain, forceRelease:
		return m
	}
	return ""
}

// guardDeletion keeps the finalizer on a live host and takes it off a
// deleted one that nothing uses any more (or whose deletion is forced with
// Retain). gone is true once the finalizer is off.
func (r *ProxmoxHostReconciler) guardDeletion(ctx context.Context, host *v1alpha1.ProxmoxHost, u hostUsers) (gone bool, err error) {
	if host.DeletionTimestamp.IsZero() {
		_, err := addFinalizer(ctx, r.Client, host, HostFinalizer)
		return false, err
	}
	if !u.none() && forcedDeletion(host) != forceRetain {
		return false, nil
	}
	if !u.none() {
		r.event(host, corev1.EventTypeWarning, "DeletionForced", fmt.Sprintf(
			"deleted while in use (%s=Retain): the containers of %s are left as they are, still tagged as theirs", AnnotationForceDelete, u))
	}
	return true, removeFinalizer(ctx, r.Client, host, HostFinalizer)
}

// releaseContainers carries out a forced deletion with Release: it removes
// the operator's tags from every container of the host's Applications
// (never any other container), then the finalizer. It needs the host
// connected; what keeps it from finishing is the returned message.
func (r *ProxmoxHostReconciler) releaseContainers(ctx context.Context, host *v1alpha1.ProxmoxHost, u hostUsers, ready bool) (gone bool, msg string, err error) {
	entry, ok := r.Hosts.Get(host.Name)
	if !ok || !ready || entry.Inventory.Snapshot() == nil {
		return false, "waiting for the host to be Ready to release the containers", nil
	}
	snap := entry.Inventory.Snapshot()
	var failed []string
	released := 0
	for _, ct := range snap.Containers {
		owner, _ := lxcconfig.OwnerOf(ct.Tags)
		if owner == "" || !u.appUIDs[owner] {
			continue
		}
		if err := entry.Client.UpdateContainerConfig(ctx, ct.Node, ct.VMID, releaseUpdate(ct.Tags)); err != nil {
			failed = append(failed, fmt.Sprintf("container %d: %v", ct.VMID, err))
			continue
		}
		released++
	}
	if len(failed) > 0 {
		r.Hosts.RequestRefresh(host.Name)
		return false, fmt.Sprintf("released %d containers; %d could not be released yet (retried at the next sync): %s",
			released, len(failed), strings.Join(failed[:min(len(failed), usedNamesShown)], "; ")), nil
	}
	r.event(host, corev1.EventTypeWarning, "DeletionForced", fmt.Sprintf(
		"deleted while in use (%s=Release): released %d containers of %s; they are unmanaged now", AnnotationForceDelete, released, u))
	return true, "", removeFinalizer(ctx, r.Client, host, HostFinalizer)
}

// releaseUpdate is the config change that gives a container up: the
// operator's tags go, the user's stay.
func releaseUpdate(tags []string) proxmox.ConfigUpdate {
	keep := lxcconfig.UserTags(tags)
	if len(keep) == 0 {
		return proxmox.ConfigUpdate{Delete: []string{"tags"}}
	}
	return proxmox.ConfigUpdate{Set: map[string]string{"tags": lxcconfig.JoinTags(keep)}}
}

// inUseVerdict is the InUse condition for what uses the host, and for a
// deletion what it waits for.
func inUseVerdict(host *v1alpha1.ProxmoxHost, u hostUsers, releasing string) (reason, msg string) {
	switch {
	case u.none():
		return v1alpha1.ReasonNotInUse, "no Application, Backup or StagedImage uses this host"
	case host.DeletionTimestamp.IsZero():
		return v1alpha1.ReasonInUse, "used by " + u.String()
	case forcedDeletion(host) == forceRelease:
		return v1alpha1.ReasonReleasing, fmt.Sprintf("deleting (%s=Release) while used by %s: %s", AnnotationForceDelete, u, releasing)
	}
	bad := ""
	if v, set := host.Annotations[AnnotationForceDelete]; set {
		bad = fmt.Sprintf("the annotation %s=%q is neither Retain nor Release; ", AnnotationForceDelete, v)
	}
	return v1alpha1.ReasonDeletionBlocked, fmt.Sprintf(
		"%sthe deletion waits for %s: delete them first, or force it with the annotation %s=Retain (their containers stay as they are, still tagged as theirs) or %s=Release (the operator removes its tags from their containers, which become unmanaged and adoptable)",
		bad, u, AnnotationForceDelete, AnnotationForceDelete)
}

// event records an event about the host, when there is a recorder.
func (r *ProxmoxHostReconciler) event(host *v1alpha1.ProxmoxHost, kind, reason, note string) {
	if r.Recorder != nil {
		r.Recorder.Eventf(host, nil, kind, reason, hostAction, "%s", note)
	}
}
