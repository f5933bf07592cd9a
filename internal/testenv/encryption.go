package testenv

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

const (
	// SecretsEncryptionProvider is the EncryptionConfiguration provider the
	// persistent control plane uses for Secrets. secretbox (XSalsa20-Poly1305)
	// is authenticated and draws a fresh 24-byte nonce per write, so one key
	// can live as long as bin/dev does. aesgcm's 12-byte random nonce makes a
	// static key unsafe after a few hundred thousand writes (Kubernetes asks
	// for rotation at 200k), and aescbc is unauthenticated (padding oracles).
	SecretsEncryptionProvider = "secretbox"

	// secretsKeyName names the key inside the configuration. The apiserver
	// writes it into every value it encrypts, so renaming it would orphan
	// existing data: a rotation adds a new name, it never reuses this one.
	secretsKeyName = "dev1"

	// EncryptedSecretPrefix starts every Secret value the apiserver wrote to
	// etcd with the persistent control plane's key.
	EncryptedSecretPrefix = "k8s:enc:" + SecretsEncryptionProvider + ":v1:" + secretsKeyName + ":"

	// SecretsKeyFile and encryptionConfigFile live in the data directory.
	SecretsKeyFile       = "secrets-encryption.key"
	encryptionConfigFile = "encryption-config.yaml"
)

// encryptionConfig is the EncryptionConfiguration template; %s is the
// base64 key. identity comes last so that Secrets written before
// encryption was enabled (an older bin/dev) stay readable; they are
// encrypted the next time they are written.
const encryptionConfig = `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources:
      - secrets
    providers:
      - ` + SecretsEncryptionProvider + `:
          keys:
            - name: ` + secretsKeyName + `
              secret: %s
      - identity: {}
`

// NewPersistentEnvironment returns, not yet started, the control plane
// `make dev` runs: etcd keeps its data in dir/etcd across restarts, the
// CRDs are installed, and Secrets are encrypted at rest (EncryptSecrets).
// Tests use it to exercise exactly what `make dev` starts.
func NewPersistentEnvironment(dir string) (*envtest.Environment, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	env.ControlPlane.Etcd = &envtest.Etcd{DataDir: filepath.Join(dir, "etcd")}
	if err := EncryptSecrets(env, dir); err != nil {
		return nil, err
	}
	return env, nil
}

// EncryptSecrets makes env's kube-apiserver encrypt Secrets before they
// reach etcd. The 32-byte key is created in dir/SecretsKeyFile on the first
// call and reused afterwards: a new key on every start would leave the
// Secrets already in etcd undecryptable. The configuration is rewritten on
// every call, so it always matches this code.
func EncryptSecrets(env *envtest.Environment, dir string) error {
	key, err := loadOrCreateKey(filepath.Join(dir, SecretsKeyFile))
	if err != nil {
		return err
	}
	config := filepath.Join(dir, encryptionConfigFile)
	if err := writePrivateFile(config, fmt.Appendf(nil, encryptionConfig, key)); err != nil {
		return err
	}
	env.ControlPlane.GetAPIServer().Configure().Set("encryption-provider-config", config)
	return nil
}

// loadOrCreateKey returns the base64 key stored at path, creating it with
// a random key (mode 0600) when path does not exist.
func loadOrCreateKey(path string) (string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createKey(path)
	}
	if err != nil {
		return "", fmt.Errorf("read Secrets encryption key: %w", err)
	}
	key := string(bytes.TrimSpace(data))
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(raw) != 32 {
		return "", fmt.Errorf("%s is not a base64 32-byte key; it cannot be replaced without losing the Secrets it encrypted", path)
	}
	return key, nil
}

func createKey(path string) (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	key := base64.StdEncoding.EncodeToString(raw)
	// O_EXCL: never overwrite a key another process has just written.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("create Secrets encryption key: %w", err)
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		_ = f.Close()
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return key, nil
}

// writePrivateFile writes data to path with mode 0600, also when path
// already existed with a wider mode (os.WriteFile keeps an existing mode).
func writePrivateFile(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Chmod(path, 0o600)
}
