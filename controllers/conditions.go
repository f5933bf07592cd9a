package controllers

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/redact"
)

// outcome is the summary of one reconcile from which the kstatus conditions
// are derived, so every controller sets Ready, Reconciling and Stalled the
// same way.
type outcome struct {
	// ready: the object is what its spec asks for.
	ready bool
	// stalled: no progress without a change from a human.
	stalled bool
	reason  string
	message string
	// quiet: a verdict restated by default, without news; no event.
	quiet bool
}

func readyOutcome(reason, message string) outcome {
	return outcome{ready: true, reason: reason, message: message}
}

func progressing(reason, message string) outcome {
	return outcome{reason: reason, message: message}
}

func stalled(reason, message string) outcome {
	return outcome{stalled: true, reason: reason, message: message}
}

// setConditions writes Ready, Reconciling and Stalled for o at generation gen.
// Messages quote Proxmox texts (task exit statuses, script output) that can
// echo a secret, so every kind's message is scrubbed here.
func setConditions(conds *[]metav1.Condition, gen int64, o outcome) {
	o.message = redact.String(o.message)
	ready := metav1.ConditionFalse
	if o.ready {
		ready = metav1.ConditionTrue
	}
	meta.SetStatusCondition(conds, metav1.Condition{
		Type: v1alpha1.ConditionReady, Status: ready, Reason: o.reason, Message: o.message, ObservedGeneration: gen,
	})
	if o.stalled {
		meta.SetStatusCondition(conds, metav1.Condition{
			Type: v1alpha1.ConditionStalled, Status: metav1.ConditionTrue, Reason: o.reason, Message: o.message, ObservedGeneration: gen,
		})
	} else {
		meta.RemoveStatusCondition(conds, v1alpha1.ConditionStalled)
	}
	if !o.ready && !o.stalled {
		meta.SetStatusCondition(conds, metav1.Condition{
			Type: v1alpha1.ConditionReconciling, Status: metav1.ConditionTrue, Reason: o.reason, Message: o.message, ObservedGeneration: gen,
		})
	} else {
		meta.RemoveStatusCondition(conds, v1alpha1.ConditionReconciling)
	}
}
