package v1alpha1

// Condition types shared by every kind. They follow kstatus: Ready is the
// summary, Reconciling is True while the operator is still working towards
// the spec, Stalled is True when it cannot make progress without a change
// from a human (a bad reference, a conflict, a refusal from Proxmox).
const (
	ConditionReady       = "Ready"
	ConditionReconciling = "Reconciling"
	ConditionStalled     = "Stalled"
	// ConditionRestartRequired is True on an Application while declared
	// changes wait in Proxmox' pending configuration for the next restart
	// of the container.
	ConditionRestartRequired = "RestartRequired"
)

// ConditionRootCredentials is on a ProxmoxHost with spec.rootCredentialsRef:
// True while a root@pam login with them works, False (with the reason)
// while it does not. Like InsecureTLS it does not affect Ready: the API
// token still does all ordinary work, and only root-only changes wait.
const ConditionRootCredentials = "RootCredentials"

// ConditionInsecureTLS is True on a ProxmoxHost whose spec turns certificate
// verification off. It is a warning, not a state: the host may still be
// Ready, and kstatus ignores condition types it does not know.
const ConditionInsecureTLS = "InsecureTLS"

// ConditionInUse is on every ProxmoxHost: True while Applications, Backups
// or StagedImages use it, with the first of them named in the message.
// A host in use keeps its finalizer, so deleting it waits (reason
// DeletionBlocked) until they are gone or an admin forces the deletion with
// the force-delete annotation. It does not affect Ready.
const ConditionInUse = "InUse"

// Condition reasons. CamelCase, stable: alerts and Argo CD health checks
// match on them, so they are part of the API.
const (
	// Generic progress reasons.
	ReasonReconciled  = "Reconciled"
	ReasonProgressing = "Progressing"
	ReasonDeleting    = "Deleting"
	ReasonTaskRunning = "TaskRunning"
	ReasonTaskFailed  = "TaskFailed"

	// ProxmoxHost reasons.
	ReasonConnected             = "Connected"
	ReasonCredentialsNotFound   = "CredentialsNotFound"
	ReasonCredentialsInvalid    = "CredentialsInvalid"
	ReasonAuthenticationFailed  = "AuthenticationFailed"
	ReasonTLSVerificationFailed = "TLSVerificationFailed"
	ReasonUnreachable           = "Unreachable"
	ReasonForbidden             = "Forbidden"
	ReasonProxmoxError          = "ProxmoxError"
	// ReasonInsecureSkipVerify: the reason of ConditionInsecureTLS.
	ReasonInsecureSkipVerify = "InsecureSkipVerify"
	// Reasons of ConditionInUse: used (ReasonInUse, shared with
	// StagedImages) or not (NotInUse); deleted while used and not forced
	// (DeletionBlocked); a forced deletion with Release removing the
	// operator's tags from the containers (Releasing).
	ReasonNotInUse        = "NotInUse"
	ReasonDeletionBlocked = "DeletionBlocked"
	ReasonReleasing       = "Releasing"

	// Application reasons.
	//
	// ReasonHostNotFound is never a namespaced object's condition: a tenant
	// must not learn which host names exist. It is the condition of a
	// StagedImage (cluster-scoped, an admin's) whose host is missing, and
	// the event of a deletion that found its host gone.
	ReasonHostNotFound = "HostNotFound"
	ReasonHostNotReady = "HostNotReady"
	// ReasonHostDeleting: the ProxmoxHost is being deleted, so no new
	// container is made on it; containers that exist are still managed.
	ReasonHostDeleting = "HostDeleting"
	// ReasonNamespaceNotAllowed: the referenced ProxmoxHost does not exist
	// or does not allow the object's namespace. Both read the same, reason
	// and message, so the condition reveals nothing about hosts the
	// namespace may not use; the operator's log says which it was.
	ReasonNamespaceNotAllowed = "NamespaceNotAllowed"
	ReasonVMIDConflict        = "VMIDConflict"
	ReasonHostnameConflict    = "HostnameConflict"
	ReasonContainerNotFound   = "ContainerNotFound"
	ReasonContainerMissing    = "ContainerMissing"
	ReasonVMIDInUse           = "VMIDInUse"
	ReasonProvisioned         = "Provisioned"
	ReasonNotOwned            = "NotOwned"
	ReasonCreating            = "Creating"
	ReasonCreateFailed        = "CreateFailed"
	ReasonStarting            = "Starting"
	ReasonStopping            = "Stopping"
	ReasonUpdating            = "Updating"
	ReasonResizing            = "Resizing"
	ReasonRestartRequired     = "RestartRequired"
	ReasonLocked              = "Locked"
	ReasonProvisioning        = "Provisioning"
	ReasonProvisionFailed     = "ProvisionFailed"
	ReasonNoSuitableNode      = "NoSuitableNode"
	ReasonInvalidSpec         = "InvalidSpec"
	ReasonSecretNotFound      = "SecretNotFound"
	// ReasonAdoptionNotAllowed: adopting this container needs a grant on the
	// ProxmoxHost (spec.grants[].adopt) that the namespace does not have, or
	// the container is a template.
	ReasonAdoptionNotAllowed = "AdoptionNotAllowed"
	// ReasonPrivilegeNotAllowed: a privileged container needs
	// spec.grants[].privileged on the ProxmoxHost for this namespace.
	ReasonPrivilegeNotAllowed = "PrivilegeNotAllowed"
	// ReasonQuotaExceeded: a create or grow would take the namespace past a
	// quota in the ProxmoxHost's grants.
	ReasonQuotaExceeded = "QuotaExceeded"
	// ReasonRootRequired: the spec needs a change only root@pam may make
	// (bind mounts, devices, hookscript, most features) and the ProxmoxHost
	// has no working spec.rootCredentialsRef; the message names the keys.
	ReasonRootRequired = "RootRequired"
	// ReasonHostPathNotAllowed, ReasonDeviceNotAllowed and
	// ReasonHookscriptNotAllowed: a bind mount's hostPath, a device's path
	// or the hookscript is not allowed for the namespace by the
	// ProxmoxHost's grants (spec.grants[].hostPaths, devices, hookscripts).
	ReasonHostPathNotAllowed   = "HostPathNotAllowed"
	ReasonDeviceNotAllowed     = "DeviceNotAllowed"
	ReasonHookscriptNotAllowed = "HookscriptNotAllowed"

	// Backup and Restore reasons.
	ReasonApplicationNotFound = "ApplicationNotFound"
	// ReasonTaskStuck: a Proxmox task has run past the operator's task
	// deadline (--task-deadline); Stalled until it ends.
	ReasonTaskStuck           = "TaskStuck"
	ReasonApplicationNotReady = "ApplicationNotReady"
	// ReasonQueued: an archive Backup waits behind another vzdump of the
	// operator on the same node (phase Queued).
	ReasonQueued             = "Queued"
	ReasonBackupNotFound     = "BackupNotFound"
	ReasonBackupNotCompleted = "BackupNotCompleted"
	ReasonHostMismatch       = "HostMismatch"
	ReasonCompleted          = "Completed"
	ReasonFailed             = "Failed"
	ReasonArchiveProtected   = "ArchiveProtected"
	ReasonExpired            = "Expired"
	// ReasonSnapshotModeFallback: vzdump could not use snapshot mode (the
	// container's storage has no snapshots) and fell back to suspend mode.
	ReasonSnapshotModeFallback = "SnapshotModeFallback"
	// ReasonRestoring: a Restore is overwriting the container.
	ReasonRestoring = "Restoring"
	// ReasonSnapshotRemoved: a half-made snapshot of a failed Backup was removed.
	ReasonSnapshotRemoved = "SnapshotRemoved"

	// Migration and HA reasons (Application).
	// ReasonMigrating: the container is moving to spec.node.
	ReasonMigrating = "Migrating"
	// ReasonMigrationBlocked: the container cannot move to spec.node (a
	// local bind mount, a passed-through device, a storage the target
	// lacks, HA rules); nothing was sent, and the message names the
	// blockers in Proxmox' words.
	ReasonMigrationBlocked = "MigrationBlocked"
	// ReasonMigrationFailed: Proxmox' migration task failed; it is not
	// retried until the spec changes.
	ReasonMigrationFailed = "MigrationFailed"
	// ReasonHARejected: Proxmox refused the HA resource or node-affinity
	// rule spec.ha asks for (e.g. the container is already in another
	// node-affinity rule, or the credentials lack Sys.Console on /).
	ReasonHARejected = "HARejected"
	// ReasonCloneSourceNotFound: spec.cloneFrom.applicationRef names an
	// Application that does not exist (yet) or has no container yet.
	ReasonCloneSourceNotFound = "CloneSourceNotFound"
	// ReasonCloneSourceNotAllowed: the namespace may not clone the source
	// (not a template, not its own, not adoptable by its grants), or no
	// container has the VMID: both read the same, so VMIDs cannot be probed.
	ReasonCloneSourceNotAllowed = "CloneSourceNotAllowed"
	// ReasonConvertToTemplateFailed: Proxmox refused to make the container a
	// template (it has snapshots, say).
	ReasonConvertToTemplateFailed = "ConvertToTemplateFailed"
	// ReasonPoolNotAllowed: spec.pool is not named by a grant of the
	// ProxmoxHost; nothing was sent.
	ReasonPoolNotAllowed = "PoolNotAllowed"
	// ReasonPoolMembershipFailed: Proxmox refused to add the container to
	// its pool or take it out.
	ReasonPoolMembershipFailed = "PoolMembershipFailed"
	// ReasonImageNotAllowed: the image's registry, the template's URL or
	// the storage is not allowed by a grant of the ProxmoxHost; nothing was
	// pulled.
	ReasonImageNotAllowed = "ImageNotAllowed"
	// ReasonImageStaging: the image or template is being pulled onto the
	// node's storage (a StagedImage).
	ReasonImageStaging = "ImageStaging"
	// ReasonImageStagingFailed: Proxmox could not pull or download the
	// image or template; the message has its words.
	ReasonImageStagingFailed = "ImageStagingFailed"
	// ReasonImageDigestMismatch: the staged image is not the one
	// spec.image.reference pins with @sha256.
	ReasonImageDigestMismatch = "ImageDigestMismatch"
	// ReasonImageUpdateRefused: spec.image.reference changed under
	// updateStrategy None.
	ReasonImageUpdateRefused = "ImageUpdateRefused"

	// ReasonRollingOut: an image update replaces the container
	// (status.image.rollout has the step).
	ReasonRollingOut = "RollingOut"
	// ReasonRolloutFailed: a step of an image update failed; the message
	// has Proxmox' words and where the data volumes are.
	ReasonRolloutFailed = "RolloutFailed"
	// ReasonRolledOut: an image update finished (an event).
	ReasonRolledOut = "RolledOut"

	// StagedImage reasons.
	// ReasonStaged: the image is on every wanted node.
	ReasonStaged = "Staged"
	// ReasonInUse: a StagedImage being deleted waits until no Application
	// uses it; a ProxmoxHost's InUse condition while anything uses it.
	ReasonInUse = "InUse"

	// ReasonHalfMadeContainer: a create of this Application's died with its
	// node or pvedaemon and left the container locked "create"; only a
	// root shell on the node can clear that lock.
	ReasonHalfMadeContainer = "HalfMadeContainer"

	// BackupSchedule reasons.
	ReasonInvalidSchedule = "InvalidSchedule"
	ReasonSuspended       = "Suspended"
	ReasonScheduled       = "Scheduled"
	// ReasonMissedSchedule: a run was missed (the operator was down) by more
	// than the starting deadline and was skipped.
	ReasonMissedSchedule = "MissedSchedule"
)
