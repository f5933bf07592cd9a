package controllers

import (
	"context"
	"errors"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/proxmox"
)

// backupPassEnd: events only for verdicts that need attention (a refusal,
// a lock, the host); the patch is optimistic and left out when nothing
// changed, since terminal Backups are looked at again often.
var backupPassEnd = passEnd{
	eventFor: func(o outcome) bool {
		return o.stalled || o.reason == v1alpha1.ReasonLocked || o.reason == v1alpha1.ReasonHostNotReady
	},
	optimistic:    true,
	skipUnchanged: true,
}

// finish ends a pass. A pass without an outcome (a terminal Backup looked
// at again) restates the verdict already recorded.
func (r *BackupReconciler) finish(ctx context.Context, before *v1alpha1.Backup, s *backupScope) error {
	b := s.backup
	o := s.outcome
	if o.reason == "" {
		o = recordedVerdict(b.Status.Conditions, b.Status.Phase)
		o.quiet = true
	}
	return backupPassEnd.end(ctx, r.Client, r.Recorder, b, before,
		statusOf{conditions: &b.Status.Conditions, observed: &b.Status.ObservedGeneration, was: &before.Status, is: &b.Status}, o)
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
