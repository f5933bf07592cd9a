package kubectlpve

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pve-operator/pve-operator/internal/adoptgen"
	"github.com/pve-operator/pve-operator/internal/testenv"
)

// pluginEnv is a control plane with a ProxmoxHost pointing at a simulator
// holding three hand-made containers, and a kubeconfig for it. No manager
// runs: the plugin reads Proxmox itself.
func pluginEnv(t *testing.T) string {
	t.Helper()
	env, sim, k8s := testenv.StartSimulated(t)
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.WriteKubeconfig(kc); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := testenv.CreateHost(ctx, k8s, sim, testenv.HostFixture{Name: "pve", Namespaces: []string{"legacy"}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		node    string
		vmid    int
		cfg     map[string]string
		running bool
	}{
		{"pve1", 200, map[string]string{"hostname": "web", "memory": "1024", "cores": "2", "tags": "prod"}, true},
		{"pve2", 201, map[string]string{"hostname": "web", "memory": "512"}, false},
		{"pve2", 300, map[string]string{"hostname": "Odd.Name", "memory": "512", "mp0": "/tank/x,mp=/x"}, true},
	} {
		if err := sim.AddContainer(c.node, c.vmid, c.cfg, c.running); err != nil {
			t.Fatal(err)
		}
	}
	return kc
}

func TestKubectlPveAgainstARealAPIServer(t *testing.T) {
	kc := pluginEnv(t)
	ctx := context.Background()
	base := []string{"adopt", "--kubeconfig", kc, "--host", "pve", "-n", "legacy"}
	runOK := func(t *testing.T, args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := Run(ctx, append(slices.Clone(base), args...), &out, &errOut); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
		return out.String()
	}
	t.Run("the dry run shows only the marking, and keeps a hostname the spec cannot hold", func(t *testing.T) {
		out := runOK(t, "--dry-run")
		for _, want := range []string{"legacy/web  container 200", "lets namespace legacy adopt container 201", "legacy/web-201  container 201 on pve2 (stopped)", "~ tags:",
			"the container keeps it until spec.hostname is set", "0 with changes"} {
			if !strings.Contains(out, want) {
				t.Errorf("no %q in\n%s", want, out)
			}
		}
		if strings.Contains(out, "! hostname") {
			t.Errorf("an adopted container is never renamed:\n%s", out)
		}
	})
	t.Run("filters narrow the selection", func(t *testing.T) {
		out := runOK(t, "--node", "pve2", "--vmids", "200-299")
		if strings.Count(out, "kind: Application") != 1 || !strings.Contains(out, "vmid: 201") || !strings.Contains(out, "is also that of container [200]") {
			t.Errorf("want only container 201:\n%s", out)
		}
	})
	t.Run("-o writes one manifest per Application that reads back", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "apps")
		runOK(t, "-o", dir)
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if len(files) != 3 {
			t.Fatalf("files %v, want 3", files)
		}
		data, err := os.ReadFile(filepath.Join(dir, "web.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		app, err := adoptgen.Decode(data)
		if err != nil || !app.Spec.Adopt || *app.Spec.VMID != 200 || app.Spec.Resources.Memory.String() != "1Gi" {
			t.Errorf("web.yaml reads back as %+v (%v)", app, err)
		}
	})
	t.Run("status reads the same cluster", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if code := Run(ctx, []string{"status", "--kubeconfig", kc, "-A"}, &out, &errOut); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
		if !strings.Contains(out.String(), "pve ") || !strings.Contains(out.String(), "(all 0 Ready)") {
			t.Errorf("status:\n%s", out.String())
		}
	})
}
