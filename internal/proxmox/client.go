package proxmox

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	pve "github.com/luthermonson/go-proxmox"
)

// ClusterReader lists what exists on the host. Containers is one request
// whatever the number of containers.
type ClusterReader interface {
	Version(ctx context.Context) (Version, error)
	Nodes(ctx context.Context) ([]Node, error)
	// Storages lists the storages of one node with capacity figures.
	Storages(ctx context.Context, node string) ([]Storage, error)
	// ClusterStorages lists every storage on every node in one request
	// (no Enabled/Avail figures: Active means "available", Avail = Total-Used).
	ClusterStorages(ctx context.Context) ([]Storage, error)
	// Containers lists every LXC container in the cluster in one request.
	Containers(ctx context.Context) ([]ContainerSummary, error)
	// NextID returns a free VMID. It is a hint: another client may take it
	// before the create; CreateContainer then fails with AlreadyExistsError.
	NextID(ctx context.Context) (int, error)
	// CheckVMID returns nil when vmid is free cluster-wide (containers and
	// VMs alike), an *AlreadyExistsError when it is taken.
	CheckVMID(ctx context.Context, vmid int) error
}

// ContainerReader reads one container.
type ContainerReader interface {
	// ContainerConfig returns the config including pending values; with
	// current set, the running values instead.
	ContainerConfig(ctx context.Context, node string, vmid int, current bool) (ContainerConfig, error)
	ContainerStatus(ctx context.Context, node string, vmid int) (ContainerStatus, error)
	Pending(ctx context.Context, node string, vmid int) ([]PendingChange, error)
	// Interfaces returns nil for a stopped container.
	Interfaces(ctx context.Context, node string, vmid int) ([]Interface, error)
}

// ContainerWriter changes containers. Methods returning a UPID start a PVE
// task and return as soon as PVE accepted it; they never wait. Record the
// UPID and ask TaskStatus later.
type ContainerWriter interface {
	CreateContainer(ctx context.Context, node string, vmid int, req CreateRequest) (UPID, error)
	RestoreContainer(ctx context.Context, node string, vmid int, spec RestoreSpec) (UPID, error)
	// UpdateContainerConfig is synchronous (PVE answers null, no task).
	UpdateContainerConfig(ctx context.Context, node string, vmid int, update ConfigUpdate) error
	StartContainer(ctx context.Context, node string, vmid int) (UPID, error)
	// StopContainer is a hard stop.
	StopContainer(ctx context.Context, node string, vmid int) (UPID, error)
	ShutdownContainer(ctx context.Context, node string, vmid int, opts ShutdownOptions) (UPID, error)
	RebootContainer(ctx context.Context, node string, vmid int) (UPID, error)
	// ResizeDisk grows disk ("rootfs", "mp0") to size ("10G") or by it ("+2G").
	ResizeDisk(ctx context.Context, node string, vmid int, disk, size string) (UPID, error)
	DeleteContainer(ctx context.Context, node string, vmid int, opts DeleteOptions) (UPID, error)
	// There is deliberately no Unlock: PVE's PUT config runs check_lock
	// before applying anything, "delete=lock" included, so a stale lock can
	// only be removed with `pct unlock <vmid>` on the node (over SSH).
}

// SnapshotManager handles container snapshots.
type SnapshotManager interface {
	Snapshots(ctx context.Context, node string, vmid int) ([]Snapshot, error)
	CreateSnapshot(ctx context.Context, node string, vmid int, name, description string) (UPID, error)
	DeleteSnapshot(ctx context.Context, node string, vmid int, name string) (UPID, error)
	// RollbackSnapshot kills a running container; start restarts it after.
	RollbackSnapshot(ctx context.Context, node string, vmid int, name string, start bool) (UPID, error)
}

// BackupManager handles vzdump backups and backup volumes.
type BackupManager interface {
	// Vzdump starts a backup of one container on the node that hosts it. A
	// container that is not on node gives *WrongNodeError (PVE says "OK").
	Vzdump(ctx context.Context, node string, opts BackupOptions) (UPID, error)
	// BackupVolumes lists the backups of vmid (0: all) on one storage.
	BackupVolumes(ctx context.Context, node, storage string, vmid int) ([]BackupVolume, error)
	// DeleteVolume returns a zero UPID when PVE finished synchronously.
	DeleteVolume(ctx context.Context, node, storage, volid string) (UPID, error)
	SetVolumeProtected(ctx context.Context, node, storage, volid string, protected bool) error
	SetVolumeNotes(ctx context.Context, node, storage, volid, notes string) error
}

// TaskReader asks about tasks. It works from UPID strings alone, so an
// operator restarted mid-task picks up where it left off.
type TaskReader interface {
	// TaskStatus never blocks on the task: it returns its state now. A task
	// that ended in failure is a TaskStatus with State TaskFailed and Err set,
	// not an error; errors are about the asking (NoSuchTaskError, ...).
	TaskStatus(ctx context.Context, upid string) (TaskStatus, error)
	// TaskLog returns up to limit log lines starting at line start (0-based).
	TaskLog(ctx context.Context, upid string, start, limit int) ([]string, error)
	// ActiveTasks lists node's active tasks about vmid (0: all guests);
	// TaskSummary.Running tells those still in progress.
	ActiveTasks(ctx context.Context, node string, vmid int) ([]TaskSummary, error)
	// OwnGuestTasks lists node's tasks about vmid, running or ended, that
	// this client's own principal started at or after since.
	OwnGuestTasks(ctx context.Context, node string, vmid int, since time.Time) ([]TaskSummary, error)
}

// Client is everything the operator does with one Proxmox VE endpoint.
type Client interface {
	ClusterReader
	ContainerReader
	ContainerWriter
	SnapshotManager
	BackupManager
	TaskReader
	CloneManager
	PoolManager
	Migrator
	HAManager
	ImageManager
}

var _ Client = (*APIClient)(nil)

// APIClient implements Client over go-proxmox. Create it with New; it is safe
// for concurrent use.
type APIClient struct {
	// pve is the go-proxmox client requests go through. With password
	// credentials it carries one ticket and is replaced, never mutated, on
	// re-login; nil means "log in first".
	pve        atomic.Pointer[sessionClient]
	login      *pve.Client // unauthenticated, for POST /access/ticket
	newSession func(ticket, csrf string) *pve.Client
	endpoint   Endpoint
	http       *http.Client
	creds      Credentials
	redactor   redactor
	limits     *limits
	observe    func(method, route string, code int, outcome string, d time.Duration)

	// sessionMu serialises logins so concurrent first calls log in once.
	sessionMu sync.Mutex
}

// New builds a client for cfg. It makes no request.
func New(cfg Config) (*APIClient, error) {
	cfg = cfg.withDefaults()
	ep, err := ParseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	base := ep.APIURL()
	if err := cfg.Credentials.validate(); err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", base, err)
	}
	hc, err := cfg.httpClient()
	if err != nil {
		return nil, fmt.Errorf("TLS settings for %s: %w", base, err)
	}
	hc.Transport = &recordingTransport{base: hc.Transport}

	// No pve.WithRetry: go-proxmox would replay POSTs after a dropped
	// connection, and a create whose answer was lost must be found again by
	// its ownership marker, never repeated. v0.8.2 retries only when asked.
	common := []pve.Option{pve.WithHTTPClient(hc), pve.WithUserAgent("pve-operator")}
	c := &APIClient{
		login: pve.NewClient(base, common...),
		newSession: func(ticket, csrf string) *pve.Client {
			return pve.NewClient(base, append(common, pve.WithSession(ticket, csrf))...)
		},
		endpoint: ep,
		http:     hc,
		creds:    cfg.Credentials,
		redactor: redactor{secrets: cfg.Credentials.secrets()},
		limits:   newLimits(cfg.RateLimit, cfg.MaxConcurrentTasks),
		observe:  cfg.Observe,
	}
	if cfg.Credentials.useToken() {
		token := pve.WithAPIToken(cfg.Credentials.TokenID, cfg.Credentials.TokenSecret)
		c.pve.Store(&sessionClient{pc: pve.NewClient(base, append(common, token)...)})
	}
	return c, nil
}

// authID is the principal tasks this client starts are recorded under:
// the token ID (user@realm!name) or the user.
func (c *APIClient) authID() string {
	if c.creds.useToken() {
		return c.creds.TokenID
	}
	return c.creds.Username
}

// Endpoint is the parsed address the client talks to.
func (c *APIClient) Endpoint() Endpoint { return c.endpoint }

// Close releases idle connections. The client must not be used after.
func (c *APIClient) Close() { c.http.CloseIdleConnections() }
