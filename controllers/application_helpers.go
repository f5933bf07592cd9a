package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

func (r *ApplicationReconciler) event(app *v1alpha1.Application, kind, reason, msg string) {
	emit(r.Recorder, app, kind, reason, msg)
}

// eventOnce records a warning once per message for the Application on its
// host (the host's entry remembers what was noted).
func (r *ApplicationReconciler) eventOnce(s *appScope, reason, msg string) {
	if s.host.noteOnce(s.app.UID, msg) {
		r.event(s.app, corev1.EventTypeWarning, reason, msg)
	}
}

// isTransientK8s reports apiserver errors worth a plain retry.
func isTransientK8s(err error) bool {
	return apierrors.IsConflict(err) || apierrors.IsServerTimeout(err) || apierrors.IsTooManyRequests(err)
}

// wakeApp requeues an Application from outside a reconcile.
func (r *ApplicationReconciler) wakeApp(uid types.NamespacedName) {
	select {
	case r.wake <- uid:
	default:
	}
}

// createFromBackup creates the container from a Completed Archive Backup
// (spec.restoreFrom) instead of a template; see restoreNewContainer in application_restorefrom.go.
func (r *ApplicationReconciler) createFromBackup(ctx context.Context, s *appScope) (ctrl.Result, error) {
	res, err := r.restoreNewContainer(ctx, s)
	if err != nil {
		return res, fmt.Errorf("create container from Backup %q: %w", s.app.Spec.RestoreFrom.BackupRef.Name, err)
	}
	return res, nil
}
