// Package helmrender renders the project's Helm chart in-process the way
// `helm install` does, for the tests that check what the chart produces.
// Helm is used as a Go module, so no helm binary is downloaded.
package helmrender

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Render renders the chart in dir for an install of release into
// namespace: ToRenderValuesWithSchemaValidation coalesces values with
// values.yaml and validates the result against values.schema.json (the
// step `helm install` and `helm template` take before rendering), then
// engine.Render. It returns the templated objects and, apart, the CRDs:
// templated ones and any in a crds/ directory, which Helm would install on
// top, so that a test sees duplicates.
func Render(dir, release, namespace string, values map[string]any) (objs, crds []*unstructured.Unstructured, err error) {
	chrt, err := loader.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = chartutil.KubeVersion{Version: "v1.37.2", Major: "1", Minor: "37"}
	vals, err := chartutil.ToRenderValuesWithSchemaValidation(chrt, values, chartutil.ReleaseOptions{
		Name: release, Namespace: namespace, Revision: 1, IsInstall: true,
	}, caps, false)
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
		docs, err := Decode([]byte(files[name]))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		for _, d := range docs {
			if d.GetKind() == "CustomResourceDefinition" {
				crds = append(crds, d)
			} else {
				objs = append(objs, d)
			}
		}
	}
	for _, crd := range chrt.CRDObjects() {
		docs, err := Decode(crd.File.Data)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", crd.Filename, err)
		}
		crds = append(crds, docs...)
	}
	return objs, crds, nil
}

// Decode splits a multi-document YAML stream into objects, skipping empty
// documents.
func Decode(data []byte) ([]*unstructured.Unstructured, error) {
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
