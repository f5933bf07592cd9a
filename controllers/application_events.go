package controllers

import (
	"context"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// containerEvents turns inventory changes (host, VMID) and internal wake-ups
// into reconcile requests for the Applications concerned. It runs as a
// manager runnable so the cache it reads from is started.
func (r *ApplicationReconciler) containerEvents(mgr ctrl.Manager) <-chan event.GenericEvent {
	out := make(chan event.GenericEvent, 1024)
	_ = mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		for {
			select {
			case <-ctx.Done():
				return nil
			case ev := <-r.Hosts.ContainerEvents():
				apps := &v1alpha1.ApplicationList{}
				if err := r.List(ctx, apps, client.MatchingFields{appVMIDIndex: hostVMIDKey(ev.Host, ev.VMID)}); err != nil {
					continue
				}
				for i := range apps.Items {
					send(ctx, out, &apps.Items[i])
				}
			case key := <-r.wake:
				app := &v1alpha1.Application{}
				app.Namespace, app.Name = key.Namespace, key.Name
				send(ctx, out, app)
			}
		}
	}))
	return out
}

func send(ctx context.Context, out chan<- event.GenericEvent, o client.Object) {
	select {
	case out <- event.GenericEvent{Object: o}:
	case <-ctx.Done():
	}
}

// hostReadinessChanged passes host events that change whether Applications
// can proceed: creation, deletion, spec changes and Ready flips.
func hostReadinessChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, ok1 := e.ObjectOld.(*v1alpha1.ProxmoxHost)
			n, ok2 := e.ObjectNew.(*v1alpha1.ProxmoxHost)
			if !ok1 || !ok2 {
				return true
			}
			// Stalled too: an Application mirrors a host that needs a
			// person (hostWait), so it must hear when that starts.
			return o.Generation != n.Generation ||
				meta.IsStatusConditionTrue(o.Status.Conditions, v1alpha1.ConditionReady) != meta.IsStatusConditionTrue(n.Status.Conditions, v1alpha1.ConditionReady) ||
				meta.IsStatusConditionTrue(o.Status.Conditions, v1alpha1.ConditionStalled) != meta.IsStatusConditionTrue(n.Status.Conditions, v1alpha1.ConditionStalled) ||
				rootCredentialsChanged(o, n)
		},
	}
}

// appEvents enqueues Applications like the default handler, except that
// an Application someone is waiting for (its spec is newer than its
// status, it was not Ready, or it is being deleted) goes before settled
// ones. controller-runtime's priority queue gives every object of the
// initial listing a low priority, so after a restart at 10,000
// Applications a spec changed meanwhile would wait behind 10,000 passes
// that find nothing to do; here it keeps the normal priority. Likewise
// for wake-ups (inventory changes, the read pacer's grants): the first
// listing after a restart reports every container as appeared, and the
// settled Applications it wakes are queued low.
type appEvents struct {
	*handler.EnqueueRequestForObject
}

func newAppEvents() appEvents { return appEvents{&handler.EnqueueRequestForObject{}} }

// Create implements handler.EventHandler.
func (h appEvents) Create(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	app, isApp := e.Object.(*v1alpha1.Application)
	if !isApp || !e.IsInInitialList || !awaited(app) || !addAt(q, app, 0) {
		h.EnqueueRequestForObject.Create(ctx, e, q)
	}
}

// Generic implements handler.EventHandler for the wake-up channel. A bare
// key (a pacer grant, a provision result) has no status to judge and keeps
// the normal priority.
func (h appEvents) Generic(ctx context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	app, isApp := e.Object.(*v1alpha1.Application)
	if !isApp || app.UID == "" || awaited(app) || !addAt(q, app, handler.LowPriority) {
		h.EnqueueRequestForObject.Generic(ctx, e, q)
	}
}

// addAt queues app at priority when q is a priority queue; false leaves
// it to the default handler.
func addAt(q workqueue.TypedRateLimitingInterface[reconcile.Request], app *v1alpha1.Application, priority int) bool {
	pq, ok := q.(priorityqueue.PriorityQueue[reconcile.Request])
	if ok {
		pq.AddWithOpts(priorityqueue.AddOpts{Priority: ptr.To(priority)}, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(app)})
	}
	return ok
}

// awaited: the Application's status does not say what was declared is in
// place, so a person (or Argo CD) is waiting for its next pass.
func awaited(app *v1alpha1.Application) bool {
	return !app.DeletionTimestamp.IsZero() || app.Status.ObservedGeneration != app.Generation ||
		!meta.IsStatusConditionTrue(app.Status.Conditions, v1alpha1.ConditionReady)
}
