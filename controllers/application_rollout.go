package controllers

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/proxmox"
	"github.com/pve-operator/pve-operator/internal/pveparams"
)

// An image update replaces the container and keeps its data: a new
// container is made from the new image with the declared config, the old
// one is stopped, every data volume (mount points and unusedN) is handed
// to the new one with move_volume, the new one starts, status switches to
// it, and the old one — by then holding nothing but its rootFS — is
// destroyed. Each step is recorded in status.image.rollout before it is
// sent and is recognised by what Proxmox shows afterwards, so a rollout cut
// off at any instant resumes where it stood; a volume is never destroyed,
// and at every instant each data volume belongs to exactly one of the two
// containers.

// rolloutRetry is how long a failed rollout step waits before it is
// tried again from what Proxmox shows.
const rolloutRetry = 30 * time.Second

// rolloutWanted reports whether spec.image differs from what the container
// was made from.
func rolloutWanted(app *v1alpha1.Application) bool {
	img := app.Spec.Image
	return img != nil && app.Status.Image != nil && app.Status.Image.Reference != "" && img.Reference != app.Status.Image.Reference
}

// rolloutOf is the image update in progress, if any.
func rolloutOf(app *v1alpha1.Application) *v1alpha1.ImageRollout {
	if app.Status.Image == nil {
		return nil
	}
	return app.Status.Image.Rollout
}

// rollout drives an image update one step per pass. done is false when
// there is none to drive.
func (r *ApplicationReconciler) rollout(ctx context.Context, s *appScope, ct proxmox.ContainerSummary) (ctrl.Result, bool, error) {
	app := s.app
	if app.Spec.Image == nil {
		return ctrl.Result{}, false, nil
	}
	if app.Status.Image == nil {
		// Nothing recorded what the container was made from (it was
		// adopted, or its status was lost with the object): take it to be
		// what the spec says, and update only on a later change.
		app.Status.Image = &v1alpha1.ImageStatus{Reference: app.Spec.Image.Reference}
	}
	ro := app.Status.Image.Rollout
	if ro == nil {
		if !rolloutWanted(app) {
			return ctrl.Result{}, false, nil
		}
		if app.Spec.Image.UpdateStrategy == v1alpha1.ImageUpdateNone {
			s.set(stalled(v1alpha1.ReasonImageUpdateRefused, fmt.Sprintf(
				"spec.image.reference changed from %s to %s, but updateStrategy is None: container %d keeps %s; set updateStrategy: Recreate to replace it (its data volumes move to the new container) or change the reference back",
				app.Status.Image.Reference, app.Spec.Image.Reference, ct.VMID, app.Status.Image.Reference)))
			return ctrl.Result{}, true, nil
		}
		now := metav1.NewTime(r.now())
		ro = &v1alpha1.ImageRollout{Reference: app.Spec.Image.Reference, OldVMID: int32(ct.VMID), Step: v1alpha1.RolloutStaging, StartedAt: &now}
		app.Status.Image.Rollout = ro
		r.event(app, corev1.EventTypeNormal, v1alpha1.ReasonRollingOut, fmt.Sprintf("replacing container %d: %s -> %s, keeping its data volumes", ct.VMID, app.Status.Image.Reference, ro.Reference))
	}
	if ro.Task != nil {
		if res, wait, err := r.pollRolloutTask(ctx, s, ro); wait || err != nil {
			return res, true, err
		}
	}
	if ro.Step == v1alpha1.RolloutStarting {
		// Status points at the new container: the ordinary passes apply the
		// declared config and start it; the old one goes once it runs.
		if app.Spec.PowerState == v1alpha1.PowerStateStopped || ct.Status == "running" {
			return ctrl.Result{RequeueAfter: requeueSoon}, true, r.advance(ctx, s, ro, v1alpha1.RolloutRemovingOld)
		}
		return ctrl.Result{}, false, nil
	}
	res, err := r.rolloutStep(ctx, s, ct, ro)
	return res, true, err
}

// rolloutStep runs the step reached. ct is the old container until the
// volumes have moved.
func (r *ApplicationReconciler) rolloutStep(ctx context.Context, s *appScope, old proxmox.ContainerSummary, ro *v1alpha1.ImageRollout) (ctrl.Result, error) {
	switch ro.Step {
	case v1alpha1.RolloutStaging, v1alpha1.RolloutCreating:
		return r.rolloutCreate(ctx, s, old, ro)
	case v1alpha1.RolloutStoppingOld:
		return r.rolloutStopOld(ctx, s, old, ro)
	case v1alpha1.RolloutMovingVolumes:
		return r.rolloutMove(ctx, s, old, ro)
	}
	return r.rolloutRemoveOld(ctx, s, ro)
}

// rolloutProgress is the verdict while a rollout runs.
func rolloutProgress(ro *v1alpha1.ImageRollout, what string) outcome {
	return progressing(v1alpha1.ReasonRollingOut, fmt.Sprintf("image update to %s (container %d -> %d, step %s): %s", ro.Reference, ro.OldVMID, ro.NewVMID, ro.Step, what))
}

// advance moves the rollout to step and persists it before anything of
// that step is sent.
func (r *ApplicationReconciler) advance(ctx context.Context, s *appScope, ro *v1alpha1.ImageRollout, step v1alpha1.RolloutStep) error {
	// Everything this pass filled in (new VMID, digest) goes with it.
	ro.Step = step
	r.event(s.app, corev1.EventTypeNormal, v1alpha1.ReasonRollingOut, fmt.Sprintf("image update to %s: %s", ro.Reference, step))
	return r.persist(ctx, s, true)
}

// pollRolloutTask checks the rollout's task. wait is true while it runs
// or when its failure ended the pass.
func (r *ApplicationReconciler) pollRolloutTask(ctx context.Context, s *appScope, ro *v1alpha1.ImageRollout) (ctrl.Result, bool, error) {
	res, st, err := checkTask(ctx, s.host.Client, ro.Task)
	switch {
	case err != nil:
		return ctrl.Result{}, true, err
	case res == taskRunning:
		s.set(rolloutProgress(ro, fmt.Sprintf("%s running (%s)", taskVerb(ro.Task.Type), ro.Task.UPID)))
		return ctrl.Result{RequeueAfter: pollAfter(ro.Task, time.Now())}, true, nil
	case res == taskFailed:
		// The step is tried again from what Proxmox shows; what needs a
		// person says so, with Proxmox' words, and nothing is undone.
		typ := ro.Task.Type
		ro.Task = nil
		o := stalled(v1alpha1.ReasonRolloutFailed, fmt.Sprintf("image update to %s: %s failed at step %s: %s; every data volume is still attached to container %d or %d",
			ro.Reference, taskVerb(typ), ro.Step, st.ExitStatus, ro.OldVMID, ro.NewVMID))
		r.event(s.app, corev1.EventTypeWarning, v1alpha1.ReasonRolloutFailed, o.message)
		s.set(o)
		return ctrl.Result{RequeueAfter: rolloutRetry}, true, nil
	}
	typ := ro.Task.Type
	ro.Task = nil
	s.host.markMutation(s.app.UID)
	r.Hosts.RequestRefresh(s.host.Name)
	s.set(rolloutProgress(ro, taskVerb(typ)+" finished"))
	return ctrl.Result{RequeueAfter: minRefreshGap + 500*time.Millisecond}, true, nil
}

// rolloutStarted records a task a rollout step started.
func (r *ApplicationReconciler) rolloutStarted(s *appScope, ro *v1alpha1.ImageRollout, upid proxmox.UPID, err error, what string) (ctrl.Result, error) {
	s.host.markMutation(s.app.UID)
	r.Hosts.RequestRefresh(s.host.Name)
	switch {
	case err == nil:
		ro.Task = taskRef(upid, time.Now())
		s.set(rolloutProgress(ro, what))
		return ctrl.Result{RequeueAfter: pollAfter(ro.Task, time.Now())}, nil
	case proxmox.IsOutcomeUnknown(err), proxmox.IsLocked(err), proxmox.IsLockTimeout(err):
		s.set(rolloutProgress(ro, what+": "+err.Error()+"; looking again"))
		return ctrl.Result{RequeueAfter: 2 * minRefreshGap}, nil
	case classifyFailure(err) == failureNeedsPerson:
		s.set(stalled(v1alpha1.ReasonRolloutFailed, fmt.Sprintf("image update to %s: %s: %s", ro.Reference, what, err)))
		return ctrl.Result{RequeueAfter: time.Minute}, nil
	}
	return ctrl.Result{}, err
}

// dataVolumeKeys are the keys of a config's data volumes in order, so that
// volumes move one at a time in the same order on every pass.
func dataVolumeKeys(cfg map[string]string) []string {
	return slices.Sorted(maps.Keys(lxcconfig.DataVolumes(cfg)))
}

// rolloutCreateParams are the new container's create parameters: the
// declared config without its data mount points, which arrive by
// move_volume.
func rolloutCreateParams(app *v1alpha1.Application, ostemplate string) pveparams.List {
	var out pveparams.List
	for _, p := range lxcconfig.CreateParams(app) {
		if strings.HasPrefix(p.Key, "mp") {
			continue
		}
		if p.Key == "ostemplate" {
			p.Value = ostemplate
		}
		out = append(out, p)
	}
	return out
}
