// Package proxmox is the only code in the operator that talks to the Proxmox
// VE API. It wraps go-proxmox (github.com/luthermonson/go-proxmox) behind a
// small, ctx-first, operation-oriented interface (Client) and owns everything
// about that HTTP hop:
//
//   - decoding PVE's replies where go-proxmox's types are wrong or missing
//     (status/current, cluster resources, storage content, null UPIDs);
//   - classifying every failure once into typed errors (NotFoundError,
//     LockedError, TaskFailedError, ...) so callers never match on strings;
//   - never repeating a mutating request: a POST whose answer was lost is
//     reported as an UnreachableError with RequestSent set, and the caller
//     looks for what it created instead of creating it twice;
//   - never waiting for a task: task-starting calls return the UPID, and
//     TaskStatus answers later from the UPID string alone;
//   - TLS verification on by default, per-host rate and concurrency limits,
//     one parsed form of the endpoint (Endpoint), and a Fingerprint of a
//     Config that tells its owner when a client must be rebuilt.
//
// The per-host inventory (one cluster-wide listing serving every container on
// a host) lives in the inventory subpackage.
//
// What it must not know about: Kubernetes, the operator's API types, and where
// credentials come from (callers hand it a Config). Error strings never
// contain a token secret, a password or a request body.
package proxmox
