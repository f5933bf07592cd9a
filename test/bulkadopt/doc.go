// Package bulkadopt holds the bulk-adoption test: it adopts fifty
// hand-made containers of the Proxmox simulator with manifests from
// internal/adoptgen (what `kubectl pve adopt` writes) and checks that the
// operator then wrote nothing to them but its ownership marking.
package bulkadopt
