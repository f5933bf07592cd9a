package proxmox

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Snapshots lists the container's snapshots, oldest first, without PVE's
// "current" pseudo-entry.
func (c *APIClient) Snapshots(ctx context.Context, node string, vmid int) ([]Snapshot, error) {
	var raw []struct {
		Name        string `json:"name"`
		Description string `json:"description"`
		Parent      string `json:"parent"`
		SnapTime    num    `json:"snaptime"`
		SnapState   string `json:"snapstate"`
	}
	if err := c.get(ctx, ctPath(node, vmid, "/snapshot"), &raw); err != nil {
		return nil, fmt.Errorf("list snapshots of container %d on %s: %w", vmid, node, err)
	}
	out := make([]Snapshot, 0, len(raw))
	for _, s := range raw {
		if s.Name == "current" {
			continue
		}
		snap := Snapshot{Name: s.Name, Description: s.Description, Parent: s.Parent, State: s.SnapState}
		if s.SnapTime > 0 {
			snap.Time = time.Unix(s.SnapTime.int64(), 0).UTC()
		}
		out = append(out, snap)
	}
	return out, nil
}

// CreateSnapshot starts a vzsnapshot task.
func (c *APIClient) CreateSnapshot(ctx context.Context, node string, vmid int, name, description string) (UPID, error) {
	body := map[string]any{"snapname": name}
	if description != "" {
		body["description"] = description
	}
	u, err := c.startTask(ctx, request{method: http.MethodPost, path: ctPath(node, vmid, "/snapshot"), body: body})
	if err != nil {
		return UPID{}, fmt.Errorf("snapshot container %d on %s as %s: %w", vmid, node, name, err)
	}
	return u, nil
}

// DeleteSnapshot starts a vzdelsnapshot task.
func (c *APIClient) DeleteSnapshot(ctx context.Context, node string, vmid int, name string) (UPID, error) {
	u, err := c.startTask(ctx, request{method: http.MethodDelete, path: ctPath(node, vmid, "/snapshot/"+url.PathEscape(name))})
	if err != nil {
		return UPID{}, fmt.Errorf("delete snapshot %s of container %d on %s: %w", name, vmid, node, err)
	}
	return u, nil
}

// RollbackSnapshot starts a vzrollback task.
func (c *APIClient) RollbackSnapshot(ctx context.Context, node string, vmid int, name string, start bool) (UPID, error) {
	body := map[string]any{}
	if start {
		body["start"] = 1
	}
	u, err := c.startTask(ctx, request{
		method: http.MethodPost, path: ctPath(node, vmid, "/snapshot/"+url.PathEscape(name)+"/rollback"), body: body,
	})
	if err != nil {
		return UPID{}, fmt.Errorf("roll container %d on %s back to %s: %w", vmid, node, name, err)
	}
	return u, nil
}
