package main

import (
	"fmt"
	"sort"
	"strings"
)

type phase struct {
	Name              string         `json:"name"`
	Seconds           float64        `json:"seconds"`
	Requests          map[string]int `json:"requests"`
	Total             int            `json:"total"`
	ManagerCPUSeconds float64        `json:"managerCPUSeconds"`
}

type report struct {
	Date             string  `json:"date"`
	Config           config  `json:"config"`
	Nodes            int     `json:"nodes"`
	ReadySeconds     float64 `json:"readySeconds"`
	BoundSeconds     float64 `json:"scheduleBoundSeconds"`
	BoundRatio       float64 `json:"readyOverBound"`
	SteadyPerSync    float64 `json:"steadyRequestsPerSyncInterval"`
	SteadyCPUPerSync float64 `json:"steadyManagerCPUSecondsPerSyncInterval"`
	ChangeP50Millis  float64 `json:"specChangeP50Millis"`
	ChangeP99Millis  float64 `json:"specChangeP99Millis"`
	// Zero when the backup phase was skipped.
	BackupSeconds       float64 `json:"backupSeconds"`
	BackupVzdumpSeconds float64 `json:"backupVzdumpSeconds"`
	BackupBoundSeconds  float64 `json:"backupBoundSeconds"`
	BackupBoundRatio    float64 `json:"backupOverBound"`
	// ArchivesLeft counts backup archives still in the simulator after the
	// delete phase; anything but 0 means deletionPolicy Delete leaked.
	ArchivesLeft      int     `json:"archivesLeftAfterDelete"`
	ManagerPeakRSSMiB float64 `json:"managerPeakRSSMiB"`
	ManagerCPUSeconds float64 `json:"managerCPUSeconds"`
	Phases            []phase `json:"phases"`
}

func printTable(r *report) {
	c := r.Config
	fmt.Printf("pvebench %s: N=%d, %d nodes, create=%s start=%s vzdump=%s, max-tasks=%d, qps=%.0f, workers=%d, backup-workers=%d, sync=%s, drift=%s at %g/s\n\n",
		r.Date, c.N, r.Nodes, c.Create, c.Start, c.Vzdump, c.MaxTasks, c.QPS, c.Workers, c.BackupWorkers, c.SyncInterval, c.DriftInterval, c.DriftRate)
	fmt.Printf("time to all Ready      %8.1fs   (schedule bound %.1fs, ratio %.2f)\n", r.ReadySeconds, r.BoundSeconds, r.BoundRatio)
	fmt.Printf("steady requests/sync   %8.1f\n", r.SteadyPerSync)
	fmt.Printf("steady manager CPU/sync %7.2fs\n", r.SteadyCPUPerSync)
	fmt.Printf("spec change -> PUT     p50 %.0fms  p99 %.0fms\n", r.ChangeP50Millis, r.ChangeP99Millis)
	if c.Backups > 0 {
		fmt.Printf("%-22s %8.1fs   (bound %.1fs = ceil(%d/%d) x vzdump %.1fs, ratio %.2f)\n",
			fmt.Sprintf("backups (%d) Completed", c.Backups), r.BackupSeconds, r.BackupBoundSeconds, c.Backups, r.Nodes, r.BackupVzdumpSeconds, r.BackupBoundRatio)
		fmt.Printf("archives left          %8d\n", r.ArchivesLeft)
	}
	fmt.Printf("manager peak RSS       %8.1f MiB\n", r.ManagerPeakRSSMiB)
	fmt.Printf("manager CPU total      %8.1fs\n\n", r.ManagerCPUSeconds)
	for _, p := range r.Phases {
		fmt.Printf("%s: %d requests in %.1fs, manager CPU %.2fs\n", p.Name, p.Total, p.Seconds, p.ManagerCPUSeconds)
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
