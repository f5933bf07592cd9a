package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// backups takes c.Backups Archive backups at once, spread round-robin over
// the measured Applications and so over their hosts. PVE runs one vzdump
// per node at a time, so the best possible is ceil(backups/nodes) dumps
// back to back on the busiest host.
func (b *bench) backups() error {
	c := b.c
	if c.Backups == 0 {
		return nil
	}
	if err := b.begin(); err != nil {
		return err
	}
	apps := activeApps(c)
	perHost := make([]int, c.Hosts)
	for i := range c.Backups {
		app := apps[i%len(apps)]
		perHost[appHost(c, app)]++
		bk := &v1alpha1.Backup{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("backup-%d", i), Namespace: namespace},
			Spec:       v1alpha1.BackupSpec{ApplicationRef: v1alpha1.LocalObjectReference{Name: appName(app)}},
		}
		if err := b.k8s.Create(b.ctx, bk); err != nil {
			return err
		}
	}
	bound := 0.0
	for _, n := range perHost {
		bound = max(bound, roundUp(n, b.nodes)*c.Vzdump.Seconds())
	}
	if err := b.waitBackups(10*time.Minute + time.Duration(10*bound*float64(time.Second))); err != nil {
		return err
	}
	p, err := b.end(fmt.Sprintf("backup (%d)", c.Backups))
	if err != nil {
		return err
	}
	b.r.BackupSeconds = p.Seconds
	b.r.BackupVzdumpSeconds = c.Vzdump.Seconds()
	b.r.BackupBoundSeconds = bound
	b.r.BackupBoundRatio = p.Seconds / bound
	// Every queued dump is a task the operator polls until it ends; these
	// say what one Backup costs Proxmox beyond its one vzdump call.
	b.r.PollsPerBackup = float64(p.Requests["GET /nodes/{node}/tasks/{upid}/status"]) / float64(c.Backups)
	b.r.VzdumpPostsPerBackup = float64(p.Requests["POST /nodes/{node}/vzdump"]) / float64(c.Backups)
	return nil
}

// waitBackups waits for every Backup to complete. Failed is terminal, so
// one is enough to stop; any other phase, including ones this command does
// not know, counts as not finished. What is reported is what the operator
// says about the ones that did not complete.
func (b *bench) waitBackups(timeout time.Duration) error {
	n := b.c.Backups
	var list v1alpha1.BackupList
	err := b.poll(timeout, n, func() (bool, error) {
		list = v1alpha1.BackupList{}
		if err := b.k8s.List(b.ctx, &list, client.InNamespace(namespace)); err != nil {
			return false, err
		}
		phases := backupPhases(list.Items)
		if phases[v1alpha1.BackupPhaseCompleted] == n {
			return true, nil
		}
		if phases[v1alpha1.BackupPhaseFailed] > 0 {
			return false, errors.New("a Backup failed")
		}
		progress("%d/%d Backups Completed; by phase: %v", phases[v1alpha1.BackupPhaseCompleted], n, phases)
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %d Backups Completed: %w; by phase: %v; not completed: %s",
			n, err, backupPhases(list.Items), stuckBackups(list.Items))
	}
	return nil
}

func backupPhases(items []v1alpha1.Backup) map[v1alpha1.BackupPhase]int {
	m := map[v1alpha1.BackupPhase]int{}
	for _, bk := range items {
		ph := bk.Status.Phase
		if ph == "" {
			ph = "(none)"
		}
		m[ph]++
	}
	return m
}

// stuckBackups describes the first few Backups that are not Completed by
// their Ready condition: the operator's own account of why.
func stuckBackups(items []v1alpha1.Backup) string {
	const show = 10
	var out []string
	stuck := 0
	for _, bk := range items {
		if bk.Status.Phase == v1alpha1.BackupPhaseCompleted {
			continue
		}
		stuck++
		if len(out) == show {
			continue
		}
		s := fmt.Sprintf("%s (%s, vmid %d on %q): no Ready condition", bk.Name, bk.Status.Phase, bk.Status.VMID, bk.Status.Node)
		if c := meta.FindStatusCondition(bk.Status.Conditions, v1alpha1.ConditionReady); c != nil {
			s = fmt.Sprintf("%s (%s, vmid %d on %q): Ready=%s %s: %s", bk.Name, bk.Status.Phase, bk.Status.VMID, bk.Status.Node, c.Status, c.Reason, c.Message)
		}
		out = append(out, s)
	}
	if stuck > show {
		out = append(out, fmt.Sprintf("and %d more", stuck-show))
	}
	return strings.Join(out, "; ")
}
