// Package v1alpha1 contains the v1alpha1 API of the proxmox.pve-operator.io
// group: ProxmoxHost, Application, Backup, Restore and BackupSchedule.
//
// +kubebuilder:object:generate=true
// +groupName=proxmox.pve-operator.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version used to register these objects.
	GroupVersion = schema.GroupVersion{Group: "proxmox.pve-operator.io", Version: "v1alpha1"}

	// SchemeBuilder adds the types of this group-version to a scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types of this group-version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
