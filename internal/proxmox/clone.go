package proxmox

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// CloneManager copies containers and turns them into templates.
type CloneManager interface {
	// CloneContainer starts a vzclone task copying vmid on node to
	// req.NewID. PVE writes the new container's config (the source's keys,
	// its tags included, with req's hostname and description and lock
	// "create") before it answers, so a clone whose answer was lost
	// (IsOutcomeUnknown) shows up in the next listing; it is never retried
	// here. A request PVE refuses as given is a *RefusedError.
	CloneContainer(ctx context.Context, node string, vmid int, req CloneRequest) (UPID, error)
	// ConvertToTemplate makes a stopped container a template. PVE answers
	// null and converts in a vztemplate worker; its UPID, found among the
	// node's active tasks, is returned, or a zero UPID when the worker has
	// already ended.
	ConvertToTemplate(ctx context.Context, node string, vmid int) (UPID, error)
}

// CloneRequest is POST /nodes/{node}/lxc/{vmid}/clone.
type CloneRequest struct {
	NewID       int
	Hostname    string
	Description string
	// Full copies every volume; nil leaves it to PVE (linked from a
	// template, a copy otherwise).
	Full *bool
	// Snapshot clones that snapshot of the source instead of its state.
	Snapshot string
	// Storage for the copies (full clones only).
	Storage string
	// Target node, when not the source's.
	Target string
	// Pool the new container joins.
	Pool string
}

// params are the request's parameters, only those set (PVE applies
// hostname and description only when non-empty anyway).
func (r CloneRequest) params() map[string]any {
	p := map[string]any{"newid": r.NewID}
	for k, v := range map[string]string{
		"hostname": r.Hostname, "description": r.Description, "snapname": r.Snapshot,
		"storage": r.Storage, "target": r.Target, "pool": r.Pool,
	} {
		if v != "" {
			p[k] = v
		}
	}
	if r.Full != nil {
		p["full"] = 0
		if *r.Full {
			p["full"] = 1
		}
	}
	return p
}

// RefusedError: PVE refused a request as given, for a reason only a changed
// request can fix: a linked clone the storage cannot make ("Linked clone
// feature for 'local:...' is not available"), a storage given for a linked
// clone, a bind mount that cannot be cloned, a full clone of a running
// container without a snapshot, a clone to another node from local storage.
type RefusedError struct{ Err error }

func (e *RefusedError) Error() string { return errText(e.Err) }
func (e *RefusedError) Unwrap() error { return e.Err }

// IsRefused reports a *RefusedError.
func IsRefused(err error) bool { return is[*RefusedError](err) }

// cloneRefusals are clone_vm's plain dies about the request itself
// (pve-container src/PVE/API2/LXC.pm, clone_vm), across PVE 8 and 9.
var cloneRefusals = []string{
	"Linked clone feature for",
	"not allowed for linked clones",
	"unable to clone mountpoint",
	"Full clone of a running container is only possible from a snapshot",
	"Cannot do full clones on a running container without snapshots",
	"can't clone to non-shared storage",
	"can't clone CT to node",
}

// plainDie returns the *APIError of PVE's plain die (HTTP 500) that no
// typed error has claimed.
func plainDie(err error) (*APIError, bool) {
	var apiErr *APIError
	plain := errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusInternalServerError &&
		classifyMessage(apiErr.Message, apiErr) == nil
	return apiErr, plain
}

// classifyRefusal wraps a clone failure no typed error has claimed when
// PVE's words mark a refusal.
func classifyRefusal(err error) error {
	apiErr, plain := plainDie(err)
	if !plain {
		return err
	}
	for _, text := range cloneRefusals {
		if strings.Contains(apiErr.Message, text) {
			return &RefusedError{Err: err}
		}
	}
	return err
}

// CloneContainer starts a vzclone task; its task id is the source's VMID.
func (c *APIClient) CloneContainer(ctx context.Context, node string, vmid int, req CloneRequest) (UPID, error) {
	u, err := c.startTask(ctx, request{method: http.MethodPost, path: ctPath(node, vmid, "/clone"), body: req.params()})
	if err != nil {
		return UPID{}, fmt.Errorf("clone container %d on %s to %d: %w", vmid, node, req.NewID, classifyRefusal(err))
	}
	return u, nil
}

// ConvertToTemplate posts .../template and looks up the vztemplate worker
// PVE started without returning its UPID (go-proxmox's Template drops it
// too), so the caller can poll it like any task. A container that already
// is a template is success; one with snapshots is refused.
func (c *APIClient) ConvertToTemplate(ctx context.Context, node string, vmid int) (UPID, error) {
	err := c.do(ctx, request{method: http.MethodPost, path: ctPath(node, vmid, "/template")})
	if apiErr, plain := plainDie(err); plain {
		// template_vm's dies (pve-container src/PVE/API2/LXC.pm).
		switch {
		case strings.Contains(apiErr.Message, "convert a template to a template"):
			return UPID{}, nil
		case strings.Contains(apiErr.Message, "because CT contains snapshots"):
			err = &RefusedError{Err: err}
		}
	}
	if err != nil {
		return UPID{}, fmt.Errorf("convert container %d on %s to a template: %w", vmid, node, err)
	}
	// Without the list the conversion runs all the same, and the cluster
	// listing shows its end.
	tasks, _ := c.ActiveTasks(ctx, node, vmid)
	var newest TaskSummary
	for _, t := range tasks {
		if t.Running && t.UPID.Type == "vztemplate" && t.StartTime.After(newest.StartTime) {
			newest = t
		}
	}
	return newest.UPID, nil
}
