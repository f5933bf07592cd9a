package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	"github.com/pve-operator/pve-operator/internal/hostconfig"
	"github.com/pve-operator/pve-operator/internal/proxmox"
	"github.com/pve-operator/pve-operator/internal/redact"
)

// Index of ProxmoxHosts by the Secrets they reference ("namespace/name"),
// so a rotated Secret wakes exactly the hosts that use it.
const hostSecretIndex = "spec.secretRefs"

// ProxmoxHostReconciler connects to each ProxmoxHost, keeps its inventory
// fresh and reports what it sees in status.
type ProxmoxHostReconciler struct {
	client.Client
	Hosts    *Hosts
	Recorder events.EventRecorder
	// CredentialsNamespace, when set, is the only namespace credentials may come from.
	CredentialsNamespace string
	// Proxmox client tuning applied to every host.
	Timeout         time.Duration
	QPS             float64
	Burst           int
	MaxTasksPerHost int
	// Now is the clock; tests may replace it.
	Now func() time.Time

	// failedSyncs counts each host's failed syncs in a row (name -> int),
	// so an outage is retried with exponential backoff.
	failedSyncs sync.Map
}

// Reconcile connects to the host and refreshes its inventory and status:
//  1. read the credentials Secret (a missing or malformed one stalls the host);
//  2. get the cached client, rebuilt only when the spec or Secret changed;
//  3. list the host once per sync interval (or sooner when asked) and ask its version;
//  4. check the root@pam credentials, if any (RootCredentials, apart from Ready);
//  5. write version, nodes, storages and container counts, and the conditions.
func (r *ProxmoxHostReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	host := &v1alpha1.ProxmoxHost{}
	if err := r.Get(ctx, req.NamespacedName, host); err != nil {
		if apierrors.IsNotFound(err) {
			r.Hosts.forget(req.Name)
			r.failedSyncs.Delete(req.Name)
			forgetHostMetrics(req.Name)
			forgetObjectMetrics("ProxmoxHost", "", req.Name)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	users, err := r.usersOf(ctx, host.Name)
	if err != nil {
		return ctrl.Result{}, err
	}
	if gone, err := r.guardDeletion(ctx, host, users); gone || err != nil {
		return ctrl.Result{}, err
	}
	before := host.DeepCopy()
	result, o := r.reconcile(ctx, host)
	if setInsecureTLSCondition(&host.Status.Conditions, host) {
		r.event(host, corev1.EventTypeWarning, v1alpha1.ReasonInsecureSkipVerify, insecureTLSMessage)
	}
	if gone, err := r.reportUse(ctx, host, users, o.ready); gone || err != nil {
		return ctrl.Result{}, err
	}
	st := statusOf{conditions: &host.Status.Conditions, observed: &host.Status.ObservedGeneration, was: &before.Status, is: &host.Status}
	if err := hostPassEnd.end(ctx, r.Client, r.Recorder, host, before, st, o); err != nil {
		return ctrl.Result{}, err
	}
	return result, nil
}

// reportUse sets InUse and carries out a deletion forced with Release.
// gone is true once the host's finalizer is off.
func (r *ProxmoxHostReconciler) reportUse(ctx context.Context, host *v1alpha1.ProxmoxHost, u hostUsers, ready bool) (gone bool, err error) {
	releasing := ""
	if !u.none() && forcedDeletion(host) == forceRelease {
		if gone, releasing, err = r.releaseContainers(ctx, host, u, ready); gone || err != nil {
			return gone, err
		}
	}
	reason, msg := inUseVerdict(host, u, releasing)
	if setInUseCondition(host, reason, msg) && reason == v1alpha1.ReasonDeletionBlocked {
		r.event(host, corev1.EventTypeWarning, reason, msg)
	}
	return false, nil
}

// hostAction is the action of a host's events: each pass syncs it.
const hostAction = "Sync"

// hostPassEnd: every change of verdict is an event, a Warning unless the
// host is Ready; every pass reads the whole spec, so observedGeneration
// always follows; status changes each sync, so it is always patched.
var hostPassEnd = passEnd{
	warning:  func(o outcome) bool { return !o.ready },
	action:   hostAction,
	observes: func(outcome) bool { return true },
}

func (r *ProxmoxHostReconciler) reconcile(ctx context.Context, host *v1alpha1.ProxmoxHost) (ctrl.Result, outcome) {
	interval := syncInterval(host)
	creds, secretVersion, o, ok := r.credentials(ctx, host)
	if !ok {
		// A Secret watch wakes us when it appears; the periodic retry covers
		// RBAC or cache trouble.
		return ctrl.Result{RequeueAfter: interval}, o
	}
	cfg := hostconfig.Config(host.Spec, creds)
	cfg.Timeout = r.Timeout
	cfg.RateLimit = proxmox.RateLimit{QPS: r.QPS, Burst: r.Burst}
	cfg.MaxConcurrentTasks = r.MaxTasksPerHost
	cfg.Observe = proxmoxObserver(host.Name)
	entry, err := r.Hosts.connect(host, fmt.Sprintf("%d/%s", host.Generation, secretVersion), cfg)
	if err != nil {
		return ctrl.Result{}, stalled(v1alpha1.ReasonCredentialsInvalid, "cannot build a Proxmox client from the spec: "+err.Error())
	}
	next, err := entry.refreshIfDue(ctx, interval, r.now())
	if err == nil && (host.Status.Version == "" || entry.versionDue(interval, r.now())) {
		var version proxmox.Version
		if version, err = entry.Client.Version(ctx); err == nil {
			host.Status.Version = version.Version
		}
	}
	if err != nil {
		reason, msg := classifyHostError(host, err)
		logf.FromContext(ctx).Info("Proxmox host not reachable", "reason", reason, "message", msg)
		// Rejected credentials, an untrusted certificate or a missing
		// privilege need a person (a Secret or spec change wakes us at
		// once; a fix made in Proxmox is found on the sync interval: one
		// request per host, cheap enough). Connection problems heal by
		// themselves: back off exponentially, so an outage costs few
		// requests and a short blip is over in seconds.
		if classifyFailure(err) == failureNeedsPerson {
			return ctrl.Result{RequeueAfter: min(interval, 30*time.Second)}, stalled(reason, msg)
		}
		return ctrl.Result{RequeueAfter: r.syncFailed(host.Name)}, progressing(reason, msg)
	}
	r.failedSyncs.Delete(host.Name)
	r.syncRoot(ctx, host, entry, cfg)
	fillInventoryStatus(&host.Status, entry.Inventory.Snapshot())
	snap := entry.Inventory.Snapshot()
	setContainerMetrics(host.Name, snap)
	if len(snap.Nodes) == 0 {
		// PVE filters listings by privilege instead of refusing them: a
		// token without Sys.Audit sees an empty cluster, never a 403.
		return ctrl.Result{RequeueAfter: interval}, progressing(v1alpha1.ReasonForbidden,
			"the credentials can see no nodes: grant the token Sys.Audit on /nodes (e.g. the PVEAuditor role) and VM.Audit on /vms")
	}
	return ctrl.Result{RequeueAfter: next}, readyOutcome(v1alpha1.ReasonConnected,
		fmt.Sprintf("connected to Proxmox VE %s: %d nodes, %d containers", host.Status.Version, len(snap.Nodes), len(snap.Containers)))
}

// credentials reads the Secret named by credentialsRef. Messages name the
// Secret and the missing keys, never a value.
func (r *ProxmoxHostReconciler) credentials(ctx context.Context, host *v1alpha1.ProxmoxHost) (proxmox.Credentials, string, outcome, bool) {
	ref := host.Spec.CredentialsRef
	secret, o, ok := r.credentialsSecret(ctx, ref, "")
	if !ok {
		return proxmox.Credentials{}, "", o, false
	}
	c := hostconfig.Credentials(secret.Data)
	redact.Add(c.TokenSecret, c.Password)
	token := c.TokenID != "" && c.TokenSecret != ""
	user := c.Username != "" && c.Password != ""
	if !token && !user {
		return proxmox.Credentials{}, "", stalled(v1alpha1.ReasonCredentialsInvalid,
			fmt.Sprintf("Secret %s/%s must hold tokenID and tokenSecret, or username and password", ref.Namespace, ref.Name)), false
	}
	return c, secret.ResourceVersion, outcome{}, true
}

// credentialsSecret reads a Secret a ProxmoxHost references, only from the
// operator's credentials namespace when one is set. field, when not empty,
// names the reference in messages (e.g. "rootCredentialsRef").
func (r *ProxmoxHostReconciler) credentialsSecret(ctx context.Context, ref v1alpha1.SecretReference, field string) (*corev1.Secret, outcome, bool) {
	what, of := "credentials", ""
	if field != "" {
		what, of = "root credentials", " ("+field+")"
	}
	if r.CredentialsNamespace != "" && ref.Namespace != r.CredentialsNamespace {
		return nil, stalled(v1alpha1.ReasonCredentialsNotFound,
			fmt.Sprintf("%s must be in namespace %q (the operator's --credentials-namespace), not %q", what, r.CredentialsNamespace, ref.Namespace)), false
	}
	secret := &corev1.Secret{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, stalled(v1alpha1.ReasonCredentialsNotFound, fmt.Sprintf("Secret %s/%s%s not found", ref.Namespace, ref.Name, of)), false
		}
		return nil, progressing(v1alpha1.ReasonCredentialsNotFound,
			fmt.Sprintf("cannot read Secret %s/%s%s: %s", ref.Namespace, ref.Name, of, apierrors.ReasonForError(err))), false
	}
	return secret, outcome{}, true
}

// classifyHostError maps a typed Proxmox error to a condition reason and a
// message safe to show: the client guarantees its errors carry no secrets.
func classifyHostError(host *v1alpha1.ProxmoxHost, err error) (string, string) {
	ep := host.Spec.Endpoint
	ref := host.Spec.CredentialsRef
	switch {
	case proxmox.IsUnauthorized(err):
		return v1alpha1.ReasonAuthenticationFailed, fmt.Sprintf("Proxmox at %s rejected the credentials in Secret %s/%s", ep, ref.Namespace, ref.Name)
	case proxmox.IsForbidden(err):
		return v1alpha1.ReasonForbidden, fmt.Sprintf("the credentials lack a privilege on %s: %v", ep, err)
	case proxmox.IsTLS(err):
		return v1alpha1.ReasonTLSVerificationFailed, tlsFailureMessage(ep, err)
	case proxmox.IsUnreachable(err):
		return v1alpha1.ReasonUnreachable, fmt.Sprintf("cannot reach %s: %v", ep, err)
	}
	return v1alpha1.ReasonProxmoxError, fmt.Sprintf("Proxmox at %s answered with an error: %v", ep, err)
}

// tlsFailureMessage names both fingerprints on a pin mismatch: they are
// public facts about certificates, and the presented one is what an admin
// needs after a certificate renewal.
func tlsFailureMessage(ep string, err error) string {
	var pin *proxmox.FingerprintMismatchError
	if errors.As(err, &pin) {
		return fmt.Sprintf("the TLS certificate of %s differs from the pinned one: it has SHA-256 fingerprint %s, spec.tls.certificateFingerprint pins %s (if the certificate was renewed, pin the new fingerprint)",
			ep, pin.Presented, pin.Pinned)
	}
	return fmt.Sprintf("cannot verify the TLS certificate of %s (set spec.tls.caBundle to its CA, or pin its SHA-256 fingerprint in spec.tls.certificateFingerprint): %v", ep, err)
}

// syncFailed counts a failed sync of host and returns the wait before
// the next one.
func (r *ProxmoxHostReconciler) syncFailed(host string) time.Duration {
	n := 1
	if v, ok := r.failedSyncs.Load(host); ok {
		n = v.(int) + 1
	}
	r.failedSyncs.Store(host, n)
	return backoff(n)
}

func (r *ProxmoxHostReconciler) now() time.Time { return nowFrom(r.Now) }

func syncInterval(host *v1alpha1.ProxmoxHost) time.Duration {
	if host.Spec.SyncInterval != nil && host.Spec.SyncInterval.Duration > 0 {
		return host.Spec.SyncInterval.Duration
	}
	return 30 * time.Second
}

// SetupWithManager registers the controller, its Secret index and watches.
func (r *ProxmoxHostReconciler) SetupWithManager(mgr ctrl.Manager, concurrency int) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.ProxmoxHost{}, hostSecretIndex, func(o client.Object) []string {
		h := o.(*v1alpha1.ProxmoxHost)
		refs := []string{h.Spec.CredentialsRef.Namespace + "/" + h.Spec.CredentialsRef.Name}
		if h.Spec.SSH != nil {
			refs = append(refs, h.Spec.SSH.CredentialsRef.Namespace+"/"+h.Spec.SSH.CredentialsRef.Name)
		}
		if rc := h.Spec.RootCredentialsRef; rc != nil {
			refs = append(refs, rc.Namespace+"/"+rc.Name)
		}
		return refs
	}); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.Backup{}, backupHostIndex, func(o client.Object) []string {
		if h := o.GetAnnotations()[AnnotationBackupHost]; h != "" {
			return []string{h}
		}
		return nil
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		// A deletion (a deletionTimestamp is not a new generation) or a
		// force-delete annotation must be acted on at once.
		For(&v1alpha1.ProxmoxHost{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		// Metadata only: the operator never holds every Secret's data in memory.
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.hostsForSecret), builder.OnlyMetadata).
		Watches(&v1alpha1.Application{}, r.onUserDeleted(func(o client.Object) string { return o.(*v1alpha1.Application).Spec.HostRef.Name })).
		Watches(&v1alpha1.Backup{}, r.onUserDeleted(func(o client.Object) string { return o.GetAnnotations()[AnnotationBackupHost] })).
		Watches(&v1alpha1.StagedImage{}, r.onUserDeleted(func(o client.Object) string { return o.(*v1alpha1.StagedImage).Spec.HostRef.Name })).
		WatchesRawSource(source.Channel(r.Hosts.refresh, &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrency}).
		Named("proxmoxhost").
		Complete(r)
}

func (r *ProxmoxHostReconciler) hostsForSecret(ctx context.Context, o client.Object) []reconcile.Request {
	hosts := &v1alpha1.ProxmoxHostList{}
	if err := r.List(ctx, hosts, client.MatchingFields{hostSecretIndex: o.GetNamespace() + "/" + o.GetName()}); err != nil {
		logf.FromContext(ctx).Error(err, "list hosts for Secret", "secret", client.ObjectKeyFromObject(o))
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(hosts.Items))
	for _, h := range hosts.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: h.Name}})
	}
	return reqs
}
