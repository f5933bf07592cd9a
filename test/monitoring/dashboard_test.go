package monitoring

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
)

// dashboard is the part of a Grafana dashboard this package reads.
type dashboard struct {
	UID    string  `json:"uid"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	Panels  []panel
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// flatten lists the panels with those nested in collapsed rows.
func flatten(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, flatten(p.Panels)...)
	}
	return out
}

// grafanaVariable matches $name, ${name} and ${name:format} in a query.
var grafanaVariable = regexp.MustCompile(`\$\{?(\w+)(:\w+)?\}?`)

// asPromQL replaces Grafana's variables with what they expand to at run
// time: a duration for the interval ones, a label value for the others
// (they only ever stand inside label matchers here).
func asPromQL(expr string) string {
	return grafanaVariable.ReplaceAllStringFunc(expr, func(v string) string {
		switch name := grafanaVariable.FindStringSubmatch(v)[1]; name {
		case "__rate_interval", "__interval", "__range":
			return "5m"
		default:
			return "value"
		}
	})
}

// exportedMetrics reads the metric names the operator registers from the
// controllers' source (every prometheus.*Opts Name), with the _bucket, _sum
// and _count series of the histograms, so a panel or rule cannot use a
// metric that does not exist. documented are the names themselves.
func exportedMetrics(t *testing.T) (series, documented map[string]bool) {
	t.Helper()
	files, err := filepath.Glob(repoPath("controllers", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`(Histogram)?Opts\{\s*Name:\s+"(pve_operator_\w+)"`)
	series, documented = map[string]bool{}, map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range name.FindAllStringSubmatch(string(src), -1) {
			documented[m[2]] = true
			series[m[2]] = true
			if m[1] != "" {
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					series[m[2]+suffix] = true
				}
			}
		}
	}
	if len(series) == 0 {
		t.Fatal("found no operator metrics in controllers/")
	}
	return series, documented
}

// known says whether a metric is the operator's, controller-runtime's (the
// manager serves those on the same endpoint) or Prometheus' own up.
func known(exported map[string]bool, metric string) bool {
	for _, prefix := range []string{"controller_runtime_", "workqueue_", "rest_client_"} {
		if strings.HasPrefix(metric, prefix) {
			return true
		}
	}
	return metric == "up" || exported[metric]
}

// metricsIn returns the metric names an expression selects.
func metricsIn(expr parser.Expr) []string {
	var out []string
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, vs.Name)
		}
		return nil
	})
	return out
}

func TestDashboardIsValid(t *testing.T) {
	var d dashboard
	if err := json.Unmarshal(readFile(t, "config", "prometheus", "dashboard.json"), &d); err != nil {
		t.Fatalf("config/prometheus/dashboard.json is not JSON: %v", err)
	}
	if d.UID == "" {
		t.Error("no uid: Grafana would make a new dashboard on every import")
	}
	exported, _ := exportedMetrics(t)
	ids := map[int]string{}
	queries := 0
	for _, p := range flatten(d.Panels) {
		if prev, dup := ids[p.ID]; dup || p.ID == 0 {
			t.Errorf("panel %q has id %d, as %q", p.Title, p.ID, prev)
		}
		ids[p.ID] = p.Title
		for _, target := range p.Targets {
			queries++
			expr, err := promqlParser.ParseExpr(asPromQL(target.Expr))
			if err != nil {
				t.Errorf("panel %q query %s does not parse: %v", p.Title, target.RefID, err)
				continue
			}
			for _, m := range metricsIn(expr) {
				if !known(exported, m) {
					t.Errorf("panel %q query %s uses %s, which the operator does not export", p.Title, target.RefID, m)
				}
			}
		}
	}
	if queries == 0 {
		t.Error("no panel queries")
	}
}

// The rules may only use metrics that exist, too: a renamed metric would
// otherwise silence its alert for good.
func TestRulesUseOnlyExportedMetrics(t *testing.T) {
	exported, _ := exportedMetrics(t)
	for name, r := range alertRules(t, shippedRules(t)) {
		expr, err := promqlParser.ParseExpr(r.Expr)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for _, m := range metricsIn(expr) {
			if !known(exported, m) {
				t.Errorf("%s uses %s, which the operator does not export", name, m)
			}
		}
	}
}

// docs/metrics.md is the metrics' reference: every one the operator
// exports has a row there.
func TestEveryExportedMetricIsDocumented(t *testing.T) {
	doc := string(readFile(t, "docs", "metrics.md"))
	_, documented := exportedMetrics(t)
	for m := range documented {
		if !strings.Contains(doc, "`"+m+"`") {
			t.Errorf("docs/metrics.md does not describe %s", m)
		}
	}
}
