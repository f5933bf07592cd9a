// Package faults runs Applications against a misbehaving Proxmox (the
// simulator's fault injection) and checks the invariants that make the
// operator safe: one container per Application, no orphan it created, no
// foreign container touched.
package faults
