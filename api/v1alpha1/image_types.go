package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ImageUpdateStrategy is what a changed spec.image.reference does.
// +kubebuilder:validation:Enum=Recreate;None
type ImageUpdateStrategy string

const (
	// ImageUpdateRecreate replaces the container with one made from the new
	// image and moves every data mount point over to it.
	ImageUpdateRecreate ImageUpdateStrategy = "Recreate"
	// ImageUpdateNone refuses image changes with a condition.
	ImageUpdateNone ImageUpdateStrategy = "None"
)

// ImageSource is an OCI image a container is created from (Proxmox VE 9.1
// application containers). Proxmox pulls the image onto a storage of the
// node as an archive and unpacks it into the rootFS; the image's
// entrypoint, command, environment, user and working directory become the
// container's. The rootFS is the image's: what a container writes there is
// gone after an image update, so keep data on mountPoints.
type ImageSource struct {
	// reference of the image: [registry/]repository:tag, e.g.
	// docker.io/library/nginx:1.27 or nginx:1.27 (Docker Hub), optionally
	// pinned with @sha256:<digest>. Proxmox pulls by tag only: the digest is
	// the image ID (the config digest Proxmox' pull reports), checked after
	// the pull. The tag is resolved once, at the first pull onto a storage:
	// a tag moved later in the registry is not followed; change the
	// reference (a new tag or a digest) to update.
	// +required
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(\.([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(:[0-9]+)?/)?[a-z0-9]+(([._]|__|[-]*)[a-z0-9]+)*(/[a-z0-9]+(([._]|__|[-]*)[a-z0-9]+)*)*:[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}(@sha256:[a-f0-9]{64})?$`
	Reference string `json:"reference"`

	// storage the image archive is pulled onto: a file-based storage with
	// content vztmpl (e.g. local), allowed by a grant of the ProxmoxHost.
	// A shared storage holds one copy for every node.
	// +optional
	// +kubebuilder:default=local
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[a-zA-Z][a-zA-Z0-9._-]*$`
	Storage string `json:"storage,omitempty"`

	// updateStrategy: Recreate replaces the container when the reference
	// changes, keeping every data mount point; None refuses the change
	// with a condition.
	// +optional
	// +kubebuilder:default=Recreate
	UpdateStrategy ImageUpdateStrategy `json:"updateStrategy,omitempty"`
}

// EnvVar is one environment variable of an image-sourced container.
// +kubebuilder:validation:XValidation:rule="has(self.value) != has(self.valueFrom)",message="set exactly one of value and valueFrom"
type EnvVar struct {
	// name of the variable, letters, digits and underscores (Proxmox' rule).
	// +required
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_]+$`
	Name string `json:"name"`

	// value of the variable, without control characters.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:XValidation:rule="!self.matches('[\\x00-\\x1f\\x7f]')",message="value must not contain ASCII control characters (U+0000 to U+001F and U+007F): Proxmox stores env on one line of the container's config"
	Value *string `json:"value,omitempty"`

	// valueFrom reads the value from a ConfigMap or, with
	// spec.allowSecretEnv, a Secret of the namespace.
	// +optional
	ValueFrom *EnvVarSource `json:"valueFrom,omitempty"`
}

// EnvVarSource is where an environment variable's value comes from.
// +kubebuilder:validation:XValidation:rule="has(self.configMapKeyRef) != has(self.secretKeyRef)",message="set exactly one of configMapKeyRef and secretKeyRef"
type EnvVarSource struct {
	// configMapKeyRef selects a key of a ConfigMap.
	// +optional
	ConfigMapKeyRef *ConfigMapKeySelector `json:"configMapKeyRef,omitempty"`
	// secretKeyRef selects a key of a Secret. Proxmox keeps env in clear
	// text in the container's config, readable by anyone with VM.Audit on
	// it: needs spec.allowSecretEnv.
	// +optional
	SecretKeyRef *SecretKeySelector `json:"secretKeyRef,omitempty"`
}

// ImageStatus is the image an Application's container was made from.
type ImageStatus struct {
	// reference the container was created from.
	// +optional
	Reference string `json:"reference,omitempty"`
	// digest of the image (its image ID, sha256:...) as Proxmox' pull
	// reported it; empty when the archive was there before the operator
	// pulled it.
	// +optional
	Digest string `json:"digest,omitempty"`
	// volume is the archive the container was created from, e.g.
	// local:vztmpl/docker.io_library_nginx_1.27.tar.
	// +optional
	Volume string `json:"volume,omitempty"`
	// rollout is the image update in progress, if any.
	// +optional
	Rollout *ImageRollout `json:"rollout,omitempty"`
}

// RolloutStep is how far an image update has come.
// +kubebuilder:validation:Enum=Staging;Creating;StoppingOld;MovingVolumes;Starting;RemovingOld
type RolloutStep string

// Rollout steps, in order. Status switches to the new container when the
// volumes have moved (Starting).
const (
	RolloutStaging       RolloutStep = "Staging"
	RolloutCreating      RolloutStep = "Creating"
	RolloutStoppingOld   RolloutStep = "StoppingOld"
	RolloutMovingVolumes RolloutStep = "MovingVolumes"
	RolloutStarting      RolloutStep = "Starting"
	RolloutRemovingOld   RolloutStep = "RemovingOld"
)

// ImageRollout is an image update: a new container from the new image
// takes over the old one's data volumes.
type ImageRollout struct {
	// reference being rolled out.
	Reference string `json:"reference"`
	// oldVMID is the container being replaced.
	OldVMID int32 `json:"oldVMID"`
	// newVMID is the container replacing it, once allocated.
	// +optional
	NewVMID int32 `json:"newVMID,omitempty"`
	// step reached.
	Step RolloutStep `json:"step"`
	// digest and volume of the new image, once staged.
	// +optional
	Digest string `json:"digest,omitempty"`
	// +optional
	Volume string `json:"volume,omitempty"`
	// task is the rollout's Proxmox task in flight.
	// +optional
	Task *TaskReference `json:"task,omitempty"`
	// startedAt is when the rollout began.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
}

// ImageGrant says what a namespace's Applications may have pulled onto the
// host's nodes. Pulling is network access and disk on the node: nothing is
// pulled unless a grant allows its source and its storage.
type ImageGrant struct {
	// registries the namespaces may pull OCI images from: a registry host
	// (docker.io, ghcr.io, registry.example.com:5000) or a repository
	// prefix (docker.io/library). Docker Hub names without a registry
	// (nginx:1.27) count as docker.io/library/nginx.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=255
	// +kubebuilder:validation:items:Pattern=`^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?(:[0-9]+)?(/[a-z0-9._-]+)*$`
	Registries []string `json:"registries,omitempty"`

	// urls are prefixes of the URLs templates may be downloaded from
	// (spec.templateDownload), e.g. https://images.example.com/lxc/.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=1024
	// +kubebuilder:validation:items:Pattern=`^https?://[^\s]+$`
	URLs []string `json:"urls,omitempty"`

	// appliances lets the namespaces have templates of the host's appliance
	// index (Proxmox' aplinfo, what pveam lists) downloaded on demand.
	// +optional
	Appliances bool `json:"appliances,omitempty"`

	// storages images and templates may be staged on. Required for any of
	// the above.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:Pattern=`^[a-zA-Z][a-zA-Z0-9._-]*$`
	Storages []string `json:"storages,omitempty"`
}

// TemplateDownload is where a template missing from its storage is
// downloaded from (Proxmox' download-url), checked against a checksum.
type TemplateDownload struct {
	// url of the template file.
	// +required
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^https?://[^\s]+$`
	URL string `json:"url"`
	// checksum of the file, hex.
	// +required
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[a-fA-F0-9]+$`
	Checksum string `json:"checksum"`
	// checksumAlgorithm of checksum.
	// +optional
	// +kubebuilder:default=sha256
	// +kubebuilder:validation:Enum=md5;sha1;sha224;sha256;sha384;sha512
	ChecksumAlgorithm string `json:"checksumAlgorithm,omitempty"`
}

// ImageGarbageCollection is what becomes of staged images no one uses.
type ImageGarbageCollection struct {
	// policy: Keep leaves unused staged images on their storages;
	// RemoveUnused removes an image the operator staged once no
	// Application has used it for unusedFor. An image in use is never
	// removed, nor one the operator did not pull.
	// +optional
	// +kubebuilder:default=Keep
	// +kubebuilder:validation:Enum=Keep;RemoveUnused
	Policy string `json:"policy,omitempty"`
	// unusedFor is how long an image must be unused before it is removed,
	// between 1m and 876000h (100 years).
	// +optional
	// +kubebuilder:default="168h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=duration
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m') && duration(self) <= duration('876000h')",message="unusedFor must be between 1m and 876000h (100 years)"
	UnusedFor *metav1.Duration `json:"unusedFor,omitempty"`
}

// Garbage collection policies.
const (
	ImageGCKeep         = "Keep"
	ImageGCRemoveUnused = "RemoveUnused"
)
