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

// DetachedVolumePolicy is what becomes of a detached mount point's volume.
// +kubebuilder:validation:Enum=Keep;Delete
type DetachedVolumePolicy string

const (
	DetachedVolumesKeep   DetachedVolumePolicy = "Keep"
	DetachedVolumesDelete DetachedVolumePolicy = "Delete"
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
// +kubebuilder:validation:XValidation:rule="self.adopt || has(self.template) || has(self.image) || has(self.restoreFrom) || has(self.cloneFrom)",message="one of template, image, restoreFrom or cloneFrom is required unless adopt is true"
// +kubebuilder:validation:XValidation:rule="(has(self.template) ? 1 : 0) + (has(self.image) ? 1 : 0) + (has(self.restoreFrom) ? 1 : 0) + (has(self.cloneFrom) ? 1 : 0) <= 1",message="template, image, restoreFrom and cloneFrom are mutually exclusive"
// +kubebuilder:validation:XValidation:rule="!self.adopt || !(has(self.template) || has(self.image) || has(self.restoreFrom) || has(self.cloneFrom))",message="adopt takes over an existing container: template, image, restoreFrom and cloneFrom must not be set"
// +kubebuilder:validation:XValidation:rule="has(self.image) == has(oldSelf.image)",message="image cannot be added to or removed from an existing Application: its container was made another way"
// +kubebuilder:validation:XValidation:rule="!has(self.templateDownload) || has(self.template)",message="templateDownload says where template comes from: set template too"
// +kubebuilder:validation:XValidation:rule="!has(self.env) || (has(self.allowSecretEnv) && self.allowSecretEnv) || self.env.all(e, !has(e.valueFrom) || !has(e.valueFrom.secretKeyRef))",message="env from a Secret needs allowSecretEnv: true (Proxmox stores env in clear text in the container's config, readable with VM.Audit)"
// +kubebuilder:validation:XValidation:rule="!self.adopt || !has(self.detachedVolumes) || self.detachedVolumes == 'Keep'",message="detachedVolumes: Delete is only for containers the operator creates: an adopted container's unused volumes are not the operator's to destroy"
// +kubebuilder:validation:XValidation:rule="has(self.cloneFrom) == has(oldSelf.cloneFrom) && (!has(self.cloneFrom) || self.cloneFrom == oldSelf.cloneFrom)",message="cloneFrom is immutable: it cannot be set, changed or removed after creation"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.convertToTemplate) || !oldSelf.convertToTemplate || (has(self.convertToTemplate) && self.convertToTemplate)",message="convertToTemplate cannot be undone: Proxmox cannot turn a template back into a container"
// +kubebuilder:validation:XValidation:rule="!has(self.convertToTemplate) || !self.convertToTemplate || !has(self.powerState) || self.powerState == 'Stopped'",message="a template cannot run: set powerState to Stopped with convertToTemplate"
// +kubebuilder:validation:XValidation:rule="(!has(self.template) && !has(self.image)) || has(self.rootFS)",message="rootFS is required when creating from a template or an image"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.vmid) || (has(self.vmid) && self.vmid == oldSelf.vmid)",message="vmid is immutable once set and cannot be removed"
// +kubebuilder:validation:XValidation:rule="has(self.template) == has(oldSelf.template) && (!has(self.template) || self.template == oldSelf.template)",message="template is immutable: it cannot be set, changed or removed after creation"
// +kubebuilder:validation:XValidation:rule="has(self.restoreFrom) == has(oldSelf.restoreFrom) && (!has(self.restoreFrom) || self.restoreFrom == oldSelf.restoreFrom)",message="restoreFrom is immutable: it cannot be set, changed or removed after creation"
// +kubebuilder:validation:XValidation:rule="has(self.rootPasswordSecretRef) == has(oldSelf.rootPasswordSecretRef) && (!has(self.rootPasswordSecretRef) || self.rootPasswordSecretRef == oldSelf.rootPasswordSecretRef)",message="rootPasswordSecretRef is create-only: it cannot be set, changed or removed after creation"
// +kubebuilder:validation:XValidation:rule="has(self.sshPublicKeys) == has(oldSelf.sshPublicKeys) && (!has(self.sshPublicKeys) || self.sshPublicKeys == oldSelf.sshPublicKeys)",message="sshPublicKeys is create-only: it cannot be set, changed or removed after creation"
// +kubebuilder:validation:XValidation:rule="has(self.rootFS) == has(oldSelf.rootFS) || !has(oldSelf.rootFS)",message="rootFS cannot be removed once set"
type ApplicationSpec struct {
	// hostRef names the ProxmoxHost the container lives on. Immutable.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="hostRef is immutable"
	HostRef LocalObjectReference `json:"hostRef"`

	// node the container should be on. When empty the operator picks, at
	// creation, the online node with the most free memory that has the root
	// storage with room for the rootFS, and never moves the container.
	// Changing it migrates the container (a restart migration when running,
	// offline when stopped). A container managed by HA (spec.ha) is placed
	// by HA instead: it is followed wherever HA moves it. status.node shows
	// where it actually is.
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

	// hostname of the container, a DNS label. Defaults to metadata.name for
	// a container the operator makes; an adopted container keeps its own
	// unless this is set.
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

	// templateDownload is where template is downloaded from when its
	// storage does not have it (Proxmox' download-url, checked against the
	// checksum). A template named in the host's appliance index is
	// downloaded from there without it. Either needs a grant of the
	// ProxmoxHost (spec.grants[].images).
	// +optional
	TemplateDownload *TemplateDownload `json:"templateDownload,omitempty"`

	// image creates the container from an OCI image (an application
	// container) instead of a template: the operator has the image pulled
	// onto spec.image.storage of the node and creates from it. The rootFS
	// is the image's; data belongs on mountPoints, which an image update
	// moves to the new container.
	// +optional
	Image *ImageSource `json:"image,omitempty"`

	// entrypoint is the command the container runs as its init, e.g.
	// "/usr/bin/myapp --serve". Overrides the image's entrypoint and
	// command. Omitted: left as found (the image's, or /sbin/init).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:XValidation:rule="!self.matches('[\\x00-\\x1f\\x7f]')",message="entrypoint must not contain ASCII control characters (U+0000 to U+001F and U+007F, newlines and tabs included)"
	Entrypoint string `json:"entrypoint,omitempty"`

	// env is the init's environment. Declared variables are set over the
	// image's; omitted: left as found.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=128
	Env []EnvVar `json:"env,omitempty"`

	// allowSecretEnv lets env take values from Secrets. Proxmox stores env
	// in clear text in the container's config: anyone with VM.Audit on the
	// container, and every backup of it, sees the values.
	// +optional
	AllowSecretEnv bool `json:"allowSecretEnv,omitempty"`

	// restoreFrom creates the container from a Completed Archive Backup in
	// this namespace instead of a template. Immutable.
	// +optional
	RestoreFrom *RestoreSource `json:"restoreFrom,omitempty"`

	// cloneFrom creates the container as a clone of another container (a
	// template container or an ordinary one) instead of from a template
	// volume. Immutable.
	// +optional
	CloneFrom *CloneSource `json:"cloneFrom,omitempty"`

	// convertToTemplate turns the container into a template container once
	// it is stopped (powerState must be Stopped). Templates can be cloned,
	// also as linked clones, but never started. Cannot be undone.
	// +optional
	ConvertToTemplate bool `json:"convertToTemplate,omitempty"`

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

	// mountPoints are extra volumes and bind mounts (mp0 to mp255). Sizes
	// can grow, never shrink. Adding, growing or changing the options of a
	// mount point never recreates the container; options of an attached one
	// apply at the next restart (RestartRequired). A mount point removed
	// from this list is detached at the next restart and its volume kept as
	// an unusedN volume of the container. When omitted, mount points are
	// left as found.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	MountPoints []MountPoint `json:"mountPoints,omitempty"`

	// detachedVolumes says what becomes of a volume once its mount point is
	// removed from mountPoints and detached: Keep leaves it as an unusedN
	// volume of the container (Proxmox' behaviour, the data stays); Delete
	// destroys every unusedN volume of the container. Not for adopted
	// containers.
	// +optional
	// +kubebuilder:default=Keep
	DetachedVolumes DetachedVolumePolicy `json:"detachedVolumes,omitempty"`

	// network interfaces (eth0 to eth31 become net0 to net31).
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	Network []NetworkInterface `json:"network,omitempty"`

	// dns settings of the container. Omitted: the host's settings.
	// +optional
	DNS *DNS `json:"dns,omitempty"`

	// features enables LXC features. Proxmox lets only root@pam change any
	// but nesting (spec.rootCredentialsRef on the ProxmoxHost); they take
	// effect after a restart.
	// +optional
	Features *Features `json:"features,omitempty"`

	// devices passed through from the node (dev0 to dev255). Root on the
	// node: each path must be allowed by a grant of the ProxmoxHost, and
	// Proxmox lets only root@pam set them.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=256
	Devices []Device `json:"devices,omitempty"`

	// startup is the container's place in the node's boot order.
	// +optional
	Startup *Startup `json:"startup,omitempty"`

	// hookscript is a script volume run at each phase of the container's
	// life, e.g. local:snippets/hook.sh. It runs as root on the node: it must
	// be allowed by a grant of the ProxmoxHost, and Proxmox lets only
	// root@pam set it.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[a-zA-Z][a-zA-Z0-9._-]*:snippets/[^/\s][^\s]*$`
	Hookscript string `json:"hookscript,omitempty"`

	// timezone inside the container: a zone name such as Europe/Vienna, UTC,
	// or host to use the node's. Omitted: left as found.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^(host|[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*)$`
	Timezone string `json:"timezone,omitempty"`

	// osType is the distribution Proxmox sets the container up for;
	// unmanaged leaves the container's files alone. Omitted: left as found
	// (detected from the template at creation).
	// +optional
	// +kubebuilder:validation:Enum=debian;devuan;ubuntu;centos;fedora;opensuse;archlinux;alpine;gentoo;nixos;unmanaged
	OSType string `json:"osType,omitempty"`

	// arch is the container's architecture. Omitted: left as found.
	// +optional
	// +kubebuilder:validation:Enum=amd64;i386;arm64;armhf;riscv32;riscv64
	Arch string `json:"arch,omitempty"`

	// console attaches a console device (/dev/console). Omitted: left as
	// found (Proxmox' default is on).
	// +optional
	Console *bool `json:"console,omitempty"`

	// consoleMode is what a console opens: tty (a getty on one of the ttys),
	// console (/dev/console) or shell (a shell without login). Proxmox' cmode.
	// +optional
	// +kubebuilder:validation:Enum=shell;console;tty
	ConsoleMode string `json:"consoleMode,omitempty"`

	// ttys is the number of ttys (0 to 6). Omitted: left as found.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=6
	TTYs *int32 `json:"ttys,omitempty"`

	// debug raises LXC's log level to debug at the next start. Omitted: left
	// as found.
	// +optional
	Debug *bool `json:"debug,omitempty"`

	// description is free text shown as the container's notes in Proxmox.
	// The operator keeps its ownership marker beneath it.
	// +optional
	// +kubebuilder:validation:MaxLength=8192
	Description *string `json:"description,omitempty"`

	// pool is the Proxmox resource pool the container is a member of, e.g.
	// prod or team-a/web. It must be allowed by a grant of the ProxmoxHost.
	// Removing it takes the container out of its pool.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+){0,2}$`
	Pool string `json:"pool,omitempty"`

	// ha puts the container under Proxmox' high availability manager, which
	// then decides where it runs and restarts or relocates it on failure.
	// Removing it takes the container out of HA.
	// +optional
	HA *HighAvailability `json:"ha,omitempty"`

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
	// +kubebuilder:validation:items:XValidation:rule="!self.matches('^(?i)pve-operator')",message="tags starting with pve-operator (in any case) are reserved for the operator's ownership markers"
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

	// memory limit, a whole number of MiB between 16Mi and 64Ti, written as
	// digits with an optional unit suffix (e.g. 512Mi, 2Gi).
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]+(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$') && quantity(self).compareTo(quantity('16Mi')) >= 0 && quantity(self).compareTo(quantity('64Ti')) <= 0 && int(quantity(self).asApproximateFloat()) % 1048576 == 0",message="memory must be a whole number of MiB between 16Mi and 64Ti, written as digits with an optional unit suffix (e.g. 512Mi, 2Gi; no decimal point or exponent)"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	Memory *resource.Quantity `json:"memory,omitempty"`

	// cpuLimit caps CPU time, in cores between 0 and 8192 (e.g. "1.5" or
	// 500m); 0 is no limit.
	// Proxmox' cpulimit.
	// +optional
	// +kubebuilder:validation:XValidation:rule="isQuantity(self) && quantity(self).compareTo(quantity('0')) >= 0 && quantity(self).compareTo(quantity('8192')) <= 0",message="cpuLimit must be a number of cores between 0 and 8192, e.g. 1.5 or 500m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	CPULimit *resource.Quantity `json:"cpuLimit,omitempty"`

	// cpuUnits is the container's CPU weight against the others on the node
	// (0 to 500000; cgroup v2's default is 100). Proxmox' cpuunits.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=500000
	CPUUnits *int32 `json:"cpuUnits,omitempty"`

	// swap size, a whole number of MiB between 0 and 64Ti, written as digits
	// with an optional unit suffix (0 disables swap).
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]+(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$') && quantity(self).compareTo(quantity('64Ti')) <= 0 && int(quantity(self).asApproximateFloat()) % 1048576 == 0",message="swap must be a whole number of MiB between 0 and 64Ti, written as digits with an optional unit suffix (e.g. 512Mi; no decimal point or exponent)"
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

	// The size, memory and swap rules read the value with asApproximateFloat(),
	// not isInteger()/asInteger(): a quantity with many digits (100Ti,
	// 131072Gi) is held in arbitrary precision, for which isInteger() is false
	// and asInteger() fails. Digits only (the pattern) make the value an
	// integer, and below 2^53 the float of an integer is exact.

	// size of the volume, a whole number of GiB between 1Gi and 128Ti,
	// written as digits with an optional unit suffix (e.g. 8Gi). Grow-only: a
	// larger value resizes the volume in place.
	// +required
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]+(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$') && quantity(self).compareTo(quantity('1Gi')) >= 0 && quantity(self).compareTo(quantity('128Ti')) <= 0 && int(quantity(self).asApproximateFloat()) % 1073741824 == 0",message="size must be a whole number of GiB between 1Gi and 128Ti, written as digits with an optional unit suffix (e.g. 8Gi, 2Ti; no decimal point or exponent)"
	// +kubebuilder:validation:XValidation:rule="quantity(self).compareTo(quantity(oldSelf)) >= 0",message="size can only grow: Proxmox cannot shrink a volume"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	Size resource.Quantity `json:"size"`

	VolumeOptions `json:",inline"`
}

// MountPoint is an extra volume, or a directory of the node (a bind mount),
// mounted into the container.
// +kubebuilder:validation:XValidation:rule="has(self.hostPath) != has(self.storage)",message="a mount point is either a volume (storage and size) or a bind mount (hostPath)"
// +kubebuilder:validation:XValidation:rule="has(self.storage) == has(self.size)",message="a volume mount point needs both storage and size, and a bind mount neither"
// +kubebuilder:validation:XValidation:rule="has(self.hostPath) == has(oldSelf.hostPath)",message="a mount point cannot change between a volume and a bind mount: use another name"
// +kubebuilder:validation:XValidation:rule="!has(self.hostPath) || !(has(self.quota) && self.quota)",message="quota applies to volumes, not bind mounts"
type MountPoint struct {
	// name is the Proxmox key, mp0 to mp255.
	// +required
	// +kubebuilder:validation:Pattern=`^mp([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5])$`
	Name string `json:"name"`

	// storage ID for a volume. Immutable.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[a-zA-Z][a-zA-Z0-9._-]*$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="mountPoints[].storage is immutable"
	Storage string `json:"storage,omitempty"`

	// hostPath is the node's directory (or file) a bind mount shows inside
	// the container. Root on the node: it must lie under a path a grant of
	// the ProxmoxHost allows, and Proxmox lets only root@pam set it. Bind
	// mounts are never backed up and block migration.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^/[^,;=\s]*$`
	// +kubebuilder:validation:XValidation:rule="!self.matches('(^|/)[.][.]?(/|$)')",message="hostPath must not contain . or .. segments"
	HostPath string `json:"hostPath,omitempty"`

	// size of a volume, a whole number of GiB between 1Gi and 128Ti, written
	// as digits with an optional unit suffix (see rootFS.size). Grow-only.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]+(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$') && quantity(self).compareTo(quantity('1Gi')) >= 0 && quantity(self).compareTo(quantity('128Ti')) <= 0 && int(quantity(self).asApproximateFloat()) % 1073741824 == 0",message="size must be a whole number of GiB between 1Gi and 128Ti, written as digits with an optional unit suffix (e.g. 8Gi, 2Ti; no decimal point or exponent)"
	// +kubebuilder:validation:XValidation:rule="quantity(self).compareTo(quantity(oldSelf)) >= 0",message="size can only grow: Proxmox cannot shrink a volume"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	Size *resource.Quantity `json:"size,omitempty"`

	// path inside the container, absolute, not /.
	// +required
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^/[^,;=\s]*[^/,;=\s]$`
	// +kubebuilder:validation:XValidation:rule="!self.matches('(^|/)[.][.]?(/|$)')",message="path must not contain . or .. segments"
	Path string `json:"path"`

	// backup includes the volume in vzdump backups (Proxmox' default is not to).
	// +optional
	Backup bool `json:"backup,omitempty"`

	// keepAttrs keeps the uid, gid and mode of the mount point's root
	// directory as they are in the volume instead of setting them to the
	// container's root (keepattrs).
	// +optional
	KeepAttrs bool `json:"keepAttrs,omitempty"`

	VolumeOptions `json:",inline"`
}

// VolumeOptions are the mount options of the rootFS and of mount points.
// Omitted options keep Proxmox' defaults.
type VolumeOptions struct {
	// readOnly mounts the volume read-only.
	// +optional
	ReadOnly bool `json:"readOnly,omitempty"`

	// acl turns POSIX ACLs on (true) or off (false); omitted: the
	// filesystem's default.
	// +optional
	ACL *bool `json:"acl,omitempty"`

	// quota enables user quotas inside the container on this volume
	// (privileged containers only, as Proxmox requires).
	// +optional
	Quota bool `json:"quota,omitempty"`

	// replicate includes the volume in storage replication (Proxmox'
	// default is true).
	// +optional
	Replicate *bool `json:"replicate,omitempty"`

	// shared marks a volume that is available on every node (e.g. on
	// shared storage mounted the same everywhere), so that migration does
	// not try to move it.
	// +optional
	Shared bool `json:"shared,omitempty"`

	// mountOptions are extra options for mounting the volume.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=6
	// +kubebuilder:validation:items:Enum=discard;lazytime;noatime;nodev;noexec;nosuid
	MountOptions []string `json:"mountOptions,omitempty"`
}

// NetworkInterface is one virtual NIC.
// +kubebuilder:validation:XValidation:rule="!has(self.gateway) || (has(self.ipv4) && self.ipv4 != 'dhcp' && self.ipv4 != 'manual')",message="gateway needs a static ipv4 address"
// +kubebuilder:validation:XValidation:rule="!has(self.gateway6) || (has(self.ipv6) && self.ipv6 != 'dhcp' && self.ipv6 != 'auto' && self.ipv6 != 'manual')",message="gateway6 needs a static ipv6 address"
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

	// macAddress of the interface, a unicast MAC such as BC:24:11:2E:C5:7E
	// (e.g. for a DHCP reservation). Omitted: Proxmox generates one, which is
	// then kept.
	// +optional
	// +kubebuilder:validation:Pattern=`^[0-9A-Fa-f][02468aceACE](:[0-9A-Fa-f]{2}){5}$`
	MACAddress string `json:"macAddress,omitempty"`

	// ipv4 is dhcp, manual (configured inside the container) or an address
	// in CIDR form, e.g. 10.0.0.5/24.
	// +optional
	// +kubebuilder:validation:MaxLength=18
	// +kubebuilder:validation:XValidation:rule="self == 'dhcp' || self == 'manual' || (isCIDR(self) && cidr(self).ip().family() == 4)",message="ipv4 must be dhcp, manual or an IPv4 address in CIDR form, e.g. 10.0.0.5/24"
	IPv4 string `json:"ipv4,omitempty"`

	// gateway is the IPv4 default gateway (with a static ipv4).
	// +optional
	// +kubebuilder:validation:MaxLength=15
	// +kubebuilder:validation:XValidation:rule="isIP(self) && ip(self).family() == 4",message="gateway must be an IPv4 address"
	Gateway string `json:"gateway,omitempty"`

	// ipv6 is dhcp, auto (SLAAC), manual or an address in CIDR form.
	// +optional
	// +kubebuilder:validation:MaxLength=43
	// +kubebuilder:validation:XValidation:rule="self == 'dhcp' || self == 'auto' || self == 'manual' || (isCIDR(self) && cidr(self).ip().family() == 6)",message="ipv6 must be dhcp, auto, manual or an IPv6 address in CIDR form"
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

	// mtu of the interface (64 to 65535).
	// +optional
	// +kubebuilder:validation:Minimum=64
	// +kubebuilder:validation:Maximum=65535
	MTU *int32 `json:"mtu,omitempty"`

	// rate limits the interface's bandwidth, in MB/s (e.g. "12.5").
	// +optional
	// +kubebuilder:validation:XValidation:rule="isQuantity(self) && quantity(self).compareTo(quantity('0')) > 0",message="rate must be a positive number of MB/s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	Rate *resource.Quantity `json:"rate,omitempty"`

	// trunks are the VLAN IDs the interface passes tagged.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=4094
	// +kubebuilder:validation:items:Minimum=1
	// +kubebuilder:validation:items:Maximum=4094
	Trunks []int32 `json:"trunks,omitempty"`

	// linkDown disconnects the interface, as if its cable were pulled.
	// +optional
	LinkDown bool `json:"linkDown,omitempty"`

	// hostManaged says the node (not the container) configures the
	// interface's addresses. Omitted: on for an Application made from an
	// image (application containers rarely run a network manager, and
	// Proxmox turns it on for them), off otherwise.
	// +optional
	HostManaged *bool `json:"hostManaged,omitempty"`
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
	// mknod allows creating device nodes (an experimental Proxmox feature).
	// +optional
	Mknod bool `json:"mknod,omitempty"`
	// forceRWSys mounts /sys read-write in unprivileged containers.
	// +optional
	ForceRWSys bool `json:"forceRWSys,omitempty"`
	// mount lists the filesystem types the container may mount, e.g. nfs or
	// cifs.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:Pattern=`^[a-zA-Z0-9_]+$`
	Mount []string `json:"mount,omitempty"`
}

// Provision is a script run inside the container.
// +kubebuilder:validation:XValidation:rule="has(self.script) != has(self.configMapRef)",message="exactly one of script or configMapRef is required"
type Provision struct {
	// script is run with /bin/sh inside the container. At most 65536 bytes
	// (64 KiB) in UTF-8 and no NUL byte: the container's shell receives it as
	// the one argument of `sh -c`, which Linux limits to 128 KiB, and no
	// argument can hold a NUL.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=65536
	// +kubebuilder:validation:XValidation:rule="!self.contains('\\x00')",message="script must not contain a NUL byte: a shell argument cannot hold one"
	// +kubebuilder:validation:XValidation:rule="size(bytes(self)) <= 65536",message="script must be at most 65536 bytes (64 KiB) in UTF-8"
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

	// vmidReservedAt is when the operator recorded vmid and node, before
	// its create, restore or clone call. A create task of the operator's
	// own principal for that VMID started at or after it proves that a
	// container left locked "create" there is this Application's.
	// +optional
	VMIDReservedAt *metav1.Time `json:"vmidReservedAt,omitempty"`

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

	// config is the container's configuration as Proxmox last reported it
	// (pending values included), by Proxmox key: what an adopted container
	// has, to copy into the spec.
	// +optional
	Config map[string]string `json:"config,omitempty"`

	// ha is the container's state in Proxmox' HA manager, when managed.
	// +optional
	HA string `json:"ha,omitempty"`

	// pool the container is a member of, if any.
	// +optional
	Pool string `json:"pool,omitempty"`

	// template is true once the container is a template container.
	// +optional
	Template bool `json:"template,omitempty"`

	// image is the OCI image the container was made from, and an image
	// update in progress.
	// +optional
	Image *ImageStatus `json:"image,omitempty"`

	// stagedImage is the StagedImage that stages the image or template the
	// container is made from, while the Application uses it.
	// +optional
	StagedImage string `json:"stagedImage,omitempty"`

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
// +kubebuilder:printcolumn:name="Image",type=string,JSONPath=`.status.image.reference`
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
