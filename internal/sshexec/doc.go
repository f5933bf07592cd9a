// Package sshexec runs shell scripts inside Proxmox VE LXC containers by
// SSHing to the node that hosts the container and running
// `pct exec <vmid> -- /bin/sh -c <receiver>` there; the receiver reads the
// script from the session's stdin and runs it with `/bin/sh -c`, so scripts
// up to MaxScriptBytes arrive byte for byte whatever they contain (but NUL).
//
// It owns everything about that SSH hop: strict host-key checking against an
// OpenSSH known_hosts (never trust-on-first-use), public-key login, connect and
// command timeouts, killing the remote command when the caller gives up,
// bounded output, and turning failures into typed errors (IsHostKeyError,
// IsAuthError, IsTimeout, IsUnreachable, IsContainerNotRunning, ...) so callers
// never match on error strings. A non-zero exit status of the script is a
// Result, not an error.
//
// What it must not know about: Kubernetes, the operator's API types, the
// Proxmox HTTP API, and where credentials come from (callers hand it bytes).
// It never logs and never puts key material into errors.
package sshexec
