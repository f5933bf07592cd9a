package controllers

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Backup metrics, served on the manager's /metrics endpoint, so that "no
// backup for a week" and "backups keep failing" can alert, e.g.
//
//	time() - pve_operator_backup_last_success_timestamp_seconds > 7*24*3600
//	increase(pve_operator_backup_outcomes_total{outcome="failed"}[1d]) > 0
var (
	lastBackupSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "pve_operator_backup_last_success_timestamp_seconds",
		Help: "Completion time (Unix seconds) of the newest Completed Backup of each Application.",
	}, []string{"namespace", "application"})

	backupOutcomes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pve_operator_backup_outcomes_total",
		Help: "Backups that reached a terminal phase, by outcome (completed or failed) and type (Archive or Snapshot).",
	}, []string{"namespace", "application", "type", "outcome"})

	// The two BackupSchedule gauges let one rule say "this schedule has not
	// produced a Completed Backup for longer than it should have", whatever
	// its cron expression, by comparing the age with the interval:
	//
	//	time() - pve_operator_backupschedule_last_success_timestamp_seconds
	//	  > 2 * pve_operator_backupschedule_interval_seconds
	//
	// They are set where every pass ends (recordObjectMetrics).
	backupScheduleInterval = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "pve_operator_backupschedule_interval_seconds",
		Help: "Longest gap between the next runs of each active BackupSchedule (absent while suspended or invalid).",
	}, []string{"namespace", "schedule"})

	backupScheduleLastSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "pve_operator_backupschedule_last_success_timestamp_seconds",
		Help: "Completion time (Unix seconds) of the newest Completed Backup of each active BackupSchedule, or its creation time while it has none.",
	}, []string{"namespace", "schedule"})
)

func init() {
	metrics.Registry.MustRegister(lastBackupSuccess, backupOutcomes, backupScheduleInterval, backupScheduleLastSuccess)
}
