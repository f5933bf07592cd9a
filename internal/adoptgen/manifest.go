package adoptgen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// Manifest renders one Application as YAML, headed by comments with the
// notes, without the empty status and creationTimestamp an object
// marshalled whole would carry (noise in a file meant for git).
func Manifest(r Result) ([]byte, error) {
	raw, err := json.Marshal(r.App)
	if err != nil {
		return nil, err
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	delete(obj, "status")
	if md, ok := obj["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	body, err := yaml.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# Adopts container %d on node %s of ProxmoxHost %s.\n", *r.App.Spec.VMID, r.Summary.Node, r.App.Spec.HostRef.Name)
	for _, n := range r.Notes {
		fmt.Fprintf(&buf, "# - %s\n", n)
	}
	buf.Write(body)
	return buf.Bytes(), nil
}

// WriteStream writes every Application as one multi-document YAML.
func WriteStream(w io.Writer, rs []Result) error {
	for i, r := range rs {
		m, err := Manifest(r)
		if err != nil {
			return fmt.Errorf("%s: %w", r.App.Name, err)
		}
		if i > 0 {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		if _, err := w.Write(m); err != nil {
			return err
		}
	}
	return nil
}

// WriteDir writes one file per Application, <name>.yaml, into dir.
func WriteDir(dir string, rs []Result) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	for _, r := range rs {
		m, err := Manifest(r)
		if err != nil {
			return files, fmt.Errorf("%s: %w", r.App.Name, err)
		}
		p := filepath.Join(dir, r.App.Name+".yaml")
		if err := os.WriteFile(p, m, 0o644); err != nil {
			return files, err
		}
		files = append(files, p)
	}
	return files, nil
}

// Decode reads a manifest back, as kubectl apply would.
func Decode(data []byte) (*v1alpha1.Application, error) {
	app := &v1alpha1.Application{}
	if err := yaml.UnmarshalStrict(data, app); err != nil {
		return nil, err
	}
	return app, nil
}
