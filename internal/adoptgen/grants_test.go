package adoptgen

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/proxmox"
)

func TestGrantNotesTellWhatTheOperatorWouldStallOn(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "legacy", Labels: map[string]string{corev1.LabelMetadataName: "legacy"}}}
	sel := metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: "legacy"}}
	host := &v1alpha1.ProxmoxHost{ObjectMeta: metav1.ObjectMeta{Name: "pve"}}
	host.Spec.Grants = []v1alpha1.TenantGrant{
		{NamespaceSelector: sel, Adopt: &v1alpha1.AdoptionGrant{VMIDRanges: []v1alpha1.VMIDRange{{From: 100, To: 199}}, Pools: []string{"team"}, Tags: []string{"handover"}}},
		{NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: "other"}}, Privileged: true},
	}
	cases := []struct {
		name         string
		ct           proxmox.ContainerSummary
		unprivileged bool
		want         string
	}{
		{"a container in the granted range needs no note", proxmox.ContainerSummary{VMID: 150}, true, ""},
		{"a member of a granted pool needs no note", proxmox.ContainerSummary{VMID: 500, Pool: "team"}, true, ""},
		{"a container with a granted tag needs no note", proxmox.ContainerSummary{VMID: 501, Tags: []string{"HandOver"}}, true, ""},
		{"a container no grant covers is noted", proxmox.ContainerSummary{VMID: 502}, true, "AdoptionNotAllowed"},
		{"a privileged container without a privileged grant is noted", proxmox.ContainerSummary{VMID: 120}, false, "PrivilegeNotAllowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app := &v1alpha1.Application{Spec: v1alpha1.ApplicationSpec{VMID: ptr.To(int32(tc.ct.VMID)), Unprivileged: ptr.To(tc.unprivileged)}}
			rs := []Result{{App: app, Summary: tc.ct}}
			GrantNotes(host, ns, rs)
			switch {
			case tc.want == "" && len(rs[0].Notes) > 0:
				t.Errorf("unexpected notes %v", rs[0].Notes)
			case tc.want != "" && !slices.ContainsFunc(rs[0].Notes, func(n string) bool { return strings.Contains(n, tc.want) }):
				t.Errorf("no note with %s: %v", tc.want, rs[0].Notes)
			}
		})
	}
}
