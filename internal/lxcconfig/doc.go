// Package lxcconfig translates an Application's declared container into
// Proxmox LXC configuration keys and compares it with what Proxmox reports.
// It is pure: no I/O, no Kubernetes client, no Proxmox client. Controllers
// use it to build create parameters and to compute the smallest change that
// makes an observed container match its spec.
package lxcconfig
