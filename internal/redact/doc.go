// Package redact keeps the secret values the operator has read and removes
// them from every text that leaves the process: status condition messages,
// Events and log lines.
//
// The client layer (internal/proxmox) already scrubs a request's own secrets
// from that request's errors, but Proxmox can echo a secret later and
// elsewhere: a create task's exit status that repeats the root password is
// read by a task status poll that never saw the password. So secrets are
// registered where they are read (Add) and texts are scrubbed where they
// leave (String, Writer, Recorder), whatever their origin.
//
// What it must not know about: Kubernetes objects, Proxmox, the operator's
// API types, and where secrets come from (callers hand it values).
package redact
