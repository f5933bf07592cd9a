package proxmox

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

func taskPath(u UPID, suffix string) string {
	// UPIDs contain ":", "@" and "!", all legal in a path segment; PVE
	// matches the raw form.
	return fmt.Sprintf("/nodes/%s/tasks/%s%s", url.PathEscape(u.Node), u.String(), suffix)
}

// vzdumpGuestError is the per-guest failure line behind vzdump's generic
// "job errors" exit status.
var vzdumpGuestError = regexp.MustCompile(`ERROR: Backup of VM \d+ failed - (.*)`)

// TaskStatus asks the task's node (from the UPID) how the task is doing.
func (c *APIClient) TaskStatus(ctx context.Context, upid string) (TaskStatus, error) {
	u, err := ParseUPID(upid)
	if err != nil {
		return TaskStatus{}, fmt.Errorf("task status: %w", err)
	}
	var raw struct {
		Status     string `json:"status"`
		ExitStatus string `json:"exitstatus"`
	}
	if err := c.get(ctx, taskPath(u, "/status"), &raw); err != nil {
		if nst, ok := asNoSuchTask(err); ok {
			nst.UPID = upid
		}
		return TaskStatus{}, fmt.Errorf("status of task %s: %w", upid, err)
	}
	st := TaskStatus{UPID: u, State: TaskRunning}
	if raw.Status == "running" {
		return st, nil
	}
	st.ExitStatus = raw.ExitStatus
	if n, ok := strings.CutPrefix(raw.ExitStatus, "WARNINGS: "); ok {
		st.Warnings, _ = strconv.Atoi(strings.TrimSpace(n))
	}
	detail := ""
	if raw.ExitStatus == "job errors" {
		// Best effort: the cause (often "CT is locked (snapshot)") is only in
		// the log. A failure to read it leaves the generic status.
		detail = c.vzdumpFailure(ctx, upid)
	}
	if st.Err = classifyExitStatus(upid, raw.ExitStatus, detail); st.Err != nil {
		st.State = TaskFailed
	} else {
		st.State = TaskSucceeded
	}
	return st, nil
}

func asNoSuchTask(err error) (*NoSuchTaskError, bool) {
	var e *NoSuchTaskError
	return e, errors.As(err, &e)
}

func (c *APIClient) vzdumpFailure(ctx context.Context, upid string) string {
	lines, err := c.TaskLog(ctx, upid, 0, 1000)
	if err != nil {
		return ""
	}
	for _, l := range lines {
		if m := vzdumpGuestError.FindStringSubmatch(l); m != nil {
			return m[1]
		}
	}
	return ""
}

// TaskLog returns log lines [start, start+limit).
func (c *APIClient) TaskLog(ctx context.Context, upid string, start, limit int) ([]string, error) {
	u, err := ParseUPID(upid)
	if err != nil {
		return nil, fmt.Errorf("task log: %w", err)
	}
	if limit <= 0 {
		limit = 50
	}
	var raw []struct {
		N num    `json:"n"`
		T string `json:"t"`
	}
	path := taskPath(u, fmt.Sprintf("/log?start=%d&limit=%d", max(start, 0), limit))
	if err := c.get(ctx, path, &raw); err != nil {
		return nil, fmt.Errorf("log of task %s: %w", upid, err)
	}
	out := make([]string, 0, len(raw))
	for _, l := range raw {
		out = append(out, l.T)
	}
	return out, nil
}

// aboutGuest narrows a list query to guest vmid when vmid > 0; PVE filters
// on the server, so a node with thousands of guests answers briefly.
func aboutGuest(q url.Values, vmid int) url.Values {
	if vmid > 0 {
		q.Set("vmid", strconv.Itoa(vmid))
	}
	return q
}

// ActiveTasks lists node's active task list (running tasks, plus some that
// just finished, flagged by Running), about vmid when > 0, so
// an operator restarted mid-task can adopt what it had started.
func (c *APIClient) ActiveTasks(ctx context.Context, node string, vmid int) ([]TaskSummary, error) {
	q := aboutGuest(url.Values{"source": {"active"}}, vmid)
	var raw []struct {
		UPID      string `json:"upid"`
		StartTime num    `json:"starttime"`
		EndTime   num    `json:"endtime"`
		Status    string `json:"status"`
	}
	if err := c.get(ctx, "/nodes/"+url.PathEscape(node)+"/tasks?"+q.Encode(), &raw); err != nil {
		return nil, fmt.Errorf("list active tasks on %s: %w", node, err)
	}
	out := make([]TaskSummary, 0, len(raw))
	for _, t := range raw {
		u, err := ParseUPID(t.UPID)
		if err != nil {
			continue
		}
		// The active list also holds tasks that finished moments ago.
		running := t.EndTime == 0 && (t.Status == "" || strings.EqualFold(t.Status, "running"))
		out = append(out, TaskSummary{
			UPID: u, StartTime: time.Unix(t.StartTime.int64(), 0).UTC(), Running: running, Status: t.Status,
		})
	}
	return out, nil
}

// OwnGuestTasks lists node's tasks about vmid started at or after since by
// this client's own user or token, running or not, newest first. PVE keeps
// a task whose worker died in its index, stopped, so this is how a task
// whose UPID was never recorded is found again after a crash.
func (c *APIClient) OwnGuestTasks(ctx context.Context, node string, vmid int, since time.Time) ([]TaskSummary, error) {
	q := aboutGuest(url.Values{"source": {"all"}, "since": {strconv.FormatInt(since.Unix(), 10)}, "limit": {"50"}}, vmid)
	var raw []struct {
		UPID    string `json:"upid"`
		EndTime num    `json:"endtime"`
		Status  string `json:"status"`
	}
	if err := c.get(ctx, "/nodes/"+url.PathEscape(node)+"/tasks?"+q.Encode(), &raw); err != nil {
		return nil, fmt.Errorf("list tasks about %d on %s: %w", vmid, node, err)
	}
	self := c.authID()
	var out []TaskSummary
	for _, t := range raw {
		u, err := ParseUPID(t.UPID)
		if err != nil || u.User != self {
			continue
		}
		running := t.EndTime == 0 && (t.Status == "" || strings.EqualFold(t.Status, "running"))
		out = append(out, TaskSummary{
			UPID: u, StartTime: u.StartTime, Running: running, Status: t.Status, Vanished: !running && t.Status == exitWorkerVanished,
		})
	}
	return out, nil
}
