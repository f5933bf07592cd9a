package sshexec

import (
	"context"
	"fmt"
	"time"
)

// Runner runs a script inside a container on a Proxmox node.
type Runner interface {
	// Exec runs script with /bin/sh inside container vmid on target. A script
	// that runs and exits non-zero is reported in Result.ExitCode with a nil
	// error; errors are for everything else (see the Is* helpers). On a timeout
	// or cancellation the remote command is killed and the output gathered so
	// far is returned with the error.
	Exec(ctx context.Context, target Target, vmid int, script string) (Result, error)
}

// Target is the Proxmox node hosting the container, as reached over SSH.
type Target struct {
	// Node is the Proxmox node name; it only appears in error messages.
	Node string
	// Host is the node's SSH host name or IP, as it is written in known_hosts.
	Host string
	// Port overrides Config.Port when non-zero.
	Port int
}

func (t Target) String() string {
	if t.Node == "" {
		return t.Host
	}
	return fmt.Sprintf("node %s (%s)", t.Node, t.Host)
}

// Result is what a finished (or killed) remote command produced.
type Result struct {
	// ExitCode is the script's exit status; 128+n if it died from signal n;
	// -1 if no status was received (timeout, cancellation, lost connection).
	ExitCode int
	// Stdout and Stderr hold at most Config.MaxOutputBytes each: the tail,
	// since a failing script explains itself at the end.
	Stdout, Stderr []byte
	// Truncated reports that the head of Stdout or Stderr was dropped.
	Truncated bool
	// Duration covers connecting and running.
	Duration time.Duration
}

// Config is how the operator logs in to Proxmox nodes. Zero values get the
// documented defaults.
type Config struct {
	// User to log in as; default "root" (pct needs root).
	User string
	// Port is the nodes' SSH port unless a Target overrides it; default 22.
	Port int
	// PrivateKeyPEM is the client's unencrypted private key (OpenSSH or PEM).
	PrivateKeyPEM []byte
	// KnownHosts is OpenSSH known_hosts content listing the nodes' host keys.
	// Required: hosts are never trusted on first use.
	KnownHosts []byte
	// ConnectTimeout bounds TCP connect plus SSH handshake; default 30s.
	ConnectTimeout time.Duration
	// CommandTimeout bounds the remote command once connected; default 60s.
	CommandTimeout time.Duration
	// MaxOutputBytes caps Stdout and Stderr each; default 64 KiB.
	MaxOutputBytes int
}

// Defaults applied by New to zero Config fields.
const (
	DefaultUser           = "root"
	DefaultPort           = 22
	DefaultConnectTimeout = 30 * time.Second
	DefaultCommandTimeout = 60 * time.Second
	DefaultMaxOutputBytes = 64 << 10
)

// String keeps the private key out of logs even when a whole Config is
// printed with %v or %+v.
func (c Config) String() string {
	return fmt.Sprintf("sshexec.Config{User:%q Port:%d PrivateKeyPEM:<redacted, %d bytes> KnownHosts:<%d bytes> ConnectTimeout:%s CommandTimeout:%s MaxOutputBytes:%d}",
		c.User, c.Port, len(c.PrivateKeyPEM), len(c.KnownHosts), c.ConnectTimeout, c.CommandTimeout, c.MaxOutputBytes)
}

// GoString redacts %#v the same way.
func (c Config) GoString() string { return c.String() }

func (c Config) withDefaults() (Config, error) {
	if c.User == "" {
		c.User = DefaultUser
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.CommandTimeout == 0 {
		c.CommandTimeout = DefaultCommandTimeout
	}
	if c.MaxOutputBytes == 0 {
		c.MaxOutputBytes = DefaultMaxOutputBytes
	}
	switch {
	case c.Port < 0 || c.Port > 65535:
		return c, fmt.Errorf("sshexec: invalid port %d", c.Port)
	case c.ConnectTimeout < 0 || c.CommandTimeout < 0:
		return c, fmt.Errorf("sshexec: timeouts must not be negative")
	case c.MaxOutputBytes < 0:
		return c, fmt.Errorf("sshexec: MaxOutputBytes must not be negative")
	}
	return c, nil
}
