package monitoring

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"

	"github.com/pve-operator/pve-operator/internal/testenv"
)

// promqlParser parses as a Prometheus server with default flags does: no
// experimental functions, so a rule that needs a feature flag fails here.
var promqlParser = parser.NewParser(parser.Options{})

func repoPath(elem ...string) string {
	return filepath.Join(append([]string{testenv.RepoRoot()}, elem...)...)
}

func readFile(t *testing.T, elem ...string) []byte {
	t.Helper()
	data, err := os.ReadFile(repoPath(elem...))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// prometheusRule is the part of a PrometheusRule this package reads.
type prometheusRule struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Spec       any    `json:"spec"`
}

// ruleGroups validates a PrometheusRule's spec as Prometheus validates a
// rule file (unknown fields, expressions, templates, durations) and
// returns its groups.
func ruleGroups(t *testing.T, manifest []byte) []rulefmt.RuleGroup {
	t.Helper()
	var pr prometheusRule
	if err := yaml.Unmarshal(manifest, &pr); err != nil {
		t.Fatalf("decode PrometheusRule: %v", err)
	}
	if pr.APIVersion != "monitoring.coreos.com/v1" || pr.Kind != "PrometheusRule" {
		t.Fatalf("%s %s, want monitoring.coreos.com/v1 PrometheusRule", pr.APIVersion, pr.Kind)
	}
	spec, err := yaml.Marshal(pr.Spec)
	if err != nil {
		t.Fatal(err)
	}
	groups, errs := rulefmt.Parse(spec, false, model.UTF8Validation, promqlParser, nil)
	for _, err := range errs {
		t.Errorf("rules: %v", err)
	}
	if groups == nil || len(errs) > 0 {
		t.FailNow()
	}
	return groups.Groups
}

func shippedRules(t *testing.T) []rulefmt.RuleGroup {
	t.Helper()
	return ruleGroups(t, readFile(t, "config", "prometheus", "rules.yaml"))
}

// alertRules returns every alerting rule by name.
func alertRules(t *testing.T, groups []rulefmt.RuleGroup) map[string]rulefmt.Rule {
	t.Helper()
	out := map[string]rulefmt.Rule{}
	for _, g := range groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			if _, dup := out[r.Alert]; dup {
				t.Errorf("alert %s is defined twice", r.Alert)
			}
			out[r.Alert] = r
		}
	}
	return out
}

// trimmed drops the YAML noise two renderings of the same rules may differ
// in (key order, block scalars' trailing newline) by round-tripping.
func trimmed(t *testing.T, v any) string {
	t.Helper()
	data, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSpace(data))
}
