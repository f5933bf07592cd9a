package proxmox

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"
)

// Vzdump starts a backup of one container. PVE answers "OK" instead of a
// UPID when the guest is not on node (VZDump.pm): that is a *WrongNodeError,
// and nothing was started.
func (c *APIClient) Vzdump(ctx context.Context, node string, opts BackupOptions) (UPID, error) {
	body := map[string]any{"vmid": strconv.Itoa(opts.VMID)}
	for k, v := range map[string]string{
		"storage": opts.Storage, "mode": opts.Mode, "compress": opts.Compress, "notes-template": opts.NotesTemplate,
	} {
		if v != "" {
			body[k] = v
		}
	}
	if opts.Protected {
		body["protected"] = 1
	}
	var reply text
	err := c.do(ctx, request{method: http.MethodPost, path: "/nodes/" + url.PathEscape(node) + "/vzdump", body: body, out: &reply})
	if err != nil {
		return UPID{}, fmt.Errorf("back up container %d on %s: %w", opts.VMID, node, err)
	}
	u, perr := ParseUPID(string(reply))
	switch {
	case perr == nil:
		return u, nil
	case reply == "OK" || reply == "":
		return UPID{}, fmt.Errorf("back up container %d on %s: %w", opts.VMID, node, &WrongNodeError{Node: node, VMID: opts.VMID})
	}
	return UPID{}, fmt.Errorf("back up container %d on %s: PVE returned no task id: %w", opts.VMID, node, perr)
}

func storagePath(node, storage, suffix string) string {
	return fmt.Sprintf("/nodes/%s/storage/%s%s", url.PathEscape(node), url.PathEscape(storage), suffix)
}

func contentPath(node, storage, volid string) string {
	// The volid keeps its ":" and "/": PVE's content/{volume} route takes the
	// rest of the path and URI-unescapes it.
	return storagePath(node, storage, "/content/"+volid)
}

// contentEntry is one item of a storage's content listing.
type contentEntry struct {
	VolID     string `json:"volid"`
	VMID      num    `json:"vmid"`
	Size      num    `json:"size"`
	CTime     num    `json:"ctime"`
	Format    string `json:"format"`
	Subtype   string `json:"subtype"`
	Notes     string `json:"notes"`
	Protected flag   `json:"protected"`
	Content   string `json:"content"`
}

// listContent lists the volumes of one content type ("": all) on a
// storage, of guest vmid when > 0, filtered by PVE (go-proxmox's GetContent
// cannot filter and misreads "protected").
func (c *APIClient) listContent(ctx context.Context, node, storage, content string, vmid int) ([]contentEntry, error) {
	q := aboutGuest(url.Values{}, vmid)
	if content != "" {
		q.Set("content", content)
	}
	path := storagePath(node, storage, "/content")
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var raw []contentEntry
	if err := c.get(ctx, path, &raw); err != nil {
		return nil, err
	}
	if content == "" {
		return raw, nil
	}
	// Defensive: an entry of another type would be taken for one of this.
	out := raw[:0]
	for _, v := range raw {
		if v.Content == "" || v.Content == content {
			out = append(out, v)
		}
	}
	return out, nil
}

// BackupVolumes lists backups on a storage. Newest first.
func (c *APIClient) BackupVolumes(ctx context.Context, node, storage string, vmid int) ([]BackupVolume, error) {
	raw, err := c.listContent(ctx, node, storage, "backup", vmid)
	if err != nil {
		return nil, fmt.Errorf("list backups on %s/%s: %w", node, storage, err)
	}
	out := make([]BackupVolume, 0, len(raw))
	for _, v := range raw {
		out = append(out, BackupVolume{
			VolID: v.VolID, VMID: v.VMID.int(), Size: v.Size.uint64(), CTime: time.Unix(v.CTime.int64(), 0).UTC(),
			Format: v.Format, Subtype: v.Subtype, Notes: v.Notes, Protected: bool(v.Protected),
		})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CTime.After(out[j].CTime) })
	return out, nil
}

// DeleteVolume starts an imgdel task, or returns a zero UPID when PVE
// finished synchronously (it answers null then).
func (c *APIClient) DeleteVolume(ctx context.Context, node, storage, volid string) (UPID, error) {
	var reply text
	if err := c.do(ctx, request{method: http.MethodDelete, path: contentPath(node, storage, volid), out: &reply}); err != nil {
		return UPID{}, fmt.Errorf("delete volume %s: %w", volid, err)
	}
	if reply == "" {
		return UPID{}, nil
	}
	u, err := ParseUPID(string(reply))
	if err != nil {
		return UPID{}, fmt.Errorf("delete volume %s: PVE returned no task id: %w", volid, err)
	}
	return u, nil
}

// SetVolumeProtected sets or clears the protected flag of a backup.
func (c *APIClient) SetVolumeProtected(ctx context.Context, node, storage, volid string, protected bool) error {
	err := c.do(ctx, request{method: http.MethodPut, path: contentPath(node, storage, volid), body: map[string]any{"protected": b01(protected)}})
	if err != nil {
		return fmt.Errorf("set protected=%t on %s: %w", protected, volid, err)
	}
	return nil
}

// SetVolumeNotes replaces the notes of a backup.
func (c *APIClient) SetVolumeNotes(ctx context.Context, node, storage, volid, notes string) error {
	err := c.do(ctx, request{method: http.MethodPut, path: contentPath(node, storage, volid), body: map[string]any{"notes": notes}})
	if err != nil {
		return fmt.Errorf("set notes on %s: %w", volid, err)
	}
	return nil
}
