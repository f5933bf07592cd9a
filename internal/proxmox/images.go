package proxmox

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// ImageManager puts OCI images and container templates on a node's storage
// and hands volumes between containers. Methods returning a UPID start a PVE
// worker and return as soon as PVE accepted it; PVE's checks before the fork
// come back as typed errors here, the worker's failures as a failed task.
// A request PVE refuses as given (a storage without template content or
// without a path, a parameter PVE rejects, a move PVE cannot make) is a
// *RefusedError, a file or config key that is already taken an
// *AlreadyExistsError.
type ImageManager interface {
	// PullOCIImage is oci-registry-pull: skopeo copies reference
	// ("docker.io/library/alpine:3.20"; a tag, never a digest) into the
	// OCI archive <storage>:vztmpl/<name>.tar. name is filename, or the
	// reference when filename is "", normalised as PVE does (the part
	// after the last "/", every character outside [A-Za-z0-9_.-] as "_":
	// "alpine_3.20"); ".tar" is always appended.
	PullOCIImage(ctx context.Context, node, storage, reference, filename string) (UPID, error)
	// PulledImageDigest reads a pull's log for the config digest of the
	// image it stored (skopeo's "Copying config sha256:…"); "" when the log
	// has none (the pull failed early, or upid is no pull). Ask once the
	// task succeeded: a running pull may not have logged it yet.
	PulledImageDigest(ctx context.Context, upid string) (string, error)
	// OCITags lists the tags of repository ("docker.io/library/alpine",
	// without a tag; with one it is refused) as the node's skopeo sees
	// them.
	OCITags(ctx context.Context, node, repository string) ([]string, error)
	// Appliances is the node's appliance index (what pveam lists).
	Appliances(ctx context.Context, node string) ([]Appliance, error)
	// DownloadAppliance fetches template, an Appliance.Template of the
	// node's index, into storage's templates, checked against the index's
	// checksum.
	DownloadAppliance(ctx context.Context, node, storage, template string) (UPID, error)
	// DownloadURL is download-url of a container template.
	DownloadURL(ctx context.Context, node, storage string, req DownloadRequest) (UPID, error)
	// StorageContent lists the volumes of one content type (vztmpl,
	// backup, iso, ...; "" for all) on a storage.
	StorageContent(ctx context.Context, node, storage, content string) ([]StoredVolume, error)
	// MoveVolumeToContainer is move_volume with target-vmid: the volume of
	// key (mpN or unusedN) of vmid becomes targetKey of targetVMID, a
	// container on the same node ("" keeps key). PVE renames the volume
	// to its new owner.
	MoveVolumeToContainer(ctx context.Context, node string, vmid int, key string, targetVMID int, targetKey string) (UPID, error)
}

// Appliance is one template of a node's appliance index (aplinfo.dat).
type Appliance struct {
	// Template is the file name a download stores and DownloadAppliance
	// takes ("debian-12-standard_12.7-1_amd64.tar.zst").
	Template string
	Package  string
	Version  string
	// Type is "lxc" (or the old "openvz"); PVE downloads no other.
	Type string
	// OS is the distribution ("debian-12", "alpine") as pct create's
	// ostype reads it.
	OS string
	// Section is "system" for the Proxmox base images, "turnkeylinux" for
	// TurnKey appliances.
	Section      string
	Architecture string
	Headline     string
	Infopage     string
	// Location is the URL the template is fetched from.
	Location string
	// SHA512Sum, or for old index entries MD5Sum, is what a download is
	// checked against.
	SHA512Sum string
	MD5Sum    string
}

// DownloadRequest is a download-url of a container template.
type DownloadRequest struct {
	URL string
	// Filename on the storage; PVE normalises it like PullOCIImage's and
	// wants a template extension (.tar, .tar.gz, .tar.xz, .tar.zst, ...).
	Filename string
	// Checksum (hex) and its algorithm (md5, sha1, sha224 … sha512): the
	// worker fails on a mismatch, and with a checksum a file already there
	// that matches is success instead of "refusing to override".
	Checksum, ChecksumAlgorithm string
	// InsecureSkipVerify downloads over HTTPS without verifying the
	// server's certificate (verify-certificates=0).
	InsecureSkipVerify bool
}

// StoredVolume is one entry of a storage's content listing.
type StoredVolume struct {
	Volid string
	// Format is PVE's: "tar" for an OCI archive, "t" and the compression
	// for a compressed template ("tzst"), "tar.zst" and the like for a
	// backup, "iso" for an ISO image.
	Format string
	Size   uint64
	CTime  time.Time
}

// imageRefusals are the dies of oci-registry-pull, download-url and
// apl_download about the request itself (pve-storage API2/Storage/Status.pm,
// Storage.pm storage_check_enabled; pve-manager API2/Nodes.pm): only a
// changed request or storage config fixes them.
var imageRefusals = []string{
	"not a file based storage",
	"is not configured for content-type",
	"does not support templates",
	"unknown template type",
	"' is disabled",
	"is not available on node",
	"Install 'skopeo'",
}

// reassignRefusals are move_volume's dies about a volume handed to
// another container (pve-container API2/LXC.pm, its reassign checks).
var reassignRefusals = []string{
	"Cannot move to/from 'rootfs'",
	"Moving an unused volume to a used one is not possible",
	"Both containers need to be on the same node",
	"Can't move volumes from or to template CT",
	"has no associated image",
	"Cannot move volume used by a snapshot",
	"Storage does not support moving of this disk",
	"Cannot move a bindmount or device mount",
	"missing replication support",
	"either set storage or target-vmid",
}

// refusal wraps err in a *RefusedError when PVE rejected the parameters
// (HTTP 400, which stays a *BadRequestError inside) or its plain die says
// one of texts. Typed errors (not found, locked, permissions, transport)
// pass through.
func refusal(err error, texts []string) error {
	if IsBadRequest(err) {
		return &RefusedError{Err: err}
	}
	apiErr, plain := plainDie(err)
	if plain && slices.ContainsFunc(texts, func(t string) bool { return strings.Contains(apiErr.Message, t) }) {
		return &RefusedError{Err: err}
	}
	return err
}

// PullOCIImage checks the storage (enabled, a path, vztmpl content) and that
// the archive does not exist yet ("refusing to override existing file",
// an *AlreadyExistsError) before forking an ociregistrypull worker; a
// reference skopeo cannot resolve fails the worker with run_command's
// "command 'skopeo copy …' failed: exit code 1" and skopeo's words in the
// log. The archive appears under its name only once the copy is complete.
func (c *APIClient) PullOCIImage(ctx context.Context, node, storage, reference, filename string) (UPID, error) {
	body := map[string]any{"reference": reference}
	if filename != "" {
		body["filename"] = filename
	}
	u, err := c.startTask(ctx, request{method: http.MethodPost, path: storagePath(node, storage, "/oci-registry-pull"), body: body})
	if err != nil {
		return UPID{}, fmt.Errorf("pull %s onto %s/%s: %w", reference, node, storage, refusal(err, imageRefusals))
	}
	return u, nil
}

// configDigestLine is skopeo copy's report of the image config it copied;
// the config digest is the image ID, the same on every node and registry.
var configDigestLine = regexp.MustCompile(`Copying config (sha256:[0-9a-f]{64})`)

// PulledImageDigest reads the task log; a pull's log is a few lines per
// layer, well within one page.
func (c *APIClient) PulledImageDigest(ctx context.Context, upid string) (string, error) {
	lines, err := c.TaskLog(ctx, upid, 0, 1000)
	if err != nil {
		return "", err
	}
	for _, l := range lines {
		if m := configDigestLine.FindStringSubmatch(l); m != nil {
			return m[1], nil
		}
	}
	return "", nil
}

// OCITags runs `skopeo list-tags` on the node, synchronously. A repository
// skopeo cannot list (unknown, denied, registry unreachable) is a plain
// "command 'skopeo list-tags …' failed: exit code 1" *APIError: PVE does
// not say which, so it is left for the caller to retry.
func (c *APIClient) OCITags(ctx context.Context, node, repository string) ([]string, error) {
	var tags []string
	path := "/nodes/" + url.PathEscape(node) + "/query-oci-repo-tags?" + url.Values{"reference": {repository}}.Encode()
	if err := c.get(ctx, path, &tags); err != nil {
		return nil, fmt.Errorf("list tags of %s on %s: %w", repository, node, refusal(err, imageRefusals))
	}
	return tags, nil
}

// Appliances reads the node's index (any user may); PVE lists it from a
// Perl hash, in no order, so it is sorted by template here.
func (c *APIClient) Appliances(ctx context.Context, node string) ([]Appliance, error) {
	var raw []struct {
		Template     string `json:"template"`
		Package      string `json:"package"`
		Version      text   `json:"version"`
		Type         string `json:"type"`
		OS           string `json:"os"`
		Section      string `json:"section"`
		Architecture string `json:"architecture"`
		Headline     string `json:"headline"`
		Infopage     string `json:"infopage"`
		Location     string `json:"location"`
		SHA512Sum    string `json:"sha512sum"`
		MD5Sum       string `json:"md5sum"`
	}
	if err := c.get(ctx, "/nodes/"+url.PathEscape(node)+"/aplinfo", &raw); err != nil {
		return nil, fmt.Errorf("list appliances on %s: %w", node, err)
	}
	out := make([]Appliance, 0, len(raw))
	for _, a := range raw {
		out = append(out, Appliance{
			Template: a.Template, Package: a.Package, Version: string(a.Version), Type: a.Type, OS: a.OS,
			Section: a.Section, Architecture: a.Architecture, Headline: a.Headline, Infopage: a.Infopage,
			Location: a.Location, SHA512Sum: a.SHA512Sum, MD5Sum: a.MD5Sum,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Template < out[j].Template })
	return out, nil
}

// DownloadAppliance is apl_download: a template not in the index is a 400
// ("no such template"), a storage without vztmpl content "does not support
// templates"; both are checked before the download worker forks. The
// worker fails on a checksum mismatch, and finds a matching file already
// there good enough (the task succeeds without downloading).
func (c *APIClient) DownloadAppliance(ctx context.Context, node, storage, template string) (UPID, error) {
	body := map[string]any{"storage": storage, "template": template}
	u, err := c.startTask(ctx, request{method: http.MethodPost, path: "/nodes/" + url.PathEscape(node) + "/aplinfo", body: body})
	if err != nil {
		return UPID{}, fmt.Errorf("download appliance %s onto %s/%s: %w", template, node, storage, refusal(err, imageRefusals))
	}
	return u, nil
}

// DownloadURL checks the storage and the file name's extension (a 400)
// before forking a download worker. Everything about the file itself is the
// worker's: the host, the certificate, the checksum, and a file already
// there without a checksum to compare ("refusing to override existing
// file", then a failed task whose Err is an *AlreadyExistsError).
func (c *APIClient) DownloadURL(ctx context.Context, node, storage string, req DownloadRequest) (UPID, error) {
	body := map[string]any{
		"url": req.URL, "filename": req.Filename, "content": "vztmpl",
		// Sent even when it is PVE's default, so a changed default cannot
		// turn verification off.
		"verify-certificates": b01(!req.InsecureSkipVerify),
	}
	if req.Checksum != "" {
		body["checksum"] = req.Checksum
	}
	if req.ChecksumAlgorithm != "" {
		body["checksum-algorithm"] = req.ChecksumAlgorithm
	}
	u, err := c.startTask(ctx, request{method: http.MethodPost, path: storagePath(node, storage, "/download-url"), body: body})
	if err != nil {
		return UPID{}, fmt.Errorf("download %s onto %s/%s: %w", req.URL, node, storage, refusal(err, imageRefusals))
	}
	return u, nil
}

// StorageContent is the listing BackupVolumes reads too, in PVE's order.
func (c *APIClient) StorageContent(ctx context.Context, node, storage, content string) ([]StoredVolume, error) {
	raw, err := c.listContent(ctx, node, storage, content, 0)
	if err != nil {
		return nil, fmt.Errorf("list %s on %s/%s: %w", content, node, storage, err)
	}
	out := make([]StoredVolume, 0, len(raw))
	for _, v := range raw {
		out = append(out, StoredVolume{Volid: v.VolID, Format: v.Format, Size: v.Size.uint64(), CTime: time.Unix(v.CTime.int64(), 0).UTC()})
	}
	return out, nil
}

// MoveVolumeToContainer: PVE runs its checks (both containers on one node,
// unlocked, no templates, the key set and the target key free, the volume
// in no snapshot and on a storage that renames, a running source only for
// an unusedN) before forking the move_volume worker, and again in the
// worker holding both config flocks. It sets no guest lock, so a config
// change meanwhile waits on the flock instead of failing.
//
// No digest or target-digest is sent: the worker's checks already refuse
// every change that makes the move wrong (the key gone, the target key
// taken), and a digest would fail it on any unrelated edit, such as the
// operator's own tag or description updates.
func (c *APIClient) MoveVolumeToContainer(ctx context.Context, node string, vmid int, key string, targetVMID int, targetKey string) (UPID, error) {
	body := map[string]any{"volume": key, "target-vmid": targetVMID}
	if targetKey != "" {
		body["target-volume"] = targetKey
	}
	u, err := c.startTask(ctx, request{method: http.MethodPost, path: ctPath(node, vmid, "/move_volume"), body: body})
	if err != nil {
		return UPID{}, fmt.Errorf("move %s of container %d to %s of container %d: %w", key, vmid, targetKey, targetVMID, refusal(err, reassignRefusals))
	}
	return u, nil
}
