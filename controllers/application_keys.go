package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/proxmox"
)

// validSpec turns a value Proxmox would refuse into Stalled/InvalidSpec
// with PVE's words, before anything is sent: retrying cannot help until
// the spec changes, and a spec change wakes the Application.
func validSpec(err error) (outcome, bool) {
	var inv *lxcconfig.InvalidError
	if errors.As(err, &inv) {
		return stalled(v1alpha1.ReasonInvalidSpec, fmt.Sprintf("%v; nothing was sent", inv)), false
	}
	return outcome{}, true
}

// observedConfig is status.config: the container's config as read, pending
// values included, without the digest (which changes with every edit and
// says nothing to a user copying values into a spec).
func observedConfig(cfg proxmox.ContainerConfig) map[string]string {
	out := maps.Clone(map[string]string(cfg))
	delete(out, "digest")
	return out
}

// pendingAfterStop is the restart-pending keys remembered from the last
// config read, as they stand now: a container seen stopped applies its
// pending changes when it next starts, so from then on nothing waits.
func (r *ApplicationReconciler) pendingAfterStop(uid types.UID, m convergeMark, ct proxmox.ContainerSummary) []string {
	if ct.Status == "stopped" && len(m.restartKeys) > 0 {
		m.restartKeys = nil
		r.converged.Store(uid, m)
	}
	return m.restartKeys
}

// restartedSinceRead reports whether a container that had changes pending
// at the last config read has been (re)started since: PVE applied them
// then, so the config is read again to clear RestartRequired at once rather
// than at the next drift check. Uptime counts whole seconds, so only a
// start clearly after the read counts; a stale listing at worst costs one
// more read.
func (r *ApplicationReconciler) restartedSinceRead(uid types.UID, ct proxmox.ContainerSummary) bool {
	v, ok := r.converged.Load(uid)
	if !ok {
		return false
	}
	m := v.(convergeMark)
	// A mark trusted from status has no read time; its paced read comes.
	if m.trusted || len(m.restartKeys) == 0 || ct.Status != "running" {
		return false
	}
	return time.Duration(ct.Uptime+1)*time.Second < time.Since(m.at)
}

// repairPendingSize runs before a resize of a running container: when the
// volume already has the size and only its pending value lags behind (see
// lxcconfig.PendingSizeRepair), that value is rewritten instead, so that
// the resize is not asked again and refused forever.
func (r *ApplicationReconciler) repairPendingSize(ctx context.Context, s *appScope, ct proxmox.ContainerSummary, rs lxcconfig.Resize, digest string) (ctrl.Result, bool, error) {
	if ct.Status != "running" {
		return ctrl.Result{}, false, nil
	}
	c := s.host.Client
	pending, err := c.Pending(ctx, ct.Node, ct.VMID)
	if err != nil {
		return ctrl.Result{}, true, err
	}
	i := slices.IndexFunc(pending, func(p proxmox.PendingChange) bool { return p.Key == rs.Disk })
	if i < 0 {
		return ctrl.Result{}, false, nil
	}
	fixed, ok := lxcconfig.PendingSizeRepair(rs, pending[i].Value, pending[i].Pending)
	if !ok {
		return ctrl.Result{}, false, nil
	}
	err = c.UpdateContainerConfig(ctx, ct.Node, ct.VMID, proxmox.ConfigUpdate{Set: map[string]string{rs.Disk: fixed}, Digest: digest})
	s.host.markMutation(s.app.UID)
	if err != nil && !proxmox.IsDigestMismatch(err) {
		return ctrl.Result{}, true, fmt.Errorf("record the size of %s in the pending config of container %d: %w", rs.Disk, ct.VMID, err)
	}
	return ctrl.Result{RequeueAfter: requeueSoon}, true, nil
}
