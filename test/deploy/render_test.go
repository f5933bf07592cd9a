package deploy

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"

	"helm.sh/helm/v3/pkg/strvals"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/pve-operator/pve-operator/internal/helmrender"
	"github.com/pve-operator/pve-operator/internal/testenv"
)

const (
	// The namespace and release name config/default and the chart's
	// defaults agree on.
	operatorNamespace = "pve-operator-system"
	releaseName       = "pve-operator"
	serviceAccount    = "pve-operator-controller-manager"
)

func repoPath(elem ...string) string {
	return filepath.Join(append([]string{testenv.RepoRoot()}, elem...)...)
}

// kustomize renders a kustomization directory with `kubectl kustomize`.
func kustomize(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	kubectl, err := testenv.Kubectl()
	if err != nil {
		t.Fatalf("rendering %s needs kubectl: %v", dir, err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(kubectl, "kustomize", dir)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderr.String())
	}
	return decodeYAML(t, stdout.Bytes())
}

// helmRender renders the chart as `helm install --dry-run` would for an
// install of release "pve-operator" into operatorNamespace, with values
// merged over values.yaml and checked against values.schema.json. It returns
// the templated objects and, apart, the CRDs (templates/crds.yaml).
func helmRender(t *testing.T, values map[string]any) (objs, crds []*unstructured.Unstructured) {
	t.Helper()
	objs, crds, err := tryHelmRender(operatorNamespace, values)
	if err != nil {
		t.Fatalf("render the Helm chart: %v", err)
	}
	return objs, crds
}

// helmRenderIn renders a release into another namespace.
func helmRenderIn(t *testing.T, namespace string, values map[string]any) []*unstructured.Unstructured {
	t.Helper()
	objs, _, err := tryHelmRender(namespace, values)
	if err != nil {
		t.Fatalf("render the Helm chart: %v", err)
	}
	return objs
}

// setValues turns `--set` arguments into values the way the helm CLI does
// (strvals): "replicaCount=3" is the integer 3, "replicaCount=three" a string,
// so the schema sees exactly what it would see from the command line.
func setValues(sets ...string) (map[string]any, error) {
	vals := map[string]any{}
	for _, s := range sets {
		if err := strvals.ParseInto(s, vals); err != nil {
			return nil, fmt.Errorf("--set %s: %w", s, err)
		}
	}
	return vals, nil
}

// tryHelmRender renders the chart for release "pve-operator" into
// namespace as `helm install` does (see helmrender.Render).
func tryHelmRender(namespace string, values map[string]any) (objs, crds []*unstructured.Unstructured, err error) {
	return helmrender.Render(repoPath("charts", "pve-operator"), releaseName, namespace, values)
}

func decodeYAML(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	objs, err := decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// decode splits a multi-document YAML stream into objects, skipping empty
// documents (a template that rendered nothing).
func decode(data []byte) ([]*unstructured.Unstructured, error) { return helmrender.Decode(data) }

// key names an object the way both renderings must agree on.
func key(o *unstructured.Unstructured) string {
	if o.GetNamespace() != "" {
		return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
	}
	return o.GetKind() + " " + o.GetName()
}

func index(objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	m := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		m[key(o)] = o
	}
	return m
}

func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %q among the rendered objects", kind, name)
	return nil
}
