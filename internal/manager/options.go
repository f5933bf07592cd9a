package manager

import (
	"flag"
	"time"
)

// Options configure the manager. Zero values are replaced by defaults.
type Options struct {
	// MetricsAddr is where /metrics is served ("0" disables it).
	MetricsAddr string
	// SecureMetrics serves metrics over HTTPS with apiserver authn/authz.
	SecureMetrics bool
	// ProbeAddr is where /healthz and /readyz are served ("0" disables them).
	ProbeAddr string
	// PprofAddr is where Go's /debug/pprof is served; empty or "0"
	// disables it (the default: profiles are for diagnosing, not for
	// production).
	PprofAddr string
	// LeaderElection makes only one replica reconcile at a time.
	LeaderElection bool
	// LeaderElectionNamespace holds the Lease (default: the pod's namespace).
	LeaderElectionNamespace string
	// CredentialsNamespace, when set, is the only namespace ProxmoxHost
	// credentials may come from; the operator then caches and reads Secrets
	// only there, so its RBAC can be a Role in that namespace.
	CredentialsNamespace string
	// HostConcurrency, ApplicationConcurrency and BackupConcurrency bound the
	// parallel reconciles per controller.
	HostConcurrency        int
	ApplicationConcurrency int
	BackupConcurrency      int
	// MaxTasksPerHost bounds the mutating Proxmox calls in flight per host.
	MaxTasksPerHost int
	// ProxmoxQPS and ProxmoxBurst rate-limit requests per host.
	ProxmoxQPS   float64
	ProxmoxBurst int
	// ProxmoxTimeout bounds one Proxmox HTTP request.
	ProxmoxTimeout time.Duration
	// TaskDeadline is how long a Proxmox task may run before its object is
	// Stalled with reason TaskStuck (it is still watched).
	TaskDeadline time.Duration
	// DriftInterval and DriftReadsPerSecond pace the periodic config re-reads
	// that detect edits made in Proxmox.
	DriftInterval       time.Duration
	DriftReadsPerSecond float64
	// SkipNameValidation allows several managers in one process (tests that
	// restart the operator); controller names must otherwise be unique.
	SkipNameValidation bool
	// Now is the clock the controllers judge waits by (nil: the wall
	// clock); tests move it forward to cover minutes in seconds.
	Now func() time.Time
}

// BindFlags registers the options as command-line flags.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", "0", "Address the metrics endpoint binds to, e.g. :8443; 0 disables it.")
	fs.BoolVar(&o.SecureMetrics, "metrics-secure", true, "Serve metrics over HTTPS, authenticated and authorized through the apiserver.")
	fs.StringVar(&o.ProbeAddr, "health-probe-bind-address", ":8081", "Address the health and readiness probes bind to; 0 disables them.")
	fs.StringVar(&o.PprofAddr, "pprof-bind-address", "0", "Address Go's /debug/pprof profiles are served on, e.g. 127.0.0.1:6060; 0 disables it.")
	fs.BoolVar(&o.LeaderElection, "leader-elect", false, "Elect a leader so that only one replica reconciles at a time.")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", "", "Namespace of the leader election Lease (default: the pod's namespace).")
	fs.StringVar(&o.CredentialsNamespace, "credentials-namespace", "", "Only namespace ProxmoxHost credentials Secrets may live in (empty: any namespace the operator's RBAC can read).")
	fs.IntVar(&o.HostConcurrency, "host-concurrency", 2, "Parallel ProxmoxHost reconciles.")
	fs.IntVar(&o.ApplicationConcurrency, "application-concurrency", 8, "Parallel Application reconciles.")
	fs.IntVar(&o.BackupConcurrency, "backup-concurrency", 4, "Parallel Backup, Restore and BackupSchedule reconciles.")
	fs.IntVar(&o.MaxTasksPerHost, "max-tasks-per-host", 4, "Mutating Proxmox calls in flight per host.")
	fs.Float64Var(&o.ProxmoxQPS, "proxmox-qps", 20, "Requests per second per Proxmox host.")
	fs.IntVar(&o.ProxmoxBurst, "proxmox-burst", 40, "Request burst per Proxmox host.")
	fs.DurationVar(&o.ProxmoxTimeout, "proxmox-timeout", 30*time.Second, "Timeout of one Proxmox HTTP request.")
	fs.DurationVar(&o.DriftInterval, "drift-interval", 10*time.Minute, "How often a settled Application re-reads its container's config to detect edits made in Proxmox.")
	fs.Float64Var(&o.DriftReadsPerSecond, "drift-reads-per-second", 1, "Cap on those re-reads per Proxmox host, so the steady-state load does not grow with the number of Applications.")
	fs.DurationVar(&o.TaskDeadline, "task-deadline", time.Hour, "How long a Proxmox task may run before its object reports Stalled (reason TaskStuck); it is still watched.")
}

func (o *Options) defaults() {
	if o.HostConcurrency <= 0 {
		o.HostConcurrency = 2
	}
	if o.ApplicationConcurrency <= 0 {
		o.ApplicationConcurrency = 8
	}
	if o.BackupConcurrency <= 0 {
		o.BackupConcurrency = 4
	}
	if o.MaxTasksPerHost <= 0 {
		o.MaxTasksPerHost = 4
	}
	if o.ProxmoxQPS <= 0 {
		o.ProxmoxQPS = 20
	}
	if o.ProxmoxBurst <= 0 {
		o.ProxmoxBurst = 40
	}
	if o.ProxmoxTimeout <= 0 {
		o.ProxmoxTimeout = 30 * time.Second
	}
	if o.MetricsAddr == "" {
		o.MetricsAddr = "0"
	}
	if o.ProbeAddr == "" {
		o.ProbeAddr = "0"
	}
}
