package controllers

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/proxmox"
)

const (
	eventNormal  = corev1.EventTypeNormal
	eventWarning = corev1.EventTypeWarning
)

// writeStatus derives the conditions from the pass's outcome and patches
// status. A pass without an outcome (a terminal Backup looked at again)
// keeps the verdict already recorded.
func (r *BackupReconciler) writeStatus(ctx context.Context, before *v1alpha1.Backup, s *backupScope) error {
	b := s.backup
	if s.outcome.reason == "" {
		s.outcome = recordedVerdict(b.Status.Conditions, b.Status.Phase)
	}
	if s.outcome.reason != "" {
		setConditions(&b.Status.Conditions, b.Generation, s.outcome)
		if s.outcome.reason != v1alpha1.ReasonProxmoxError {
			b.Status.ObservedGeneration = b.Generation
		}
	}
	if equality.Semantic.DeepEqual(before.Status, b.Status) {
		return nil
	}
	// Optimistic: a pass that started from a stale cached copy must not
	// overwrite what a newer pass recorded (a task, a phase).
	err := r.Status().Patch(ctx, b, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// recordedVerdict restates the Completed or Failed verdict a terminal object
// already carries, so that observedGeneration follows a spec edit (ttl)
// without the verdict's text being lost.
func recordedVerdict(conds []metav1.Condition, phase v1alpha1.BackupPhase) outcome {
	switch phase {
	case v1alpha1.BackupPhaseCompleted:
		if c := meta.FindStatusCondition(conds, v1alpha1.ConditionReady); c != nil && c.Status == metav1.ConditionTrue {
			return readyOutcome(c.Reason, c.Message)
		}
		return readyOutcome(v1alpha1.ReasonCompleted, "completed")
	case v1alpha1.BackupPhaseFailed:
		if c := meta.FindStatusCondition(conds, v1alpha1.ConditionStalled); c != nil && c.Status == metav1.ConditionTrue {
			return stalled(c.Reason, c.Message)
		}
		return stalled(v1alpha1.ReasonFailed, "backup failed")
	}
	return outcome{}
}

// recordTransition turns a change of verdict that needs attention into an
// event; starts and completions have their own events.
func (r *BackupReconciler) recordTransition(b, before *v1alpha1.Backup, o outcome) {
	if o.reason == "" || (!o.stalled && o.reason != v1alpha1.ReasonLocked && o.reason != v1alpha1.ReasonHostNotReady) {
		return
	}
	if prev := meta.FindStatusCondition(before.Status.Conditions, v1alpha1.ConditionReady); prev != nil && prev.Reason == o.reason {
		return
	}
	kind := eventNormal
	if o.stalled {
		kind = eventWarning
	}
	r.event(b, kind, o.reason, o.message)
}

func (r *BackupReconciler) event(o runtime.Object, kind, reason, msg string) {
	emit(r.Recorder, o, kind, reason, msg)
}

func emit(rec events.EventRecorder, o runtime.Object, kind, reason, msg string) {
	if rec != nil {
		rec.Eventf(o, nil, kind, reason, "Reconcile", "%s", msg)
	}
}

// syncLastBackup keeps Application.status.lastBackup naming the newest
// Completed Backup of the Application that still exists, and the
// last-success metric current. Failures are logged; the next Backup event
// tries again.
func (r *BackupReconciler) syncLastBackup(ctx context.Context, namespace, appName string) {
	log := logf.FromContext(ctx)
	list := &v1alpha1.BackupList{}
	if err := r.List(ctx, list, client.InNamespace(namespace)); err != nil {
		log.Error(err, "listing backups for lastBackup")
		return
	}
	var newest *v1alpha1.Backup
	for i := range list.Items {
		b := &list.Items[i]
		if b.Spec.ApplicationRef.Name != appName || b.Status.Phase != v1alpha1.BackupPhaseCompleted ||
			b.Status.CompletionTime == nil || !b.DeletionTimestamp.IsZero() {
			continue
		}
		if newest == nil || b.Status.CompletionTime.After(newest.Status.CompletionTime.Time) ||
			(b.Status.CompletionTime.Equal(newest.Status.CompletionTime) && b.Name > newest.Name) {
			newest = b
		}
	}
	var want *v1alpha1.LastBackup
	if newest != nil {
		want = &v1alpha1.LastBackup{Name: newest.Name, CompletionTime: newest.Status.CompletionTime.DeepCopy()}
		lastBackupSuccess.WithLabelValues(namespace, appName).Set(float64(newest.Status.CompletionTime.Unix()))
	}
	app := &v1alpha1.Application{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: appName}, app); err != nil {
		if !apierrors.IsNotFound(err) {
			log.Error(err, "reading application for lastBackup")
		}
		return
	}
	if equality.Semantic.DeepEqual(app.Status.LastBackup, want) {
		return
	}
	before := app.DeepCopy()
	app.Status.LastBackup = want
	// A merge patch of this one field: the Application controller's own
	// patches leave it alone.
	if err := r.Status().Patch(ctx, app, client.MergeFrom(before)); client.IgnoreNotFound(err) != nil {
		log.Error(err, "updating application lastBackup")
	}
}

// backupHost is the ProxmoxHost the Backup was taken on.
func backupHost(b *v1alpha1.Backup) string { return b.Annotations[AnnotationBackupHost] }

func backupType(b *v1alpha1.Backup) v1alpha1.BackupType {
	if b.Spec.Type == "" {
		return v1alpha1.BackupTypeArchive
	}
	return b.Spec.Type
}

func setPhaseIfEmpty(b *v1alpha1.Backup, p v1alpha1.BackupPhase) {
	if b.Status.Phase == "" {
		b.Status.Phase = p
	}
}

func metaTime(t time.Time) *metav1.Time {
	mt := metav1.NewTime(t)
	return &mt
}

func asTaskFailed(err error, target **proxmox.TaskFailedError) bool {
	return err != nil && errors.As(err, target)
}

func backupTaskVerb(typ string) string {
	switch typ {
	case "vzdump":
		return "backup"
	case "vzsnapshot":
		return "snapshot"
	case "vzdelsnapshot":
		return "snapshot deletion"
	case "imgdel":
		return "archive deletion"
	}
	return typ
}
