package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/proxmox"
	"github.com/pve-operator/pve-operator/internal/redact"
)

// rootUser is the only principal PVE lets make root-only changes: not a
// token of it (root@pam!name), not another user with every privilege.
const rootUser = "root@pam"

// rootRetry is how soon a failed root login is tried again when nothing
// changed: each attempt is a PAM login on the node, and a wrong password
// needs a person anyway (a Secret or spec change retries at once).
const rootRetry = 5 * time.Minute

// rootAccess is a host's second client, logged in as root@pam, that the
// Application controller uses only for the changes PVE refuses to every
// other principal. Its state is the last login check.
type rootAccess struct {
	client      *proxmox.APIClient
	fingerprint string
	checked     time.Time
	ok          bool
	reason      string
	message     string
}

// Root returns the host's root@pam client while root credentials are
// configured and their last check worked. Otherwise it returns why not,
// as a sentence for a RootRequired message.
func (e *HostEntry) Root() (proxmox.Client, string, bool) {
	e.rootMu.Lock()
	defer e.rootMu.Unlock()
	switch {
	case e.root == nil:
		// Not configured, or added and not yet checked: the check's
		// condition change wakes the Applications waiting here.
		return nil, fmt.Sprintf("ProxmoxHost %q has no spec.rootCredentialsRef", e.Name), false
	case e.root.client == nil || !e.root.ok:
		return nil, fmt.Sprintf("the root credentials of ProxmoxHost %q do not work (%s: %s)", e.Name, e.root.reason, e.root.message), false
	}
	return e.root.client, "", true
}

// setRoot replaces the root access, closing a client it drops.
func (e *HostEntry) setRoot(ra *rootAccess) {
	e.rootMu.Lock()
	defer e.rootMu.Unlock()
	if e.root != nil && e.root.client != nil && (ra == nil || ra.client != e.root.client) {
		e.root.client.Close()
	}
	e.root = ra
}

// currentRoot returns a copy of the root access state, if any.
func (e *HostEntry) currentRoot() (rootAccess, bool) {
	e.rootMu.Lock()
	defer e.rootMu.Unlock()
	if e.root == nil {
		return rootAccess{}, false
	}
	return *e.root, true
}

// takeRoot hands the root access over to a rebuilt entry: a new token
// client does not invalidate the root login.
func (e *HostEntry) takeRoot() *rootAccess {
	e.rootMu.Lock()
	defer e.rootMu.Unlock()
	ra := e.root
	e.root = nil
	return ra
}

// syncRoot keeps the host's root access in step with
// spec.rootCredentialsRef and reports it in the RootCredentials condition.
// cfg is the token client's config: the root client differs only in its
// credentials. A failing root login never touches Ready: ordinary work
// goes on with the token, and only root-only changes wait.
func (r *ProxmoxHostReconciler) syncRoot(ctx context.Context, host *v1alpha1.ProxmoxHost, entry *HostEntry, cfg proxmox.Config) {
	if host.Spec.RootCredentialsRef == nil {
		entry.setRoot(nil)
		meta.RemoveStatusCondition(&host.Status.Conditions, v1alpha1.ConditionRootCredentials)
		return
	}
	creds, reason, msg, ok := r.rootCredentials(ctx, host)
	if !ok {
		entry.setRoot(&rootAccess{reason: reason, message: msg, checked: r.now()})
		r.setRootCondition(host, false, reason, msg)
		return
	}
	cfg.Credentials = creds
	fp := proxmox.Fingerprint(cfg, "root")
	cur, had := entry.currentRoot()
	if had && cur.fingerprint == fp && r.now().Sub(cur.checked) < rootRecheck(cur, syncInterval(host)) {
		r.setRootCondition(host, cur.ok, cur.reason, cur.message)
		return
	}
	ra := r.checkRoot(ctx, host, cur, fp, cfg)
	entry.setRoot(ra)
	r.setRootCondition(host, ra.ok, ra.reason, ra.message)
}

// rootRecheck is how long a root check stands: a working login is
// confirmed once per sync interval (one GET with the ticket it holds), a
// failed one retried after rootRetry.
func rootRecheck(cur rootAccess, interval time.Duration) time.Duration {
	if cur.ok {
		return interval
	}
	return rootRetry
}

// checkRoot logs in with the root credentials (reusing cur's client when
// its fingerprint is fp) and returns the resulting access.
func (r *ProxmoxHostReconciler) checkRoot(ctx context.Context, host *v1alpha1.ProxmoxHost, cur rootAccess, fp string, cfg proxmox.Config) *rootAccess {
	ra := &rootAccess{fingerprint: fp, checked: r.now(), client: cur.client}
	if cur.fingerprint != fp || ra.client == nil {
		c, err := proxmox.New(cfg)
		if err != nil {
			ra.client, ra.reason, ra.message = nil, v1alpha1.ReasonCredentialsInvalid, "cannot build a Proxmox client for the root credentials: "+err.Error()
			return ra
		}
		ra.client = c
	}
	if _, err := ra.client.Version(ctx); err != nil {
		ra.reason, ra.message = classifyRootError(host, err)
		return ra
	}
	ref := host.Spec.RootCredentialsRef
	ra.ok, ra.reason = true, v1alpha1.ReasonConnected
	ra.message = fmt.Sprintf("logged in as root@pam with Secret %s/%s; used only for bind mounts, devices, hookscripts and feature flags", ref.Namespace, ref.Name)
	return ra
}

// rootCredentials reads the Secret named by rootCredentialsRef: the keys
// username (which must be root@pam) and password. Messages name the Secret
// and the keys, never a value.
func (r *ProxmoxHostReconciler) rootCredentials(ctx context.Context, host *v1alpha1.ProxmoxHost) (proxmox.Credentials, string, string, bool) {
	ref := *host.Spec.RootCredentialsRef
	secret, o, ok := r.credentialsSecret(ctx, ref, "rootCredentialsRef")
	if !ok {
		return proxmox.Credentials{}, o.reason, o.message, false
	}
	c := proxmox.Credentials{Username: string(secret.Data["username"]), Password: string(secret.Data["password"])}
	redact.Add(c.Password)
	switch {
	case c.Username == "" || c.Password == "":
		return proxmox.Credentials{}, v1alpha1.ReasonCredentialsInvalid,
			fmt.Sprintf("Secret %s/%s (rootCredentialsRef) must hold username and password", ref.Namespace, ref.Name), false
	case c.Username != rootUser:
		// A token or another user would fail every root-only change with a
		// 403; say so now, not at the first bind mount.
		return proxmox.Credentials{}, v1alpha1.ReasonCredentialsInvalid,
			fmt.Sprintf("Secret %s/%s (rootCredentialsRef) names user %q: only root@pam may make root-only changes, so username must be root@pam", ref.Namespace, ref.Name, c.Username), false
	}
	return c, "", "", true
}

// classifyRootError is classifyHostError for the root login: a rejected
// password names the root Secret, not the token's.
func classifyRootError(host *v1alpha1.ProxmoxHost, err error) (string, string) {
	if proxmox.IsUnauthorized(err) {
		ref := host.Spec.RootCredentialsRef
		return v1alpha1.ReasonAuthenticationFailed, fmt.Sprintf("Proxmox at %s rejected the root@pam password in Secret %s/%s", host.Spec.Endpoint, ref.Namespace, ref.Name)
	}
	return classifyHostError(host, err)
}

// setRootCondition writes RootCredentials and records an event when its
// verdict changes: a Warning when root-only changes stop being possible.
func (r *ProxmoxHostReconciler) setRootCondition(host *v1alpha1.ProxmoxHost, ok bool, reason, msg string) {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	prev := meta.FindStatusCondition(host.Status.Conditions, v1alpha1.ConditionRootCredentials)
	changed := prev == nil || prev.Status != status || prev.Reason != reason
	meta.SetStatusCondition(&host.Status.Conditions, metav1.Condition{
		Type: v1alpha1.ConditionRootCredentials, Status: status, Reason: reason, Message: msg, ObservedGeneration: host.Generation,
	})
	if !changed || r.Recorder == nil {
		return
	}
	kind := corev1.EventTypeNormal
	if !ok {
		kind = corev1.EventTypeWarning
	}
	r.Recorder.Eventf(host, nil, kind, reason, hostAction, "root credentials: %s", msg)
}

// rootCredentialsChanged reports whether a host's RootCredentials verdict
// differs between two versions of it, so Applications waiting with
// RootRequired hear when root access starts (or stops) working.
func rootCredentialsChanged(o, n *v1alpha1.ProxmoxHost) bool {
	a := meta.FindStatusCondition(o.Status.Conditions, v1alpha1.ConditionRootCredentials)
	b := meta.FindStatusCondition(n.Status.Conditions, v1alpha1.ConditionRootCredentials)
	return (a == nil) != (b == nil) || a != nil && a.Status != b.Status
}

// rootRequired is the verdict for a change with root-only keys when the
// host has no working root access: the keys, why, and what to do.
func rootRequired(s *appScope, keys []string, what, why string) outcome {
	return stalled(v1alpha1.ReasonRootRequired, fmt.Sprintf(
		"%s: %s can only be set by root@pam (Proxmox refuses them to API tokens), and %s; add a Secret with username root@pam and password as spec.rootCredentialsRef of ProxmoxHost %q, or remove them from the spec; nothing was sent",
		what, strings.Join(keys, ", "), why, s.host.Name))
}

// clientFor returns the client for a create or config change with the
// given root-only keys: the token's when there are none, else the root
// client, else the RootRequired verdict (before anything is sent).
func clientFor(s *appScope, rootKeys []string, what string) (proxmox.Client, outcome, bool) {
	if len(rootKeys) == 0 {
		return s.host.Client, outcome{}, true
	}
	c, why, ok := s.host.Root()
	if !ok {
		return nil, rootRequired(s, rootKeys, what, why), false
	}
	return c, outcome{}, true
}
