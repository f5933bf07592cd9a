// Package pvesim is an in-process simulator of the Proxmox VE HTTP API
// (/api2/json), built as the test target for the operator and its Proxmox
// client.
//
// It reproduces the parts of PVE that an LXC operator depends on, with wire
// fidelity first: HTTP/1.1 over TLS, the {"data":…} envelope, error reason
// phrases taken from the first line of the PVE error message (written on a
// hijacked connection because net/http cannot), 400/401/403/500/501/595 exactly
// where PVE uses them and never 404 or 409, the parameter schemas of PVE
// 9.1's API checked the way PVE::JSONSchema checks them (package
// pveschema), real UPIDs, task logs and exit statuses, config digests,
// pending changes and the lock table.
//
// Tests drive it like httptest: New starts an HTTPS server with its own CA on
// 127.0.0.1, and the *Server methods seed state, inject faults (failed or
// dropped requests, delays, failing or stalled tasks, stale locks, digest
// flips, offline nodes, revoked tokens, dropped privileges), and expose request
// counters and a read-only state view. The same controls are served as JSON
// under /_sim/ for the cmd/pvesim binary.
//
// What it must not know about: the operator, Kubernetes, and any Proxmox
// client library. It speaks only the wire protocol; the sshd subpackage owns
// the simulated `pct exec` and only asks this package which containers exist
// and run.
package pvesim
