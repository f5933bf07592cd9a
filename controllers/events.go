package controllers

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
)

// Event types, short for the reconcilers' many emit calls, and the action
// every reconciler's events name.
const (
	eventNormal     = corev1.EventTypeNormal
	eventWarning    = corev1.EventTypeWarning
	reconcileAction = "Reconcile"
)

// emit records one event about o. Every reconciler's events go through it,
// so they all carry the same action and pass the same redacting recorder.
func emit(rec events.EventRecorder, o runtime.Object, kind, reason, msg string) {
	if rec != nil {
		rec.Eventf(o, nil, kind, reason, reconcileAction, "%s", msg)
	}
}

func (r *BackupReconciler) event(o runtime.Object, kind, reason, msg string) {
	emit(r.Recorder, o, kind, reason, msg)
}
