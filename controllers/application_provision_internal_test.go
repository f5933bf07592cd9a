package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// A pass after the status write may read a cache without it: the finished
// run must still be there, or the script runs a second time.
func TestProvisionResultOutlivesAStaleCache(t *testing.T) {
	r := &ApplicationReconciler{}
	uid := types.UID("u1")
	run, _ := r.provisions.start(uid, "h1")
	finished := metav1.NewTime(time.Date(2026, 12, 3, 11, 0, 0, 123456789, time.UTC))
	r.provisions.finish(run, v1alpha1.ProvisionStatus{Hash: "h1", ExitCode: ptr.To(int32(1)), FinishedAt: &finished})

	stale := &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{UID: uid}}
	for pass := 1; pass <= 2; pass++ {
		app := stale.DeepCopy()
		r.takeProvisionResult(app, "h1")
		if app.Status.Provision == nil || app.Status.Provision.Hash != "h1" {
			t.Fatalf("pass %d on a stale cache: status.provision = %+v, want the finished run's result", pass, app.Status.Provision)
		}
		if _, fresh := r.provisions.start(uid, "h1"); fresh {
			t.Fatalf("pass %d on a stale cache would start the script again", pass)
		}
	}
	if got := r.provisions.failures(uid, "h1"); got != 1 {
		t.Errorf("failures after one failed run copied twice = %d, want 1", got)
	}

	// The cache caught up (stored times keep whole seconds): the run goes.
	stored := &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{UID: uid}}
	stored.Status.Provision = &v1alpha1.ProvisionStatus{Hash: "h1", ExitCode: ptr.To(int32(1)), FinishedAt: ptr.To(finished.Rfc3339Copy())}
	r.takeProvisionResult(stored, "h1")
	if r.provisions.get(uid) != nil {
		t.Error("the run is kept after the cache holds its result")
	}
}
