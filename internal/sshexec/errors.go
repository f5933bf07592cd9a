package sshexec

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Returned errors wrap them (with context and, where useful,
// the underlying cause), so test with errors.Is or the Is* helpers below.
var (
	// ErrNoKnownHosts: Config.KnownHosts has no usable entry, so no host could
	// ever be verified. Returned by New.
	ErrNoKnownHosts = errors.New("known_hosts has no usable entries; refusing to trust any host key")
	// ErrHostKeyUnknown: known_hosts has no entry for the host.
	ErrHostKeyUnknown = errors.New("host key unknown")
	// ErrHostKeyMismatch: the host presented a key known_hosts does not list
	// for it (reinstalled node, or someone in the middle).
	ErrHostKeyMismatch = errors.New("host key mismatch")
	// ErrHostKeyRevoked: the host presented a key marked @revoked.
	ErrHostKeyRevoked = errors.New("host key revoked")
	// ErrAuth: the node refused our key (or user).
	ErrAuth = errors.New("ssh authentication failed")
	// ErrConnectTimeout: TCP connect plus handshake took longer than
	// Config.ConnectTimeout.
	ErrConnectTimeout = errors.New("ssh connect timed out")
	// ErrCommandTimeout: the command ran longer than Config.CommandTimeout and
	// was killed.
	ErrCommandTimeout = errors.New("remote command timed out")
	// ErrUnreachable: the TCP connection could not be made (refused, no route,
	// unresolvable name).
	ErrUnreachable = errors.New("ssh host unreachable")
	// ErrContainerNotFound: pct says the container's config is not on that node
	// (it does not exist, or lives on another node).
	ErrContainerNotFound = errors.New("container does not exist on node")
	// ErrContainerNotRunning: pct refused because the container is stopped.
	ErrContainerNotRunning = errors.New("container not running")
)

// IsHostKeyError reports a failed host verification: unknown host, key
// mismatch, revoked key, or no known_hosts at all. Not retryable without an
// administrator fixing known_hosts (or the node).
func IsHostKeyError(err error) bool {
	return errors.Is(err, ErrHostKeyMismatch) || errors.Is(err, ErrHostKeyUnknown) ||
		errors.Is(err, ErrHostKeyRevoked) || errors.Is(err, ErrNoKnownHosts)
}

// IsAuthError reports that the node rejected our credentials.
func IsAuthError(err error) bool { return errors.Is(err, ErrAuth) }

// IsTimeout reports a connect or command timeout from Config. A deadline on
// the caller's ctx is not one of these: it surfaces as context.DeadlineExceeded.
func IsTimeout(err error) bool { return IsConnectTimeout(err) || IsCommandTimeout(err) }

// IsConnectTimeout reports that connecting or the handshake timed out.
func IsConnectTimeout(err error) bool { return errors.Is(err, ErrConnectTimeout) }

// IsCommandTimeout reports that the remote command was killed for running too long.
func IsCommandTimeout(err error) bool { return errors.Is(err, ErrCommandTimeout) }

// IsUnreachable reports that no TCP connection to the node could be made.
func IsUnreachable(err error) bool { return errors.Is(err, ErrUnreachable) }

// IsContainerNotFound reports that pct did not find the container on the node.
func IsContainerNotFound(err error) bool { return errors.Is(err, ErrContainerNotFound) }

// IsContainerNotRunning reports that pct refused because the container is stopped.
func IsContainerNotRunning(err error) bool { return errors.Is(err, ErrContainerNotRunning) }

// pctExitStatus is what pct exits with when it dies before running anything:
// PVE's CLI handler turns die() into exit(-1).
const pctExitStatus = 255

// pctFailure recognises pct's own refusals in a finished command, so that a
// stopped or missing container is not mistaken for a failing script. It is the
// one place that reads pct's wording; the script never ran in these cases, so
// its stderr is pct's single line.
func pctFailure(res Result, vmid int) error {
	if res.ExitCode != pctExitStatus {
		return nil
	}
	notRunning := fmt.Sprintf("CT %d not running", vmid)
	missingSuffix := fmt.Sprintf("/lxc/%d.conf' does not exist", vmid)
	for line := range strings.Lines(string(res.Stderr)) {
		line = strings.TrimSpace(line)
		switch {
		case line == notRunning:
			return fmt.Errorf("%w: pct: %s", ErrContainerNotRunning, line)
		case strings.HasPrefix(line, "Configuration file 'nodes/") && strings.HasSuffix(line, missingSuffix):
			return fmt.Errorf("%w: pct: %s", ErrContainerNotFound, line)
		}
	}
	return nil
}
