package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TenantGrant is what a ProxmoxHost's admin lets some namespaces do beyond
// managing the containers their own Applications create.
type TenantGrant struct {
	// namespaceSelector selects the namespaces this grant applies to. Every
	// namespace carries the label kubernetes.io/metadata.name, so one
	// namespace is {matchLabels: {kubernetes.io/metadata.name: team-a}}.
	// +required
	NamespaceSelector metav1.LabelSelector `json:"namespaceSelector"`

	// adopt lets the namespaces take over existing containers that match it
	// (Application adopt: true). Templates are never adoptable.
	// +optional
	Adopt *AdoptionGrant `json:"adopt,omitempty"`

	// privileged lets the namespaces run privileged containers
	// (unprivileged: false), create them or adopt them. Root in a privileged
	// container is root on the node.
	// +optional
	Privileged bool `json:"privileged,omitempty"`

	// hostPaths are the directories of the nodes the namespaces may bind
	// mount into their containers: a mount point's hostPath must be one of
	// them or lie beneath one. Root on the node; none by default.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=1024
	// +kubebuilder:validation:items:Pattern=`^/[^,;=\s]*$`
	// +kubebuilder:validation:items:XValidation:rule="!self.matches('(^|/)[.][.]?(/|$)')",message="hostPaths must not contain . or .. segments"
	HostPaths []string `json:"hostPaths,omitempty"`

	// devices are the device paths of the nodes the namespaces may pass into
	// their containers: a device's path must be one of them or, for one
	// ending in /, lie beneath it (e.g. /dev/dri/). None by default.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=1024
	// +kubebuilder:validation:items:Pattern=`^/dev/[^,;=\s]+$`
	Devices []string `json:"devices,omitempty"`

	// hookscripts are the hookscript volumes the namespaces may attach, e.g.
	// local:snippets/hook.sh. A hookscript runs as root on the node. None by
	// default.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=255
	Hookscripts []string `json:"hookscripts,omitempty"`

	// pools are the Proxmox resource pools the namespaces may put their
	// containers in (an Application's spec.pool). A pool's members are
	// governed by the pool's permissions, so none are allowed by default.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=64
	Pools []string `json:"pools,omitempty"`

	// images are the registries, URLs and appliance index the namespaces'
	// Applications may have images and templates pulled from, and the
	// storages they may land on. None by default.
	// +optional
	Images *ImageGrant `json:"images,omitempty"`

	// quota bounds what each selected namespace may use on this host, counted
	// over its Applications' declared resources. Creates and grows beyond it
	// are refused with QuotaExceeded; nothing already there is taken away.
	// +optional
	Quota *TenantQuota `json:"quota,omitempty"`
}

// AdoptionGrant says which existing containers may be adopted. A container
// matches when any one of vmidRanges, pools or tags matches it.
// +kubebuilder:validation:XValidation:rule="has(self.vmidRanges) || has(self.pools) || has(self.tags)",message="name the adoptable containers: vmidRanges, pools or tags"
type AdoptionGrant struct {
	// vmidRanges: containers whose VMID lies in one of these ranges.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	VMIDRanges []VMIDRange `json:"vmidRanges,omitempty"`

	// pools: containers that are members of one of these Proxmox pools.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`
	Pools []string `json:"pools,omitempty"`

	// tags: containers carrying one of these Proxmox tags, put there by an
	// admin (compared case-insensitively). Tenants cannot set tags on
	// containers they do not own, so a tag is a deliberate hand-over.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:Pattern=`^[a-zA-Z0-9_][a-zA-Z0-9_+.-]*$`
	// +kubebuilder:validation:items:XValidation:rule="!self.matches('^(?i)pve-operator')",message="tags starting with pve-operator (in any case) are the operator's ownership markers, not grants"
	Tags []string `json:"tags,omitempty"`

	// allowDelete lets an adopted container be destroyed when its
	// Application with deletionPolicy: Delete is deleted. Without it adopted
	// containers are always retained.
	// +optional
	AllowDelete bool `json:"allowDelete,omitempty"`
}

// VMIDRange is an inclusive range of VMIDs.
// +kubebuilder:validation:XValidation:rule="self.from <= self.to",message="from must not be greater than to"
type VMIDRange struct {
	// from is the first VMID of the range.
	// +required
	// +kubebuilder:validation:Minimum=100
	// +kubebuilder:validation:Maximum=999999999
	From int32 `json:"from"`
	// to is the last VMID of the range.
	// +required
	// +kubebuilder:validation:Minimum=100
	// +kubebuilder:validation:Maximum=999999999
	To int32 `json:"to"`
}

// TenantQuota bounds one namespace's use of a host. Omitted fields are
// unbounded.
type TenantQuota struct {
	// containers is the most Applications with a container on this host.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Containers *int32 `json:"containers,omitempty"`

	// cores is the most CPU cores over all containers (an Application that
	// declares none counts as 1, Proxmox' default).
	// +optional
	// +kubebuilder:validation:Minimum=0
	Cores *int32 `json:"cores,omitempty"`

	// memory is the most memory over all containers (undeclared: 512Mi,
	// Proxmox' default).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="isQuantity(self) && quantity(self).compareTo(quantity('0')) >= 0",message="memory must be a non-negative quantity, e.g. 64Gi"
	Memory *resource.Quantity `json:"memory,omitempty"`

	// disk is the most disk over all containers' rootFS and mount point
	// volumes.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="isQuantity(self) && quantity(self).compareTo(quantity('0')) >= 0",message="disk must be a non-negative quantity, e.g. 500Gi"
	Disk *resource.Quantity `json:"disk,omitempty"`

	// pendingBackups is the most Backups of the namespace on this host that
	// have not ended (Pending, Queued or Running), counted in creation
	// order. A Backup beyond it fails at once with QuotaExceeded, before any
	// Proxmox request, and is not retried: it does not wait for a place.
	// Bound the number of Backup objects with a ResourceQuota on
	// count/backups.proxmox.pve-operator.io.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000
	PendingBackups *int32 `json:"pendingBackups,omitempty"`
}
