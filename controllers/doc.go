// Package controllers holds the reconcilers for the proxmox.pve-operator.io
// kinds. They talk to Proxmox only through internal/proxmox and never
// string-match Proxmox errors.
package controllers

// The operator's own permissions. Secrets are read for Proxmox and SSH
// credentials and Application root passwords; ConfigMaps for provision scripts;
// Namespaces to evaluate ProxmoxHost.spec.allowedNamespaces.
//
// +kubebuilder:rbac:groups=proxmox.pve-operator.io,resources=proxmoxhosts;applications;backups;restores;backupschedules,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=proxmox.pve-operator.io,resources=proxmoxhosts/status;applications/status;backups/status;restores/status;backupschedules/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=proxmox.pve-operator.io,resources=proxmoxhosts/finalizers;applications/finalizers;backups/finalizers;restores/finalizers;backupschedules/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets;configmaps;namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
