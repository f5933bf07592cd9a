package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PowerState is the declared power state of a container.
// +kubebuilder:validation:Enum=Running;Stopped
type PowerState string

const (
	PowerStateRunning PowerState = "Running"
	PowerStateStopped PowerState = "Stopped"
)

// ContainerState is the observed state of a container.
// +kubebuilder:validation:Enum=running;stopped;unknown
type ContainerState string

const (
	ContainerStateRunning ContainerState = "running"
	ContainerStateStopped ContainerState = "stopped"
	ContainerStateUnknown ContainerState = "unknown"
)

// ApplicationSpec declares one LXC container and what runs in it.
//
// Create-only fields (vmid, template, restoreFrom, unprivileged,
// rootPasswordSecretRef, sshPublicKeys) are rejected when edited: the operator
// never recreates a container to apply a change.
//
// +kubebuilder:validation:XValidation:rule="!self.adopt || has(self.vmid)",message="adopt requires vmid: name the existing container to take over"
// +kubebuilder:validation:XValidation:rule="self.adopt || has(self.template) || has(self.restoreFrom)",message="one of template or restoreFrom is required unless adopt is true"
// +kubebuilder:validation:XValidation:rule="!(has(self.template) && has(self.restoreFrom))",message="template and restoreFrom are mutually exclusive"
// +kubebuilder:validation:XValidation:rule="!self.adopt || !(has(self.template) || has(self.restoreFrom))",message="adopt takes over an existing container: template and restoreFrom must not be set"
// +kubebuilder:validation:XValidation:rule="!has(self.template) || has(self.rootFS)",message="rootFS is required when creating from a template"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.vmid) || (has(self.vmid) && self.vmid == oldSelf.vmid)",message="vmid is immutable once set and cannot be removed"
// +kubebuilder:validation:XValidation:rule="has(self.template) == has(oldSelf.template) && (!has(self.template) || self.template == oldSelf.template)",message="template is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.restoreFrom) == has(oldSelf.restoreFrom) && (!has(self.restoreFrom) || self.restoreFrom == oldSelf.restoreFrom)",message="restoreFrom is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.rootPasswordSecretRef) == has(oldSelf.rootPasswordSecretRef) && (!has(self.rootPasswordSecretRef) || self.rootPasswordSecretRef == oldSelf.rootPasswordSecretRef)",message="rootPasswordSecretRef is create-only and cannot be changed"
// +kubebuilder:validation:XValidation:rule="has(self.sshPublicKeys) == has(oldSelf.sshPublicKeys) && (!has(self.sshPublicKeys) || self.sshPublicKeys == oldSelf.sshPublicKeys)",message="sshPublicKeys is create-only and cannot be changed"
// +kubebuilder:validation:XValidation:rule="has(self.rootFS) == has(oldSelf.rootFS) || !has(oldSelf.rootFS)",message="rootFS cannot be removed once set"
type ApplicationSpec struct {
	// hostRef names the ProxmoxHost the container lives on. Immutable.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="hostRef is immutable"
	HostRef LocalObjectReference `json:"hostRef"`

	// node to create the container on. When empty the operator picks the
	// online node with the most free memory that has the root storage. The
	// container is never migrated; status.node shows where it actually is.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$`
	Node string `json:"node,omitempty"`

	// vmid of the container (100-999999999). When omitted the operator
	// allocates a free one and records it in status.vmid. Immutable once
	// set, and cannot be removed.
	// +optional
	// +kubebuilder:validation:Minimum=100
	// +kubebuilder:validation:Maximum=999999999
	VMID *int32 `json:"vmid,omitempty"`

	// adopt takes over an existing container with this vmid instead of
	// creating one. Its current configuration is kept except where this spec
	// declares otherwise. Adopted containers default to deletionPolicy Retain.
	// Immutable.
	// +optional
	// +kubebuilder:default=false
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="adopt is immutable"
	Adopt bool `json:"adopt,omitempty"`

	// hostname of the container, a DNS label. Defaults to metadata.name.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`
	Hostname string `json:"hostname,omitempty"`

	// template is the OS template volume to create the container from, e.g.
	// local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst. Required unless
	// adopt or restoreFrom is set. Immutable.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[a-zA-Z][a-zA-Z0-9._-]*:vztmpl/[^/\s]+$`
	Template string `json:"template,omitempty"`

	// restoreFrom creates the container from a Completed Archive Backup in
	// this namespace instead of a template. Immutable.
	// +optional
	RestoreFrom *RestoreSource `json:"restoreFrom,omitempty"`

	// unprivileged runs the container with a user namespace. Immutable: Proxmox
	// cannot change it after creation.
	// +optional
	// +kubebuilder:default=true
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="unprivileged is immutable"
	Unprivileged *bool `json:"unprivileged,omitempty"`

	// resources of the container. Omitted fields keep Proxmox' values.
	// +optional
	Resources *Resources `json:"resources,omitempty"`

	// rootFS is the root volume. Its size can grow, never shrink; the storage
	// cannot change.
	// +optional
	RootFS *RootFS `json:"rootFS,omitempty"`

	// mountPoints are extra volumes (mp0 to mp255). Sizes can grow, never shrink.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	MountPoints []MountPoint `json:"mountPoints,omitempty"`

	// network interfaces (eth0 to eth31 become net0 to net31).
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	Network []NetworkInterface `json:"network,omitempty"`

	// dns settings of the container. Omitted: the host's settings.
	// +optional
	DNS *DNS `json:"dns,omitempty"`

	// features enables LXC features. Changing keyctl or fuse needs root@pam
	// credentials on the ProxmoxHost, and takes effect after a restart.
	// +optional
	Features *Features `json:"features,omitempty"`

	// powerState is Running or Stopped.
	// +optional
	// +kubebuilder:default=Running
	PowerState PowerState `json:"powerState,omitempty"`

	// startOnBoot starts the container when its node boots. Omitted: left as found.
	// +optional
	StartOnBoot *bool `json:"startOnBoot,omitempty"`

	// tags to set on the container, compared case-insensitively (Proxmox
	// lowercases and sorts them). The operator adds its own ownership tags;
	// tags starting with pve-operator are reserved for them.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:Pattern=`^[a-zA-Z0-9_][a-zA-Z0-9_+.-]*$`
	// +kubebuilder:validation:items:XValidation:rule="!self.matches('^(?i)pve-operator')",message="tags starting with pve-operator are reserved for the operator's ownership markers"
	Tags []string `json:"tags,omitempty"`

	// protection sets Proxmox' protection flag, which blocks removing the
	// container or its disks. Omitted: left as found.
	// +optional
	Protection *bool `json:"protection,omitempty"`

	// rootPasswordSecretRef selects a Secret key holding the initial root
	// password (at least 5 characters). Create-only: used once, never read again.
	// +optional
	RootPasswordSecretRef *SecretKeySelector `json:"rootPasswordSecretRef,omitempty"`

	// sshPublicKeys are authorized for root at creation. Create-only.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=16384
	// +kubebuilder:validation:items:Pattern=`^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/=]+( [^\n\r]*)?$`
	SSHPublicKeys []string `json:"sshPublicKeys,omitempty"`

	// provision is a shell script run inside the container (pct exec over SSH)
	// once it is running, and again whenever the script changes; a failed run
	// is retried with backoff. Scripts should be idempotent: a run interrupted
	// by an operator restart runs again. Needs spec.ssh on the ProxmoxHost.
	// +optional
	Provision *Provision `json:"provision,omitempty"`

	// deletionPolicy says what deleting this Application does to the
	// container. Delete destroys it (with its disks, not its backups);
	// Retain leaves it running, unmanaged. Empty: Delete for containers the
	// operator created, Retain for adopted ones. Backup archives are governed
	// by each Backup's own deletionPolicy, never by this field.
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// RestoreSource names a Backup to create a container from.
type RestoreSource struct {
	// backupRef names a Backup (type Archive) in the same namespace.
	// +required
	BackupRef LocalObjectReference `json:"backupRef"`
}

// Resources are the container's CPU and memory limits.
type Resources struct {
	// cores is the number of CPU cores the container may use.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=8192
	Cores *int32 `json:"cores,omitempty"`

	// memory limit, a whole number of MiB, at least 16Mi (e.g. 512Mi, 2Gi).
	// +optional
	// +kubebuilder:validation:XValidation:rule="isQuantity(self) && quantity(self).isInteger() && quantity(self).compareTo(quantity('16Mi')) >= 0 && quantity(self).compareTo(quantity('64Ti')) <= 0 && quantity(self).asInteger() % 1048576 == 0",message="memory must be a whole number of MiB between 16Mi and 64Ti"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	Memory *resource.Quantity `json:"memory,omitempty"`

	// swap size, a whole number of MiB (0 disables swap).
	// +optional
	// +kubebuilder:validation:XValidation:rule="isQuantity(self) && quantity(self).isInteger() && quantity(self).compareTo(quantity('0')) >= 0 && quantity(self).compareTo(quantity('64Ti')) <= 0 && quantity(self).asInteger() % 1048576 == 0",message="swap must be a whole number of MiB between 0 and 64Ti"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	Swap *resource.Quantity `json:"swap,omitempty"`
}

// RootFS is the container's root volume.
type RootFS struct {
	// storage ID for the volume, e.g. local-lvm. Immutable.
	// +required
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[a-zA-Z][a-zA-Z0-9._-]*$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="rootFS.storage is immutable"
	Storage string `json:"storage"`

	// size of the volume, a whole number of GiB (e.g. 8Gi). Grow-only: a
	// larger value resizes the volume in place.
	// +required
	// +kubebuilder:validation:XValidation:rule="isQuantity(self) && quantity(self).isInteger() && quantity(self).compareTo(quantity('1Gi')) >= 0 && quantity(self).compareTo(quantity('128Ti')) <= 0 && quantity(self).asInteger() % 1073741824 == 0",message="size must be a whole number of GiB between 1Gi and 128Ti"
	// +kubebuilder:validation:XValidation:rule="quantity(self).compareTo(quantity(oldSelf)) >= 0",message="size can only grow: Proxmox cannot shrink a volume"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	Size resource.Quantity `json:"size"`
}

// MountPoint is an extra volume mounted into the container.
type MountPoint struct {
	// name is the Proxmox key, mp0 to mp255.
	// +required
	// +kubebuilder:validation:Pattern=`^mp([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5])$`
	Name string `json:"name"`

	// storage ID for the volume. Immutable.
	// +required
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[a-zA-Z][a-zA-Z0-9._-]*$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="mountPoints[].storage is immutable"
	Storage string `json:"storage"`

	// size of the volume, a whole number of GiB. Grow-only.
	// +required
	// +kubebuilder:validation:XValidation:rule="isQuantity(self) && quantity(self).isInteger() && quantity(self).compareTo(quantity('1Gi')) >= 0 && quantity(self).compareTo(quantity('128Ti')) <= 0 && quantity(self).asInteger() % 1073741824 == 0",message="size must be a whole number of GiB between 1Gi and 128Ti"
	// +kubebuilder:validation:XValidation:rule="quantity(self).compareTo(quantity(oldSelf)) >= 0",message="size can only grow: Proxmox cannot shrink a volume"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	Size resource.Quantity `json:"size"`

	// path inside the container, absolute, not /.
	// +required
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^/[^,;=\s]*[^/,;=\s]$`
	// +kubebuilder:validation:XValidation:rule="!self.matches('(^|/)[.][.]?(/|$)')",message="path must not contain . or .. segments"
	Path string `json:"path"`

	// readOnly mounts the volume read-only.
	// +optional
	ReadOnly bool `json:"readOnly,omitempty"`

	// backup includes the volume in vzdump backups (Proxmox' default is not to).
	// +optional
	Backup bool `json:"backup,omitempty"`
}

// NetworkInterface is one virtual NIC.
// +kubebuilder:validation:XValidation:rule="!has(self.gateway) || (has(self.ipv4) && self.ipv4 != 'dhcp')",message="gateway needs a static ipv4 address"
// +kubebuilder:validation:XValidation:rule="!has(self.gateway6) || (has(self.ipv6) && self.ipv6 != 'dhcp' && self.ipv6 != 'auto')",message="gateway6 needs a static ipv6 address"
type NetworkInterface struct {
	// name inside the container, eth0 to eth31. ethN is Proxmox' netN.
	// +required
	// +kubebuilder:validation:Pattern=`^eth([0-9]|[12][0-9]|3[01])$`
	Name string `json:"name"`

	// bridge on the node to attach to.
	// +optional
	// +kubebuilder:default=vmbr0
	// +kubebuilder:validation:MaxLength=15
	// +kubebuilder:validation:Pattern=`^[a-zA-Z][a-zA-Z0-9_.-]*$`
	Bridge string `json:"bridge,omitempty"`

	// ipv4 is dhcp or an address in CIDR form, e.g. 10.0.0.5/24.
	// +optional
	// +kubebuilder:validation:MaxLength=18
	// +kubebuilder:validation:XValidation:rule="self == 'dhcp' || (isCIDR(self) && cidr(self).ip().family() == 4)",message="ipv4 must be dhcp or an IPv4 address in CIDR form, e.g. 10.0.0.5/24"
	IPv4 string `json:"ipv4,omitempty"`

	// gateway is the IPv4 default gateway (with a static ipv4).
	// +optional
	// +kubebuilder:validation:MaxLength=15
	// +kubebuilder:validation:XValidation:rule="isIP(self) && ip(self).family() == 4",message="gateway must be an IPv4 address"
	Gateway string `json:"gateway,omitempty"`

	// ipv6 is dhcp, auto (SLAAC) or an address in CIDR form.
	// +optional
	// +kubebuilder:validation:MaxLength=43
	// +kubebuilder:validation:XValidation:rule="self == 'dhcp' || self == 'auto' || (isCIDR(self) && cidr(self).ip().family() == 6)",message="ipv6 must be dhcp, auto or an IPv6 address in CIDR form"
	IPv6 string `json:"ipv6,omitempty"`

	// gateway6 is the IPv6 default gateway (with a static ipv6).
	// +optional
	// +kubebuilder:validation:MaxLength=39
	// +kubebuilder:validation:XValidation:rule="isIP(self) && ip(self).family() == 6",message="gateway6 must be an IPv6 address"
	Gateway6 string `json:"gateway6,omitempty"`

	// vlan tag.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4094
	VLAN *int32 `json:"vlan,omitempty"`

	// firewall enables the Proxmox firewall on this interface.
	// +optional
	Firewall bool `json:"firewall,omitempty"`

	// mtu of the interface.
	// +optional
	// +kubebuilder:validation:Minimum=576
	// +kubebuilder:validation:Maximum=65535
	MTU *int32 `json:"mtu,omitempty"`
}

// DNS configures name resolution inside the container.
type DNS struct {
	// nameservers, IPv4 or IPv6 addresses.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=3
	// +kubebuilder:validation:items:MaxLength=39
	// +kubebuilder:validation:items:XValidation:rule="isIP(self)",message="each nameserver must be an IP address"
	Nameservers []string `json:"nameservers,omitempty"`

	// searchDomain, e.g. example.com.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$`
	SearchDomain string `json:"searchDomain,omitempty"`
}

// Features are LXC feature flags.
type Features struct {
	// nesting allows running containers (Docker, systemd services) inside.
	// +optional
	Nesting bool `json:"nesting,omitempty"`
	// keyctl allows the keyctl() syscall (Docker in unprivileged containers).
	// +optional
	Keyctl bool `json:"keyctl,omitempty"`
	// fuse allows FUSE mounts.
	// +optional
	Fuse bool `json:"fuse,omitempty"`
}

// Provision is a script run inside the container.
// +kubebuilder:validation:XValidation:rule="has(self.script) != has(self.configMapRef)",message="exactly one of script or configMapRef is required"
type Provision struct {
	// script is run with /bin/sh inside the container.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=65536
	Script string `json:"script,omitempty"`

	// configMapRef selects a ConfigMap key holding the script.
	// +optional
	ConfigMapRef *ConfigMapKeySelector `json:"configMapRef,omitempty"`

	// timeout for one run, at most 30m.
	// +optional
	// +kubebuilder:default="60s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=duration
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s') && duration(self) <= duration('30m')",message="timeout must be greater than 0 and at most 30m"
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// Usage is the container's resource use as Proxmox last reported it. Fields
// are omitted when unknown (e.g. while stopped), never reported as zero.
type Usage struct {
	// cpu load as a fraction of the container's cores, e.g. "0.25".
	// +optional
	CPU string `json:"cpu,omitempty"`
	// memoryUsed by the container.
	// +optional
	MemoryUsed *resource.Quantity `json:"memoryUsed,omitempty"`
	// memoryTotal is the container's memory limit.
	// +optional
	MemoryTotal *resource.Quantity `json:"memoryTotal,omitempty"`
	// diskUsed on the root volume.
	// +optional
	DiskUsed *resource.Quantity `json:"diskUsed,omitempty"`
	// diskTotal is the root volume size.
	// +optional
	DiskTotal *resource.Quantity `json:"diskTotal,omitempty"`
}

// ProvisionStatus records the last provision run.
type ProvisionStatus struct {
	// hash (sha256) of the script that ran.
	// +optional
	Hash string `json:"hash,omitempty"`
	// exitCode of the script; absent if it could not be run to completion.
	// +optional
	ExitCode *int32 `json:"exitCode,omitempty"`
	// outputTail is the end of the combined output, at most 4 KiB.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	OutputTail string `json:"outputTail,omitempty"`
	// finishedAt is when the run ended.
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
}

// LastBackup names the newest Completed Backup of an Application.
type LastBackup struct {
	// name of the Backup.
	Name string `json:"name"`
	// completionTime of the Backup.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
}

// ApplicationStatus is the observed state of an Application.
type ApplicationStatus struct {
	// conditions: Ready, Reconciling, Stalled, and RestartRequired when
	// changes wait in Proxmox' pending configuration.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// vmid of the container, once known.
	// +optional
	VMID int32 `json:"vmid,omitempty"`

	// node the container is on (it may have moved, e.g. through HA).
	// +optional
	Node string `json:"node,omitempty"`

	// state of the container: running, stopped or unknown.
	// +optional
	State ContainerState `json:"state,omitempty"`

	// ipAddresses of the container, IPv4 first, loopback excluded.
	// +optional
	// +listType=atomic
	IPAddresses []string `json:"ipAddresses,omitempty"`

	// usage as last reported by Proxmox.
	// +optional
	Usage *Usage `json:"usage,omitempty"`

	// adopted is true when the container existed before this Application.
	// +optional
	Adopted bool `json:"adopted,omitempty"`

	// task is the Proxmox task in flight, if any.
	// +optional
	Task *TaskReference `json:"task,omitempty"`

	// provision records the last provision run.
	// +optional
	Provision *ProvisionStatus `json:"provision,omitempty"`

	// lastBackup is the newest Completed Backup of this Application.
	// +optional
	LastBackup *LastBackup `json:"lastBackup,omitempty"`

	// activity is what keeps Proxmox busy with the container while the
	// Application stays Ready: one of its own Backups running, or a lock
	// not yet held long enough to be reported. Empty when idle.
	// +optional
	Activity string `json:"activity,omitempty"`
}

// Application is one Proxmox LXC container and what runs in it.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=pxapp;lxc,categories=proxmox
// +kubebuilder:printcolumn:name="Host",type=string,JSONPath=`.spec.hostRef.name`
// +kubebuilder:printcolumn:name="Node",type=string,JSONPath=`.status.node`
// +kubebuilder:printcolumn:name="VMID",type=integer,JSONPath=`.status.vmid`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="IP",type=string,JSONPath=`.status.ipAddresses[0]`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="has(self.spec.hostname) || self.metadata.name.matches('^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$')",message="metadata.name is not a valid hostname (a DNS label of at most 63 characters): set spec.hostname"
type Application struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired container.
	// +required
	Spec ApplicationSpec `json:"spec"`

	// status is what the operator last observed.
	// +optional
	Status ApplicationStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ApplicationList is a list of Applications.
type ApplicationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Application `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &Application{}, &ApplicationList{})
}
