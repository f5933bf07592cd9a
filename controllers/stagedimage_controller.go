package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

const (
	// StagedImageFinalizer keeps a StagedImage until the files the operator
	// staged are removed (removeOnDelete) and no Application uses it.
	StagedImageFinalizer = "proxmox.pve-operator.io/staged-image"

	// LabelOnDemand marks the StagedImages the operator created for
	// Applications; only those are garbage-collected.
	LabelOnDemand = "proxmox.pve-operator.io/on-demand"
	// LabelHost names a StagedImage's ProxmoxHost, for selection.
	LabelHost = "proxmox.pve-operator.io/host"

	// appStagedImageIndex indexes Applications by status.stagedImage.
	appStagedImageIndex = "status.stagedImage"
)

// StagedImageReconciler keeps images and templates on the storages of a
// host's nodes: it pulls or downloads what is missing, one task per node
// (one per shared storage), records the task in status so a restart picks
// it up, and removes what it staged when told to.
type StagedImageReconciler struct {
	client.Client
	Hosts    *Hosts
	Recorder events.EventRecorder
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// started remembers the task each node's pull or download started, by
	// StagedImage UID and node, until it ends: a pass that reads a cached
	// StagedImage older than the write that recorded the task must not
	// start a second pull. Status keeps it across restarts.
	started sync.Map // string -> v1alpha1.TaskReference
}

var stagedImagePassEnd = passEnd{optimistic: true, skipUnchanged: true}

// Reconcile stages a StagedImage on every node it is wanted on.
func (r *StagedImageReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	si := &v1alpha1.StagedImage{}
	if err := r.Get(ctx, req.NamespacedName, si); err != nil {
		return ctrl.Result{}, forgetIfGone("StagedImage", req, err)
	}
	if !si.DeletionTimestamp.IsZero() && !controllerutil.ContainsFinalizer(si, StagedImageFinalizer) {
		return ctrl.Result{}, nil
	}
	if added, err := addFinalizer(ctx, r.Client, si, StagedImageFinalizer); added || err != nil {
		return ctrl.Result{RequeueAfter: requeueSoon}, err
	}
	before := si.DeepCopy()
	var o outcome
	var res ctrl.Result
	var err error
	if si.DeletionTimestamp.IsZero() {
		o, res, err = r.reconcileNormal(ctx, si)
	} else {
		o, res, err = r.reconcileDelete(ctx, si)
	}
	if err != nil && !isTransientK8s(err) {
		logf.FromContext(ctx).Error(err, "reconcile failed")
		o, res, err = progressing(v1alpha1.ReasonProxmoxError, err.Error()), ctrl.Result{RequeueAfter: 10 * time.Second}, nil
	}
	if controllerutil.ContainsFinalizer(si, StagedImageFinalizer) {
		st := statusOf{conditions: &si.Status.Conditions, observed: &si.Status.ObservedGeneration, was: &before.Status, is: &si.Status}
		perr := stagedImagePassEnd.end(ctx, r.Client, r.Recorder, si, before, st, o)
		if apierrors.IsConflict(perr) {
			// Read from a cache that had not seen the last write yet: look
			// again soon, without the error backoff that would grow with
			// every Application asking at once.
			return ctrl.Result{RequeueAfter: requeueSoon}, nil
		}
		if perr != nil {
			return ctrl.Result{}, client.IgnoreNotFound(perr)
		}
	}
	return res, err
}

func (r *StagedImageReconciler) now() time.Time { return nowFrom(r.Now) }

func (r *StagedImageReconciler) reconcileNormal(ctx context.Context, si *v1alpha1.StagedImage) (outcome, ctrl.Result, error) {
	if err := r.countUsers(ctx, si); err != nil {
		return outcome{}, ctrl.Result{}, err
	}
	hostObj, host, o, ok := r.host(ctx, si)
	if !ok {
		return o, ctrl.Result{RequeueAfter: time.Minute}, nil
	}
	if collect, _ := garbageDue(si, hostObj, r.now()); collect {
		r.event(si, "GarbageCollected", fmt.Sprintf("no Application has used %s since %s: removing it", si.Status.Volume, si.Status.LastUsed.UTC().Format(time.RFC3339)))
		return outcome{}, ctrl.Result{}, client.IgnoreNotFound(r.Delete(ctx, si))
	}
	si.Status.Volume = stagedVolume(si.Spec.Storage, si.Spec.Source)
	st := stager{r: r, si: si, host: host}
	o, res, err := st.stageAll(ctx)
	if _, wait := garbageDue(si, hostObj, r.now()); wait > 0 && (res.RequeueAfter == 0 || wait < res.RequeueAfter) {
		res.RequeueAfter = wait
	}
	return o, res, err
}

// host resolves the StagedImage's host, connected.
func (r *StagedImageReconciler) host(ctx context.Context, si *v1alpha1.StagedImage) (*v1alpha1.ProxmoxHost, *HostEntry, outcome, bool) {
	name := si.Spec.HostRef.Name
	h := &v1alpha1.ProxmoxHost{}
	if err := r.Get(ctx, client.ObjectKey{Name: name}, h); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil, stalled(v1alpha1.ReasonHostNotFound, fmt.Sprintf("ProxmoxHost %q does not exist", name)), false
		}
		return nil, nil, hostWait(nil, name, ""), false
	}
	entry, ok := r.Hosts.Get(name)
	if !ok || entry.Inventory.Snapshot().Time.IsZero() {
		return h, nil, hostWait(h, name, ""), false
	}
	return h, entry, outcome{}, true
}

// countUsers counts the Applications that use the image and keeps
// lastUsed: set when the last of them lets go, cleared while any uses it.
func (r *StagedImageReconciler) countUsers(ctx context.Context, si *v1alpha1.StagedImage) error {
	apps := &v1alpha1.ApplicationList{}
	if err := r.List(ctx, apps, client.MatchingFields{appStagedImageIndex: si.Name}); err != nil {
		return err
	}
	si.Status.Users = int32(len(apps.Items))
	switch {
	case si.Status.Users > 0:
		si.Status.LastUsed = nil
	case si.Status.LastUsed == nil:
		t := metav1.NewTime(r.now())
		si.Status.LastUsed = &t
	}
	return nil
}

// garbageDue says whether an on-demand StagedImage has gone unused past
// the host's policy, or else how long until it will have.
func garbageDue(si *v1alpha1.StagedImage, host *v1alpha1.ProxmoxHost, now time.Time) (bool, time.Duration) {
	gc := host.Spec.ImageGarbageCollection
	if si.Labels[LabelOnDemand] != "true" || gc == nil || gc.Policy != v1alpha1.ImageGCRemoveUnused ||
		si.Status.Users > 0 || si.Status.LastUsed == nil {
		return false, 0
	}
	unused := 168 * time.Hour
	if gc.UnusedFor != nil {
		unused = gc.UnusedFor.Duration
	}
	left := si.Status.LastUsed.Add(unused).Sub(now)
	return left <= 0, left
}

// reconcileDelete waits until no Application uses the image, then removes
// what the operator staged (removeOnDelete) and lets the object go.
func (r *StagedImageReconciler) reconcileDelete(ctx context.Context, si *v1alpha1.StagedImage) (outcome, ctrl.Result, error) {
	if err := r.countUsers(ctx, si); err != nil {
		return outcome{}, ctrl.Result{}, err
	}
	if si.Status.Users > 0 {
		return progressing(v1alpha1.ReasonInUse, fmt.Sprintf("%d Application(s) use %s: it is removed once none does", si.Status.Users, si.Status.Volume)),
			ctrl.Result{RequeueAfter: time.Minute}, nil
	}
	if si.Spec.RemoveOnDelete == nil || *si.Spec.RemoveOnDelete {
		_, host, o, ok := r.host(ctx, si)
		if !ok {
			return o, ctrl.Result{RequeueAfter: time.Minute}, nil
		}
		st := stager{r: r, si: si, host: host}
		if o, res, done, err := st.removeOurs(ctx); !done || err != nil {
			return o, res, err
		}
	}
	return outcome{}, ctrl.Result{}, removeFinalizer(ctx, r.Client, si, StagedImageFinalizer)
}

func (r *StagedImageReconciler) event(si *v1alpha1.StagedImage, reason, msg string) {
	if r.Recorder != nil {
		r.Recorder.Eventf(si, nil, eventNormal, reason, reconcileAction, "%s", msg)
	}
}

// stagedImagesToWake are the StagedImages whose users an Application's
// update changed: the one it left and the one it took. Any other update
// (every status write of every Application) leaves the count as it was and
// wakes nothing, or each would cost a StagedImage pass and its storage
// listings.
func stagedImagesToWake(old, cur *v1alpha1.Application) []string {
	if old.Status.StagedImage == cur.Status.StagedImage {
		return nil
	}
	var out []string
	for _, n := range []string{old.Status.StagedImage, cur.Status.StagedImage} {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

// SetupWithManager registers the controller and the Application index it
// counts users with. Applications wake their StagedImage when they start
// or stop using it.
func (r *StagedImageReconciler) SetupWithManager(mgr ctrl.Manager, concurrency int) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.Application{}, appStagedImageIndex, func(o client.Object) []string {
		if n := o.(*v1alpha1.Application).Status.StagedImage; n != "" {
			return []string{n}
		}
		return nil
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.StagedImage{}).
		Watches(&v1alpha1.Application{}, handler.Funcs{
			UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				for _, n := range stagedImagesToWake(e.ObjectOld.(*v1alpha1.Application), e.ObjectNew.(*v1alpha1.Application)) {
					q.Add(reconcile.Request{NamespacedName: client.ObjectKey{Name: n}})
				}
			},
			DeleteFunc: func(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				if n := e.Object.(*v1alpha1.Application).Status.StagedImage; n != "" {
					q.Add(reconcile.Request{NamespacedName: client.ObjectKey{Name: n}})
				}
			},
		}).
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrency}).
		Named("stagedimage").
		Complete(r)
}
