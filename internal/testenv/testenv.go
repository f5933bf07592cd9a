package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	proxmoxv1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// RepoRoot is the repository's root directory, found from this file's path
// so tests work from any package directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// AssetsDir returns the directory holding kube-apiserver and etcd:
// $KUBEBUILDER_ASSETS, else bin/k8s (what `make envtest` fills). A missing
// directory is an error, never a skip: a test that cannot reach an apiserver
// must fail loudly instead of passing silently.
func AssetsDir() (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		dir = filepath.Join(RepoRoot(), "bin", "k8s")
	}
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return "", fmt.Errorf("%s not found in %s: run `make envtest` (or `make test`) first: %w", b, dir, err)
		}
	}
	return dir, nil
}

// Env is a running control plane.
type Env struct {
	*envtest.Environment
	Config *rest.Config
}

// Start starts kube-apiserver and etcd with the CRDs from config/crd/bases
// installed and registers the API types in client-go's scheme.
func Start() (*Env, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	if err := proxmoxv1alpha1.AddToScheme(scheme.Scheme); err != nil {
		return nil, err
	}
	te := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := te.Start()
	if err != nil {
		return nil, fmt.Errorf("start envtest: %w", err)
	}
	return &Env{Environment: te, Config: cfg}, nil
}

// WriteKubeconfig writes a kubeconfig for the env's admin user to path.
func (e *Env) WriteKubeconfig(path string) error {
	user, err := e.AddUser(envtest.User{Name: "testenv-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return err
	}
	return os.WriteFile(path, kc, 0o600)
}

// Kubectl returns the path of a kubectl binary: the one `make envtest` built
// next to kube-apiserver, else one on PATH.
func Kubectl() (string, error) {
	if dir, err := AssetsDir(); err == nil {
		p := filepath.Join(dir, "kubectl")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("kubectl")
	if err != nil {
		return "", errors.New("kubectl not found: run `make envtest` to build it, or install kubectl")
	}
	return p, nil
}

// GVK is a shorthand for this API's GroupVersionKinds.
func GVK(kind string) schema.GroupVersionKind {
	return proxmoxv1alpha1.GroupVersion.WithKind(kind)
}
