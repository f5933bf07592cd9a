package monitoring

import (
	"regexp"
	"strings"
	"testing"
)

const runbookBase = "https://github.com/pve-operator/pve-operator/blob/main/docs/troubleshooting.md#"

// Every alert carries what an on-call person needs: a severity to route
// on, a one-line summary, a description and a runbook to open.
func TestEveryAlertIsComplete(t *testing.T) {
	alerts := alertRules(t, shippedRules(t))
	if len(alerts) == 0 {
		t.Fatal("no alerts in config/prometheus/rules.yaml")
	}
	for name, r := range alerts {
		t.Run(name, func(t *testing.T) {
			if _, err := promqlParser.ParseExpr(r.Expr); err != nil {
				t.Errorf("expression does not parse: %v", err)
			}
			switch r.Labels["severity"] {
			case "critical", "warning":
			default:
				t.Errorf("severity %q, want critical or warning", r.Labels["severity"])
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("no %s annotation", a)
				}
			}
		})
	}
}

// headingAnchors returns the anchors GitHub gives the headings of a
// Markdown document: lower case, punctuation but hyphens dropped, spaces
// turned into hyphens.
func headingAnchors(doc string) map[string]bool {
	drop := regexp.MustCompile(`[^\p{L}\p{N} _-]`)
	out := map[string]bool{}
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(line, "#"))
		slug := strings.ReplaceAll(drop.ReplaceAllString(strings.ToLower(title), ""), " ", "-")
		out[slug] = true
	}
	return out
}

func TestRunbookURLsPointAtTroubleshootingSections(t *testing.T) {
	anchors := headingAnchors(string(readFile(t, "docs", "troubleshooting.md")))
	for name, r := range alertRules(t, shippedRules(t)) {
		t.Run(name, func(t *testing.T) {
			url := r.Annotations["runbook_url"]
			anchor, ok := strings.CutPrefix(url, runbookBase)
			if !ok {
				t.Fatalf("runbook_url %q is not a section of docs/troubleshooting.md (%s...)", url, runbookBase)
			}
			if !anchors[anchor] {
				t.Errorf("docs/troubleshooting.md has no heading with anchor #%s", anchor)
			}
			if anchor != strings.ToLower(name) {
				t.Errorf("runbook anchor #%s, want #%s (the alert's own section)", anchor, strings.ToLower(name))
			}
		})
	}
}
