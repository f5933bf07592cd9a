package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ProxmoxHostSpec says how to reach one Proxmox VE endpoint and who may use it.
// +kubebuilder:validation:XValidation:rule="!has(self.tls) || !self.tls.insecureSkipVerify || !has(self.tls.caBundle)",message="tls.caBundle and tls.insecureSkipVerify are mutually exclusive"
// +kubebuilder:validation:XValidation:rule="!has(self.tls) || !has(self.tls.certificateFingerprint) || !self.tls.insecureSkipVerify",message="tls.certificateFingerprint and tls.insecureSkipVerify are mutually exclusive"
// +kubebuilder:validation:XValidation:rule="!has(self.tls) || !has(self.tls.certificateFingerprint) || !has(self.tls.caBundle)",message="tls.certificateFingerprint and tls.caBundle are mutually exclusive: a pinned certificate is trusted without chain verification"
type ProxmoxHostSpec struct {
	// endpoint is the https URL of one Proxmox VE node's API, usually on port
	// 8006, e.g. https://pve1.example.com:8006. A path of /api2/json may be
	// given or omitted.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() == 'https' && url(self).getHostname() != ''",message="endpoint must be an https URL with a host, e.g. https://pve1.example.com:8006"
	// +kubebuilder:validation:XValidation:rule="!self.contains('@')",message="endpoint must not contain '@' (credentials in the URL); use credentialsRef"
	Endpoint string `json:"endpoint"`

	// credentialsRef names the Secret holding the API credentials: either the
	// keys tokenID (e.g. root@pam!operator) and tokenSecret, or username
	// (e.g. root@pam) and password. API tokens are recommended.
	// +required
	CredentialsRef SecretReference `json:"credentialsRef"`

	// rootCredentialsRef names a Secret with the keys username (root@pam)
	// and password, used only for the changes Proxmox lets nobody but
	// root@pam make: bind mounts, devices, hookscripts and feature flags
	// other than nesting. An API token can never make them. Without it such
	// a change leaves the Application Stalled with reason RootRequired.
	// +optional
	RootCredentialsRef *SecretReference `json:"rootCredentialsRef,omitempty"`

	// tls configures how the server's certificate is verified.
	// +optional
	TLS *TLSConfig `json:"tls,omitempty"`

	// ssh configures SSH access to the nodes, needed only to run
	// Application provision scripts inside containers (pct exec).
	// +optional
	SSH *SSHConfig `json:"ssh,omitempty"`

	// allowedNamespaces selects the namespaces whose Applications may use this
	// host. When omitted every namespace may use it; an empty selector ({})
	// also matches every namespace.
	// +optional
	AllowedNamespaces *metav1.LabelSelector `json:"allowedNamespaces,omitempty"`

	// syncInterval is how often the operator lists the host's nodes, storages
	// and containers. One listing serves every Application on the host.
	// +optional
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=duration
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('5s') && duration(self) <= duration('1h')",message="syncInterval must be between 5s and 1h"
	SyncInterval *metav1.Duration `json:"syncInterval,omitempty"`

	// grants give namespaces what goes beyond creating ordinary containers
	// of their own: adopting existing containers, privileged containers, and
	// quotas on what they may use. A namespace gets what every grant whose
	// namespaceSelector matches it gives (and must be in allowedNamespaces).
	// Without a grant: no adoption, no privileged containers, no quota.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Grants []TenantGrant `json:"grants,omitempty"`

	// imageGarbageCollection is what becomes of the images and templates
	// the operator staged for Applications once none uses them. Default:
	// Keep.
	// +optional
	ImageGarbageCollection *ImageGarbageCollection `json:"imageGarbageCollection,omitempty"`
}

// TLSConfig controls verification of the Proxmox API certificate.
type TLSConfig struct {
	// insecureSkipVerify disables certificate verification. Only for lab use:
	// it lets anyone on the path read the API token.
	// +optional
	// +kubebuilder:default=false
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`

	// caBundle is a PEM bundle of CA certificates trusted for this endpoint,
	// for Proxmox' self-signed pve-root-ca. When omitted the system roots are used.
	// +optional
	// +kubebuilder:validation:MaxLength=65536
	// +kubebuilder:validation:XValidation:rule="self.contains('-----BEGIN CERTIFICATE-----')",message="caBundle must contain at least one PEM certificate (a -----BEGIN CERTIFICATE----- block)"
	CABundle string `json:"caBundle,omitempty"`

	// certificateFingerprint pins the SHA-256 fingerprint of the server's own
	// (leaf) certificate, as PVE shows it in `pvenode cert info` and the GUI:
	// 32 hex pairs separated by colons, e.g. AB:CD:...:EF, in either case.
	// The operator then trusts exactly that certificate and checks neither
	// its chain nor its hostname, so it cannot be combined with caBundle or
	// insecureSkipVerify. When the certificate is renewed the pin must be
	// updated; until then the host is not Ready (TLSVerificationFailed).
	// +optional
	// +kubebuilder:validation:Pattern=`^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$`
	CertificateFingerprint string `json:"certificateFingerprint,omitempty"`
}

// SSHConfig says how to reach the Proxmox nodes over SSH.
type SSHConfig struct {
	// credentialsRef names the Secret holding the keys privateKey (an OpenSSH
	// or PEM private key) and knownHosts (OpenSSH known_hosts lines for every
	// node). Host keys are always verified; there is no trust-on-first-use.
	// +required
	CredentialsRef SecretReference `json:"credentialsRef"`

	// user to log in as.
	// +optional
	// +kubebuilder:default=root
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[a-z_][a-z0-9_.-]*$`
	User string `json:"user,omitempty"`

	// port of the nodes' SSH servers.
	// +optional
	// +kubebuilder:default=22
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`

	// connectTimeout bounds dialing and the SSH handshake.
	// +optional
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=duration
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s') && duration(self) <= duration('5m')",message="connectTimeout must be greater than 0 and at most 5m"
	ConnectTimeout *metav1.Duration `json:"connectTimeout,omitempty"`

	// commandTimeout bounds one command unless the caller sets its own
	// (Application provision timeouts override it).
	// +optional
	// +kubebuilder:default="60s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=duration
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s') && duration(self) <= duration('30m')",message="commandTimeout must be greater than 0 and at most 30m"
	CommandTimeout *metav1.Duration `json:"commandTimeout,omitempty"`
}

// NodeStatus is what the operator last saw of one Proxmox node.
type NodeStatus struct {
	// name of the node.
	Name string `json:"name"`
	// status as Proxmox reports it: online, offline or unknown.
	Status string `json:"status"`
	// cpu is the number of logical CPUs.
	// +optional
	CPU int32 `json:"cpu,omitempty"`
	// cpuUsage is the CPU load as a fraction of all CPUs, e.g. "0.12".
	// +optional
	CPUUsage string `json:"cpuUsage,omitempty"`
	// memoryTotal of the node.
	// +optional
	MemoryTotal *resource.Quantity `json:"memoryTotal,omitempty"`
	// memoryUsed on the node.
	// +optional
	MemoryUsed *resource.Quantity `json:"memoryUsed,omitempty"`
	// uptime in seconds.
	// +optional
	Uptime int64 `json:"uptime,omitempty"`
}

// StorageStatus is what the operator last saw of one storage on one node.
type StorageStatus struct {
	// name (storage ID) such as local or local-lvm.
	Name string `json:"name"`
	// node the figures were read on; shared storages are listed once.
	// +optional
	Node string `json:"node,omitempty"`
	// type such as dir, lvmthin, zfspool, pbs.
	// +optional
	Type string `json:"type,omitempty"`
	// content types the storage accepts, e.g. [rootdir images] or [vztmpl backup].
	// +optional
	// +listType=atomic
	Content []string `json:"content,omitempty"`
	// shared is true for storages every node sees.
	// +optional
	Shared bool `json:"shared,omitempty"`
	// total capacity.
	// +optional
	Total *resource.Quantity `json:"total,omitempty"`
	// used capacity.
	// +optional
	Used *resource.Quantity `json:"used,omitempty"`
}

// ContainerCounts counts the host's LXC containers by ownership.
type ContainerCounts struct {
	// managed containers are owned by an Application.
	Managed int32 `json:"managed"`
	// unmanaged containers are everything else (templates excluded).
	Unmanaged int32 `json:"unmanaged"`
}

// UnmanagedContainer is a container the operator found but does not own:
// a candidate for adoption.
type UnmanagedContainer struct {
	// vmid of the container.
	VMID int32 `json:"vmid"`
	// node it runs on.
	Node string `json:"node"`
	// name (hostname) of the container.
	// +optional
	Name string `json:"name,omitempty"`
	// status: running, stopped or unknown.
	// +optional
	Status string `json:"status,omitempty"`
}

// MaxUnmanagedListed bounds status.unmanagedContainers so a host with
// thousands of hand-made containers cannot blow up the object.
const MaxUnmanagedListed = 50

// ProxmoxHostStatus is the observed state of a ProxmoxHost.
type ProxmoxHostStatus struct {
	// conditions: Ready, Reconciling, Stalled, InsecureTLS while
	// spec.tls.insecureSkipVerify is set, and RootCredentials while
	// spec.rootCredentialsRef is set (whether the root@pam login works; it
	// never affects Ready), and InUse (which Applications, Backups and
	// StagedImages use the host; while any does, deleting it waits).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// version of Proxmox VE, e.g. 9.2.11.
	// +optional
	Version string `json:"version,omitempty"`

	// nodes of the cluster.
	// +optional
	// +listType=map
	// +listMapKey=name
	Nodes []NodeStatus `json:"nodes,omitempty"`

	// storages of the cluster.
	// +optional
	// +listType=atomic
	Storages []StorageStatus `json:"storages,omitempty"`

	// containers counts the LXC containers by ownership.
	// +optional
	Containers *ContainerCounts `json:"containers,omitempty"`

	// unmanagedContainers lists up to 50 containers not owned by any
	// Application, lowest VMID first.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=50
	UnmanagedContainers []UnmanagedContainer `json:"unmanagedContainers,omitempty"`

	// lastSyncTime is when the inventory was last read successfully.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`
}

// ProxmoxHost is a Proxmox VE endpoint the operator manages containers on.
// Only cluster administrators should be able to create or read these: they
// point at Secrets holding Proxmox credentials.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=pxhost,categories=proxmox
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.spec.endpoint`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.version`
// +kubebuilder:printcolumn:name="Managed",type=integer,JSONPath=`.status.containers.managed`
// +kubebuilder:printcolumn:name="Unmanaged",type=integer,JSONPath=`.status.containers.unmanaged`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Last Sync",type=date,JSONPath=`.status.lastSyncTime`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ProxmoxHost struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired connection to Proxmox.
	// +required
	Spec ProxmoxHostSpec `json:"spec"`

	// status is what the operator last observed.
	// +optional
	Status ProxmoxHostStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ProxmoxHostList is a list of ProxmoxHosts.
type ProxmoxHostList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ProxmoxHost `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &ProxmoxHost{}, &ProxmoxHostList{})
}
