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
// As OpenSSH's sshd hands the whole command line to the login shell as one
// argument, a command line of 128 KiB or more fails with E2BIG before
// anything runs; a command's stdin is the session's.
//
// The container's "/" is its scratch directory: it is the cwd and HOME of
// every command, so a script addresses a file in the container by a path
// relative to it (`mkdir -p var/lib/app && echo hi > var/lib/app/marker`,
// or "$HOME/var/lib/app/marker"); an absolute path is the test host's. Given
// MountedVolumes, the data mount points (mpN backed by a storage volume, not
// bind or device mounts) are volumes rather than plain directories: while a
// container runs commands, each volume's files are laid out under its mount
// path, and when a command ends, by exit, signal, kill or timeout, the
// regular files it left there (deletions included) become the volume's
// content. That content is the volume's, not the container's: it moves with
// a volume handed to another container (move_volume with target-vmid) and
// is destroyed with the volume, and between commands the mount paths are
// absent from the scratch directory. Commands of one container running at
// the same time share one laid-out tree; the reading back is done under a
// per-container lock, and the limits MaxMountedFileSize and MaxMountedFiles
// keep it small (file modes, owners and empty directories are not kept).
//
// What it must not know about: Kubernetes, the operator's API types, and the
// HTTP API simulator's state. Which containers exist and whether they run is
// asked through the small ContainerLookup interface, the config files
// through ConfigFiles and the volumes' files through MountedVolumes, so the
// HTTP simulator (or a test) owns that state and this package only reads
// and writes it through them.
package sshd
