package main

import (
	"fmt"
	"sort"
	"strings"
)

type phase struct {
	Name     string         `json:"name"`
	Seconds  float64        `json:"seconds"`
	Requests map[string]int `json:"requests"`
	Total    int            `json:"total"`
	// HostTotals are the requests of Total by host, in host order.
	HostTotals        []int   `json:"hostTotals"`
	ManagerCPUSeconds float64 `json:"managerCPUSeconds"`
}

// hostReport is one simulated cluster and its ProxmoxHost.
type hostReport struct {
	Name         string `json:"name"`
	Applications int    `json:"applications"`
	// Slow is host 0 with -slow-host: every request to it was delayed.
	Slow bool `json:"slow,omitempty"`
	// ReadySeconds is when all of its Applications were first Ready, from
	// the start of the create phase; nil if not by the phase's end.
	ReadySeconds     *float64 `json:"readySeconds"`
	ReadyAtCreateEnd int      `json:"readyAtCreateEnd"`
	BoundSeconds     float64  `json:"scheduleBoundSeconds"`
	// Requests in the first minute after the restart, and the most in any
	// 1-second window of it.
	RestartRequests      int `json:"restartRequests,omitempty"`
	RestartPeakPerSecond int `json:"restartPeakRequestsPerSecond,omitempty"`
}

// restartReport is the restart phase; nil when it was skipped.
type restartReport struct {
	Changes int `json:"changes"`
	// Requests is the total over all hosts in the first minute.
	Requests int `json:"requests"`
	// ConvergeSeconds is from the new process's start until every change
	// made while it was down is in Proxmox; nil if not within 10 minutes.
	ConvergeSeconds       *float64 `json:"convergeSeconds"`
	ConvergeSyncIntervals float64  `json:"convergeSyncIntervals"`
	// CPUSeconds is the new process's CPU in its first minute.
	CPUSeconds float64 `json:"managerCPUSeconds"`
}

type report struct {
	Date         string       `json:"date"`
	Config       config       `json:"config"`
	Nodes        int          `json:"nodes"`
	Hosts        []hostReport `json:"hosts"`
	ReadySeconds float64      `json:"readySeconds"`
	// BoundSeconds is the largest measured host's schedule bound.
	BoundSeconds float64 `json:"scheduleBoundSeconds"`
	BoundRatio   float64 `json:"readyOverBound"`
	// OthersReadySeconds is the slowest all-Ready time of hosts 1..H-1,
	// the hosts a slow host 0 must not hold up; 0 with one host.
	OthersReadySeconds   float64        `json:"othersReadySeconds"`
	SteadyPerSync        float64        `json:"steadyRequestsPerSyncInterval"`
	SteadyPerSyncPerHost float64        `json:"steadyRequestsPerSyncIntervalPerHost"`
	SteadyCPUPerSync     float64        `json:"steadyManagerCPUSecondsPerSyncInterval"`
	Restart              *restartReport `json:"restart,omitempty"`
	ChangeP50Millis      float64        `json:"specChangeP50Millis"`
	ChangeP99Millis      float64        `json:"specChangeP99Millis"`
	// Zero when the backup phase was skipped.
	BackupSeconds        float64 `json:"backupSeconds"`
	BackupVzdumpSeconds  float64 `json:"backupVzdumpSeconds"`
	BackupBoundSeconds   float64 `json:"backupBoundSeconds"`
	BackupBoundRatio     float64 `json:"backupOverBound"`
	PollsPerBackup       float64 `json:"taskStatusPollsPerBackup"`
	VzdumpPostsPerBackup float64 `json:"vzdumpPostsPerBackup"`
	// ArchivesLeft counts backup archives still in the simulators after the
	// delete phase; anything but 0 means deletionPolicy Delete leaked.
	ArchivesLeft int `json:"archivesLeftAfterDelete"`
	// Over both manager processes when the restart phase ran: the peak of
	// either, the sum of their CPU.
	ManagerPeakRSSMiB float64 `json:"managerPeakRSSMiB"`
	ManagerCPUSeconds float64 `json:"managerCPUSeconds"`
	Phases            []phase `json:"phases"`
}

func printTable(r *report) {
	c := r.Config
	fmt.Printf("pvebench %s: N=%d, %d hosts x %d nodes, create=%s start=%s vzdump=%s, max-tasks=%d, qps=%.0f, workers=%d, backup-workers=%d, sync=%s, drift=%s at %g/s, slow-host=%s\n\n",
		r.Date, c.N, c.Hosts, r.Nodes, c.Create, c.Start, c.Vzdump, c.MaxTasks, c.QPS, c.Workers, c.BackupWorkers, c.SyncInterval, c.DriftInterval, c.DriftRate, c.SlowHost)
	fmt.Printf("time to all Ready      %8.1fs   (schedule bound %.1fs, ratio %.2f)\n", r.ReadySeconds, r.BoundSeconds, r.BoundRatio)
	if c.Hosts > 1 {
		fmt.Printf("others ready           %8.1fs   (slowest of hosts 1..%d)\n", r.OthersReadySeconds, c.Hosts-1)
	}
	printHosts(r)
	fmt.Printf("steady requests/sync   %8.1f   (%.1f per host)\n", r.SteadyPerSync, r.SteadyPerSyncPerHost)
	fmt.Printf("steady manager CPU/sync %7.2fs\n", r.SteadyCPUPerSync)
	if rr := r.Restart; rr != nil {
		conv := "not within 10 min"
		if rr.ConvergeSeconds != nil {
			conv = fmt.Sprintf("%.1fs = %.1f sync intervals", *rr.ConvergeSeconds, rr.ConvergeSyncIntervals)
		}
		fmt.Printf("restart, first 60s     %8d requests, manager CPU %.2fs; %d changes made while down in Proxmox after %s\n",
			rr.Requests, rr.CPUSeconds, rr.Changes, conv)
	}
	fmt.Printf("spec change -> PUT     p50 %.0fms  p99 %.0fms\n", r.ChangeP50Millis, r.ChangeP99Millis)
	if c.Backups > 0 {
		fmt.Printf("%-22s %8.1fs   (bound %.1fs = ceil(backups per host/%d) x vzdump %.1fs, ratio %.2f)\n",
			fmt.Sprintf("backups (%d) Completed", c.Backups), r.BackupSeconds, r.BackupBoundSeconds, r.Nodes, r.BackupVzdumpSeconds, r.BackupBoundRatio)
		fmt.Printf("per backup             %8.1f task-status polls, %.1f vzdump POSTs\n", r.PollsPerBackup, r.VzdumpPostsPerBackup)
		fmt.Printf("archives left          %8d\n", r.ArchivesLeft)
	}
	fmt.Printf("manager peak RSS       %8.1f MiB\n", r.ManagerPeakRSSMiB)
	fmt.Printf("manager CPU total      %8.1fs\n\n", r.ManagerCPUSeconds)
	printPhases(r.Phases)
}

func printHosts(r *report) {
	fmt.Printf("  %-15s %5s %9s %7s %9s %17s\n", "host", "apps", "ready", "bound", "ready/N", "restart req/peak")
	for _, h := range r.Hosts {
		ready := "-"
		if h.ReadySeconds != nil {
			ready = fmt.Sprintf("%.1fs", *h.ReadySeconds)
		}
		name := h.Name
		if h.Slow {
			name += " (slow)"
		}
		fmt.Printf("  %-15s %5d %9s %6.1fs %4d/%-4d %10d/%d\n",
			name, h.Applications, ready, h.BoundSeconds, h.ReadyAtCreateEnd, h.Applications, h.RestartRequests, h.RestartPeakPerSecond)
	}
}

func printPhases(phases []phase) {
	for _, p := range phases {
		fmt.Printf("%s: %d requests (by host %v) in %.1fs, manager CPU %.2fs\n", p.Name, p.Total, p.HostTotals, p.Seconds, p.ManagerCPUSeconds)
		keys := make([]string, 0, len(p.Requests))
		for k := range p.Requests {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Printf("  %6d  %s\n", p.Requests[k], strings.TrimSpace(k))
		}
	}
}
