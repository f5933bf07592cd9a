package controllers

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/proxmox"
)

// rolloutCreate stages the new image on the old container's node (volumes
// can only be handed over on one node), reserves the new VMID in status,
// and creates the new container from the image.
func (r *ApplicationReconciler) rolloutCreate(ctx context.Context, s *appScope, old proxmox.ContainerSummary, ro *v1alpha1.ImageRollout) (ctrl.Result, error) {
	app := s.app
	snap := s.host.Inventory.Snapshot()
	if !s.host.freshEnough(app.UID, snap.Time) {
		r.Hosts.RequestRefresh(s.host.Name)
		return ctrl.Result{RequeueAfter: minRefreshGap}, nil
	}
	if ro.NewVMID != 0 {
		if ct, ok := snap.Containers[int(ro.NewVMID)]; ok {
			return r.rolloutCreated(ctx, s, ro, ct)
		}
	}
	from, o, ok, err := r.stageSource(ctx, s, old.Node)
	if !ok || err != nil {
		s.set(rolloutProgress(ro, o.message))
		if o.stalled {
			s.set(o)
		}
		return ctrl.Result{RequeueAfter: stagingRecheck}, err
	}
	ro.Digest, ro.Volume = from.digest, from.ostemplate
	if ro.NewVMID == 0 {
		id, err := s.host.allocateVMID(ctx)
		if err != nil {
			return ctrl.Result{}, err
		}
		ro.NewVMID = int32(id)
	}
	if ro.Step != v1alpha1.RolloutCreating {
		if err := r.advance(ctx, s, ro, v1alpha1.RolloutCreating); err != nil {
			return ctrl.Result{}, err
		}
	}
	params := withPool(rolloutCreateParams(app, from.ostemplate), app)
	via, o, ok := validCreate(s, params)
	if !ok {
		s.set(o)
		return ctrl.Result{}, nil
	}
	password, o, ok := r.rootPassword(ctx, app)
	if !ok {
		s.set(o)
		return ctrl.Result{RequeueAfter: time.Minute}, nil
	}
	upid, err := via.CreateContainer(ctx, old.Node, int(ro.NewVMID), proxmox.CreateRequest{Params: params, Password: password})
	if proxmox.IsAlreadyExists(err) {
		// Someone took the VMID before the create landed: pick another.
		ro.NewVMID = 0
		return ctrl.Result{RequeueAfter: requeueSoon}, nil
	}
	return r.rolloutStarted(s, ro, upid, err, fmt.Sprintf("creating container %d on %s from %s", ro.NewVMID, old.Node, from.ostemplate))
}

// rolloutCreated judges the container found at the new VMID.
func (r *ApplicationReconciler) rolloutCreated(ctx context.Context, s *appScope, ro *v1alpha1.ImageRollout, ct proxmox.ContainerSummary) (ctrl.Result, error) {
	if owner, tagged := lxcconfig.OwnerOf(ct.Tags); !tagged || owner != string(s.app.UID) {
		if ct.Lock == "create" {
			s.set(rolloutProgress(ro, fmt.Sprintf("container %d is being created", ct.VMID)))
			return ctrl.Result{RequeueAfter: taskPoll}, nil
		}
		// Not ours: another client took the VMID first. Pick another.
		ro.NewVMID = 0
		return ctrl.Result{RequeueAfter: requeueSoon}, nil
	}
	if ct.Lock == "create" {
		s.set(rolloutProgress(ro, fmt.Sprintf("container %d is being created", ct.VMID)))
		return ctrl.Result{RequeueAfter: taskPoll}, nil
	}
	return ctrl.Result{RequeueAfter: requeueSoon}, r.advance(ctx, s, ro, v1alpha1.RolloutStoppingOld)
}

// rolloutStopOld shuts the old container down (its volumes cannot move
// while it runs), forcing it after the timeout.
func (r *ApplicationReconciler) rolloutStopOld(ctx context.Context, s *appScope, old proxmox.ContainerSummary, ro *v1alpha1.ImageRollout) (ctrl.Result, error) {
	if old.Status == "stopped" {
		return ctrl.Result{RequeueAfter: requeueSoon}, r.advance(ctx, s, ro, v1alpha1.RolloutMovingVolumes)
	}
	upid, err := s.host.Client.ShutdownContainer(ctx, old.Node, old.VMID, proxmox.ShutdownOptions{Timeout: 60, Force: true})
	return r.rolloutStarted(s, ro, upid, err, fmt.Sprintf("shutting down container %d", old.VMID))
}

// rolloutMove hands the old container's next data volume to the new one,
// under the same key (mp0 stays mp0), one move_volume at a time. When none
// is left, status switches to the new container.
func (r *ApplicationReconciler) rolloutMove(ctx context.Context, s *appScope, old proxmox.ContainerSummary, ro *v1alpha1.ImageRollout) (ctrl.Result, error) {
	c := s.host.Client
	oldCfg, err := c.ContainerConfig(ctx, old.Node, old.VMID, false)
	if err != nil {
		return ctrl.Result{}, err
	}
	keys := dataVolumeKeys(oldCfg)
	if len(keys) == 0 {
		return r.rolloutSwitch(ctx, s, ro)
	}
	newCfg, err := c.ContainerConfig(ctx, old.Node, int(ro.NewVMID), false)
	if err != nil {
		return ctrl.Result{}, err
	}
	key := keys[0]
	target := freeKey(newCfg, key)
	upid, err := c.MoveVolumeToContainer(ctx, old.Node, old.VMID, key, int(ro.NewVMID), target)
	return r.rolloutStarted(s, ro, upid, err, fmt.Sprintf("moving %s of container %d to %s of container %d", key, old.VMID, target, ro.NewVMID))
}

// freeKey is key if the config does not use it, else the first free key of
// its kind (an unusedN the new container already has, say).
func freeKey(cfg map[string]string, key string) string {
	if _, taken := cfg[key]; !taken {
		return key
	}
	prefix := strings.TrimRight(key, "0123456789")
	for i := 0; ; i++ {
		if k := prefix + strconv.Itoa(i); cfg[k] == "" {
			return k
		}
	}
}

// rolloutSwitch points status at the new container: from here on it is
// the Application's, its config converges and it starts; provisioning runs
// again on its new rootFS.
func (r *ApplicationReconciler) rolloutSwitch(ctx context.Context, s *appScope, ro *v1alpha1.ImageRollout) (ctrl.Result, error) {
	app := s.app
	app.Status.VMID = ro.NewVMID
	app.Status.Image.Reference, app.Status.Image.Digest, app.Status.Image.Volume = ro.Reference, ro.Digest, ro.Volume
	app.Status.Provision = nil
	ro.Step = v1alpha1.RolloutStarting
	if err := r.persist(ctx, s, true); err != nil {
		return ctrl.Result{}, err
	}
	r.event(app, corev1.EventTypeNormal, v1alpha1.ReasonRollingOut, fmt.Sprintf("every data volume of container %d is on container %d now; starting it", ro.OldVMID, ro.NewVMID))
	s.set(rolloutProgress(ro, "switched to the new container"))
	return ctrl.Result{RequeueAfter: requeueSoon}, nil
}

// rolloutRemoveOld destroys the old container once it holds no data
// volume (checked again here: a volume is never destroyed), and ends the
// rollout when it is gone.
func (r *ApplicationReconciler) rolloutRemoveOld(ctx context.Context, s *appScope, ro *v1alpha1.ImageRollout) (ctrl.Result, error) {
	app := s.app
	snap := s.host.Inventory.Snapshot()
	if !s.host.freshEnough(app.UID, snap.Time) {
		r.Hosts.RequestRefresh(s.host.Name)
		return ctrl.Result{RequeueAfter: minRefreshGap}, nil
	}
	old, cfg, ok, err := r.leftBehind(ctx, s, snap)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !ok {
		r.event(app, corev1.EventTypeNormal, v1alpha1.ReasonRolledOut, fmt.Sprintf("container %d runs %s; the old container %d is gone", ro.NewVMID, ro.Reference, ro.OldVMID))
		app.Status.Image.Rollout = nil
		return ctrl.Result{RequeueAfter: requeueSoon}, nil
	}
	if old.Lock != "" {
		s.set(rolloutProgress(ro, fmt.Sprintf("container %d is locked (%s); waiting to remove it", old.VMID, old.Lock)))
		return ctrl.Result{RequeueAfter: taskPoll}, nil
	}
	if left := dataVolumeKeys(cfg); len(left) > 0 {
		s.set(stalled(v1alpha1.ReasonRolloutFailed, fmt.Sprintf(
			"old container %d still holds %s, which the operator will not destroy: move it to container %d (pct move-volume %d %s --target-vmid %d) or detach it",
			old.VMID, strings.Join(left, ", "), ro.NewVMID, old.VMID, left[0], ro.NewVMID)))
		return ctrl.Result{RequeueAfter: time.Minute}, nil
	}
	if cfg["protection"] == "1" {
		// The protection the spec declares is the new container's now.
		up := proxmox.ConfigUpdate{Delete: []string{"protection"}, Digest: cfg.Digest()}
		if err := s.host.Client.UpdateContainerConfig(ctx, old.Node, old.VMID, up); err != nil {
			return ctrl.Result{}, err
		}
	}
	upid, err := s.host.Client.DeleteContainer(ctx, old.Node, old.VMID, proxmox.DeleteOptions{Purge: true})
	return r.rolloutStarted(s, ro, upid, err, fmt.Sprintf("destroying the old container %d", old.VMID))
}

// leftBehind is a container of this Application other than the one status
// names: the old one of the rollout, or one a create cut off by a crash
// made. Both carry the Application's ownership tag and its marker in the
// description (a clone of it in the making carries the tag but another
// Application's marker, and is not touched). ok is false when none is left.
func (r *ApplicationReconciler) leftBehind(ctx context.Context, s *appScope, snap *inventorySnapshot) (proxmox.ContainerSummary, proxmox.ContainerConfig, bool, error) {
	uid := string(s.app.UID)
	var vmids []int
	for vmid, ct := range snap.Containers {
		if vmid != int(s.app.Status.VMID) && lxcconfig.OwnedBy(ct.Tags, uid) {
			vmids = append(vmids, vmid)
		}
	}
	slices.Sort(vmids)
	for _, vmid := range vmids {
		ct := snap.Containers[vmid]
		cfg, err := s.host.Client.ContainerConfig(ctx, ct.Node, ct.VMID, false)
		if proxmox.IsNotFound(err) {
			continue
		}
		if err != nil {
			return ct, nil, false, err
		}
		if lxcconfig.MarkedFor(cfg["description"], uid) {
			return ct, cfg, true, nil
		}
	}
	return proxmox.ContainerSummary{}, nil, false, nil
}
