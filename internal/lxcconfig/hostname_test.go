package lxcconfig

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

func TestHostnameOwnership(t *testing.T) {
	legacy := map[string]string{"hostname": "legacy-db"}
	for _, tt := range []struct {
		name     string
		app      v1alpha1.Application
		manages  bool
		claimed  string
		makesOne string
	}{
		{
			name:    "a container the operator creates is named after the Application",
			app:     v1alpha1.Application{},
			manages: true, claimed: "web1", makesOne: "web1",
		},
		{
			name:    "a declared hostname wins over the Application's name",
			app:     v1alpha1.Application{Spec: v1alpha1.ApplicationSpec{Hostname: "www"}},
			manages: true, claimed: "www", makesOne: "www",
		},
		{
			name:    "an adopted container keeps its own name and claims it",
			app:     v1alpha1.Application{Spec: v1alpha1.ApplicationSpec{Adopt: true}, Status: v1alpha1.ApplicationStatus{Adopted: true, Config: legacy}},
			manages: false, claimed: "legacy-db", makesOne: "web1",
		},
		{
			name:    "an adopted container not read yet claims no name",
			app:     v1alpha1.Application{Spec: v1alpha1.ApplicationSpec{Adopt: true}},
			manages: false, claimed: "", makesOne: "web1",
		},
		{
			name:    "an adoption whose status was lost is still known by spec.adopt",
			app:     v1alpha1.Application{Spec: v1alpha1.ApplicationSpec{Adopt: true}, Status: v1alpha1.ApplicationStatus{Config: legacy}},
			manages: false, claimed: "legacy-db", makesOne: "web1",
		},
		{
			name:    "an adopted container with a declared hostname converges to it",
			app:     v1alpha1.Application{Spec: v1alpha1.ApplicationSpec{Adopt: true, Hostname: "db"}, Status: v1alpha1.ApplicationStatus{Adopted: true, Config: legacy}},
			manages: true, claimed: "db", makesOne: "db",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.app
			a.ObjectMeta = metav1.ObjectMeta{Name: "web1", UID: uid}
			if got := ManagesHostname(&a); got != tt.manages {
				t.Errorf("ManagesHostname = %v, want %v", got, tt.manages)
			}
			if got := ClaimedHostname(&a); got != tt.claimed {
				t.Errorf("ClaimedHostname = %q, want %q", got, tt.claimed)
			}
			// A container the operator makes (a rollout's replacement, say)
			// is always named, adopted or not.
			if got := RestoreParams(&a)[0]; got.Key != "hostname" || got.Value != tt.makesOne {
				t.Errorf("RestoreParams start with %s=%q, want hostname=%q", got.Key, got.Value, tt.makesOne)
			}
		})
	}
}
