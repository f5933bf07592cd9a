package monitoring

import (
	"context"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/template"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// job is the job label the shipped ServiceMonitor gives the operator.
const job = `job="pve-operator-controller-manager-metrics-service"`

// evalInterval is how often the rules are evaluated, as in promtool's
// default and Prometheus' default evaluation_interval.
const evalInterval = time.Minute

// The rules are evaluated with Prometheus' own PromQL engine, parser and
// template expander, over an in-memory storage, and with the alerting
// rule's "for" semantics reimplemented in a few lines (firing below). The
// rules and promqltest packages would do both, but they pull in the
// remote-write, service-discovery and cloud SDK modules, which the
// operator does not otherwise need.

// loadSeries reads series in promtool's input_series notation, one per
// line ("metric{label="x"} 0+1x10 _x5 3"), with samples every evalInterval
// from time 0.
func loadSeries(t *testing.T, input string) []storage.Series {
	t.Helper()
	var out []storage.Series
	for _, line := range strings.Split(strings.TrimSpace(input), "\n") {
		lset, values, err := promqlParser.ParseSeriesDesc(strings.TrimSpace(line))
		if err != nil {
			t.Fatalf("series %q: %v", line, err)
		}
		var samples []chunks.Sample
		for i, v := range values {
			if !v.Omitted {
				samples = append(samples, floatSample{t: int64(i) * evalInterval.Milliseconds(), f: v.Value})
			}
		}
		out = append(out, storage.NewListSeries(lset, samples))
	}
	sort.Slice(out, func(i, j int) bool { return labels.Compare(out[i].Labels(), out[j].Labels()) < 0 })
	return out
}

// floatSample is one sample of a float series.
type floatSample struct {
	t int64
	f float64
}

func (s floatSample) T() int64                      { return s.t }
func (s floatSample) ST() int64                     { return 0 }
func (s floatSample) F() float64                    { return s.f }
func (s floatSample) H() *histogram.Histogram       { return nil }
func (s floatSample) FH() *histogram.FloatHistogram { return nil }
func (s floatSample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s floatSample) Copy() chunks.Sample           { return s }

// seriesSet iterates over the series that matched a Select.
type seriesSet struct {
	series []storage.Series
	i      int
}

func (s *seriesSet) Next() bool                        { s.i++; return s.i <= len(s.series) }
func (s *seriesSet) At() storage.Series                { return s.series[s.i-1] }
func (s *seriesSet) Err() error                        { return nil }
func (s *seriesSet) Warnings() annotations.Annotations { return nil }

// queryable serves series to the PromQL engine.
func queryable(series []storage.Series) storage.Queryable {
	return &storage.MockQueryable{MockQuerier: &storage.MockQuerier{
		SelectMockFunction: func(_ bool, _ *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
			var hit []storage.Series
			for _, s := range series {
				if matchesAll(s.Labels(), ms) {
					hit = append(hit, s)
				}
			}
			return &seriesSet{series: hit}
		},
	}}
}

func matchesAll(lset labels.Labels, ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches(lset.Get(m.Name)) {
			return false
		}
	}
	return true
}

// firing evaluates rule every evalInterval from time 0 to until over the
// series in load, as Prometheus' rule manager would, and returns the
// labels of the alerts firing at until. Evaluating every step matters:
// "for" counts from the first evaluation that saw the alert, and an
// evaluation without it resets it.
func firing(t *testing.T, rule rulefmt.Rule, load string, until time.Duration) []labels.Labels {
	t.Helper()
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 100000, Timeout: time.Minute, Parser: promqlParser})
	t.Cleanup(func() { _ = engine.Close() })
	q := queryable(loadSeries(t, load))
	query := func(ctx context.Context, qs string, ts time.Time) (promql.Vector, error) {
		qry, err := engine.NewInstantQuery(ctx, q, nil, qs, ts)
		if err != nil {
			return nil, err
		}
		defer qry.Close()
		return qry.Exec(ctx).Vector()
	}
	activeAt := map[string]time.Time{}
	var last promql.Vector
	for step := time.Duration(0); step <= until; step += evalInterval {
		ts := time.Unix(0, 0).Add(step)
		vec, err := query(context.Background(), rule.Expr, ts)
		if err != nil {
			t.Fatalf("%s at %v: %v", rule.Alert, step, err)
		}
		seen := map[string]time.Time{}
		for _, s := range vec {
			key := alertLabels(rule, s).String()
			if since, ok := activeAt[key]; ok {
				seen[key] = since
			} else {
				seen[key] = ts
			}
		}
		activeAt, last = seen, vec
	}
	end := time.Unix(0, 0).Add(until)
	var out []labels.Labels
	for _, s := range last {
		lset := alertLabels(rule, s)
		if end.Sub(activeAt[lset.String()]) < time.Duration(rule.For) {
			continue
		}
		checkAnnotations(t, rule, s, end, query)
		out = append(out, lset)
	}
	return out
}

// alertLabels are an alert's labels: the sample's without its name, and
// the rule's.
func alertLabels(rule rulefmt.Rule, s promql.Sample) labels.Labels {
	b := labels.NewBuilder(s.Metric).Del(model.MetricNameLabel)
	for k, v := range rule.Labels {
		b.Set(k, v)
	}
	return b.Labels()
}

// checkAnnotations expands a firing alert's summary and description as
// Prometheus would, so a template error shows here and not on a pager.
func checkAnnotations(t *testing.T, rule rulefmt.Rule, s promql.Sample, ts time.Time, query template.QueryFunc) {
	t.Helper()
	defs := "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"
	data := template.AlertTemplateData(s.Metric.Map(), nil, "", s)
	for _, a := range []string{"summary", "description"} {
		exp := template.NewTemplateExpander(context.Background(), defs+rule.Annotations[a], "__alert_"+rule.Alert,
			data, model.TimeFromUnixNano(ts.UnixNano()), query, nil, nil)
		got, err := exp.Expand()
		if err != nil || strings.TrimSpace(got) == "" {
			t.Errorf("%s: annotation %s expands to %q (%v)", rule.Alert, a, got, err)
		}
		// A missing label expands to nothing, silently.
		for _, m := range labelRef.FindAllStringSubmatch(rule.Annotations[a], -1) {
			if !s.Metric.Has(m[1]) {
				t.Errorf("%s: annotation %s uses label %s, which the alert lacks", rule.Alert, a, m[1])
			}
		}
	}
}

var labelRef = regexp.MustCompile(`\$labels\.(\w+)`)

type alertCase struct {
	name  string
	alert string
	load  string
	until time.Duration
	// want: the labels (a subset) of each alert that must fire; none: the
	// alert must stay quiet.
	want []map[string]string
}

func alertCases() []alertCase {
	var all []alertCase
	for _, cases := range [][]alertCase{operatorCases(), proxmoxCases(), readinessCases(), backupCases()} {
		all = append(all, cases...)
	}
	return all
}

// operatorCases are the operator's own health: its scrape target and its reconciles.
func operatorCases() []alertCase {
	return []alertCase{
		{"the operator is down when its target is down", "PVEOperatorDown",
			"up{" + job + `, instance="pve-operator-pod:8443"} 1x5 0x10`, 15 * time.Minute,
			[]map[string]string{{"instance": "pve-operator-pod:8443", "severity": "critical"}}},
		{"the operator is down when Prometheus has no target for it", "PVEOperatorDown",
			`  up{job="something-else"} 1x20`, 15 * time.Minute,
			[]map[string]string{{"job": "pve-operator-controller-manager-metrics-service"}}},
		{"the operator is not down while scraped", "PVEOperatorDown",
			"up{" + job + "} 1x20", 15 * time.Minute, nil},
		{"reconcile errors alert when a controller fails most reconciles", "PVEOperatorReconcileErrors",
			"  controller_runtime_reconcile_errors_total{" + job + `, controller="application"} 0+5x40` + "\n" +
				"  controller_runtime_reconcile_total{" + job + `, controller="application", result="error"} 0+5x40` + "\n" +
				"  controller_runtime_reconcile_total{" + job + `, controller="application", result="success"} 0+5x40`,
			35 * time.Minute, []map[string]string{{"controller": "application"}}},
		{"reconcile errors stay quiet at the odd conflict", "PVEOperatorReconcileErrors",
			"  controller_runtime_reconcile_errors_total{" + job + `, controller="application"} 0+1x40` + "\n" +
				"  controller_runtime_reconcile_total{" + job + `, controller="application", result="success"} 0+100x40`,
			35 * time.Minute, nil},
	}
}

// proxmoxCases are the Proxmox VE API as the operator sees it.
func proxmoxCases() []alertCase {
	return []alertCase{
		{"a host that only fails to connect is unreachable", "PVEProxmoxUnreachable",
			`  pve_operator_proxmox_requests_total{host="pve1", method="GET", route="/version", outcome="unreachable"} 0+2x40`,
			30 * time.Minute, []map[string]string{{"host": "pve1", "severity": "critical"}}},
		{"a host with a TLS failure and nothing else is unreachable", "PVEProxmoxUnreachable",
			`  pve_operator_proxmox_requests_total{host="pve1", method="GET", route="/version", outcome="tls"} 0+2x40`,
			30 * time.Minute, []map[string]string{{"host": "pve1"}}},
		{"a dropped connection among successes is not unreachable", "PVEProxmoxUnreachable",
			`  pve_operator_proxmox_requests_total{host="pve1", method="GET", route="/version", outcome="unreachable"} 0+1x40` + "\n" +
				`  pve_operator_proxmox_requests_total{host="pve1", method="GET", route="/nodes", outcome="success"} 0+20x40`,
			30 * time.Minute, nil},
		{"rejected credentials alert", "PVEProxmoxAuthFailing",
			`  pve_operator_proxmox_requests_total{host="pve1", method="GET", route="/version", outcome="unauthorized"} 0+2x40`,
			30 * time.Minute, []map[string]string{{"host": "pve1", "outcome": "unauthorized"}}},
		{"a missing privilege alerts", "PVEProxmoxAuthFailing",
			`  pve_operator_proxmox_requests_total{host="pve1", method="POST", route="/pools", outcome="forbidden"} 0+1x40`,
			30 * time.Minute, []map[string]string{{"host": "pve1", "outcome": "forbidden"}}},
		{"accepted credentials stay quiet", "PVEProxmoxAuthFailing",
			`  pve_operator_proxmox_requests_total{host="pve1", method="GET", route="/version", outcome="success"} 0+2x40`,
			30 * time.Minute, nil},
	}
}

// readinessCases read pve_operator_object_ready.
func readinessCases() []alertCase {
	return []alertCase{
		{"an Application not Ready for 15 minutes alerts, across reason changes", "PVEApplicationNotReady",
			`  pve_operator_object_ready{kind="Application", namespace="team-a", name="web", reason="Creating"} 0x10` + "\n" +
				`  pve_operator_object_ready{kind="Application", namespace="team-a", name="web", reason="TaskRunning"} _x10 0x20`,
			25 * time.Minute, []map[string]string{{"namespace": "team-a", "name": "web"}}},
		{"a Ready Application stays quiet", "PVEApplicationNotReady",
			`  pve_operator_object_ready{kind="Application", namespace="team-a", name="web", reason="Reconciled"} 1x30`,
			25 * time.Minute, nil},
		{"an Application not Ready for less than 15 minutes stays quiet", "PVEApplicationNotReady",
			`  pve_operator_object_ready{kind="Application", namespace="team-a", name="web", reason="Reconciled"} 1x20 0x10`,
			25 * time.Minute, nil},
		{"a Backup not Ready is not an Application alert", "PVEApplicationNotReady",
			`  pve_operator_object_ready{kind="Backup", namespace="team-a", name="web-1", reason="Failed"} 0x30`,
			25 * time.Minute, nil},
		{"a stuck task alerts", "PVETaskStuck",
			`  pve_operator_object_ready{kind="Backup", namespace="team-a", name="web-1", reason="TaskStuck"} 0x10`,
			10 * time.Minute, []map[string]string{{"kind": "Backup", "namespace": "team-a", "name": "web-1"}}},
		{"a running task stays quiet", "PVETaskStuck",
			`  pve_operator_object_ready{kind="Backup", namespace="team-a", name="web-1", reason="TaskRunning"} 0x10`,
			10 * time.Minute, nil},
	}
}

// backupCases are failed and overdue Backups.
func backupCases() []alertCase {
	return []alertCase{
		{"a failed Backup alerts", "PVEBackupFailed",
			`  pve_operator_backup_outcomes_total{namespace="team-a", application="web", type="Archive", outcome="failed"} 1x10 2x20`,
			20 * time.Minute, []map[string]string{{"namespace": "team-a", "application": "web", "type": "Archive"}}},
		{"the first failed Backup of an Application alerts", "PVEBackupFailed",
			`  pve_operator_backup_outcomes_total{namespace="team-a", application="web", type="Archive", outcome="failed"} _x60 1x10`,
			65 * time.Minute, []map[string]string{{"namespace": "team-a", "application": "web"}}},
		{"an old failure stays quiet", "PVEBackupFailed",
			`  pve_operator_backup_outcomes_total{namespace="team-a", application="web", type="Archive", outcome="failed"} 1x200`,
			150 * time.Minute, nil},
		{"completed Backups stay quiet", "PVEBackupFailed",
			`  pve_operator_backup_outcomes_total{namespace="team-a", application="web", type="Archive", outcome="completed"} 1x10 2x20`,
			20 * time.Minute, nil},
		{"an hourly schedule without a success for three hours is overdue", "PVEBackupScheduleOverdue",
			`  pve_operator_backupschedule_last_success_timestamp_seconds{namespace="team-a", schedule="hourly"} 0x200` + "\n" +
				`  pve_operator_backupschedule_interval_seconds{namespace="team-a", schedule="hourly"} 3600x200`,
			180 * time.Minute, []map[string]string{{"namespace": "team-a", "schedule": "hourly"}}},
		{"a daily schedule that succeeded three hours ago is not overdue", "PVEBackupScheduleOverdue",
			`  pve_operator_backupschedule_last_success_timestamp_seconds{namespace="team-a", schedule="nightly"} 0x200` + "\n" +
				`  pve_operator_backupschedule_interval_seconds{namespace="team-a", schedule="nightly"} 86400x200`,
			180 * time.Minute, nil},
	}
}

func TestAlertsFireOnFailuresAndStayQuietWhenHealthy(t *testing.T) {
	defined := alertRules(t, shippedRules(t))
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, c := range alertCases() {
		t.Run(c.name, func(t *testing.T) {
			rule, ok := defined[c.alert]
			if !ok {
				t.Fatalf("no alert %s in config/prometheus/rules.yaml", c.alert)
			}
			got := firing(t, rule, c.load, c.until)
			if len(got) != len(c.want) {
				t.Fatalf("%d alerts firing, want %d: %v", len(got), len(c.want), got)
			}
			for i, want := range c.want {
				for k, v := range want {
					if got[i].Get(k) != v {
						t.Errorf("alert %v: %s=%q, want %q", got[i], k, got[i].Get(k), v)
					}
				}
			}
		})
		if len(c.want) > 0 {
			fires[c.alert] = true
		} else {
			quiet[c.alert] = true
		}
	}
	for name := range defined {
		if !fires[name] || !quiet[name] {
			t.Errorf("alert %s needs a case where it fires and one where it stays quiet", name)
		}
	}
}
