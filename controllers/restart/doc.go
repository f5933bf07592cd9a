// Package restart holds tests that stop and start the operator's manager
// around Proxmox calls, with their own control plane and simulator so no
// other manager reconciles the same objects meanwhile.
package restart
