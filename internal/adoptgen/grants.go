package adoptgen

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	tenancy "github.com/pve-operator/pve-operator/internal/grants"
)

// GrantNotes says, per result, what the operator would stall on for want
// of a grant of host to ns: no adoption grant covering the container
// (AdoptionNotAllowed) or, for a privileged one, no privileged grant. It
// uses the operator's own rules (internal/grants) so that the dry run
// tells before anything is applied; the operator stays the judge.
func GrantNotes(host *v1alpha1.ProxmoxHost, ns *corev1.Namespace, rs []Result) {
	grants, allowed := tenancy.For(host, ns)
	if !allowed {
		for i := range rs {
			rs[i].Notes = append(rs[i].Notes, fmt.Sprintf("ProxmoxHost %s does not allow namespace %s (spec.allowedNamespaces): the Application would stall", host.Name, ns.Name))
		}
		return
	}
	privileged := tenancy.Privileged(grants)
	for i, r := range rs {
		ct := r.Summary
		if !slices.ContainsFunc(grants, func(g v1alpha1.TenantGrant) bool { return g.Adopt != nil && tenancy.Adopts(g.Adopt, ct) }) {
			rs[i].Notes = append(rs[i].Notes, fmt.Sprintf("no grant of ProxmoxHost %s lets namespace %s adopt container %d (spec.grants[].adopt): the Application would stall with AdoptionNotAllowed", host.Name, ns.Name, ct.VMID))
		}
		if u := r.App.Spec.Unprivileged; u != nil && !*u && !privileged {
			rs[i].Notes = append(rs[i].Notes, fmt.Sprintf("no grant of ProxmoxHost %s lets namespace %s run privileged containers (spec.grants[].privileged): the Application would stall with PrivilegeNotAllowed", host.Name, ns.Name))
		}
	}
}
