package v1alpha1

// Device is a device node of the host passed through into the container.
type Device struct {
	// name is the Proxmox key, dev0 to dev255.
	// +required
	// +kubebuilder:validation:Pattern=`^dev([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5])$`
	Name string `json:"name"`

	// path of the device on the node, under /dev/, e.g. /dev/dri/renderD128.
	// +required
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^/dev/[^,;=\s]+$`
	// +kubebuilder:validation:XValidation:rule="!self.matches('/[.][.]?(/|$)')",message="path must not contain . or .. segments"
	Path string `json:"path"`

	// mode of the device node inside the container, in octal, e.g. "0660".
	// +optional
	// +kubebuilder:validation:Pattern=`^0[0-7]{3}$`
	Mode string `json:"mode,omitempty"`

	// uid owning the device node inside the container.
	// +optional
	// +kubebuilder:validation:Minimum=0
	UID *int64 `json:"uid,omitempty"`

	// gid owning the device node inside the container.
	// +optional
	// +kubebuilder:validation:Minimum=0
	GID *int64 `json:"gid,omitempty"`

	// denyWrite passes the device read-only.
	// +optional
	DenyWrite bool `json:"denyWrite,omitempty"`
}

// Startup is a container's place in its node's boot and shutdown order.
// +kubebuilder:validation:XValidation:rule="has(self.order) || has(self.upDelaySeconds) || has(self.downTimeoutSeconds)",message="set at least one of order, upDelaySeconds and downTimeoutSeconds"
type Startup struct {
	// order: containers with a lower order start first and stop last.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Order *int32 `json:"order,omitempty"`

	// upDelaySeconds to wait after starting this container before the next
	// one is started.
	// +optional
	// +kubebuilder:validation:Minimum=0
	UpDelaySeconds *int32 `json:"upDelaySeconds,omitempty"`

	// downTimeoutSeconds to wait for this container to shut down before it
	// is stopped.
	// +optional
	// +kubebuilder:validation:Minimum=0
	DownTimeoutSeconds *int32 `json:"downTimeoutSeconds,omitempty"`
}

// CloneSource names the container to clone.
// +kubebuilder:validation:XValidation:rule="has(self.vmid) != has(self.applicationRef)",message="name the source by exactly one of vmid or applicationRef"
// +kubebuilder:validation:XValidation:rule="!has(self.storage) || !has(self.full) || self.full",message="storage needs a full clone: a linked clone stays on its template's storage"
type CloneSource struct {
	// vmid of the source container on the same ProxmoxHost. It must be a
	// template container or be allowed for adoption by a grant of the
	// ProxmoxHost, unless an Application of this namespace owns it.
	// +optional
	// +kubebuilder:validation:Minimum=100
	// +kubebuilder:validation:Maximum=999999999
	VMID *int32 `json:"vmid,omitempty"`

	// applicationRef names an Application in this namespace whose container
	// is the source.
	// +optional
	ApplicationRef *LocalObjectReference `json:"applicationRef,omitempty"`

	// snapshot of the source to clone instead of its current state.
	// +optional
	// +kubebuilder:validation:MaxLength=40
	// +kubebuilder:validation:Pattern=`^[a-zA-Z][a-zA-Z0-9_-]*$`
	Snapshot string `json:"snapshot,omitempty"`

	// full copies every volume (true) or makes a linked clone sharing the
	// template's base volumes (false), which Proxmox allows only from a
	// template container on storage that supports it. Omitted: Proxmox'
	// default, linked from a template and full otherwise.
	// +optional
	Full *bool `json:"full,omitempty"`

	// storage for the clone's volumes (full clones only). Omitted: the
	// source's storages.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[a-zA-Z][a-zA-Z0-9._-]*$`
	Storage string `json:"storage,omitempty"`
}

// HAState is the state Proxmox' HA manager keeps a container in.
// +kubebuilder:validation:Enum=started;stopped;disabled;ignored
type HAState string

// HighAvailability is how Proxmox' HA manager looks after a container.
type HighAvailability struct {
	// state HA keeps the container in: started (restarted or relocated on
	// failure), stopped, disabled (stopped and not recovered) or ignored
	// (left alone by HA). Omitted: started when powerState is Running,
	// stopped when it is Stopped.
	// +optional
	State HAState `json:"state,omitempty"`

	// maxRestart is how often HA tries to restart the container on its node
	// after a failure before it relocates it.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MaxRestart *int32 `json:"maxRestart,omitempty"`

	// maxRelocate is how often HA tries to relocate the container to another
	// node after a failed start.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MaxRelocate *int32 `json:"maxRelocate,omitempty"`

	// nodeAffinity restricts or orders the nodes HA may run the container on
	// (a node-affinity rule of its own).
	// +optional
	NodeAffinity *HANodeAffinity `json:"nodeAffinity,omitempty"`
}

// HANodeAffinity is an HA node-affinity rule for one container.
type HANodeAffinity struct {
	// nodes HA prefers, each with a priority (higher first).
	// +required
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	Nodes []HANodePriority `json:"nodes"`

	// strict keeps the container off every node not listed, even when none
	// of the listed nodes is available.
	// +optional
	Strict bool `json:"strict,omitempty"`
}

// HANodePriority is a node with its HA priority.
type HANodePriority struct {
	// name of the node.
	// +required
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$`
	Name string `json:"name"`

	// priority of the node; higher is preferred.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Priority *int32 `json:"priority,omitempty"`
}
