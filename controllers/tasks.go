package controllers

import (
	"context"
	"fmt"
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

// taskKinds names each Proxmox task type the operator starts or waits for:
// what messages call it, and the reason an Application reports while it
// runs (Backups and Restores report their own).
var taskKinds = map[string]struct{ verb, reason string }{
	"vzcreate":      {"creation", v1alpha1.ReasonCreating},
	"vzrestore":     {"restore", v1alpha1.ReasonCreating},
	"vzclone":       {"clone", v1alpha1.ReasonCreating},
	"vztemplate":    {"conversion to a template", v1alpha1.ReasonUpdating},
	"vzstart":       {"start", v1alpha1.ReasonStarting},
	"vzstop":        {"stop", v1alpha1.ReasonStopping},
	"vzshutdown":    {"shutdown", v1alpha1.ReasonStopping},
	"resize":        {"resize", v1alpha1.ReasonResizing},
	"vzdestroy":     {"deletion", v1alpha1.ReasonDeleting},
	"vzmigrate":     {"migration", v1alpha1.ReasonMigrating},
	"vzdump":        {"backup", v1alpha1.ReasonTaskRunning},
	"vzsnapshot":    {"snapshot", v1alpha1.ReasonTaskRunning},
	"vzdelsnapshot": {"snapshot deletion", v1alpha1.ReasonTaskRunning},
	"vzrollback":    {"rollback", v1alpha1.ReasonTaskRunning},
	"imgdel":        {"archive deletion", v1alpha1.ReasonTaskRunning},
}

// taskVerb is how messages name a task type; unknown types by themselves.
func taskVerb(typ string) string {
	if k, ok := taskKinds[typ]; ok {
		return k.verb
	}
	return typ
}

// taskReason is the reason an Application reports while a task runs.
func taskReason(typ string) string {
	if k, ok := taskKinds[typ]; ok {
		return k.reason
	}
	return v1alpha1.ReasonTaskRunning
}

// taskInFlight is the outcome while a recorded task still runs: reason with
// what the task does, or TaskStuck once it has run past deadline.
func taskInFlight(ref *v1alpha1.TaskReference, vmid int32, reason string, deadline time.Duration, now time.Time) outcome {
	what := fmt.Sprintf("%s of container %d", taskVerb(ref.Type), vmid)
	if o, late := overdue(ref, what, deadline, now); late {
		return o
	}
	return progressing(reason, fmt.Sprintf("%s running on %s (task %s)", what, ref.Node, ref.UPID))
}

// DefaultTaskDeadline is how long a Proxmox task may run before the object
// it belongs to reports it as stuck. Container tasks take seconds to
// minutes; one running for an hour waits on something a human must look at
// (a hung storage or NFS mount, a vzdump queued behind another).
const DefaultTaskDeadline = time.Hour

// overdue returns a Stalled outcome when the recorded task has run longer
// than deadline (0: DefaultTaskDeadline). The operator keeps polling it and
// goes on when it ends; Stalled only tells kubectl wait and kstatus that
// waiting longer will not help by itself.
func overdue(ref *v1alpha1.TaskReference, what string, deadline time.Duration, now time.Time) (outcome, bool) {
	if deadline <= 0 {
		deadline = DefaultTaskDeadline
	}
	if ref == nil || ref.StartedAt == nil || now.Sub(ref.StartedAt.Time) <= deadline {
		return outcome{}, false
	}
	ran := now.Sub(ref.StartedAt.Time).Round(time.Second)
	return stalled(v1alpha1.ReasonTaskStuck, fmt.Sprintf(
		"%s (task %s on %s) has been running for %s, longer than the task deadline %s: look at the task in Proxmox "+
			"(Datacenter > Tasks) and stop it if it hangs; the operator goes on when it ends",
		what, ref.UPID, ref.Node, ran, deadline)), true
}

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
		return taskFailed, st, nil //nolint:nilerr // st.Err is the task's exit status, the result, not a failed call
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
