package controllers

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

func TestSetConditions(t *testing.T) {
	prev := metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonReconciled, Message: "container 100 is running on pve1"}
	cases := []struct {
		name                     string
		o                        outcome
		ready, reconciling       metav1.ConditionStatus
		readyReason, reconReason string
	}{
		{"a ready outcome removes Reconciling", readyOutcome(v1alpha1.ReasonReconciled, "ok"), metav1.ConditionTrue, "", v1alpha1.ReasonReconciled, ""},
		{"a progressing outcome is Reconciling and not Ready", progressing(v1alpha1.ReasonLocked, "locked"), metav1.ConditionFalse, metav1.ConditionTrue, v1alpha1.ReasonLocked, v1alpha1.ReasonLocked},
		{"a ready but busy outcome keeps the Ready verdict and names the activity in Reconciling=False", readyButBusy(prev, v1alpha1.ReasonLocked, "its Backup runs"),
			metav1.ConditionTrue, metav1.ConditionFalse, v1alpha1.ReasonReconciled, v1alpha1.ReasonLocked},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conds := []metav1.Condition{prev}
			setConditions(&conds, 1, tc.o)
			r := meta.FindStatusCondition(conds, v1alpha1.ConditionReady)
			if r.Status != tc.ready || r.Reason != tc.readyReason {
				t.Errorf("Ready = %s/%s, want %s/%s", r.Status, r.Reason, tc.ready, tc.readyReason)
			}
			c := meta.FindStatusCondition(conds, v1alpha1.ConditionReconciling)
			switch {
			case tc.reconciling == "" && c != nil:
				t.Errorf("Reconciling = %+v, want none", c)
			case tc.reconciling != "" && (c == nil || c.Status != tc.reconciling || c.Reason != tc.reconReason):
				t.Errorf("Reconciling = %+v, want %s/%s", c, tc.reconciling, tc.reconReason)
			}
		})
	}
}

func TestDeletionWait(t *testing.T) {
	cases := []struct {
		name   string
		conds  []metav1.Condition
		reason string
	}{
		{"a deletion cause already shown is kept", []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonLocked, Message: "locked"}}, v1alpha1.ReasonLocked},
		{"the verdict from before the deletion gives way to Deleting", []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonReconciled}}, v1alpha1.ReasonDeleting},
		{"no condition yet is Deleting", nil, v1alpha1.ReasonDeleting},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := deletionWait(tc.conds, "container 100"); got.reason != tc.reason {
				t.Errorf("reason = %s, want %s", got.reason, tc.reason)
			}
		})
	}
}
