package deploy

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// values.schema.json makes `helm install` refuse values it would otherwise
// ignore (a misspelt key) or misrender (a string where a number belongs).
// The values go through strvals, as `--set` does, and the render through the
// schema validation the install action runs.
func TestHelmChartValuesSchema(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  string
		want string // in the error
	}{
		{"the schema rejects an unknown key", "replicaCoun=3", "replicaCoun"},
		{"the schema rejects an unknown key one level down", "image.tags=v1", "tags"},
		{"the schema rejects an unknown key in crds", "crds.install=true", "install"},
		{"the schema rejects a word where the replica count belongs", "replicaCount=three", "replicaCount"},
		{"the schema rejects a negative replica count", "replicaCount=-1", "replicaCount"},
		{"the schema rejects a metrics port out of range", "metrics.port=70000", "port"},
		{"the schema rejects an unknown image pull policy", "image.pullPolicy=Sometimes", "pullPolicy"},
		{"the schema rejects a label value that is not a string", "podLabels.tier=1", "tier"},
		{"the schema rejects a credentials namespace that is no DNS label", "credentialsNamespace=Team_A", "credentialsNamespace"},
		{"the schema rejects a disruption budget that is neither a number nor a percentage", "podDisruptionBudget.maxUnavailable=half", "maxUnavailable"},
		{"the schema rejects a boolean spelt as a word", "crds.enabled=yes", "enabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vals, err := setValues(tc.set)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = tryHelmRender(operatorNamespace, vals)
			if err == nil || !strings.Contains(err.Error(), "schema") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("--set %s: got error %v, want a schema error naming %q", tc.set, err, tc.want)
			}
		})
	}
}

// A PodDisruptionBudget takes one of the two: the chart says so rather than
// letting the apiserver refuse the install halfway.
func TestHelmChartRefusesAPodDisruptionBudgetWithBothLimits(t *testing.T) {
	vals, err := setValues("podDisruptionBudget.enabled=true", "podDisruptionBudget.minAvailable=1", "podDisruptionBudget.maxUnavailable=1")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tryHelmRender(operatorNamespace, vals); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("rendered without complaint (err %v)", err)
	}
}

// Every `--set` in the shell examples of docs/deploy.md is a value the
// schema accepts and the chart renders, and so is the values file that sets
// everything. (The prose also shows values the schema rejects.)
func TestHelmChartAcceptsTheDocumentedExamples(t *testing.T) {
	doc, err := os.ReadFile(repoPath("docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	// Each shell block is one example: its --set values render together.
	var examples [][]string
	for _, block := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(doc), -1) {
		var sets []string
		for _, m := range regexp.MustCompile(`--set[ =]([^\s\\]+)`).FindAllStringSubmatch(block[1], -1) {
			sets = append(sets, strings.Trim(m[1], `'"`)) // the shell's quotes
		}
		if len(sets) > 0 {
			examples = append(examples, sets)
		}
	}
	if len(examples) < 3 {
		t.Fatalf("docs/deploy.md has %d helm examples with --set; the test expects the install examples there", len(examples))
	}
	for _, sets := range examples {
		t.Run("the schema accepts the documented --set "+strings.Join(sets, " --set "), func(t *testing.T) {
			vals, err := setValues(sets...)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := tryHelmRender(operatorNamespace, vals); err != nil {
				t.Error(err)
			}
		})
	}
	t.Run("the schema accepts ci/all-values.yaml, which sets every value", func(t *testing.T) {
		helmRender(t, allValues(t))
	})
}

// ci/all-values.yaml is the lint test's "everything set" case: it must
// keep up with values.yaml.
func TestHelmChartAllValuesFileSetsEveryValue(t *testing.T) {
	defaults, err := chartutil.ReadValuesFile(repoPath("charts", "pve-operator", "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for _, p := range valuePaths(allValues(t), "") {
		set[p] = true
	}
	for _, p := range valuePaths(defaults, "") {
		if !set[p] {
			t.Errorf("charts/pve-operator/ci/all-values.yaml does not set %s", p)
		}
	}
}

func allValues(t *testing.T) map[string]any {
	t.Helper()
	vals, err := chartutil.ReadValuesFile(repoPath("charts", "pve-operator", "ci", "all-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return vals
}

// valuePaths lists the dotted paths of a values tree's leaves; an empty map
// is a leaf (podLabels: {}), a list is one.
func valuePaths(vals map[string]any, prefix string) []string {
	var out []string
	for k, v := range vals {
		if m, ok := v.(map[string]any); ok && len(m) > 0 && !isFreeForm(prefix+k) {
			out = append(out, valuePaths(m, prefix+k+".")...)
			continue
		}
		out = append(out, prefix+k)
	}
	sort.Strings(out)
	return out
}

// isFreeForm: maps whose keys are the user's (Kubernetes objects, labels),
// not the chart's.
func isFreeForm(path string) bool {
	switch path {
	case "resources", "podSecurityContext", "securityContext", "affinity", "nodeSelector",
		"podLabels", "podAnnotations", "serviceAccount.annotations", "monitoring.serviceMonitor.labels",
		"monitoring.prometheusRule.labels", "monitoring.dashboard.labels", "monitoring.dashboard.annotations", "monitoring.serviceMonitor.tlsConfig":
		return true
	}
	return false
}

// deployment is the rendered manager Deployment, whatever the release's
// object names.
func deployment(t *testing.T, objs []*unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			return o
		}
	}
	t.Fatal("no Deployment rendered")
	return nil
}

func ofKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// valueCase renders the chart with some --set values and checks the result.
type valueCase struct {
	name  string
	sets  []string
	check func(t *testing.T, objs, crds []*unstructured.Unstructured)
}

// What each value does to the rendered objects.
func TestHelmChartValueCases(t *testing.T) {
	for _, tc := range append(workloadCases, objectCases...) {
		t.Run(tc.name, func(t *testing.T) {
			vals, err := setValues(tc.sets...)
			if err != nil {
				t.Fatal(err)
			}
			objs, crds, err := tryHelmRender(operatorNamespace, vals)
			if err != nil {
				t.Fatalf("--set %v: %v", tc.sets, err)
			}
			tc.check(t, objs, crds)
		})
	}
}

// The cases about the manager's pods.
var workloadCases = []valueCase{
	{"replicaCount=3 runs 3 replicas with leader election", []string{"replicaCount=3"}, func(t *testing.T, objs, _ []*unstructured.Unstructured) {
		dep := deployment(t, objs)
		if r := nested(dep, "spec", "replicas"); r != float64(3) {
			t.Errorf("replicas %v, want 3", r)
		}
		if args := strs(managerContainer(t, dep)["args"]); !contains(args, "--leader-elect") {
			t.Errorf("args %v lack --leader-elect", args)
		}
	}},
	{"the security contexts default to the restricted profile", nil, func(t *testing.T, objs, _ []*unstructured.Unstructured) {
		dep := deployment(t, objs)
		pod := toYAML(nested(dep, "spec", "template", "spec", "securityContext"))
		ctr := toYAML(managerContainer(t, dep)["securityContext"])
		for _, want := range []string{"runAsNonRoot: true", "type: RuntimeDefault"} {
			if !strings.Contains(pod, want) {
				t.Errorf("pod securityContext lacks %q:\n%s", want, pod)
			}
		}
		for _, want := range []string{"allowPrivilegeEscalation: false", "readOnlyRootFilesystem: true", "- ALL"} {
			if !strings.Contains(ctr, want) {
				t.Errorf("container securityContext lacks %q:\n%s", want, ctr)
			}
		}
	}},
	{"podSecurityContext and securityContext are the pod's and the container's", []string{"podSecurityContext.fsGroup=2000", "securityContext.runAsUser=1000"}, func(t *testing.T, objs, _ []*unstructured.Unstructured) {
		dep := deployment(t, objs)
		if g := nested(dep, "spec", "template", "spec", "securityContext", "fsGroup"); g != float64(2000) {
			t.Errorf("pod fsGroup %v, want 2000", g)
		}
		if u := managerContainer(t, dep)["securityContext"].(map[string]any)["runAsUser"]; u != float64(1000) {
			t.Errorf("container runAsUser %v, want 1000", u)
		}
	}},
	{"extraEnv is appended to the manager's environment", []string{"extraEnv[0].name=GOMAXPROCS", "extraEnv[0].value=2"}, func(t *testing.T, objs, _ []*unstructured.Unstructured) {
		env := toYAML(managerContainer(t, deployment(t, objs))["env"])
		if !strings.Contains(env, "name: POD_NAMESPACE") || !strings.Contains(env, "name: GOMAXPROCS") {
			t.Errorf("env lacks POD_NAMESPACE or GOMAXPROCS:\n%s", env)
		}
	}},
	{"podLabels and podAnnotations go on the pods but not into the selector", []string{"podLabels.team=platform", "podAnnotations.note=x"}, func(t *testing.T, objs, _ []*unstructured.Unstructured) {
		dep := deployment(t, objs)
		if l := nested(dep, "spec", "template", "metadata", "labels", "team"); l != "platform" {
			t.Errorf("pod label team=%v", l)
		}
		if a := nested(dep, "spec", "template", "metadata", "annotations", "note"); a != "x" {
			t.Errorf("pod annotation note=%v", a)
		}
		if sel := nested(dep, "spec", "selector", "matchLabels", "team"); sel != nil {
			t.Errorf("podLabels leaked into the immutable selector")
		}
	}},
	{"a topology spread constraint without a labelSelector selects the manager pods", []string{
		"topologySpreadConstraints[0].maxSkew=1", "topologySpreadConstraints[0].topologyKey=topology.kubernetes.io/zone",
		"topologySpreadConstraints[0].whenUnsatisfiable=ScheduleAnyway",
	}, func(t *testing.T, objs, _ []*unstructured.Unstructured) {
		dep := deployment(t, objs)
		c := nested(dep, "spec", "template", "spec", "topologySpreadConstraints").([]any)[0].(map[string]any)
		got, _, _ := unstructured.NestedStringMap(c, "labelSelector", "matchLabels")
		want, _, _ := unstructured.NestedStringMap(dep.Object, "spec", "selector", "matchLabels")
		if len(want) == 0 || toYAML(got) != toYAML(want) {
			t.Errorf("labelSelector %v, want the Deployment's selector %v", got, want)
		}
	}},
	{"priorityClassName, nodeSelector, tolerations and affinity reach the pod", []string{
		"priorityClassName=system-cluster-critical", "nodeSelector.kubernetes\\.io/os=linux",
		"tolerations[0].key=dedicated", "tolerations[0].operator=Exists",
		"affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight=1",
	}, func(t *testing.T, objs, _ []*unstructured.Unstructured) {
		pod := deployment(t, objs).Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
		for _, f := range []string{"priorityClassName", "nodeSelector", "tolerations", "affinity"} {
			if pod[f] == nil {
				t.Errorf("pod spec lacks %s", f)
			}
		}
	}},
}

// The cases about the objects around the pods.
var objectCases = []valueCase{
	{"no PodDisruptionBudget renders by default", nil, func(t *testing.T, objs, _ []*unstructured.Unstructured) {
		if pdbs := ofKind(objs, "PodDisruptionBudget"); len(pdbs) != 0 {
			t.Errorf("%d PodDisruptionBudgets rendered", len(pdbs))
		}
	}},
	{"a PodDisruptionBudget renders when enabled, minAvailable 1 unless told otherwise", []string{"podDisruptionBudget.enabled=true", "replicaCount=2"}, func(t *testing.T, objs, _ []*unstructured.Unstructured) {
		checkPDB(t, objs, "minAvailable", float64(1))
	}},
	{"podDisruptionBudget.minAvailable=0 is taken as 0, not as unset", []string{"podDisruptionBudget.enabled=true", "podDisruptionBudget.minAvailable=0"}, func(t *testing.T, objs, _ []*unstructured.Unstructured) {
		checkPDB(t, objs, "minAvailable", float64(0))
	}},
	{"podDisruptionBudget.maxUnavailable renders maxUnavailable alone", []string{"podDisruptionBudget.enabled=true", "podDisruptionBudget.maxUnavailable=50%"}, func(t *testing.T, objs, _ []*unstructured.Unstructured) {
		checkPDB(t, objs, "maxUnavailable", "50%")
	}},
	{"serviceAccount.create=false with a name uses that ServiceAccount everywhere", []string{"serviceAccount.create=false", "serviceAccount.name=pve-sa"}, func(t *testing.T, objs, _ []*unstructured.Unstructured) {
		checkServiceAccount(t, objs, "pve-sa", false)
	}},
	{"serviceAccount.name names the ServiceAccount the chart creates", []string{"serviceAccount.name=pve-sa"}, func(t *testing.T, objs, _ []*unstructured.Unstructured) {
		checkServiceAccount(t, objs, "pve-sa", true)
	}},
	{"serviceAccount.annotations annotate the ServiceAccount", []string{"serviceAccount.annotations.example\\.com/role=operator"}, func(t *testing.T, objs, _ []*unstructured.Unstructured) {
		if a := ofKind(objs, "ServiceAccount")[0].GetAnnotations()["example.com/role"]; a != "operator" {
			t.Errorf("annotation example.com/role=%q", a)
		}
	}},
	{"the CRDs render by default, kept on uninstall", nil, func(t *testing.T, _, crds []*unstructured.Unstructured) {
		if len(crds) != 6 {
			t.Errorf("%d CRDs rendered, want 6", len(crds))
		}
		for _, c := range crds {
			if c.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
				t.Errorf("%s lacks helm.sh/resource-policy: keep", c.GetName())
			}
		}
	}},
	{"crds.keep=false leaves helm uninstall free to delete the CRDs", []string{"crds.keep=false"}, func(t *testing.T, _, crds []*unstructured.Unstructured) {
		for _, c := range crds {
			if _, ok := c.GetAnnotations()["helm.sh/resource-policy"]; ok {
				t.Errorf("%s has helm.sh/resource-policy", c.GetName())
			}
		}
	}},
	{"crds.enabled=false renders no CRDs", []string{"crds.enabled=false"}, func(t *testing.T, _, crds []*unstructured.Unstructured) {
		if len(crds) != 0 {
			t.Errorf("%d CRDs rendered", len(crds))
		}
	}},
	{"fullnameOverride renames every object but keeps the selector", []string{"fullnameOverride=pve"}, func(t *testing.T, objs, _ []*unstructured.Unstructured) {
		for _, o := range objs {
			if !strings.HasPrefix(o.GetName(), "pve-") || strings.HasPrefix(o.GetName(), "pve-operator") {
				t.Errorf("%s not named pve-...", key(o))
			}
		}
		if i := nested(deployment(t, objs), "spec", "selector", "matchLabels", "app.kubernetes.io/instance"); i != releaseName {
			t.Errorf("selector instance %v, want %s", i, releaseName)
		}
	}},
	{"nameOverride is app.kubernetes.io/name, in the selector and on every object", []string{"nameOverride=pve"}, func(t *testing.T, objs, _ []*unstructured.Unstructured) {
		for _, o := range objs {
			if n := o.GetLabels()["app.kubernetes.io/name"]; n != "pve" {
				t.Errorf("%s: app.kubernetes.io/name %q", key(o), n)
			}
		}
		if n := nested(deployment(t, objs), "spec", "selector", "matchLabels", "app.kubernetes.io/name"); n != "pve" {
			t.Errorf("selector name %v", n)
		}
	}},
}

func checkPDB(t *testing.T, objs []*unstructured.Unstructured, field string, want any) {
	t.Helper()
	pdbs := ofKind(objs, "PodDisruptionBudget")
	if len(pdbs) != 1 {
		t.Fatalf("%d PodDisruptionBudgets rendered, want 1", len(pdbs))
	}
	spec := pdbs[0].Object["spec"].(map[string]any)
	if spec[field] != want || len(spec) != 2 {
		t.Errorf("PDB spec %v, want %s %v and a selector", spec, field, want)
	}
	sel := toYAML(nested(pdbs[0], "spec", "selector", "matchLabels"))
	if dsel := toYAML(nested(deployment(t, objs), "spec", "selector", "matchLabels")); sel != dsel {
		t.Errorf("PDB selects %s, the Deployment %s", sel, dsel)
	}
}

// checkServiceAccount: the pods run as name, every binding binds it, and
// the chart creates it only when told to.
func checkServiceAccount(t *testing.T, objs []*unstructured.Unstructured, name string, created bool) {
	t.Helper()
	if sa := nested(deployment(t, objs), "spec", "template", "spec", "serviceAccountName"); sa != name {
		t.Errorf("serviceAccountName %v, want %s", sa, name)
	}
	sas := ofKind(objs, "ServiceAccount")
	if created != (len(sas) == 1 && sas[0].GetName() == name) || (!created && len(sas) != 0) {
		t.Errorf("ServiceAccounts rendered: %d, want one named %s: %v", len(sas), name, created)
	}
	for _, o := range append(ofKind(objs, "RoleBinding"), ofKind(objs, "ClusterRoleBinding")...) {
		for _, s := range o.Object["subjects"].([]any) {
			if s.(map[string]any)["name"] != name {
				t.Errorf("%s binds %v, want %s", key(o), s, name)
			}
		}
	}
}

// docs/deploy.md's values table names every value values.yaml has, either
// in full (`image.tag`) or after its sibling (`metrics.port`, `.interval`).
func TestHelmChartValuesAreDocumented(t *testing.T) {
	doc, err := os.ReadFile(repoPath("docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	defaults, err := chartutil.ReadValuesFile(repoPath("charts", "pve-operator", "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "| `") {
			rows = append(rows, line)
		}
	}
	for _, p := range valuePaths(defaults, "") {
		if !documented(rows, p) {
			t.Errorf("docs/deploy.md's values table does not name %s", p)
		}
	}
}

func documented(rows []string, path string) bool {
	i := strings.LastIndex(path, ".")
	for _, row := range rows {
		if strings.Contains(row, "`"+path+"`") {
			return true
		}
		if i > 0 && strings.Contains(row, "`"+path[:i+1]) && strings.Contains(row, "`"+path[i:]+"`") {
			return true
		}
	}
	return false
}
