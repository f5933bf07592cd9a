// Package grants holds the rules of a ProxmoxHost's tenancy that more than
// the operator needs: which grants apply to a namespace and what an
// adoption grant covers. The operator decides with them, and kubectl-pve
// warns with them before anything is applied, so both judge alike.
package grants

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/proxmox"
)

// For says whether host lets ns use it at all (spec.allowedNamespaces; none
// set allows every namespace) and, if so, the grants whose selector picks
// ns. A selector that does not parse selects nothing.
func For(host *v1alpha1.ProxmoxHost, ns *corev1.Namespace) ([]v1alpha1.TenantGrant, bool) {
	if !selects(host.Spec.AllowedNamespaces, ns, true) {
		return nil, false
	}
	var out []v1alpha1.TenantGrant
	for _, g := range host.Spec.Grants {
		if selects(&g.NamespaceSelector, ns, false) {
			out = append(out, g)
		}
	}
	return out, true
}

func selects(sel *metav1.LabelSelector, ns *corev1.Namespace, ifNil bool) bool {
	if sel == nil {
		return ifNil
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(labels.Set(ns.Labels))
}

// Privileged reports whether any of the grants allows privileged containers.
func Privileged(gs []v1alpha1.TenantGrant) bool {
	return slices.ContainsFunc(gs, func(g v1alpha1.TenantGrant) bool { return g.Privileged })
}

// Adopts reports whether an adoption grant covers ct: by VMID range, by
// Proxmox pool, or by a tag (case-insensitive, as PVE compares tags).
func Adopts(g *v1alpha1.AdoptionGrant, ct proxmox.ContainerSummary) bool {
	for _, r := range g.VMIDRanges {
		if ct.VMID >= int(r.From) && ct.VMID <= int(r.To) {
			return true
		}
	}
	if ct.Pool != "" && slices.Contains(g.Pools, ct.Pool) {
		return true
	}
	for _, want := range g.Tags {
		if slices.ContainsFunc(ct.Tags, func(have string) bool { return strings.EqualFold(have, want) }) {
			return true
		}
	}
	return false
}
