package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BackupType is what kind of Proxmox backup to take.
// +kubebuilder:validation:Enum=Archive;Snapshot
type BackupType string

const (
	// BackupTypeArchive is a vzdump archive on a backup storage.
	BackupTypeArchive BackupType = "Archive"
	// BackupTypeSnapshot is a Proxmox container snapshot (needs snapshot-capable storage).
	BackupTypeSnapshot BackupType = "Snapshot"
)

// BackupMode is vzdump's mode.
// +kubebuilder:validation:Enum=snapshot;suspend;stop
type BackupMode string

// Compression is vzdump's compression.
// +kubebuilder:validation:Enum=zstd;gzip;lzo;none
type Compression string

// BackupPhase is where a Backup is in its life.
// +kubebuilder:validation:Enum=Pending;Queued;Running;Completed;Failed;Deleting
type BackupPhase string

const (
	BackupPhasePending BackupPhase = "Pending"
	// BackupPhaseQueued: the Backup waits for an earlier one of its
	// Application, or the archive for another of the operator's vzdumps on
	// the same node, to end; nothing has been sent to Proxmox.
	BackupPhaseQueued    BackupPhase = "Queued"
	BackupPhaseRunning   BackupPhase = "Running"
	BackupPhaseCompleted BackupPhase = "Completed"
	BackupPhaseFailed    BackupPhase = "Failed"
	BackupPhaseDeleting  BackupPhase = "Deleting"
)

// BackupParameters are the settings of a Backup other than which Application
// it backs up; BackupSchedule's backupTemplate uses them too.
type BackupParameters struct {
	// type is Archive (a vzdump archive) or Snapshot (a container snapshot).
	// +optional
	// +kubebuilder:default=Archive
	Type BackupType `json:"type,omitempty"`

	// storage for the archive (type Archive), e.g. local. Omitted: the first
	// storage on the node that accepts backups.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[a-zA-Z][a-zA-Z0-9._-]*$`
	Storage string `json:"storage,omitempty"`

	// mode of vzdump: snapshot (no downtime; falls back to suspend on storage
	// without snapshots), suspend, or stop.
	// +optional
	// +kubebuilder:default=snapshot
	Mode BackupMode `json:"mode,omitempty"`

	// compress is the archive compression.
	// +optional
	// +kubebuilder:default=zstd
	Compress Compression `json:"compress,omitempty"`

	// protected marks the archive protected in Proxmox, so neither pruning
	// nor deleting the Backup removes it until the flag is cleared.
	// +optional
	// +kubebuilder:default=false
	Protected bool `json:"protected,omitempty"`

	// ttl is how long the Backup is kept; the operator deletes it (honouring
	// deletionPolicy) once it expires, between 1m and 876000h (100 years).
	// Omitted: kept until deleted.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=duration
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m') && duration(self) <= duration('876000h')",message="ttl must be between 1m and 876000h (100 years)"
	TTL *metav1.Duration `json:"ttl,omitempty"`

	// deletionPolicy: Delete removes the archive or snapshot from Proxmox
	// when this Backup is deleted; Retain keeps it.
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// BackupSpec is a one-shot backup of an Application's container. Everything
// but ttl is immutable: a Backup records what was taken.
// +kubebuilder:validation:XValidation:rule="self.type != 'Snapshot' || (!has(self.storage) && !self.protected)",message="storage and protected apply only to type Archive"
// +kubebuilder:validation:XValidation:rule="self.applicationRef == oldSelf.applicationRef && self.type == oldSelf.type && self.mode == oldSelf.mode && self.compress == oldSelf.compress && self.protected == oldSelf.protected && self.deletionPolicy == oldSelf.deletionPolicy && has(self.storage) == has(oldSelf.storage) && (!has(self.storage) || self.storage == oldSelf.storage)",message="a Backup's spec is immutable except ttl"
type BackupSpec struct {
	// applicationRef names the Application to back up, in this namespace.
	// +required
	ApplicationRef LocalObjectReference `json:"applicationRef"`

	BackupParameters `json:",inline"`
}

// BackupStatus is the observed state of a Backup.
type BackupStatus struct {
	// phase: Pending, Queued (waiting for an earlier Backup of the same
	// Application, or an archive for the node's vzdump slot), Running,
	// Completed, Failed or Deleting.
	// +optional
	Phase BackupPhase `json:"phase,omitempty"`

	// conditions: Ready (True once Completed), Reconciling, Stalled (True when Failed).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// vmid of the container backed up.
	// +optional
	VMID int32 `json:"vmid,omitempty"`

	// node the backup was taken on.
	// +optional
	Node string `json:"node,omitempty"`

	// volid of the archive (type Archive), e.g.
	// local:backup/vzdump-lxc-100-2026_01_01-00_00_00.tar.zst.
	// +optional
	VolID string `json:"volid,omitempty"`

	// snapshotName of the snapshot (type Snapshot).
	// +optional
	SnapshotName string `json:"snapshotName,omitempty"`

	// size of the archive in bytes.
	// +optional
	Size int64 `json:"size,omitempty"`

	// sizeHuman is size rounded to a short binary quantity, e.g. 859Mi, for
	// kubectl's Size column.
	// +optional
	SizeHuman string `json:"sizeHuman,omitempty"`

	// startTime is when the backup task started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// completionTime is when it completed successfully.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// expiresAt is when the operator deletes this Backup (from ttl).
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`

	// task is the Proxmox task in flight, if any.
	// +optional
	Task *TaskReference `json:"task,omitempty"`
}

// Backup is a one-shot vzdump archive or snapshot of an Application.
// Deleting an Application does not delete its Backups or their archives.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=pxbackup,categories=proxmox
// +kubebuilder:printcolumn:name="Application",type=string,JSONPath=`.spec.applicationRef.name`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Size",type=string,JSONPath=`.status.sizeHuman`
// +kubebuilder:printcolumn:name="Volume",type=string,JSONPath=`.status.volid`,priority=1
// +kubebuilder:printcolumn:name="Expires",type=string,JSONPath=`.status.expiresAt`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Bytes",type=integer,JSONPath=`.status.size`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Backup struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the backup to take.
	// +required
	Spec BackupSpec `json:"spec"`

	// status is what the operator last observed.
	// +optional
	Status BackupStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// BackupList is a list of Backups.
type BackupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Backup `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &Backup{}, &BackupList{})
}
