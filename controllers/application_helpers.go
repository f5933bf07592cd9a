package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// mutations remembers when the operator last changed each container, so
// decisions are taken on an inventory listed after that change, never on
// one that predates it.
var mutations sync.Map // types.UID -> time.Time

func (r *ApplicationReconciler) markMutation(app *v1alpha1.Application) {
	mutations.Store(app.UID, time.Now())
}

func (r *ApplicationReconciler) freshEnough(app *v1alpha1.Application, listed time.Time) bool {
	v, ok := mutations.Load(app.UID)
	return !ok || listed.After(v.(time.Time))
}

func (r *ApplicationReconciler) event(app *v1alpha1.Application, kind, reason, msg string) {
	emit(r.Recorder, app, kind, reason, msg)
}

var notedOnce sync.Map // uid/message -> struct{}

// eventOnce records a warning once per process for a given message.
func (r *ApplicationReconciler) eventOnce(app *v1alpha1.Application, reason, msg string) {
	if _, seen := notedOnce.LoadOrStore(string(app.UID)+"/"+msg, struct{}{}); !seen {
		r.event(app, corev1.EventTypeWarning, reason, msg)
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
// (spec.restoreFrom) instead of a template; see restoreNewContainer.
func (r *ApplicationReconciler) createFromBackup(ctx context.Context, s *appScope) (ctrl.Result, error) {
	res, err := r.restoreNewContainer(ctx, s)
	if err != nil {
		return res, fmt.Errorf("create container from Backup %q: %w", s.app.Spec.RestoreFrom.BackupRef.Name, err)
	}
	return res, nil
}
