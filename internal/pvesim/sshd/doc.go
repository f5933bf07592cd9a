// Package sshd is the SSH side of the simulated Proxmox VE node: a loopback-only
// SSH server that understands the commands real clients send to a node:
// `pct exec <vmid> -- <argv…>`, the way the operator uses it to run scripts
// inside LXC containers, and, when given ConfigFiles, reading and writing
// container configs under /etc/pve with cat, tee, echo and output redirection,
// `pct config` and `pct list`.
//
// It exists so that internal/sshexec and the controllers can be tested against a
// real SSH handshake, real host-key checking and real processes (real exit codes,
// stdout/stderr, timeouts and kills) without a Proxmox node. The "container" is
// only a per-VMID scratch directory on the test host: commands run as the test
// user with no isolation, which is why the server refuses non-loopback addresses.
// The config file commands run no process: the server interprets them itself,
// with bash's and coreutils' messages and exit statuses.
//
// What it must not know about: Kubernetes, the operator's API types, and the
// HTTP API simulator's state. Which containers exist and whether they run is
// asked through the small ContainerLookup interface, and the config files
// through ConfigFiles, so the HTTP simulator (or a test) owns that state and
// this package only reads and writes it through them.
package sshd
