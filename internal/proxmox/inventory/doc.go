// Package inventory keeps one Proxmox VE host's picture of nodes, storages
// and containers, refreshed by listing the whole cluster at once: three
// requests per interval (GET /nodes, and GET /cluster/resources for storages
// and for guests) serve every container on the host, so the steady-state
// cost is O(hosts), not O(containers).
//
// Controllers read containers from the latest Snapshot instead of asking PVE
// per object, subscribe to change events to reconcile only what changed, and
// call Invalidate after changing something to get a prompt (coalesced)
// refresh.
//
// What it must not know about: Kubernetes and the operator's API types. It
// speaks proxmox.ContainerSummary and VMIDs; mapping a VMID to an object is
// the subscriber's business.
package inventory
