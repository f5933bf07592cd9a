package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/sshexec"
)

const (
	// ApplicationFinalizer guards the container: it is added before any
	// Proxmox side effect and removed once deletion (or release) is done.
	ApplicationFinalizer = "proxmox.pve-operator.io/container"

	appHostIndex     = "spec.hostRef.name"
	appVMIDIndex     = "status.hostVMID"
	appHostnameIndex = "spec.hostHostname"

	// taskPoll is how soon an in-flight task is checked again.
	taskPoll = 2 * time.Second
)

// ApplicationReconciler makes one Proxmox LXC container match each Application.
type ApplicationReconciler struct {
	client.Client
	Hosts    *Hosts
	Recorder events.EventRecorder
	// SSH builds the runner for provision scripts; nil uses sshexec.New.
	SSH func(cfg sshexec.Config) (sshexec.Runner, error)
	// TaskDeadline is how long a task may run before the Application is
	// Stalled with TaskStuck; 0 means DefaultTaskDeadline.
	TaskDeadline time.Duration
	// DriftInterval is how often a settled Application re-reads its config
	// (0: DefaultDriftInterval); DriftReadsPerSecond caps those reads per
	// host (0: DefaultDriftReadsPerSecond).
	DriftInterval       time.Duration
	DriftReadsPerSecond float64
	// Now is the clock failed creates and foreign locks are paced by
	// (nil: the wall clock); tests move it forward.
	Now func() time.Time

	// Per-Application state of this reconciler, each dropped when the
	// Application's deletion is done (forget). What both this controller
	// and the Restore controller need lives on the host's entry instead.
	provisions provisionRuns
	quota      quotas
	converged  sync.Map // UID -> convergeMark
	lockSeen   sync.Map // UID -> lockMark
	// createFailures paces retries of failed creates.
	createFailures createFailures
	wake           chan ctrlEvent
	// workers is MaxConcurrentReconciles, which hostSlots share out.
	workers int

	// migrations remembers failed and blocked migrations.
	migrations migrationFailures
}

// convergeMark remembers the last config pass: the generation it applied,
// when, and which keys Proxmox left pending for a restart.
type convergeMark struct {
	generation  int64
	at          time.Time
	restartKeys []string
	// trusted says the mark was taken from status after a restart, not
	// from a read: the first read is paced (see configPassDue).
	trusted bool
	// seenGeneration is the generation a trusted mark was taken at: a
	// newer one was declared while this process runs, and someone waits.
	seenGeneration int64
	// privileged is what the last config read showed, so a revoked
	// privilege grant stops the passes that do not read the config.
	privileged bool
}

// Reconcile drives an Application towards its spec. Each step returns early
// when it has started something (a task, a status write) or must wait:
//  1. finalizer first, before any Proxmox side effect;
//  2. admission: the host exists and allows this namespace, no other
//     Application claims the same VMID or hostname on that host;
//  3. an in-flight task is polled, never waited for;
//  4. the container is found (status.vmid, the ownership tag, or spec.vmid
//     for adoption) or created;
//  5. its config, disks and power state converge on the spec;
//  6. provision scripts run, and status reports what Proxmox shows.
func (r *ApplicationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	app := &v1alpha1.Application{}
	if err := r.Get(ctx, req.NamespacedName, app); err != nil {
		return ctrl.Result{}, forgetIfGone("Application", req, err)
	}
	if !app.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, app)
	}
	if added, err := addFinalizer(ctx, r.Client, app, ApplicationFinalizer); added || err != nil {
		return ctrl.Result{RequeueAfter: requeueSoon}, err
	}

	before := app.DeepCopy()
	s := &appScope{app: app, before: before}
	res, err := r.reconcileNormal(ctx, s)
	if s.keepStatus && err == nil {
		return res, nil
	}
	if err != nil && !isTransientK8s(err) {
		logf.FromContext(ctx).Error(err, "reconcile failed")
		s.set(progressing(v1alpha1.ReasonProxmoxError, err.Error()))
		res = ctrl.Result{RequeueAfter: 10 * time.Second}
	}
	if perr := r.finish(ctx, before, s); perr != nil {
		return ctrl.Result{}, perr
	}
	if err != nil && isTransientK8s(err) {
		return ctrl.Result{}, err
	}
	return res, nil
}

// appScope carries one reconcile's state.
type appScope struct {
	app *v1alpha1.Application
	// before is the Application as the pass read it: every status write of
	// the pass is a patch from it (see persist).
	before  *v1alpha1.Application
	host    *HostEntry
	tenancy tenancy
	outcome outcome
	// restartRequired lists config keys pending until the next restart.
	restartRequired []string
	// settled is true when the spec was fully applied in this pass.
	settled bool
	// keepStatus: the pass learnt nothing and writes no status.
	keepStatus bool
}

func (s *appScope) set(o outcome) { s.outcome = o }

// persist writes the status the pass has set so far, before something is
// sent that must find it recorded (the VMID before the create, a rollout
// step before its first call). The patch is from the object as the pass
// read it, not from a copy taken here: the apiserver's answer replaces
// app, so a patch of only the latest fields would drop what the pass set
// earlier (the StagedImage it uses, say) from both.
func (r *ApplicationReconciler) persist(ctx context.Context, s *appScope, optimistic bool) error {
	patch := client.MergeFrom(s.before)
	if optimistic {
		patch = client.MergeFromWithOptions(s.before, client.MergeFromWithOptimisticLock{})
	}
	return r.Status().Patch(ctx, s.app, patch)
}

func (r *ApplicationReconciler) reconcileNormal(ctx context.Context, s *appScope) (ctrl.Result, error) {
	if res, ok, err := r.admit(ctx, s); !ok || err != nil {
		return res, err
	}
	release, ok := r.takeHostSlot(s)
	if !ok {
		// Woken when the host frees a slot; the requeue covers a lost wake.
		s.keepStatus = true
		return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
	}
	defer release()
	if o, ok := poolAllowed(s); !ok {
		// Looked at again now and then: a grant added to the host wakes
		// nothing here.
		s.set(o)
		return ctrl.Result{RequeueAfter: time.Minute}, nil
	}
	if r.heldByRestore(s) {
		s.set(progressing(v1alpha1.ReasonRestoring, fmt.Sprintf("a Restore is overwriting container %d; waiting for it", s.app.Status.VMID)))
		return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
	}
	if res, done, err := r.pollTask(ctx, s); done || err != nil {
		return res, err
	}
	ct, res, ok, err := r.findOrCreate(ctx, s)
	if !ok || err != nil {
		return res, err
	}
	if res, done, err := r.rollout(ctx, s, ct); done || err != nil {
		return res, err
	}
	res, err = r.converge(ctx, s, ct)
	if ro := rolloutOf(s.app); ro != nil && s.outcome.ready {
		// The new container is in place; the rollout is not done until the
		// old one is gone, so Ready does not flap on the way.
		s.settled = false
		s.set(rolloutProgress(ro, "the new container is in place; removing the old one next"))
		return ctrl.Result{RequeueAfter: requeueSoon}, err
	}
	return res, err
}

// applicationPassEnd: every change of verdict is an event; failures the
// operator retries by itself are Warnings too.
var applicationPassEnd = passEnd{
	// Most passes of a settled Application change nothing: a PATCH of "{}"
	// still costs two marshals, a merge diff and the decoded answer.
	skipUnchanged: true,
	warning: func(o outcome) bool {
		return o.stalled || o.reason == v1alpha1.ReasonCreateFailed || o.reason == v1alpha1.ReasonProvisionFailed || o.reason == v1alpha1.ReasonTaskFailed
	},
}

// finish ends a pass. observedGeneration follows only a generation applied
// in full (settled) or one that cannot be (stalled).
func (r *ApplicationReconciler) finish(ctx context.Context, before *v1alpha1.Application, s *appScope) error {
	app := s.app
	if s.outcome.reason == "" {
		// A pass that ended early without a verdict (waiting for a fresh
		// listing, retrying a VMID) is still progress, but no news.
		s.outcome = progressing(v1alpha1.ReasonProgressing, "reconciling")
		s.outcome.quiet = true
	}
	if !s.outcome.ready && !s.outcome.stalled && s.host != nil {
		// While a stalled create is retried, every verdict on the way
		// (started, running, waiting for a listing) restates it.
		if o, ok := r.createFailures.retrying(app.UID, createInputsOf(s)); ok {
			s.outcome = o
		}
	}
	setRestartRequired(app, s.restartRequired)
	p := applicationPassEnd
	p.observes = func(o outcome) bool { return s.settled || o.stalled }
	return p.end(ctx, r.Client, r.Recorder, app, before,
		statusOf{conditions: &app.Status.Conditions, observed: &app.Status.ObservedGeneration, was: &before.Status, is: &app.Status}, s.outcome)
}

// ctrlEvent wakes one Application (provision finished, inventory change).
type ctrlEvent = types.NamespacedName

// SetupWithManager registers the controller, its indexes and watches.
func (r *ApplicationReconciler) SetupWithManager(mgr ctrl.Manager, concurrency int) error {
	r.wake = make(chan ctrlEvent, 1024)
	r.workers = max(concurrency, 1)
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(context.Background(), &v1alpha1.Application{}, appHostIndex, func(o client.Object) []string {
		return []string{o.(*v1alpha1.Application).Spec.HostRef.Name}
	}); err != nil {
		return err
	}
	if err := idx.IndexField(context.Background(), &v1alpha1.Application{}, appHostnameIndex, func(o client.Object) []string {
		a := o.(*v1alpha1.Application)
		if h := lxcconfig.ClaimedHostname(a); h != "" {
			return []string{hostnameKey(a.Spec.HostRef.Name, h)}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := idx.IndexField(context.Background(), &v1alpha1.Application{}, appVMIDIndex, func(o client.Object) []string {
		a := o.(*v1alpha1.Application)
		var keys []string
		if a.Status.VMID != 0 {
			keys = append(keys, hostVMIDKey(a.Spec.HostRef.Name, int(a.Status.VMID)))
		}
		if a.Spec.VMID != nil && (a.Status.VMID == 0 || *a.Spec.VMID != a.Status.VMID) {
			keys = append(keys, hostVMIDKey(a.Spec.HostRef.Name, int(*a.Spec.VMID)))
		}
		return keys
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Watches(&v1alpha1.Application{}, newAppEvents()).
		// Only a host's readiness matters here; its status changes on every
		// sync and must not wake every Application.
		Watches(&v1alpha1.ProxmoxHost{}, handler.EnqueueRequestsFromMapFunc(r.appsForHost), builder.WithPredicates(hostReadinessChanged())).
		// allowedNamespaces and grants select namespaces by label: a label
		// change can revoke or restore what a namespace may do.
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.appsInNamespace), builder.WithPredicates(predicate.LabelChangedPredicate{})).
		// Staging finishing (or failing) wakes the Applications waiting for it.
		Watches(&v1alpha1.StagedImage{}, handler.EnqueueRequestsFromMapFunc(r.appsUsingImage)).
		WatchesRawSource(source.Channel(r.containerEvents(mgr), newAppEvents())).
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrency}).
		Named("application").
		Complete(r)
}

func (r *ApplicationReconciler) appsInNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	return r.appRequests(ctx, client.InNamespace(o.GetName()))
}

func hostVMIDKey(host string, vmid int) string { return fmt.Sprintf("%s/%d", host, vmid) }

func (r *ApplicationReconciler) appsUsingImage(ctx context.Context, o client.Object) []reconcile.Request {
	return r.appRequests(ctx, client.MatchingFields{appStagedImageIndex: o.GetName()})
}

func (r *ApplicationReconciler) appsForHost(ctx context.Context, o client.Object) []reconcile.Request {
	return r.appRequests(ctx, client.MatchingFields{appHostIndex: o.GetName()})
}

// appRequests wakes every Application the list options select.
func (r *ApplicationReconciler) appRequests(ctx context.Context, opts ...client.ListOption) []reconcile.Request {
	apps := &v1alpha1.ApplicationList{}
	if err := r.List(ctx, apps, opts...); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(apps.Items))
	for _, a := range apps.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&a)})
	}
	return reqs
}

func (r *ApplicationReconciler) now() time.Time { return nowFrom(r.Now) }
