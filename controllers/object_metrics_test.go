package controllers

import (
	"errors"
	"fmt"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// readySeries returns every pve_operator_object_ready series of one object.
func readySeries(t *testing.T, kind, namespace, name string) []*dto.Metric {
	t.Helper()
	families, err := gatherFamilies()
	if err != nil {
		t.Fatal(err)
	}
	var out []*dto.Metric
	for _, m := range families["pve_operator_object_ready"] {
		if hasLabels(m, map[string]string{"kind": kind, "namespace": namespace, "name": name}) {
			out = append(out, m)
		}
	}
	return out
}

func gatherFamilies() (map[string][]*dto.Metric, error) {
	families, err := metrics.Registry.Gather()
	if err != nil {
		return nil, err
	}
	out := map[string][]*dto.Metric{}
	for _, f := range families {
		out[f.GetName()] = f.GetMetric()
	}
	return out, nil
}

func readyCondition(status metav1.ConditionStatus, reason string) []metav1.Condition {
	return []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: status, Reason: reason}}
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func TestObjectReadyGauge(t *testing.T) {
	type pass struct {
		conds []metav1.Condition
		// deleted: the pass ends an object whose finalizers are all gone.
		deleted bool
	}
	for i, c := range []struct {
		name       string
		passes     []pass
		wantReason string
		wantValue  float64
		wantNone   bool
	}{
		{"a Ready object has one series with value 1 and its reason",
			[]pass{{conds: readyCondition(metav1.ConditionTrue, v1alpha1.ReasonReconciled)}}, v1alpha1.ReasonReconciled, 1, false},
		{"an object that is not Ready has value 0",
			[]pass{{conds: readyCondition(metav1.ConditionFalse, v1alpha1.ReasonTaskStuck)}}, v1alpha1.ReasonTaskStuck, 0, false},
		{"a changed reason replaces the series instead of adding one",
			[]pass{
				{conds: readyCondition(metav1.ConditionFalse, v1alpha1.ReasonCreating)},
				{conds: readyCondition(metav1.ConditionTrue, v1alpha1.ReasonReconciled)},
			}, v1alpha1.ReasonReconciled, 1, false},
		{"an object without a Ready condition has no series",
			[]pass{{conds: nil}}, "", 0, true},
		{"an object whose deletion is complete loses its series",
			[]pass{
				{conds: readyCondition(metav1.ConditionTrue, v1alpha1.ReasonReconciled)},
				{conds: readyCondition(metav1.ConditionFalse, v1alpha1.ReasonDeleting), deleted: true},
			}, "", 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := fmt.Sprintf("ready-gauge-%d", i)
			defer forgetObjectMetrics("Application", "team-a", name)
			for _, p := range c.passes {
				app := &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a"}}
				if p.deleted {
					app.DeletionTimestamp = &metav1.Time{Time: time.Now()}
				}
				recordObjectMetrics(app, p.conds)
			}
			got := readySeries(t, "Application", "team-a", name)
			if c.wantNone {
				if len(got) != 0 {
					t.Fatalf("series %v, want none", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("%d series, want 1: %v", len(got), got)
			}
			if r := labelOf(got[0], "reason"); r != c.wantReason {
				t.Errorf("reason %q, want %q", r, c.wantReason)
			}
			if v := got[0].GetGauge().GetValue(); v != c.wantValue {
				t.Errorf("value %v, want %v", v, c.wantValue)
			}
		})
	}
}

func TestObjectMetricsAreForgotten(t *testing.T) {
	host := &v1alpha1.ProxmoxHost{ObjectMeta: metav1.ObjectMeta{Name: "forgotten-host"}}
	recordObjectMetrics(host, readyCondition(metav1.ConditionTrue, v1alpha1.ReasonConnected))
	if got := readySeries(t, "ProxmoxHost", "", "forgotten-host"); len(got) != 1 {
		t.Fatalf("a cluster-scoped object has %d series, want 1", len(got))
	}
	forgetObjectMetrics("ProxmoxHost", "", "forgotten-host")
	if got := readySeries(t, "ProxmoxHost", "", "forgotten-host"); len(got) != 0 {
		t.Fatalf("series left after forgetObjectMetrics: %v", got)
	}
}

func TestObjectMetricsForgetIfGone(t *testing.T) {
	req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "team-g", Name: "gone"}}
	for _, c := range []struct {
		name    string
		err     error
		wantErr bool
		kept    bool
	}{
		{"a NotFound drops the series and is no error", apierrors.NewNotFound(schema.GroupResource{Resource: "restores"}, "gone"), false, false},
		{"another error is returned and keeps the series", errors.New("apiserver down"), true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			rs := &v1alpha1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "gone", Namespace: "team-g"}}
			recordObjectMetrics(rs, readyCondition(metav1.ConditionTrue, v1alpha1.ReasonCompleted))
			defer forgetObjectMetrics("Restore", "team-g", "gone")
			if err := forgetIfGone("Restore", req, c.err); (err != nil) != c.wantErr {
				t.Errorf("error %v, want error: %v", err, c.wantErr)
			}
			if n := len(readySeries(t, "Restore", "team-g", "gone")); (n == 1) != c.kept {
				t.Errorf("%d series, want kept: %v", n, c.kept)
			}
		})
	}
}

func TestObjectMetricsOfADeletedApplicationIncludeItsBackupSeries(t *testing.T) {
	labels := map[string]string{"namespace": "team-d", "application": "gone"}
	lastBackupSuccess.WithLabelValues("team-d", "gone").Set(1)
	backupOutcomes.WithLabelValues("team-d", "gone", "Archive", "failed").Inc()
	forgetObjectMetrics("Application", "team-d", "gone")
	if m := scrape(t, "pve_operator_backup_last_success_timestamp_seconds", labels); m != nil {
		t.Errorf("last success series left: %v", m)
	}
	if m := scrape(t, "pve_operator_backup_outcomes_total", labels); m != nil {
		t.Errorf("outcome series left: %v", m)
	}
}

func TestObjectScheduleMetrics(t *testing.T) {
	created := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	success := metav1.NewTime(created.Add(36 * time.Hour))
	now := created.Add(48 * time.Hour)
	for _, c := range []struct {
		name         string
		spec         v1alpha1.BackupScheduleSpec
		last         *metav1.Time
		wantInterval time.Duration
		wantLast     time.Time
		wantNone     bool
	}{
		{"a daily schedule has a one-day interval and its last success",
			v1alpha1.BackupScheduleSpec{Schedule: "0 2 * * *"}, &success, 24 * time.Hour, success.Time, false},
		{"a weekday schedule tolerates the weekend gap",
			v1alpha1.BackupScheduleSpec{Schedule: "0 2 * * 1-5"}, &success, 72 * time.Hour, success.Time, false},
		{"a schedule that never succeeded ages from its creation",
			v1alpha1.BackupScheduleSpec{Schedule: "0 * * * *"}, nil, time.Hour, created, false},
		{"a suspended schedule has no series",
			v1alpha1.BackupScheduleSpec{Schedule: "0 2 * * *", Suspend: true}, &success, 0, time.Time{}, true},
		{"an invalid schedule has no series",
			v1alpha1.BackupScheduleSpec{Schedule: "not cron"}, &success, 0, time.Time{}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			sc := &v1alpha1.BackupSchedule{
				ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "team-s", CreationTimestamp: metav1.NewTime(created)},
				Spec:       c.spec,
				Status:     v1alpha1.BackupScheduleStatus{LastSuccessfulTime: c.last},
			}
			defer forgetObjectMetrics("BackupSchedule", "team-s", "nightly")
			recordScheduleMetrics(sc, now)
			labels := map[string]string{"namespace": "team-s", "schedule": "nightly"}
			interval := scrape(t, "pve_operator_backupschedule_interval_seconds", labels)
			last := scrape(t, "pve_operator_backupschedule_last_success_timestamp_seconds", labels)
			if c.wantNone {
				if interval != nil || last != nil {
					t.Fatalf("series %v %v, want none", interval, last)
				}
				return
			}
			if interval == nil || last == nil {
				t.Fatalf("missing series: interval %v, last success %v", interval, last)
			}
			if got := interval.GetGauge().GetValue(); got != c.wantInterval.Seconds() {
				t.Errorf("interval %vs, want %vs", got, c.wantInterval.Seconds())
			}
			if got := last.GetGauge().GetValue(); got != float64(c.wantLast.Unix()) {
				t.Errorf("last success %v, want %v", got, c.wantLast.Unix())
			}
		})
	}
}
