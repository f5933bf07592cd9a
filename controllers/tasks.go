package controllers

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/proxmox"
)

// taskRef records a started task for status, so polling resumes after a
// restart instead of starting the operation again.
func taskRef(u proxmox.UPID, now time.Time) *v1alpha1.TaskReference {
	t := metav1.NewTime(now)
	return &v1alpha1.TaskReference{UPID: u.String(), Type: u.Type, Node: u.Node, StartedAt: &t}
}

// taskResult is what became of a recorded task.
type taskResult int

const (
	taskRunning taskResult = iota
	taskSucceeded
	taskFailed
	// taskLost: PVE no longer knows the UPID; judge by the resulting state.
	taskLost
)

// checkTask asks PVE once about a recorded task; it never waits.
func checkTask(ctx context.Context, c proxmox.TaskReader, ref *v1alpha1.TaskReference) (taskResult, proxmox.TaskStatus, error) {
	res, st, err := taskState(ctx, c, ref)
	if err == nil && res != taskRunning {
		observeTask(ref, res, time.Now())
	}
	return res, st, err
}

func taskState(ctx context.Context, c proxmox.TaskReader, ref *v1alpha1.TaskReference) (taskResult, proxmox.TaskStatus, error) {
	st, err := c.TaskStatus(ctx, ref.UPID)
	switch {
	case proxmox.IsNoSuchTask(err):
		return taskLost, st, nil
	case err != nil:
		return taskRunning, st, err
	case !st.Done():
		return taskRunning, st, nil
	case st.Err != nil:
		return taskFailed, st, nil
	}
	return taskSucceeded, st, nil
}

// pollAfter is when to ask about a running task again: soon for a young
// task, then less often (up to 10 s) so hundreds of long creates do not eat
// the host's request budget. Inventory events (the lock clearing, the state
// changing) wake the Application sooner.
func pollAfter(ref *v1alpha1.TaskReference, now time.Time) time.Duration {
	if ref == nil || ref.StartedAt == nil {
		return time.Second
	}
	d := now.Sub(ref.StartedAt.Time) / 2
	return min(max(d, time.Second), 10*time.Second)
}
