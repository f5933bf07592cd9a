package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/grants"
	"github.com/pve-operator/pve-operator/internal/proxmox"
)

// tenancy is what one ProxmoxHost allows one namespace: whether it may use
// the host at all, and the grants that apply to it. Every kind resolves it
// on every pass, so a revocation takes effect on the next pass.
type tenancy struct {
	host      *v1alpha1.ProxmoxHost
	namespace string
	grants    []v1alpha1.TenantGrant
	// hostMissing: no ProxmoxHost has the name, or its deletion is being
	// forced (then host is set), which ends in the same. Only deletions act on it
	// (there is nothing left to clean up); tenants are told no more than
	// about a host that excludes them.
	hostMissing bool
}

// resolveTenancy reads the host and what it allows namespace. A missing
// host or a namespace the host does not allow is an outcome to report, with
// ok false; selectors that do not parse match nothing (fail closed).
func resolveTenancy(ctx context.Context, c client.Reader, hostName, namespace string) (tenancy, outcome, bool, error) {
	host := &v1alpha1.ProxmoxHost{}
	if err := c.Get(ctx, client.ObjectKey{Name: hostName}, host); err != nil {
		if apierrors.IsNotFound(err) {
			logf.FromContext(ctx).Info("refused: the referenced ProxmoxHost does not exist", "proxmoxHost", hostName)
			return tenancy{namespace: namespace, hostMissing: true}, hostUnavailable(hostName, namespace), false, nil
		}
		return tenancy{}, outcome{}, false, err
	}
	if forcedDeletion(host) != "" {
		// An admin forced the host's deletion: its containers are being
		// released or left as they are, and nothing may tag or touch them
		// again through it.
		logf.FromContext(ctx).Info("refused: the referenced ProxmoxHost is being deleted by force", "proxmoxHost", hostName)
		return tenancy{host: host, namespace: namespace, hostMissing: true}, hostUnavailable(hostName, namespace), false, nil
	}
	ns := &corev1.Namespace{}
	if err := c.Get(ctx, client.ObjectKey{Name: namespace}, ns); err != nil {
		return tenancy{}, outcome{}, false, err
	}
	t := tenancy{host: host, namespace: namespace}
	gs, allowed := grants.For(host, ns)
	if !allowed {
		logf.FromContext(ctx).Info("refused: the ProxmoxHost's allowedNamespaces excludes the namespace", "proxmoxHost", hostName)
		return t, hostUnavailable(hostName, namespace), false, nil
	}
	t.grants = gs
	return t, outcome{}, true, nil
}

// hostUnavailable is what a namespace is told about a host it may not use,
// whether the host does not exist or excludes it: conditions (and events)
// are readable by the tenant, and telling the two apart would let one list
// the cluster's host names. The operator's log says which it was; its
// context already names the object and so the namespace.
func hostUnavailable(hostName, namespace string) outcome {
	return stalled(v1alpha1.ReasonNamespaceNotAllowed, fmt.Sprintf(
		"ProxmoxHost %q does not exist or does not allow namespace %q (spec.allowedNamespaces); nothing is done on it", hostName, namespace))
}

// privileged reports whether the namespace may run privileged containers.
func (t tenancy) privileged() bool {
	return grants.Privileged(t.grants)
}

// adoption says whether the namespace may adopt ct, and whether it may then
// destroy it on deletion. The reason it may not is the outcome.
func (t tenancy) adoption(ct proxmox.ContainerSummary) (allowDelete bool, o outcome, ok bool) {
	if ct.Template {
		return false, stalled(v1alpha1.ReasonAdoptionNotAllowed, fmt.Sprintf(
			"container %d is a template; templates are never adopted (clone it instead); nothing was touched", ct.VMID)), false
	}
	for _, g := range t.grants {
		if g.Adopt != nil && grants.Adopts(g.Adopt, ct) {
			ok = true
			allowDelete = allowDelete || g.Adopt.AllowDelete
		}
	}
	if !ok {
		return false, stalled(v1alpha1.ReasonAdoptionNotAllowed, fmt.Sprintf(
			"ProxmoxHost %q grants namespace %q no adoption of container %d (spec.grants[].adopt by VMID range, pool or tag); nothing was touched",
			t.host.Name, t.namespace, ct.VMID)), false
	}
	return allowDelete, outcome{}, true
}

// privilegeDenied is the outcome for a privileged container without a grant.
func (t tenancy) privilegeDenied(what string) outcome {
	return stalled(v1alpha1.ReasonPrivilegeNotAllowed, fmt.Sprintf(
		"%s is privileged (root in it is root on the node); ProxmoxHost %q grants namespace %q no privileged containers (spec.grants[].privileged); nothing was touched",
		what, t.host.Name, t.namespace))
}

// wantsPrivileged reports whether the spec asks for a privileged container.
func wantsPrivileged(app *v1alpha1.Application) bool {
	return app.Spec.Unprivileged != nil && !*app.Spec.Unprivileged
}
