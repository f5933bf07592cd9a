package controllers

import (
	"context"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// TestRefusedHostsReadAlike: a tenant must not tell a host that does not
// exist from one that excludes its namespace, or it could list the
// cluster's host names one guess at a time.
func TestRefusedHostsReadAlike(t *testing.T) {
	team := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", Labels: map[string]string{corev1.LabelMetadataName: "team-a"}}}
	hostAllowing := func(sel *metav1.LabelSelector) *v1alpha1.ProxmoxHost {
		return &v1alpha1.ProxmoxHost{ObjectMeta: metav1.ObjectMeta{Name: "pve"}, Spec: v1alpha1.ProxmoxHostSpec{AllowedNamespaces: sel}}
	}
	want := hostUnavailable("pve", "team-a")
	for _, tt := range []struct {
		name    string
		host    *v1alpha1.ProxmoxHost
		missing bool
	}{
		{name: "a host that does not exist", missing: true},
		{name: "a host whose allowedNamespaces excludes the namespace", host: hostAllowing(&metav1.LabelSelector{MatchLabels: map[string]string{"proxmox-allowed": "true"}})},
		{name: "a host whose selector does not parse", host: hostAllowing(&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "x", Operator: "Bogus"}}})},
	} {
		t.Run(tt.name+" is refused with the same condition", func(t *testing.T) {
			objs := []client.Object{team}
			if tt.host != nil {
				objs = append(objs, tt.host)
			}
			tn, o, ok, err := resolveTenancy(context.Background(), fakeReader(t, objs...), "pve", "team-a")
			if err != nil || ok {
				t.Fatalf("resolveTenancy = ok %v, err %v; want a refusal", ok, err)
			}
			if o != want {
				t.Errorf("outcome = %+v, want %+v", o, want)
			}
			if tn.hostMissing != tt.missing {
				t.Errorf("hostMissing = %v, want %v (deletions need to know)", tn.hostMissing, tt.missing)
			}
			var got, same []metav1.Condition
			setConditions(&got, 1, o)
			setConditions(&same, 1, want)
			for i := range got {
				got[i].LastTransitionTime = metav1.Time{}
			}
			for i := range same {
				same[i].LastTransitionTime = metav1.Time{}
			}
			if !reflect.DeepEqual(got, same) {
				t.Errorf("conditions = %+v, want %+v", got, same)
			}
		})
	}
	t.Run("an allowed namespace is not refused", func(t *testing.T) {
		_, _, ok, err := resolveTenancy(context.Background(), fakeReader(t, team, hostAllowing(nil)), "pve", "team-a")
		if err != nil || !ok {
			t.Fatalf("resolveTenancy = ok %v, err %v; want it allowed", ok, err)
		}
	})
}

func fakeReader(t *testing.T, objs ...client.Object) client.Reader {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	return fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()
}
