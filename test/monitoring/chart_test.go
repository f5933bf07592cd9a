package monitoring

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/pve-operator/pve-operator/internal/helmrender"
)

const (
	releaseName = "pve-operator"
	releaseNS   = "pve-operator-system"
)

// render renders the chart as `helm install` would for release name into
// releaseNS, with values merged over values.yaml and validated against
// values.schema.json.
func render(name string, values map[string]any) ([]*unstructured.Unstructured, error) {
	objs, _, err := helmrender.Render(repoPath("charts", "pve-operator"), name, releaseNS, values)
	return objs, err
}

func mustRender(t *testing.T, values map[string]any) []*unstructured.Unstructured {
	t.Helper()
	objs, err := render(releaseName, values)
	if err != nil {
		t.Fatalf("render the Helm chart: %v", err)
	}
	return objs
}

func decode(data []byte) ([]*unstructured.Unstructured, error) { return helmrender.Decode(data) }

func ofKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

func one(t *testing.T, objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	t.Helper()
	found := ofKind(objs, kind)
	if len(found) != 1 {
		t.Fatalf("%d %s objects rendered, want 1", len(found), kind)
	}
	return found[0]
}

func enabled(key string) map[string]any {
	return map[string]any{"monitoring": map[string]any{key: map[string]any{"enabled": true}}}
}

func TestChartMonitoringIsOffByDefault(t *testing.T) {
	for _, kind := range []string{"PrometheusRule", "ServiceMonitor", "ConfigMap"} {
		if found := ofKind(mustRender(t, nil), kind); len(found) > 0 {
			t.Errorf("default values render a %s", kind)
		}
	}
}

func TestChartRendersTheShippedRules(t *testing.T) {
	rule := one(t, mustRender(t, enabled("prometheusRule")), "PrometheusRule")
	var shipped prometheusRule
	if err := yaml.Unmarshal(readFile(t, "config", "prometheus", "rules.yaml"), &shipped); err != nil {
		t.Fatal(err)
	}
	if got, want := trimmed(t, rule.Object["spec"]), trimmed(t, shipped.Spec); got != want {
		t.Errorf("the chart's rules differ from config/prometheus/rules.yaml:\n%s\nwant:\n%s", got, want)
	}
	data, err := yaml.Marshal(rule.Object)
	if err != nil {
		t.Fatal(err)
	}
	ruleGroups(t, data)

	t.Run("another release's rules select its own job", func(t *testing.T) {
		objs, err := render("ops", enabled("prometheusRule"))
		if err != nil {
			t.Fatal(err)
		}
		spec := trimmed(t, one(t, objs, "PrometheusRule").Object["spec"])
		if strings.Contains(spec, `job="pve-operator-`) || !strings.Contains(spec, `job="ops-pve-operator-controller-manager-metrics-service"`) {
			t.Errorf("job not the release's:\n%s", spec)
		}
	})
}

func TestChartRendersTheShippedDashboard(t *testing.T) {
	cm := one(t, mustRender(t, enabled("dashboard")), "ConfigMap")
	if cm.GetLabels()["grafana_dashboard"] != "1" {
		t.Errorf("labels %v lack grafana_dashboard: \"1\"", cm.GetLabels())
	}
	data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
	var got, want any
	if err := json.Unmarshal([]byte(data["pve-operator.json"]), &got); err != nil {
		t.Fatalf("the ConfigMap's dashboard is not JSON: %v", err)
	}
	if err := json.Unmarshal(readFile(t, "config", "prometheus", "dashboard.json"), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Error("the chart's dashboard differs from config/prometheus/dashboard.json")
	}
}

// checkServiceMonitor checks what a ServiceMonitor must have to scrape the
// operator's metrics Service: the Service's port name and labels, the
// operator's labels kept, and a bearer token from a Secret that exists.
func checkServiceMonitor(t *testing.T, sm, svc *unstructured.Unstructured, secrets []*unstructured.Unstructured) {
	t.Helper()
	endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	if len(endpoints) != 1 {
		t.Fatalf("%d endpoints, want 1", len(endpoints))
	}
	ep := endpoints[0].(map[string]any)
	ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	if port := ports[0].(map[string]any)["name"]; ep["port"] != port {
		t.Errorf("endpoint port %v, the Service's is %v", ep["port"], port)
	}
	if ep["honorLabels"] != true {
		t.Error("honorLabels is not true: Prometheus would rename the operator's namespace label")
	}
	if _, ok := ep["bearerTokenFile"]; ok {
		t.Error("uses the deprecated bearerTokenFile")
	}
	if ep["tlsConfig"] == nil {
		t.Error("no tlsConfig")
	}
	secret, _, _ := unstructured.NestedString(ep, "authorization", "credentials", "name")
	if typ, _, _ := unstructured.NestedString(ep, "authorization", "type"); typ != "Bearer" || secret == "" {
		t.Errorf("authorization %v, want a Bearer token from a Secret", ep["authorization"])
	}
	if secrets != nil && !hasName(secrets, secret) {
		t.Errorf("authorization Secret %q is not rendered", secret)
	}
	sel, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	for k, v := range sel {
		if svc.GetLabels()[k] != v {
			t.Errorf("selector %s=%s does not match the Service's labels %v", k, v, svc.GetLabels())
		}
	}
	if len(sel) == 0 {
		t.Error("empty selector")
	}
}

func hasName(objs []*unstructured.Unstructured, name string) bool {
	for _, o := range objs {
		if o.GetName() == name {
			return true
		}
	}
	return false
}

func TestChartServiceMonitorScrapesTheMetricsService(t *testing.T) {
	t.Run("with the token the chart creates", func(t *testing.T) {
		objs := mustRender(t, enabled("serviceMonitor"))
		checkServiceMonitor(t, one(t, objs, "ServiceMonitor"), one(t, objs, "Service"), ofKind(objs, "Secret"))
		crb := ofKind(objs, "ClusterRoleBinding")
		if !hasName(crb, releaseName+"-metrics-scraper") {
			t.Error("the scraper's ServiceAccount is not bound to the metrics-reader ClusterRole")
		}
	})
	t.Run("with a Secret of one's own", func(t *testing.T) {
		objs := mustRender(t, map[string]any{"monitoring": map[string]any{"serviceMonitor": map[string]any{
			"enabled": true, "authorization": map[string]any{"secretName": "prometheus-token", "key": "token"},
		}}})
		checkServiceMonitor(t, one(t, objs, "ServiceMonitor"), one(t, objs, "Service"), nil)
		if len(ofKind(objs, "Secret")) > 0 {
			t.Error("a token Secret is rendered although one was given")
		}
	})
	t.Run("not together with the metrics.serviceMonitor one", func(t *testing.T) {
		var defaults map[string]any
		if err := yaml.Unmarshal(readFile(t, "charts", "pve-operator", "values.yaml"), &defaults); err != nil {
			t.Fatal(err)
		}
		if m, _ := defaults["metrics"].(map[string]any); m == nil || m["serviceMonitor"] == nil {
			t.Skip("the chart has no metrics.serviceMonitor any more")
		}
		values := enabled("serviceMonitor")
		values["metrics"] = map[string]any{"serviceMonitor": map[string]any{"enabled": true}}
		if _, err := render(releaseName, values); err == nil || !strings.Contains(err.Error(), "enable one") {
			t.Errorf("two ServiceMonitors rendered (err %v)", err)
		}
	})
	t.Run("not without the metrics Service", func(t *testing.T) {
		values := enabled("serviceMonitor")
		values["metrics"] = map[string]any{"enabled": false}
		if found := ofKind(mustRender(t, values), "ServiceMonitor"); len(found) > 0 {
			t.Error("a ServiceMonitor without a metrics Service")
		}
	})
}

func TestKustomizeServiceMonitorScrapesTheMetricsService(t *testing.T) {
	monitor, err := decode(readFile(t, "config", "prometheus", "monitor.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := decode(readFile(t, "config", "default", "metrics_service.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	checkServiceMonitor(t, one(t, monitor, "ServiceMonitor"), one(t, svc, "Service"), ofKind(monitor, "Secret"))
}

// With the chart's own values and everything turned on, the values
// validate against the chart's schema and the three objects render.
func TestChartRendersEveryMonitoringObjectWhenEnabled(t *testing.T) {
	on := map[string]any{"enabled": true}
	objs := mustRender(t, map[string]any{"monitoring": map[string]any{"prometheusRule": on, "serviceMonitor": on, "dashboard": on}})
	for _, kind := range []string{"PrometheusRule", "ServiceMonitor", "ConfigMap"} {
		one(t, objs, kind)
	}
}
