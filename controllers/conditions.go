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
	// busyReason and busyMessage: ready, and yet the operator is doing
	// something routine to the object (its own backup). Ready keeps the
	// verdict and Reconciling (False) says what is going on, so a nightly
	// backup is not a readiness loss for Argo CD, kstatus or kubectl wait.
	busyReason, busyMessage string
}

func readyOutcome(reason, message string) outcome {
	return outcome{ready: true, reason: reason, message: message}
}

func progressing(reason, message string) outcome {
	return outcome{reason: reason, message: message}
}

// readyButBusy restates the Ready verdict prev while Reconciling shows the
// activity (reason, message).
func readyButBusy(prev metav1.Condition, reason, message string) outcome {
	return outcome{ready: true, reason: prev.Reason, message: prev.Message, quiet: true, busyReason: reason, busyMessage: message}
}

func stalled(reason, message string) outcome {
	return outcome{stalled: true, reason: reason, message: message}
}

// deletionWait is the verdict of a deletion pass that ended without one
// (waiting for a fresh listing, a requeue): the cause already shown, if the
// last pass found one, rather than a bare "deleting" that would hide why
// the finalizer is still there.
func deletionWait(conds []metav1.Condition, what string) outcome {
	if c := meta.FindStatusCondition(conds, v1alpha1.ConditionReady); c != nil && c.Status == metav1.ConditionFalse {
		switch c.Reason {
		case v1alpha1.ReasonLocked, v1alpha1.ReasonHostNotReady, v1alpha1.ReasonNamespaceNotAllowed, v1alpha1.ReasonTaskFailed,
			v1alpha1.ReasonDeleting, v1alpha1.ReasonArchiveProtected, v1alpha1.ReasonProxmoxError:
			o := outcome{reason: c.Reason, message: c.Message, quiet: true}
			if meta.IsStatusConditionTrue(conds, v1alpha1.ConditionStalled) {
				o.stalled = true
			}
			return o
		}
	}
	return progressing(v1alpha1.ReasonDeleting, "deleting "+what)
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
	switch {
	case o.ready && o.busyReason != "":
		// False, yet present with the activity: kstatus (Flux, kpt,
		// cli-utils) reads Reconciling=True as "not in place yet" whatever
		// Ready says, and the object is in place; the condition still says
		// what is going on, like status.activity.
		meta.SetStatusCondition(conds, metav1.Condition{
			Type: v1alpha1.ConditionReconciling, Status: metav1.ConditionFalse, Reason: o.busyReason, Message: redact.String(o.busyMessage), ObservedGeneration: gen,
		})
	case !o.ready && !o.stalled:
		meta.SetStatusCondition(conds, metav1.Condition{
			Type: v1alpha1.ConditionReconciling, Status: metav1.ConditionTrue, Reason: o.reason, Message: o.message, ObservedGeneration: gen,
		})
	default:
		meta.RemoveStatusCondition(conds, v1alpha1.ConditionReconciling)
	}
}
