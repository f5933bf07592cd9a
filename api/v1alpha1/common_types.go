package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LocalObjectReference names an object in the same namespace as the referrer.
type LocalObjectReference struct {
	// name of the referenced object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// SecretReference names a Secret in a given namespace. ProxmoxHosts are
// cluster-scoped, so they must say which namespace their Secret lives in.
type SecretReference struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// namespace of the Secret. The operator only reads Secrets in the
	// namespaces its RBAC grants it (by default its own namespace).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace"`
}

// SecretKeySelector selects one key of a Secret in the referrer's namespace.
type SecretKeySelector struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key in the Secret's data.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}

// ConfigMapKeySelector selects one key of a ConfigMap in the referrer's namespace.
type ConfigMapKeySelector struct {
	// name of the ConfigMap.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key in the ConfigMap's data.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}

// TaskReference records a Proxmox task the operator started and has not yet
// seen finish. It lives in status so that polling resumes after a restart
// instead of starting the operation a second time.
type TaskReference struct {
	// upid is the Proxmox task ID, e.g.
	// UPID:pve1:0000A1B2:0012F3C4:6650A1B2:vzcreate:100:root@pam!operator:
	// +required
	// +kubebuilder:validation:MaxLength=512
	UPID string `json:"upid"`

	// type is the Proxmox worker type, e.g. vzcreate, vzstart, vzdump.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Type string `json:"type,omitempty"`

	// node the task runs on.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Node string `json:"node,omitempty"`

	// startedAt is when the operator started the task.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
}

// DeletionPolicy says what happens in Proxmox when the Kubernetes object is deleted.
// +kubebuilder:validation:Enum=Delete;Retain
type DeletionPolicy string

const (
	// DeletionPolicyDelete removes the Proxmox resource with the object.
	DeletionPolicyDelete DeletionPolicy = "Delete"
	// DeletionPolicyRetain leaves the Proxmox resource in place.
	DeletionPolicyRetain DeletionPolicy = "Retain"
)
