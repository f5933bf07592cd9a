package pvesim

import (
	"crypto/tls"
	"time"
)

// Defaults matching the development setup (three nodes, local + local-lvm,
// two templates, one operator token).
const (
	DefaultTokenID      = "root@pam!operator"
	DefaultTokenSecret  = "c0ffee00-5eed-4bad-a55e-000000000001"
	DefaultRootPassword = "pvesim-root"
	DefaultClusterName  = "pvesim"
	DebianTemplate      = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
	AlpineTemplate      = "local:vztmpl/alpine-3.20-default_20240908_amd64.tar.xz"
	PVEVersion          = "9.2.11"
	PVERelease          = "9.2"
	GiB                 = uint64(1) << 30
)

// NodeSpec describes one cluster node.
type NodeSpec struct {
	Name string
	// Offline starts the node offline: its guests show status "unknown" and
	// calls proxied to it fail with 595.
	Offline bool
	// CPUs and Memory (bytes) are what /nodes reports; defaults 16 and 64 GiB.
	CPUs   int
	Memory uint64
}

// StorageSpec describes one storage definition from storage.cfg.
type StorageSpec struct {
	ID string
	// Type is "dir" (no snapshots) or "lvmthin" (snapshots).
	Type string
	// Content lists the content types: vztmpl, backup, iso, rootdir, images,
	// snippets.
	Content []string
	// Total is the capacity in bytes of each instance (one per node unless
	// Shared).
	Total uint64
	// Nodes restricts the storage to these nodes; nil means every node.
	Nodes []string
	// Shared storages have one set of volumes visible from every node.
	Shared bool
	// Path is the mount point of a dir storage; default /var/lib/vz.
	Path string
	// MaxProtectedBackups limits protected backups per guest (0 = unlimited).
	MaxProtectedBackups int
	// Disabled storages are listed with enabled 0 and refuse allocations.
	Disabled bool
}

// TokenSpec is an API token. ID is "user@realm!name".
type TokenSpec struct {
	ID     string
	Secret string
	// Privileges granted on "/" and propagated; nil grants every privilege
	// (Administrator). Use Server.DropPrivilege for path-specific denials.
	Privileges []string
}

// UserSpec is a user that can log in with POST /access/ticket. ID is
// "user@realm".
type UserSpec struct {
	ID         string
	Password   string
	Privileges []string
}

// DurationRange is how long a task of one type runs; each task picks a
// uniformly random duration in [Min, Max].
type DurationRange struct {
	Min time.Duration `json:"min"`
	Max time.Duration `json:"max"`
}

// TaskDurations maps a worker type (vzcreate, vzstart, vzdump, …) to its
// duration range.
type TaskDurations map[string]DurationRange

// Task worker types, as they appear in UPIDs.
const (
	TaskCreate       = "vzcreate"
	TaskRestore      = "vzrestore"
	TaskStart        = "vzstart"
	TaskStop         = "vzstop"
	TaskShutdown     = "vzshutdown"
	TaskReboot       = "vzreboot"
	TaskSuspend      = "vzsuspend"
	TaskResume       = "vzresume"
	TaskDestroy      = "vzdestroy"
	TaskTemplate     = "vztemplate"
	TaskClone        = "vzclone"
	TaskMigrate      = "vzmigrate"
	TaskResize       = "resize"
	TaskSnapshot     = "vzsnapshot"
	TaskDelSnapshot  = "vzdelsnapshot"
	TaskRollback     = "vzrollback"
	TaskVzdump       = "vzdump"
	TaskImgDel       = "imgdel"
	ProfileFast      = "fast"
	ProfileRealistic = "realistic"
)

// FastDurations are the test defaults: every task finishes within 300 ms.
func FastDurations() TaskDurations {
	ms := time.Millisecond
	return TaskDurations{
		TaskCreate:      {100 * ms, 300 * ms},
		TaskRestore:     {100 * ms, 300 * ms},
		TaskStart:       {50 * ms, 150 * ms},
		TaskStop:        {50 * ms, 100 * ms},
		TaskShutdown:    {50 * ms, 150 * ms},
		TaskReboot:      {100 * ms, 200 * ms},
		TaskSuspend:     {50 * ms, 100 * ms},
		TaskResume:      {50 * ms, 100 * ms},
		TaskDestroy:     {50 * ms, 150 * ms},
		TaskTemplate:    {50 * ms, 100 * ms},
		TaskClone:       {100 * ms, 300 * ms},
		TaskMigrate:     {100 * ms, 300 * ms},
		TaskResize:      {50 * ms, 150 * ms},
		TaskSnapshot:    {50 * ms, 150 * ms},
		TaskDelSnapshot: {50 * ms, 100 * ms},
		TaskRollback:    {50 * ms, 150 * ms},
		TaskVzdump:      {150 * ms, 300 * ms},
		TaskImgDel:      {50 * ms, 100 * ms},
	}
}

// RealisticDurations approximate a small real cluster: rough figures, not
// measurements (a create or restore takes tens of seconds, a start a few).
func RealisticDurations() TaskDurations {
	s := time.Second
	return TaskDurations{
		TaskCreate:      {10 * s, 60 * s},
		TaskRestore:     {10 * s, 60 * s},
		TaskStart:       {1 * s, 3 * s},
		TaskStop:        {1 * s, 1 * s},
		TaskShutdown:    {2 * s, 8 * s},
		TaskReboot:      {3 * s, 8 * s},
		TaskSuspend:     {1 * s, 2 * s},
		TaskResume:      {1 * s, 2 * s},
		TaskDestroy:     {1 * s, 3 * s},
		TaskTemplate:    {1 * s, 3 * s},
		TaskClone:       {10 * s, 60 * s},
		TaskMigrate:     {10 * s, 40 * s},
		TaskResize:      {1 * s, 5 * s},
		TaskSnapshot:    {1 * s, 5 * s},
		TaskDelSnapshot: {1 * s, 3 * s},
		TaskRollback:    {1 * s, 5 * s},
		TaskVzdump:      {10 * s, 90 * s},
		TaskImgDel:      {200 * time.Millisecond, 900 * time.Millisecond},
	}
}

// SSHOptions switches on the simulated node SSH daemon (package sshd), whose
// `pct exec` consults this server for container existence and state, and
// whose /etc/pve/lxc config files, `pct config` and `pct list` are this
// server's containers.
type SSHOptions struct {
	// Addr is the loopback listen address; default "127.0.0.1:0".
	Addr string
	// HostKeyPath loads (or creates) the host key there; empty generates a
	// throwaway key.
	HostKeyPath string
	// AuthorizedKeys are the OpenSSH public key lines allowed to log in.
	AuthorizedKeys []string
	// ScratchRoot holds the per-container working directories.
	ScratchRoot string
}

// Options configures a simulator. The zero value gives the development
// defaults (see DefaultOptions).
type Options struct {
	// Addr is the listen address; default "127.0.0.1:0".
	Addr string
	// ClusterName appears in /cluster/status when there is more than one node.
	ClusterName string
	Nodes       []NodeSpec
	Storages    []StorageSpec
	// Templates are vztmpl volids seeded on their storage (on every node for a
	// non-shared storage).
	Templates []string
	// Pools that exist; creating with another pool gives 403.
	Pools []string
	// Downloads are the files the nodes can fetch by URL (download-url and
	// the aplinfo download), Appliances the aplinfo index and OCIImages the
	// registries' images (see catalogues.go); nil gives DefaultDownloads,
	// DefaultAppliances and DefaultOCIImages.
	Downloads  []DownloadSource
	Appliances []ApplianceSpec
	OCIImages  []OCIImageSpec
	// Tokens and Users; when both are nil, DefaultTokenID/DefaultTokenSecret
	// and root@pam/DefaultRootPassword exist with every privilege.
	Tokens []TokenSpec
	Users  []UserSpec

	// Profile is ProfileFast (default) or ProfileRealistic; it picks the
	// default task durations, TimeoutUnit and DHCPDelay.
	Profile string
	// Durations override the profile per task type.
	Durations TaskDurations
	// TimeoutUnit is how long one second of a PVE-side wait lasts: the
	// shutdown `timeout`, vzdump `lockwait` and content-delete `delay`.
	// Default 10 ms in the fast profile, 1 s in the realistic one.
	TimeoutUnit time.Duration
	// FlockTimeout is how long a second worker waits for the per-CT config
	// flock before failing with "got timeout"; PVE uses 10 s (the default).
	FlockTimeout time.Duration
	// DHCPDelay is how long after start a DHCP interface gets its lease;
	// default 100 ms (fast) or 2 s (realistic).
	DHCPDelay time.Duration

	// UnauthorizedDelay delays every 401 (PVE uses 3 s); default 0.
	UnauthorizedDelay time.Duration
	// TicketLifetime is how long a login ticket is valid; default 2 h.
	TicketLifetime time.Duration
	// ResourcesRefresh > 0 serves /cluster/resources guest statistics from a
	// snapshot refreshed at this interval, like pvestatd's RRD cache (10 s in
	// PVE); new guests then show status "unknown" without a name until the
	// next refresh. 0 (default) serves live values.
	ResourcesRefresh time.Duration

	// Now is the clock for UPIDs, ctime, uptime, tickets and backup names;
	// default time.Now. Task durations always run on real timers.
	Now func() time.Time
	// Location is the nodes' local time zone (backup file names); default UTC.
	Location *time.Location
	// Seed makes MAC addresses, durations and PIDs reproducible; 0 picks 1.
	Seed int64

	// StateFile, when set, is loaded at start (if it exists) and written on
	// Close and by SaveState.
	StateFile string

	// TLSCertificate replaces the generated server certificate; CACertPEM is
	// then what CACertPEM() returns (the issuer of TLSCertificate).
	TLSCertificate *tls.Certificate
	CACertPEM      []byte
	// Hostnames are extra DNS names / IPs for the generated certificate.
	Hostnames []string

	// SSH starts the simulated node SSH daemon when non-nil.
	SSH *SSHOptions

	// Logf receives one line per request and task; nil discards.
	Logf func(format string, args ...any)
}

// DefaultNodes, DefaultStorages and DefaultTemplates describe the dev setup.
func DefaultNodes() []NodeSpec {
	return []NodeSpec{{Name: "pve1"}, {Name: "pve2"}, {Name: "pve3"}}
}

// DefaultStorages returns local (dir: vztmpl, backup, iso) and local-lvm
// (lvmthin: rootdir, images) on every node.
func DefaultStorages() []StorageSpec {
	return []StorageSpec{
		{ID: "local", Type: "dir", Content: []string{"vztmpl", "backup", "iso"}, Total: 100 * GiB, Path: "/var/lib/vz"},
		{ID: "local-lvm", Type: "lvmthin", Content: []string{"rootdir", "images"}, Total: 500 * GiB},
	}
}

// DefaultTemplates returns the Debian 12 and Alpine 3.20 vztmpl volids.
func DefaultTemplates() []string { return []string{DebianTemplate, AlpineTemplate} }

// DefaultOptions returns the development defaults with the fast profile.
func DefaultOptions() Options {
	return Options{
		ClusterName: DefaultClusterName,
		Nodes:       DefaultNodes(),
		Storages:    DefaultStorages(),
		Templates:   DefaultTemplates(),
	}
}

// withDefaults fills every unset field.
func (o Options) withDefaults() Options {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.ClusterName == "" {
		o.ClusterName = DefaultClusterName
	}
	o.inventoryDefaults()
	o.catalogueDefaults()
	if o.Tokens == nil && o.Users == nil {
		o.Tokens = []TokenSpec{{ID: DefaultTokenID, Secret: DefaultTokenSecret}}
		o.Users = []UserSpec{{ID: "root@pam", Password: DefaultRootPassword}}
	}
	o.timingDefaults()
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	return o
}

// inventoryDefaults fills the nodes, storages and templates.
func (o *Options) inventoryDefaults() {
	if len(o.Nodes) == 0 {
		o.Nodes = DefaultNodes()
	}
	for i := range o.Nodes {
		if o.Nodes[i].CPUs <= 0 {
			o.Nodes[i].CPUs = 16
		}
		if o.Nodes[i].Memory == 0 {
			o.Nodes[i].Memory = 64 * GiB
		}
	}
	if o.Storages == nil {
		o.Storages = DefaultStorages()
	}
	for i := range o.Storages {
		if o.Storages[i].Type == "" {
			o.Storages[i].Type = "dir"
		}
		if o.Storages[i].Path == "" && o.Storages[i].Type == "dir" {
			o.Storages[i].Path = "/var/lib/vz"
		}
		if o.Storages[i].Total == 0 {
			o.Storages[i].Total = 100 * GiB
		}
	}
	if o.Templates == nil {
		o.Templates = DefaultTemplates()
	}
}

// timingDefaults fills the task durations and timeouts of the profile.
func (o *Options) timingDefaults() {
	if o.Profile == "" {
		o.Profile = ProfileFast
	}
	base := FastDurations()
	if o.Profile == ProfileRealistic {
		base = RealisticDurations()
	}
	for k, v := range o.Durations {
		base[k] = v
	}
	o.Durations = base
	if o.TimeoutUnit <= 0 {
		o.TimeoutUnit = 10 * time.Millisecond
		if o.Profile == ProfileRealistic {
			o.TimeoutUnit = time.Second
		}
	}
	if o.FlockTimeout <= 0 {
		o.FlockTimeout = 10 * time.Second
	}
	if o.DHCPDelay <= 0 {
		o.DHCPDelay = 100 * time.Millisecond
		if o.Profile == ProfileRealistic {
			o.DHCPDelay = 2 * time.Second
		}
	}
	if o.TicketLifetime <= 0 {
		o.TicketLifetime = 2 * time.Hour
	}
}
