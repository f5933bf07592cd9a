// Package pveschema is Proxmox VE 9.1's API parameter schema and the checks
// PVE::JSONSchema runs on it: types, named and property-string formats,
// ranges, lengths, enums, patterns, "-list" formats, required and "requires"
// keys, with PVE's error texts. The schema is the embedded pve-9.1.json, a
// record of PVE's own parameter definitions; the named formats are Go
// versions of the validators PVE registers for them. A method the file
// lacks is written by hand with the same Prop and Method types, so one
// checker serves both.
//
// What it must not know about: HTTP, the simulator's state and its
// handlers. It takes decoded parameter values and returns normalized values
// or PVE's per-parameter error messages.
package pveschema
