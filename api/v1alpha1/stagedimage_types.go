package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// StagedImageSource is what a StagedImage puts on a storage: exactly one
// of an OCI image, an appliance of the host's index, or a URL.
// +kubebuilder:validation:XValidation:rule="(has(self.oci) ? 1 : 0) + (has(self.appliance) ? 1 : 0) + (has(self.url) ? 1 : 0) == 1",message="set exactly one of oci, appliance and url"
type StagedImageSource struct {
	// oci is an OCI image reference, [registry/]repository:tag, pulled with
	// Proxmox' oci-registry-pull.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(\.([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(:[0-9]+)?/)?[a-z0-9]+(([._]|__|[-]*)[a-z0-9]+)*(/[a-z0-9]+(([._]|__|[-]*)[a-z0-9]+)*)*:[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}$`
	OCI string `json:"oci,omitempty"`

	// appliance is a template file name of the host's appliance index
	// (Proxmox' aplinfo, what `pveam available` lists), e.g.
	// debian-12-standard_12.7-1_amd64.tar.zst.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9_.+-]+\.tar(\.(gz|xz|zst|bz2))?$`
	Appliance string `json:"appliance,omitempty"`

	// url downloads a template file (Proxmox' download-url), checked
	// against its checksum.
	// +optional
	URL *TemplateDownload `json:"url,omitempty"`

	// filename of the template when downloaded from url, e.g.
	// alpine-custom_1.0_amd64.tar.xz. Omitted: the URL's last segment.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9_.+-]+\.tar(\.(gz|xz|zst|bz2))?$`
	Filename string `json:"filename,omitempty"`
}

// StagedImageSpec says which image or template to keep on which storage of
// a host.
type StagedImageSpec struct {
	// hostRef names the ProxmoxHost. Immutable.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="hostRef is immutable"
	HostRef LocalObjectReference `json:"hostRef"`

	// source of the image or template. Immutable.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="source is immutable: create another StagedImage"
	Source StagedImageSource `json:"source"`

	// storage to stage on: a file-based storage with content vztmpl. A
	// shared storage is staged once for every node. Immutable.
	// +required
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[a-zA-Z][a-zA-Z0-9._-]*$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="storage is immutable"
	Storage string `json:"storage"`

	// nodes to stage on. Omitted: every online node that has the storage.
	// The operator adds the nodes its Applications need to the StagedImages
	// it creates for them.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$`
	Nodes []string `json:"nodes,omitempty"`

	// removeOnDelete removes what the operator staged (never a file that
	// was there before) when the StagedImage is deleted. Default true.
	// +optional
	// +kubebuilder:default=true
	RemoveOnDelete *bool `json:"removeOnDelete,omitempty"`
}

// StagePhase is how staging on one node stands.
// +kubebuilder:validation:Enum=Pending;Staging;Staged;Failed
type StagePhase string

const (
	StagePending StagePhase = "Pending"
	StageStaging StagePhase = "Staging"
	StageStaged  StagePhase = "Staged"
	StageFailed  StagePhase = "Failed"
)

// NodeStage is a StagedImage on one node (for a shared storage, the node
// that pulled it, standing for all).
type NodeStage struct {
	// node the archive is on.
	Node string `json:"node"`
	// phase of staging on this node.
	Phase StagePhase `json:"phase"`
	// task is the pull or download in flight.
	// +optional
	Task *TaskReference `json:"task,omitempty"`
	// ours is true when the operator put the file there (and so may remove
	// it); false when it was there already.
	// +optional
	Ours bool `json:"ours,omitempty"`
	// digest of an OCI image as its pull reported it.
	// +optional
	Digest string `json:"digest,omitempty"`
	// size of the staged file in bytes.
	// +optional
	Size int64 `json:"size,omitempty"`
	// stagedAt is when the file was found in place; for a Failed entry,
	// when it failed (the retry backoff counts from it).
	// +optional
	StagedAt *metav1.Time `json:"stagedAt,omitempty"`
	// message says why staging failed, in Proxmox' words.
	// +optional
	Message string `json:"message,omitempty"`
	// attempts counts failed pulls since the last success (for backoff).
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
}

// StagedImageStatus is where the image is staged.
type StagedImageStatus struct {
	// conditions: Ready (staged on every wanted node), Reconciling, Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// volume is the staged file's volume ID, the same on every node, e.g.
	// local:vztmpl/docker.io_library_nginx_1.27.tar.
	// +optional
	Volume string `json:"volume,omitempty"`
	// nodes: staging per node.
	// +optional
	// +listType=map
	// +listMapKey=node
	Nodes []NodeStage `json:"nodes,omitempty"`
	// users is how many Applications use the image.
	// +optional
	Users int32 `json:"users,omitempty"`
	// lastUsed is when the last Application using the image let go of it;
	// empty while any uses it. Garbage collection counts from it.
	// +optional
	LastUsed *metav1.Time `json:"lastUsed,omitempty"`
}

// StagedImage keeps an OCI image or a container template on a storage of a
// ProxmoxHost's nodes. Admins create them to pre-stage; the operator
// creates them for Applications that need an image that is not there yet.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=pxstage,categories=proxmox
// +kubebuilder:printcolumn:name="Host",type=string,JSONPath=`.spec.hostRef.name`
// +kubebuilder:printcolumn:name="Volume",type=string,JSONPath=`.status.volume`
// +kubebuilder:printcolumn:name="Users",type=integer,JSONPath=`.status.users`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type StagedImage struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is what to stage where.
	// +required
	Spec StagedImageSpec `json:"spec"`

	// status is where it is staged.
	// +optional
	Status StagedImageStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// StagedImageList is a list of StagedImages.
type StagedImageList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []StagedImage `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &StagedImage{}, &StagedImageList{})
}
