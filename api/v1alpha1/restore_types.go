package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RestorePhase is where a Restore is in its life.
// +kubebuilder:validation:Enum=Pending;Running;Completed;Failed
type RestorePhase string

const (
	RestorePhasePending   RestorePhase = "Pending"
	RestorePhaseRunning   RestorePhase = "Running"
	RestorePhaseCompleted RestorePhase = "Completed"
	RestorePhaseFailed    RestorePhase = "Failed"
)

// RestoreSpec restores a Backup in place. Immutable: create a new Restore to
// restore again.
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="a Restore's spec is immutable; create a new Restore"
type RestoreSpec struct {
	// backupRef names a Completed Backup in this namespace.
	// +required
	BackupRef LocalObjectReference `json:"backupRef"`

	// applicationRef names the Application whose container is overwritten.
	// Omitted: the Backup's own Application. It must be on the same host.
	// +optional
	ApplicationRef *LocalObjectReference `json:"applicationRef,omitempty"`

	// start the container after the restore.
	// +optional
	// +kubebuilder:default=true
	Start *bool `json:"start,omitempty"`
}

// RestoreStatus is the observed state of a Restore.
type RestoreStatus struct {
	// phase: Pending, Running, Completed or Failed.
	// +optional
	Phase RestorePhase `json:"phase,omitempty"`

	// conditions: Ready, Reconciling, Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// applicationName is the Application restored: spec.applicationRef, or
	// the Backup's Application when that is omitted.
	// +optional
	ApplicationName string `json:"applicationName,omitempty"`

	// vmid of the container restored.
	// +optional
	VMID int32 `json:"vmid,omitempty"`

	// startTime is when the restore started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// completionTime is when it completed.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// task is the Proxmox task in flight, if any.
	// +optional
	Task *TaskReference `json:"task,omitempty"`
}

// Restore overwrites an Application's container with a Backup.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=pxrestore,categories=proxmox
// +kubebuilder:printcolumn:name="Backup",type=string,JSONPath=`.spec.backupRef.name`
// +kubebuilder:printcolumn:name="Application",type=string,JSONPath=`.status.applicationName`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Restore struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the restore to perform.
	// +required
	Spec RestoreSpec `json:"spec"`

	// status is what the operator last observed.
	// +optional
	Status RestoreStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// RestoreList is a list of Restores.
type RestoreList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Restore `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &Restore{}, &RestoreList{})
}
