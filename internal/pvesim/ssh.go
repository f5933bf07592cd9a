package pvesim

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/pve-operator/pve-operator/internal/pvesim/sshd"
)

// sshServer is the part of *sshd.Server the simulator manages.
type sshServer interface{ Close() error }

// ContainerState answers the simulated `pct exec`: does the CT exist (on any
// node) and is it running. It makes *Server an sshd.ContainerLookup.
func (s *Server) ContainerState(vmid int) (exists bool, running bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ct := s.cts[vmid]
	if ct == nil || ct.lock() == "create" {
		return false, false
	}
	return true, ct.running
}

var _ sshd.ContainerLookup = (*Server)(nil)

// NodeContainerLookup restricts ContainerState to containers on one node, for
// a per-node SSH daemon.
func (s *Server) NodeContainerLookup(node string) sshd.ContainerLookup {
	return sshd.ContainerLookupFunc(func(vmid int) (bool, bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		ct := s.cts[vmid]
		if ct == nil || ct.node != node || ct.lock() == "create" {
			return false, false
		}
		return true, ct.running
	})
}

// SSH returns the simulated node SSH daemon, or nil when Options.SSH is unset.
func (s *Server) SSH() *sshd.Server {
	if srv, ok := s.ssh.(*sshd.Server); ok {
		return srv
	}
	return nil
}

func (s *Server) startSSH(o SSHOptions) error {
	var hostKey ssh.Signer
	if o.HostKeyPath != "" {
		k, err := sshd.LoadOrCreateHostKey(o.HostKeyPath)
		if err != nil {
			return err
		}
		hostKey = k
	}
	var keys []ssh.PublicKey
	for _, line := range o.AuthorizedKeys {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			return fmt.Errorf("parse authorized key %q: %w", line, err)
		}
		keys = append(keys, k)
	}
	srv, err := sshd.New(sshd.Options{
		Addr: o.Addr, HostKey: hostKey, AuthorizedKeys: keys, Containers: s, Configs: s, Volumes: s,
		NodeName: s.nodeOrder[0], ScratchRoot: o.ScratchRoot, Logf: s.opts.Logf,
	})
	if err != nil {
		return fmt.Errorf("start ssh: %w", err)
	}
	s.ssh = srv
	return nil
}

// ReadAuthorizedKeys reads an OpenSSH authorized_keys file into lines.
func ReadAuthorizedKeys(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return strings.Split(string(data), "\n"), nil
}
