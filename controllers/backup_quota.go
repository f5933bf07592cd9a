package controllers

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// Index of the Backups that have not ended, by "host/namespace": the
// pendingBackups quota counts them, and the ended ones (most of a long
// history) stay out of every count.
const backupPendingIndex = "status.pendingOnHost"

func backupPendingKey(host, namespace string) string { return host + "/" + namespace }

// pendingOnHost is backupPendingIndex's function.
func pendingOnHost(o client.Object) []string {
	b := o.(*v1alpha1.Backup)
	host := b.Annotations[AnnotationBackupHost]
	if host == "" || !b.DeletionTimestamp.IsZero() || backupEnded(b) {
		return nil
	}
	return []string{backupPendingKey(host, b.Namespace)}
}

func backupEnded(b *v1alpha1.Backup) bool {
	return b.Status.Phase == v1alpha1.BackupPhaseCompleted || b.Status.Phase == v1alpha1.BackupPhaseFailed
}

// pendingBackupsQuota is the strictest spec.grants[].quota.pendingBackups
// that applies, or -1 when none does.
func pendingBackupsQuota(grants []v1alpha1.TenantGrant) int {
	limit := -1
	for _, g := range grants {
		if g.Quota != nil && g.Quota.PendingBackups != nil && (limit < 0 || int(*g.Quota.PendingBackups) < limit) {
			limit = int(*g.Quota.PendingBackups)
		}
	}
	return limit
}

// withinPendingQuota fails a Backup that has not started when the Backups
// of its namespace on the host created before it already fill the
// pendingBackups quota. Counting only earlier ones keeps the verdict
// stable: a Backup let in stays in while later ones arrive.
func (r *BackupReconciler) withinPendingQuota(ctx context.Context, s *backupScope, host string) (bool, error) {
	limit := pendingBackupsQuota(s.grants)
	if limit < 0 {
		return true, nil
	}
	b := s.backup
	pending := &v1alpha1.BackupList{}
	if err := r.List(ctx, pending, client.InNamespace(b.Namespace), client.MatchingFields{backupPendingIndex: backupPendingKey(host, b.Namespace)},
		client.UnsafeDisableDeepCopy); err != nil {
		return false, err
	}
	ahead := 0
	for i := range pending.Items {
		o := &pending.Items[i]
		if o.UID != b.UID && createdBefore(o, b) {
			ahead++
		}
	}
	if ahead < limit {
		return true, nil
	}
	r.fail(s, v1alpha1.ReasonQuotaExceeded, fmt.Sprintf(
		"namespace %q already has %d Backups on ProxmoxHost %q that have not ended, the most its quota allows (spec.grants[].quota.pendingBackups: %d); nothing was sent to Proxmox, create it again once they end",
		b.Namespace, ahead, host, limit))
	return false, nil
}

// createdBefore orders Backups by creation, then by name.
func createdBefore(a, b *v1alpha1.Backup) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}
