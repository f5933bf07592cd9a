package deploy

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// The chart and config/default are two renderings of one deployment: with
// its defaults the chart must produce the same objects (bar the Namespace,
// which `helm install --create-namespace` makes) and exactly the same
// permissions, so neither can drift from the other silently.
func TestHelmChartRendersWhatKustomizeRenders(t *testing.T) {
	kustObjs, kustCRDs := splitKustomize(kustomize(t, repoPath("config", "default")))
	helm, helmCRDs := helmRender(t, nil)
	k, h := index(kustObjs), index(helm)

	t.Run("the same objects by kind, namespace and name", func(t *testing.T) {
		if got, want := sortedKeys(h), sortedKeys(k); !reflect.DeepEqual(got, want) {
			t.Errorf("Helm renders\n  %s\nkustomize renders\n  %s\nonly in Helm: %v\nonly in kustomize: %v",
				strings.Join(got, "\n  "), strings.Join(want, "\n  "), minus(got, want), minus(want, got))
		}
	})

	t.Run("the same CRDs, with the same schemas", func(t *testing.T) {
		hc, kc := index(helmCRDs), index(kustCRDs)
		if got, want := sortedKeys(hc), sortedKeys(kc); !reflect.DeepEqual(got, want) {
			t.Fatalf("the chart renders CRDs %v, config/default %v", got, want)
		}
		// templates/crds.yaml parses and re-serializes each file: nothing
		// of the spec may get lost on the way.
		for name, kcrd := range kc {
			if !reflect.DeepEqual(hc[name].Object["spec"], kcrd.Object["spec"]) {
				t.Errorf("%s: the chart's spec differs from config/default's", name)
			}
		}
	})

	t.Run("the same recommended labels on every object, CRDs included", func(t *testing.T) {
		compareLabels(t, index(append(kustObjs, kustCRDs...)), index(append(helm, helmCRDs...)))
	})

	t.Run("the same Deployment selector, and the pods carry it", func(t *testing.T) {
		compareSelectors(t, k, h)
	})

	t.Run("the same RBAC rules, bindings and aggregation labels", func(t *testing.T) {
		compareRBAC(t, k, h)
	})

	t.Run("the same Deployment: image, args, env, probes, resources and security context", func(t *testing.T) {
		compareDeployments(t, k, h)
	})

	t.Run("each metrics Service selects its Deployment's pods on the metrics port", func(t *testing.T) {
		for what, objs := range map[string]map[string]*unstructured.Unstructured{"kustomize": k, "Helm": h} {
			checkMetricsService(t, what, objs)
		}
	})
}

// recommendedLabels are the app.kubernetes.io labels both renderings put on
// every object; managed-by differs (Helm, kustomize) and is checked apart.
var recommendedLabels = []string{
	"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component",
	"app.kubernetes.io/part-of", "app.kubernetes.io/version",
}

// compareLabels: every object of both renderings carries the recommended
// labels with the same values, version being the chart's appVersion, and
// any other label (control-plane, aggregation) is the same in both;
// helm.sh/chart is Helm's own.
func compareLabels(t *testing.T, k, h map[string]*unstructured.Unstructured) {
	t.Helper()
	chartfile, err := chartutil.LoadChartfile(repoPath("charts", "pve-operator", "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for what, objs := range map[string]map[string]*unstructured.Unstructured{"kustomize": k, "Helm": h} {
		for name, o := range objs {
			l := o.GetLabels()
			for _, label := range recommendedLabels {
				if l[label] == "" {
					t.Errorf("%s: %s lacks label %s", what, name, label)
				}
			}
			if v := l["app.kubernetes.io/version"]; v != chartfile.AppVersion {
				t.Errorf("%s: %s has app.kubernetes.io/version %q, the chart's appVersion is %q", what, name, v, chartfile.AppVersion)
			}
		}
	}
	for name, ko := range k {
		ho, ok := h[name]
		if !ok {
			continue // reported by the object comparison
		}
		if got, want := comparableLabels(ho.GetLabels()), comparableLabels(ko.GetLabels()); !reflect.DeepEqual(got, want) {
			t.Errorf("%s labels: Helm %v, kustomize %v", name, got, want)
		}
		if got, want := ho.GetLabels()["app.kubernetes.io/managed-by"], ko.GetLabels()["app.kubernetes.io/managed-by"]; got != "Helm" || want != "kustomize" {
			t.Errorf("%s app.kubernetes.io/managed-by: Helm %q, kustomize %q", name, got, want)
		}
	}
}

// comparableLabels drops the labels only one of the tools sets.
func comparableLabels(l map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range l {
		if k != "app.kubernetes.io/managed-by" && k != "helm.sh/chart" {
			out[k] = v
		}
	}
	return out
}

// compareSelectors: the Deployment selector is the same in both renderings
// and only name + instance (an immutable field must not hold labels that
// change between releases), the pod template carries the same labels, and
// the metrics Service selects with the same selector.
func compareSelectors(t *testing.T, k, h map[string]*unstructured.Unstructured) {
	t.Helper()
	want := map[string]string{"app.kubernetes.io/name": "pve-operator", "app.kubernetes.io/instance": releaseName}
	for what, objs := range map[string]map[string]*unstructured.Unstructured{"kustomize": k, "Helm": h} {
		dep := objs["Deployment "+operatorNamespace+"/"+serviceAccount]
		svc := objs["Service "+operatorNamespace+"/"+serviceAccount+"-metrics-service"]
		if dep == nil || svc == nil {
			t.Fatalf("%s: Deployment or metrics Service missing", what)
		}
		sel, _, _ := unstructured.NestedStringMap(dep.Object, "spec", "selector", "matchLabels")
		if !reflect.DeepEqual(sel, want) {
			t.Errorf("%s: Deployment selector %v, want %v", what, sel, want)
		}
		if svcSel, _, _ := unstructured.NestedStringMap(svc.Object, "spec", "selector"); !reflect.DeepEqual(svcSel, want) {
			t.Errorf("%s: metrics Service selector %v, want %v", what, svcSel, want)
		}
	}
	name := "Deployment " + operatorNamespace + "/" + serviceAccount
	kl, _, _ := unstructured.NestedStringMap(k[name].Object, "spec", "template", "metadata", "labels")
	hl, _, _ := unstructured.NestedStringMap(h[name].Object, "spec", "template", "metadata", "labels")
	if got, want := comparableLabels(hl), comparableLabels(kl); !reflect.DeepEqual(got, want) {
		t.Errorf("pod template labels: Helm %v, kustomize %v", got, want)
	}
}

// splitKustomize separates the CRDs from the other objects and drops the
// Namespace, which the chart leaves to `helm install --create-namespace`.
func splitKustomize(kust []*unstructured.Unstructured) (objs, crds []*unstructured.Unstructured) {
	for _, o := range kust {
		switch o.GetKind() {
		case "Namespace":
		case "CustomResourceDefinition":
			crds = append(crds, o)
		default:
			objs = append(objs, o)
		}
	}
	return objs, crds
}

// compareRBAC compares the roles' rules and aggregation labels and the
// bindings' roleRef and subjects of the objects both renderings have.
func compareRBAC(t *testing.T, k, h map[string]*unstructured.Unstructured) {
	t.Helper()
	for name, ko := range k {
		ho, ok := h[name]
		if !ok {
			continue // reported by the object comparison
		}
		switch ko.GetKind() {
		case "Role", "ClusterRole":
			if got, want := ruleSet(t, ho), ruleSet(t, ko); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: the permissions differ\nonly Helm grants: %v\nonly kustomize grants: %v", name, minus(got, want), minus(want, got))
			}
			if got, want := aggregationLabels(ho), aggregationLabels(ko); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: Helm aggregates into %v, kustomize into %v", name, got, want)
			}
		case "RoleBinding", "ClusterRoleBinding":
			for _, field := range []string{"roleRef", "subjects"} {
				if got, want := ho.Object[field], ko.Object[field]; !reflect.DeepEqual(got, want) {
					t.Errorf("%s %s: Helm %v, kustomize %v", name, field, got, want)
				}
			}
		}
	}
}

func compareDeployments(t *testing.T, k, h map[string]*unstructured.Unstructured) {
	t.Helper()
	name := "Deployment " + operatorNamespace + "/" + serviceAccount
	kd, hd := k[name], h[name]
	if kd == nil || hd == nil {
		t.Fatalf("%s missing: kustomize %v, Helm %v", name, kd != nil, hd != nil)
	}
	for _, path := range [][]string{
		{"spec", "replicas"},
		{"spec", "template", "spec", "serviceAccountName"},
		{"spec", "template", "spec", "securityContext"},
		{"spec", "template", "spec", "terminationGracePeriodSeconds"},
	} {
		if got, want := nested(hd, path...), nested(kd, path...); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Helm %v, kustomize %v", strings.Join(path, "."), got, want)
		}
	}
	kc, hc := managerContainer(t, kd), managerContainer(t, hd)
	for _, field := range []string{"image", "command", "env", "ports", "securityContext", "livenessProbe", "readinessProbe", "resources"} {
		if got, want := hc[field], kc[field]; !reflect.DeepEqual(got, want) {
			t.Errorf("manager container %s: Helm %v, kustomize %v", field, got, want)
		}
	}
	// The order of flags does not matter to the manager.
	if got, want := sortedStrings(hc["args"]), sortedStrings(kc["args"]); !reflect.DeepEqual(got, want) {
		t.Errorf("manager args: Helm %v, kustomize %v", got, want)
	}
}

// checkMetricsService: the metrics Service of one rendering selects its
// Deployment's pods and targets the metrics port.
func checkMetricsService(t *testing.T, what string, objs map[string]*unstructured.Unstructured) {
	t.Helper()
	svc := objs["Service "+operatorNamespace+"/"+serviceAccount+"-metrics-service"]
	dep := objs["Deployment "+operatorNamespace+"/"+serviceAccount]
	if svc == nil || dep == nil {
		t.Fatalf("%s: metrics Service or Deployment missing", what)
	}
	sel, _, _ := unstructured.NestedStringMap(svc.Object, "spec", "selector")
	podLabels, _, _ := unstructured.NestedStringMap(dep.Object, "spec", "template", "metadata", "labels")
	if len(sel) == 0 || !labels.SelectorFromSet(sel).Matches(labels.Set(podLabels)) {
		t.Errorf("%s: Service selector %v does not select pod labels %v", what, sel, podLabels)
	}
	ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	if len(ports) != 1 || ports[0].(map[string]any)["targetPort"] != "https-metrics" {
		t.Errorf("%s: Service ports %v, want one to targetPort https-metrics", what, ports)
	}
}

// The chart templates the CRDs from files/crds/ (templates/crds.yaml, so
// upgrades upgrade them too); they must be the generated ones. A crds/
// directory next to them would make Helm install every CRD twice and the
// install fail, so there must be none.
func TestHelmChartCRDsAreTheGeneratedCRDs(t *testing.T) {
	want, err := filepath.Glob(repoPath("config", "crd", "bases", "*.yaml"))
	if err != nil || len(want) == 0 {
		t.Fatalf("no CRDs in config/crd/bases: %v", err)
	}
	got, _ := filepath.Glob(repoPath("charts", "pve-operator", "files", "crds", "*.yaml"))
	if names(got) != names(want) {
		t.Errorf("charts/pve-operator/files/crds has %s, config/crd/bases has %s", names(got), names(want))
	}
	for _, w := range want {
		g := repoPath("charts", "pve-operator", "files", "crds", filepath.Base(w))
		wb, _ := os.ReadFile(w)
		gb, err := os.ReadFile(g)
		if err != nil || !bytes.Equal(gb, wb) {
			t.Errorf("%s differs from %s: run `cp config/crd/bases/*.yaml charts/pve-operator/files/crds/`", g, w)
		}
	}
	if _, err := os.Stat(repoPath("charts", "pve-operator", "crds")); err == nil {
		t.Errorf("charts/pve-operator/crds exists: Helm would install it on top of the templated CRDs; " +
			"the CRDs belong in charts/pve-operator/files/crds")
	}
}

func TestHelmChartValues(t *testing.T) {
	t.Run("credentialsNamespace moves the Secret Role and the flag, and nothing else reads Secrets", func(t *testing.T) {
		objs, _ := helmRender(t, map[string]any{"credentialsNamespace": "pve-credentials"})
		role := find(t, objs, "Role", releaseName+"-manager-role")
		if role.GetNamespace() != "pve-credentials" {
			t.Errorf("Secret Role in %q, want pve-credentials", role.GetNamespace())
		}
		if rb := find(t, objs, "RoleBinding", releaseName+"-manager-rolebinding"); rb.GetNamespace() != "pve-credentials" {
			t.Errorf("Secret RoleBinding in %q, want pve-credentials", rb.GetNamespace())
		}
		if args := managerArgs(t, objs); !contains(args, "--credentials-namespace=pve-credentials") {
			t.Errorf("args %v lack --credentials-namespace=pve-credentials", args)
		}
		for _, o := range objs {
			if o.GetKind() == "ClusterRole" && o.GetName() != releaseName+"-root-password-reader" && grants(t, o, "", "secrets") {
				t.Errorf("ClusterRole %s grants Secrets", o.GetName())
			}
		}
	})
	t.Run("rootPasswordSecretNamespaces binds the root-password reader in exactly those namespaces", func(t *testing.T) {
		objs, _ := helmRender(t, map[string]any{"rbac": map[string]any{"rootPasswordSecretNamespaces": []any{"team-a", "team-b"}}})
		var got []string
		for _, o := range objs {
			if o.GetKind() == "RoleBinding" && o.GetName() == releaseName+"-root-password-reader" {
				got = append(got, o.GetNamespace())
			}
		}
		if !reflect.DeepEqual(got, []string{"team-a", "team-b"}) {
			t.Errorf("root-password RoleBindings in %v, want [team-a team-b]", got)
		}
	})
	t.Run("image, replicas, resources and extra args are applied", func(t *testing.T) {
		objs, _ := helmRender(t, map[string]any{
			"image":        map[string]any{"repository": "registry.example/pve-operator", "tag": "v1.2.3"},
			"replicaCount": 2,
			"resources":    map[string]any{"limits": map[string]any{"memory": "1Gi"}},
			"extraArgs":    []any{"--application-concurrency=16"},
		})
		dep := find(t, objs, "Deployment", serviceAccount)
		c := managerContainer(t, dep)
		if c["image"] != "registry.example/pve-operator:v1.2.3" {
			t.Errorf("image %v", c["image"])
		}
		if r := nested(dep, "spec", "replicas"); r != float64(2) {
			t.Errorf("replicas %v, want 2", r)
		}
		if m := nested(dep, "spec", "template", "spec", "containers"); !strings.Contains(fmt.Sprint(m), "memory:1Gi") {
			t.Errorf("resources not applied: %v", c["resources"])
		}
		if args := managerArgs(t, objs); !contains(args, "--application-concurrency=16") || !contains(args, "--leader-elect") {
			t.Errorf("args %v", args)
		}
	})
	t.Run("more than one replica without leader election is refused", func(t *testing.T) {
		_, _, err := tryHelmRender(operatorNamespace, map[string]any{"replicaCount": 2, "leaderElection": map[string]any{"enabled": false}})
		if err == nil || !strings.Contains(err.Error(), "leaderElection") {
			t.Errorf("rendered without complaint (err %v)", err)
		}
	})
	t.Run("metrics can be turned off, and a ServiceMonitor on", func(t *testing.T) {
		objs, _ := helmRender(t, map[string]any{"metrics": map[string]any{"enabled": false}})
		for _, o := range objs {
			if o.GetKind() == "Service" || strings.Contains(o.GetName(), "metrics") {
				t.Errorf("metrics disabled but %s rendered", key(o))
			}
		}
		if args := managerArgs(t, objs); !contains(args, "--metrics-bind-address=0") {
			t.Errorf("args %v lack --metrics-bind-address=0", args)
		}
		objs, _ = helmRender(t, map[string]any{"monitoring": map[string]any{"serviceMonitor": map[string]any{"enabled": true}}})
		find(t, objs, "ServiceMonitor", serviceAccount+"-metrics-monitor")
	})
}

func TestHelmChartLints(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values func(t *testing.T) map[string]any
	}{
		{"helm lint passes with the defaults", func(*testing.T) map[string]any { return nil }},
		{"helm lint passes with ci/all-values.yaml, which sets every value", allValues},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// strict: warnings (e.g. a template referencing a missing value) fail too.
			linter := lint.All(repoPath("charts", "pve-operator"), tc.values(t), operatorNamespace, true)
			for _, m := range linter.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("helm lint: %s", m)
				}
			}
		})
	}
}

// ruleSet flattens a role's rules into sorted "group resource verb" (or
// "url verb") atoms, so equal permissions compare equal however they are
// grouped. A wildcard anywhere fails the test: the security model names
// every verb and resource.
func ruleSet(t *testing.T, role *unstructured.Unstructured) []string {
	t.Helper()
	rules, _, _ := unstructured.NestedSlice(role.Object, "rules")
	var out []string
	for _, r := range rules {
		rule := r.(map[string]any)
		verbs := strs(rule["verbs"])
		for _, v := range append(append(verbs, strs(rule["resources"])...), strs(rule["apiGroups"])...) {
			if v == "*" {
				t.Errorf("%s has a wildcard rule: %v", key(role), rule)
			}
		}
		for _, url := range strs(rule["nonResourceURLs"]) {
			for _, v := range verbs {
				out = append(out, url+" "+v)
			}
		}
		for _, g := range strs(rule["apiGroups"]) {
			for _, res := range strs(rule["resources"]) {
				for _, v := range verbs {
					atom := fmt.Sprintf("%q %s %s", g, res, v)
					if names := strs(rule["resourceNames"]); len(names) > 0 {
						atom += " " + strings.Join(names, ",")
					}
					out = append(out, atom)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func grants(t *testing.T, role *unstructured.Unstructured, group, resource string) bool {
	for _, atom := range ruleSet(t, role) {
		if strings.HasPrefix(atom, fmt.Sprintf("%q %s ", group, resource)) {
			return true
		}
	}
	return false
}

func aggregationLabels(o *unstructured.Unstructured) []string {
	var out []string
	for k, v := range o.GetLabels() {
		if strings.HasPrefix(k, "rbac.authorization.k8s.io/aggregate-to-") {
			out = append(out, k+"="+v)
		}
	}
	sort.Strings(out)
	return out
}

func managerContainer(t *testing.T, dep *unstructured.Unstructured) map[string]any {
	t.Helper()
	cs, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	for _, c := range cs {
		if m := c.(map[string]any); m["name"] == "manager" {
			return m
		}
	}
	t.Fatalf("%s has no manager container", key(dep))
	return nil
}

func managerArgs(t *testing.T, objs []*unstructured.Unstructured) []string {
	t.Helper()
	return strs(managerContainer(t, find(t, objs, "Deployment", serviceAccount))["args"])
}

func nested(o *unstructured.Unstructured, path ...string) any {
	v, _, _ := unstructured.NestedFieldNoCopy(o.Object, path...)
	return v
}

func strs(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, s := range l {
			out = append(out, fmt.Sprint(s))
		}
	}
	return out
}

func sortedStrings(v any) []string {
	out := strs(v)
	sort.Strings(out)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func minus(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func names(paths []string) string {
	var out []string
	for _, p := range paths {
		out = append(out, filepath.Base(p))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// toYAML is for failure messages.
func toYAML(v any) string {
	b, _ := yaml.Marshal(v)
	return string(b)
}
