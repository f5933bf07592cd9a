package sshd

import (
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"
)

// LoadOrCreateHostKey returns the host key stored at path (an unencrypted
// OpenSSH or PEM private key), creating a new ed25519 key there first if the
// file does not exist. A long-lived dev environment uses it so the known_hosts
// handed to the operator stays valid when the simulator restarts.
func LoadOrCreateHostKey(path string) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createHostKeyFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("sshd: read host key %s: %w", path, err)
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("sshd: parse host key %s: %w", path, err)
	}
	return signer, nil
}

func createHostKeyFile(path string) (ssh.Signer, error) {
	priv, signer, err := generateHostKeyPair()
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "pvesim host key")
	if err != nil {
		return nil, fmt.Errorf("sshd: encode host key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sshd: create host key dir: %w", err)
	}
	// Write to a temp file and link it into place so two simulators starting at
	// once never read a half-written key: the loser of the race loads the
	// winner's key instead of overwriting it.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".hostkey-*")
	if err != nil {
		return nil, fmt.Errorf("sshd: write host key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(pem.EncodeToMemory(block)); err != nil {
		_ = tmp.Close()
		return nil, fmt.Errorf("sshd: write host key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("sshd: write host key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return LoadOrCreateHostKey(path)
	} else if err != nil {
		return nil, fmt.Errorf("sshd: write host key: %w", err)
	}
	return signer, nil
}
