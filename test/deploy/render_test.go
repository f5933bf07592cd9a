package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

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

// helmRender renders the chart as `helm template` would for an install of
// release "pve-operator" into operatorNamespace, with values merged over
// values.yaml. It returns the templated objects and the chart's CRDs.
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

func tryHelmRender(namespace string, values map[string]any) (objs, crds []*unstructured.Unstructured, err error) {
	chrt, err := loader.Load(repoPath("charts", "pve-operator"))
	if err != nil {
		return nil, nil, err
	}
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = chartutil.KubeVersion{Version: "v1.37.2", Major: "1", Minor: "37"}
	vals, err := chartutil.ToRenderValues(chrt, values, chartutil.ReleaseOptions{
		Name: releaseName, Namespace: namespace, Revision: 1, IsInstall: true,
	}, caps)
	if err != nil {
		return nil, nil, err
	}
	files, err := engine.Render(chrt, vals)
	if err != nil {
		return nil, nil, err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !strings.HasSuffix(name, ".yaml") {
			continue
		}
		docs, err := decode([]byte(files[name]))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		objs = append(objs, docs...)
	}
	for _, crd := range chrt.CRDObjects() {
		docs, err := decode(crd.File.Data)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", crd.Filename, err)
		}
		crds = append(crds, docs...)
	}
	return objs, crds, nil
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
func decode(data []byte) ([]*unstructured.Unstructured, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []*unstructured.Unstructured
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		m := map[string]any{}
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}

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
