package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

const (
	canaryNamespace = "encryption-test"
	canaryName      = "pve-credentials"
	// canary is the plaintext that must never appear in etcd.
	canary = "tokenSecret-canary-5f3c1a"
)

// TestPersistentEnvironmentEncryptsSecrets starts the control plane the way
// `make dev` does, twice on one data directory, and reads etcd directly:
// only the raw value proves what an attacker with etcd or its disk sees.
func TestPersistentEnvironmentEncryptsSecrets(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()

	k8s, etcd, stop := startControlPlane(t, func() (*envtest.Environment, error) { return NewPersistentEnvironment(dir) })
	if err := createCanarySecret(ctx, k8s); err != nil {
		t.Fatal(err)
	}
	firstRaw := readRawSecret(t, etcd)
	key, err := os.ReadFile(filepath.Join(dir, SecretsKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	checkEncrypted(t, "on the first start", firstRaw, k8s)
	stop()

	k8s, etcd, _ = startControlPlane(t, func() (*envtest.Environment, error) { return NewPersistentEnvironment(dir) })
	t.Run("a restart on the same data dir keeps the key file unchanged", func(t *testing.T) {
		again, err := os.ReadFile(filepath.Join(dir, SecretsKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(key, again) {
			t.Error("the key file changed between starts; Secrets written before would be lost")
		}
	})
	checkEncrypted(t, "after a restart", readRawSecret(t, etcd), k8s)

	t.Run("the key and configuration files are readable by their owner only", func(t *testing.T) {
		for _, name := range []string{SecretsKeyFile, encryptionConfigFile} {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if mode := fi.Mode().Perm(); mode != 0o600 {
				t.Errorf("%s has mode %o, want 600", name, mode)
			}
		}
	})
}

// checkEncrypted runs the at-rest assertions on one raw etcd value.
func checkEncrypted(t *testing.T, when string, raw []byte, k8s client.Client) {
	t.Helper()
	checks := []struct {
		name string
		ok   bool
	}{
		{"the etcd value starts with the " + SecretsEncryptionProvider + " prefix", bytes.HasPrefix(raw, []byte(EncryptedSecretPrefix))},
		{"the etcd value does not contain the plaintext", !bytes.Contains(raw, []byte(canary))},
	}
	for _, c := range checks {
		t.Run(c.name+" "+when, func(t *testing.T) {
			if !c.ok {
				t.Errorf("raw value %q", truncate(raw))
			}
		})
	}
	t.Run("the apiserver returns the plaintext "+when, func(t *testing.T) {
		if got := canaryValue(t.Context(), t, k8s); got != canary {
			t.Errorf("tokenSecret = %q, want %q", got, canary)
		}
	})
}

// TestSecretsWrittenBeforeEncryptionStayReadable is an older bin/dev: its
// Secrets are in etcd unencrypted, and only identity (listed last) reads them.
func TestSecretsWrittenBeforeEncryptionStayReadable(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()

	k8s, _, stop := startControlPlane(t, func() (*envtest.Environment, error) { return unencryptedEnvironment(dir) })
	if err := createCanarySecret(ctx, k8s); err != nil {
		t.Fatal(err)
	}
	stop()

	k8s, etcd, _ := startControlPlane(t, func() (*envtest.Environment, error) { return NewPersistentEnvironment(dir) })
	t.Run("the old Secret is still stored in plaintext until it is next written", func(t *testing.T) {
		if raw := readRawSecret(t, etcd); !bytes.Contains(raw, []byte(canary)) {
			t.Errorf("raw value %q does not hold the plaintext the first start wrote", truncate(raw))
		}
	})
	t.Run("the apiserver still reads the old Secret", func(t *testing.T) {
		if got := canaryValue(ctx, t, k8s); got != canary {
			t.Errorf("tokenSecret = %q, want %q", got, canary)
		}
	})

	// What the documented re-encryption (kubectl replace) does: an update.
	s := &corev1.Secret{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: canaryNamespace, Name: canaryName}, s); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	checkEncrypted(t, "once the old Secret is rewritten", readRawSecret(t, etcd), k8s)
}

// unencryptedEnvironment is the control plane `make dev` ran before Secrets
// were encrypted: the same etcd data directory, no encryption config.
func unencryptedEnvironment(dir string) (*envtest.Environment, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	env.ControlPlane.Etcd = &envtest.Etcd{DataDir: filepath.Join(dir, "etcd")}
	return env, nil
}

// startControlPlane starts the environment newEnv returns and a client for
// it. stop may be called early to restart on the same data; otherwise the
// test's cleanup calls it.
func startControlPlane(t *testing.T, newEnv func() (*envtest.Environment, error)) (client.Client, *url.URL, func()) {
	t.Helper()
	env, err := newEnv()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start control plane: %v", err)
	}
	stop := sync.OnceFunc(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop control plane: %v", err)
		}
	})
	t.Cleanup(stop)
	k8s, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return k8s, env.ControlPlane.Etcd.URL, stop
}

func createCanarySecret(ctx context.Context, k8s client.Client) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: canaryNamespace}}
	if err := k8s.Create(ctx, ns); err != nil {
		return fmt.Errorf("create namespace %s: %w", canaryNamespace, err)
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: canaryName, Namespace: canaryNamespace},
		StringData: map[string]string{"tokenID": "root@pam!operator", "tokenSecret": canary},
	}
	if err := k8s.Create(ctx, s); err != nil {
		return fmt.Errorf("create Secret %s: %w", canaryName, err)
	}
	return nil
}

func canaryValue(ctx context.Context, t *testing.T, k8s client.Client) string {
	t.Helper()
	s := &corev1.Secret{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: canaryNamespace, Name: canaryName}, s); err != nil {
		t.Fatalf("get Secret through the apiserver: %v", err)
	}
	return string(s.Data["tokenSecret"])
}

// readRawSecret reads the canary Secret's value straight from etcd, past
// the apiserver, through etcd's HTTP/JSON gateway (on by default on the
// client URL), so the operator's module needs no etcd client.
func readRawSecret(t *testing.T, etcd *url.URL) []byte {
	t.Helper()
	key := "/registry/secrets/" + canaryNamespace + "/" + canaryName
	// etcd's JSON API carries keys and values as base64, which is how
	// encoding/json marshals []byte.
	body, err := json.Marshal(struct {
		Key []byte `json:"key"`
	}{[]byte(key)})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, etcd.JoinPath("/v3/kv/range").String(), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("read %s from etcd: %v", key, err)
	}
	defer func() { _ = resp.Body.Close() }()
	var out struct {
		Kvs []struct {
			Value []byte `json:"value"`
		} `json:"kvs"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("read %s from etcd: status %s, decode error %v", key, resp.Status, err)
	}
	if len(out.Kvs) != 1 {
		t.Fatalf("etcd holds %d values under %s, want 1", len(out.Kvs), key)
	}
	return out.Kvs[0].Value
}

// truncate keeps failure messages short: a Secret's value is a few hundred
// bytes, the prefix and whether the plaintext shows are in the first ones.
func truncate(raw []byte) string {
	const n = 120
	if len(raw) <= n {
		return string(raw)
	}
	return strings.ToValidUTF8(string(raw[:n]), "?") + "..."
}
