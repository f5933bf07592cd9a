// Package pveparams is the ordered form of Proxmox VE API parameters that
// create and restore requests carry. lxcconfig renders an Application into
// it and the proxmox client sends it as the request body, key for key in the
// same order, so the parameters exist in one representation from spec to
// wire.
//
// What it must not know about: Kubernetes, the operator's API types and the
// Proxmox client. Both of its users import it, so it imports neither.
package pveparams
