package proxmox

import (
	"slices"
	"time"

	"github.com/pve-operator/pve-operator/internal/pveparams"
)

// Version is GET /version.
type Version struct {
	Version string // e.g. "9.2.11"
	Release string // e.g. "9.2"
	RepoID  string
}

// Node is one entry of GET /nodes.
type Node struct {
	Name string
	// Status is "online", "offline" or "unknown".
	Status string
	// CPU is the load as a fraction of MaxCPU.
	CPU    float64
	MaxCPU int
	Mem    uint64
	MaxMem uint64
	Uptime int64
}

// Online reports Status == "online".
func (n Node) Online() bool { return n.Status == "online" }

// Storage is one storage as seen on one node.
type Storage struct {
	ID   string
	Node string
	// Type is the plugin type: dir, lvmthin, zfspool, pbs, nfs, ...
	Type string
	// Content lists accepted content types: rootdir, images, vztmpl, backup, ...
	Content []string
	Shared  bool
	Enabled bool
	Active  bool
	Total   uint64
	Used    uint64
	Avail   uint64
}

// Accepts reports whether the storage takes content of the given type.
func (s Storage) Accepts(content string) bool { return slices.Contains(s.Content, content) }

// ContainerSummary is one LXC container from the cluster-wide resource list.
// Its statistics come from pvestatd's cache (about 10 s old), and a container
// created moments ago shows Status "unknown" and no Name.
type ContainerSummary struct {
	VMID int
	Node string
	Name string
	// Status is "running", "stopped", or "unknown" (node offline, or not yet
	// reported by pvestatd).
	Status   string
	Tags     []string
	Lock     string
	Template bool
	Pool     string
	CPU      float64
	// MaxCPU is a float because PVE reports cpulimit (e.g. "1.5") there.
	MaxCPU  float64
	Mem     uint64
	MaxMem  uint64
	Disk    uint64
	MaxDisk uint64
	Uptime  int64
	// HAState is the HA manager's state of the container (started,
	// stopped, migrate, relocate, fence, error, ...), "" when HA does not
	// manage it.
	HAState string
}

// HasTag reports whether the container carries tag.
func (c ContainerSummary) HasTag(tag string) bool { return slices.Contains(c.Tags, tag) }

// ContainerStatus is GET .../lxc/{vmid}/status/current, with the fields
// go-proxmox drops (lock, template, mem, disk, cpu).
type ContainerStatus struct {
	VMID int
	Name string
	// Status is "running" or "stopped".
	Status   string
	Lock     string
	Template bool
	Tags     []string
	Uptime   int64
	CPU      float64
	CPUs     float64
	Mem      uint64
	MaxMem   uint64
	Swap     uint64
	MaxSwap  uint64
	Disk     uint64
	MaxDisk  uint64
	NetIn    uint64
	NetOut   uint64
	PID      int
}

// Running reports Status == "running".
func (s ContainerStatus) Running() bool { return s.Status == "running" }

// ContainerConfig is the raw container configuration, values exactly as PVE
// returns them (numbers as their decimal text). It includes "digest", which
// UpdateContainerConfig takes to refuse a change on a config modified since.
type ContainerConfig map[string]string

// Digest returns the config digest.
func (c ContainerConfig) Digest() string { return c["digest"] }

// PendingChange is one entry of GET .../pending.
type PendingChange struct {
	Key string
	// Value is the current value, Pending the value applied at next reboot.
	Value   string
	Pending string
	// Delete is set when the key will be removed at next reboot.
	Delete bool
}

// Interface is one network interface of a running container.
type Interface struct {
	Name        string
	HWAddr      string
	Inet        string // "10.0.0.5/24"
	Inet6       string
	IPAddresses []IPAddress
}

// IPAddress is one address of an Interface (PVE >= 8.4).
type IPAddress struct {
	Address string
	// Type is "inet" or "inet6".
	Type   string
	Prefix int
}

// Snapshot is one container snapshot ("current" is not listed).
type Snapshot struct {
	Name        string
	Description string
	Parent      string
	Time        time.Time
	// State is "prepare" while the snapshot is being taken (or after it was
	// interrupted), "delete" while it is being removed, "" when complete.
	State string
}

// BackupVolume is one backup archive on a storage.
type BackupVolume struct {
	VolID     string
	VMID      int
	Size      uint64
	CTime     time.Time
	Format    string
	Subtype   string // "lxc" or "qemu"
	Notes     string // first line only
	Protected bool
}

// TaskState is where a task is.
type TaskState string

// Task states.
const (
	TaskRunning   TaskState = "running"
	TaskSucceeded TaskState = "succeeded"
	TaskFailed    TaskState = "failed"
)

// TaskStatus is the answer of TaskStatus.
type TaskStatus struct {
	UPID  UPID
	State TaskState
	// ExitStatus is PVE's exit status once stopped: "OK", "WARNINGS: n", or
	// the error text.
	ExitStatus string
	// Warnings counts the warnings of a successful task ("WARNINGS: n").
	Warnings int
	// Err is the classified failure (a *TaskFailedError) when State is
	// TaskFailed, else nil.
	Err error
}

// Done reports a stopped task, whichever way it ended.
func (s TaskStatus) Done() bool { return s.State != TaskRunning }

// TaskSummary is one entry of a node's task list.
type TaskSummary struct {
	UPID      UPID
	StartTime time.Time
	// Running is true for tasks still in progress.
	Running bool
	// Status is the exit status of a finished task.
	Status string
	// Vanished is true for a task that stopped without its worker
	// finishing (see WorkerVanishedError).
	Vanished bool
}

// CreateRequest is a new container: the parameters of POST
// /nodes/{node}/lxc besides the VMID, which CreateContainer sends first.
type CreateRequest struct {
	// Params are sent as given, in this order (ostemplate, hostname, ...).
	Params pveparams.List
	// Password is the initial root password, if any. It travels apart from
	// Params so that it is never logged with them; it is sent last and
	// never appears in an error.
	Password string
}

// RestoreSpec restores a container from a backup archive.
type RestoreSpec struct {
	// Archive is the backup volid, e.g. "local:backup/vzdump-lxc-100-....tar.zst".
	Archive string
	// Storage receives the restored volumes; always set it, PVE's default
	// ("local") usually refuses container directories.
	Storage string
	// Force overwrites an existing, stopped container with the same VMID.
	Force bool
	// Unique regenerates MAC addresses.
	Unique bool
	Start  bool
	// Params override the archive's config (hostname, tags, ...); they are
	// sent as given, in this order, after the restore's own parameters.
	Params pveparams.List
	// Password is a new root password, if any, kept apart from Params like
	// CreateRequest's.
	Password string
}

// ConfigUpdate is one PUT .../config.
type ConfigUpdate struct {
	Set    map[string]string
	Delete []string
	// Digest, when set, makes PVE refuse the change if the config was
	// modified since it was read (DigestMismatchError).
	Digest string
}

// ShutdownOptions for a clean shutdown.
type ShutdownOptions struct {
	// Timeout in seconds; 0 means PVE's default (60).
	Timeout int
	// Force kills the container when the timeout expires.
	Force bool
}

// DeleteOptions for destroying a container.
type DeleteOptions struct {
	// Force stops a running container first.
	Force bool
	// Purge also removes it from backup jobs, replication and HA.
	Purge bool
	// DestroyUnreferencedDisks removes disks of this VMID not in the config.
	DestroyUnreferencedDisks bool
}

// BackupOptions for one vzdump of one container.
type BackupOptions struct {
	VMID    int
	Storage string
	// Mode is "snapshot" (default), "suspend" or "stop".
	Mode string
	// Compress is "0", "gzip", "lzo" or "zstd".
	Compress string
	// NotesTemplate such as "{{guestname}} owner=<uid>"; put a unique marker
	// here to find the resulting volume again (requires Storage).
	NotesTemplate string
	// Protected marks the backup protected (requires Storage).
	Protected bool
}
