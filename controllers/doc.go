// Package controllers holds the reconcilers for the proxmox.pve-operator.io
// kinds. They talk to Proxmox only through internal/proxmox and never
// string-match Proxmox errors.
package controllers

// The operator's own permissions: `make manifests` turns these markers into
// config/rbac/role.yaml. They are the security model (docs/deploy.md), so
// every rule names its verbs and none is a wildcard.
//
// Its own kinds: read all; write status; ProxmoxHosts, Applications and
// Backups get finalizers (patch); BackupSchedules create and prune
// Backups, which they own with blockOwnerDeletion (hence
// backupschedules/finalizers).
// Applications create the StagedImages they need, add their node to them,
// and garbage collection deletes unused ones.
// +kubebuilder:rbac:groups=proxmox.pve-operator.io,resources=proxmoxhosts;applications;backups;restores;backupschedules;stagedimages,verbs=get;list;watch
// +kubebuilder:rbac:groups=proxmox.pve-operator.io,resources=proxmoxhosts;applications;backups;stagedimages,verbs=update;patch
// +kubebuilder:rbac:groups=proxmox.pve-operator.io,resources=backups;stagedimages,verbs=create;delete
// +kubebuilder:rbac:groups=proxmox.pve-operator.io,resources=proxmoxhosts/status;applications/status;backups/status;restores/status;backupschedules/status;stagedimages/status,verbs=update;patch
// +kubebuilder:rbac:groups=proxmox.pve-operator.io,resources=backupschedules/finalizers,verbs=update
//
// ConfigMaps hold provision scripts (read through the cache, so list and
// watch); Namespaces are read to evaluate ProxmoxHost.spec.allowedNamespaces.
// +kubebuilder:rbac:groups="",resources=configmaps;namespaces,verbs=get;list;watch
// Events go through the events.k8s.io API (leader election's core/v1 events
// are covered by its own Role in the operator's namespace).
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
//
// Secrets: never cluster-wide. Credentials (Proxmox and SSH) are read only in
// the credentials namespace, which the operator runs with as
// --credentials-namespace; the Secret metadata watch is confined to it. The
// namespace below is rewritten by kustomize (config/default) and templated by
// the Helm chart. Root password Secrets in Application namespaces need a
// RoleBinding there to the root-password-reader ClusterRole (docs/deploy.md).
// +kubebuilder:rbac:groups="",namespace=pve-operator-system,resources=secrets,verbs=get;list;watch
