// Command pvebench measures the operator against the Proxmox simulator. It
// builds cmd/manager and runs that binary as a child process, so the memory
// and CPU it reports are the operator's alone (not the benchmark's, the
// simulator's or envtest's) and the flags are those a deployment would pass.
// Around it run kube-apiserver + etcd (the envtest binaries) and, in this
// process, one simulator per host (-hosts, 3 nodes each) with chosen task
// durations, each behind its own ProxmoxHost; Applications are spread over
// the hosts round-robin.
//
// The phases, each with its Proxmox requests by route (summed over the
// hosts, with each host's total) and the manager CPU seconds it took:
//
//   - create: N Applications to all Ready, against the schedule bound (the
//     largest of the hosts' bounds), with each host's all-Ready time;
//   - steady: two sync intervals with nothing to do (requests and CPU per
//     interval are the idle cost of N Applications);
//   - restart: SIGTERM the manager, change cores of K Applications while it
//     is down, start it again; requests (total, busiest second per host) and
//     CPU in its first minute, and the time until the changes are in Proxmox;
//   - spec change: p50/p99 latency from a cores change to the Proxmox PUT;
//   - backup: Archive Backups to all Completed, against the bound set by
//     PVE's one vzdump per node, with task-status polls per Backup;
//   - delete: the Backups (and with them their archives), then the
//     Applications.
//
// With -slow-host D, host 0's simulator delays every request by D for the
// whole run, to show whether one slow cluster holds up the others: create
// ends when the other hosts' Applications are all Ready ("others ready"),
// and the later phases use only those Applications.
//
// Besides, the manager's peak RSS over the whole run (either process) and
// its total CPU. PVEBENCH_LOG=1 keeps the manager's log (both processes
// append to it) and prints its path; a failed run always keeps it.
//
//	go run ./cmd/pvebench -n 100 -json
//	go run ./cmd/pvebench -n 50 -keys -backups 0
//	go run ./cmd/pvebench -n 300 -hosts 3 -slow-host 500ms
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

type config struct {
	N              int
	Create         time.Duration
	Start          time.Duration
	Vzdump         time.Duration
	SyncInterval   time.Duration
	DriftInterval  time.Duration
	DriftRate      float64
	QPS            float64
	Burst          int
	MaxTasks       int
	Workers        int
	BackupWorkers  int
	Changes        int
	Hosts          int
	SlowHost       time.Duration
	RestartChanges int
	Backups        int
	Keys           bool
	JSON           bool
	// Pprof is where the steady phase's CPU and heap profiles of the
	// manager go; empty takes none.
	Pprof string `json:",omitempty"`
}

func main() {
	var c config
	flag.IntVar(&c.N, "n", 100, "Applications to create.")
	flag.DurationVar(&c.Create, "create", 500*time.Millisecond, "Simulated vzcreate duration.")
	flag.DurationVar(&c.Start, "start", 200*time.Millisecond, "Simulated vzstart duration.")
	flag.DurationVar(&c.Vzdump, "vzdump", time.Second, "Simulated vzdump duration.")
	flag.DurationVar(&c.SyncInterval, "sync-interval", 10*time.Second, "ProxmoxHost syncInterval.")
	flag.DurationVar(&c.DriftInterval, "drift-interval", 30*time.Second, "Manager --drift-interval: the steady phase starts once every Application is due for a drift read, so it includes them.")
	flag.Float64Var(&c.DriftRate, "drift-rate", 1, "Manager --drift-reads-per-second per host.")
	flag.Float64Var(&c.QPS, "qps", 50, "Operator's Proxmox requests per second per host.")
	flag.IntVar(&c.Burst, "burst", 100, "Operator's Proxmox request burst per host.")
	flag.IntVar(&c.MaxTasks, "max-tasks", 8, "Operator's mutating requests in flight per host.")
	flag.IntVar(&c.Workers, "workers", 16, "Parallel Application reconciles.")
	flag.IntVar(&c.BackupWorkers, "backup-workers", 4, "Parallel Backup reconciles.")
	flag.IntVar(&c.Hosts, "hosts", 1, "Simulated PVE clusters, one ProxmoxHost each (3 nodes each, the same task durations); Applications are spread round-robin. -qps, -burst and -max-tasks are per host.")
	flag.DurationVar(&c.SlowHost, "slow-host", 0, "Delay every request to host 0 by this much for the whole run (needs -hosts >= 2). The create phase then ends when the other hosts' Applications are all Ready, and the later phases use only theirs.")
	flag.IntVar(&c.RestartChanges, "restart-changes", 30, "After steady: SIGTERM the manager, change cores of this many Applications while it is down, restart it and measure its first 60 s; 0 skips the phase.")
	flag.IntVar(&c.Changes, "changes", 30, "Spec changes to time (cores), one at a time.")
	flag.IntVar(&c.Backups, "backups", 100, "Backups to take after the spec changes; 0 skips the phase. Unset, it is min(n, 100).")
	flag.BoolVar(&c.Keys, "keys", false, "Every Application declares ten more container keys (cpulimit, cpuunits, startup, timezone, cmode, tty, description, rootfs mount options, MAC address, rate).")
	flag.BoolVar(&c.JSON, "json", false, "Print JSON instead of a table.")
	flag.StringVar(&c.Pprof, "pprof", "", "Directory for the manager's CPU profile of the steady phase and its heap profile at the end of it (go tool pprof reads them); empty takes none.")
	flag.Parse()
	backupsSet := false
	flag.Visit(func(f *flag.Flag) { backupsSet = backupsSet || f.Name == "backups" })
	if !backupsSet {
		c.Backups = min(c.N, 100)
	}
	if c.N < 1 || c.Backups < 0 || (c.Backups > 0 && c.Vzdump <= 0) || c.Hosts < 1 || c.N < c.Hosts || c.SlowHost < 0 ||
		(c.SlowHost > 0 && c.Hosts < 2) || c.RestartChanges < 0 || (c.RestartChanges > 0 && c.SyncInterval <= 0) {
		fmt.Fprintln(os.Stderr, "pvebench: need -n >= -hosts >= 1, -backups >= 0, -restart-changes >= 0 and, with backups, -vzdump > 0; with -slow-host, -hosts >= 2; with restart changes, -sync-interval > 0")
		os.Exit(2)
	}
	keepLog := os.Getenv("PVEBENCH_LOG") != ""
	logTo := io.Discard
	if keepLog {
		logTo = os.Stderr
	}
	// The client and envtest log through controller-runtime; without a
	// logger it complains on stderr after 30 s.
	ctrl.SetLogger(zap.New(zap.WriteTo(logTo)))

	dir, err := os.MkdirTemp("", "pvebench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "pvebench:", err)
		os.Exit(1)
	}
	r, err := run(c, dir)
	logPath := filepath.Join(dir, "manager.log")
	if err != nil || keepLog {
		// The ~100 MB binary is not worth keeping; the log is.
		_ = os.Remove(filepath.Join(dir, "manager"))
		fmt.Fprintln(os.Stderr, "pvebench: manager log:", logPath)
	} else {
		_ = os.RemoveAll(dir)
	}
	if r != nil {
		printReport(c, r)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pvebench:", err)
		os.Exit(1)
	}
}

// printReport prints r as JSON or as the table; after a failed phase it
// holds what the phases before it measured.
func printReport(c config, r *report) {
	if c.JSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(r)
		return
	}
	printTable(r)
}
