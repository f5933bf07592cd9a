package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BackupScheduleSpec creates Backups on a cron schedule.
// +kubebuilder:validation:XValidation:rule="has(self.applicationSelector) != has(self.applicationRef)",message="exactly one of applicationSelector or applicationRef is required"
type BackupScheduleSpec struct {
	// schedule is a 5-field cron expression (minute hour day-of-month month
	// day-of-week), or @hourly, @daily, @weekly, @monthly, @yearly.
	// +required
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self.matches('^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|([*]|([0-5]?[0-9])(-([0-5]?[0-9]))?)(/[1-9][0-9]?)?(,([*]|([0-5]?[0-9])(-([0-5]?[0-9]))?)(/[1-9][0-9]?)?)*[ ]+([*]|([01]?[0-9]|2[0-3])(-([01]?[0-9]|2[0-3]))?)(/[1-9][0-9]?)?(,([*]|([01]?[0-9]|2[0-3])(-([01]?[0-9]|2[0-3]))?)(/[1-9][0-9]?)?)*[ ]+([*]|(0?[1-9]|[12][0-9]|3[01])(-(0?[1-9]|[12][0-9]|3[01]))?)(/[1-9][0-9]?)?(,([*]|(0?[1-9]|[12][0-9]|3[01])(-(0?[1-9]|[12][0-9]|3[01]))?)(/[1-9][0-9]?)?)*[ ]+([*]|(0?[1-9]|1[0-2]|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))(-(0?[1-9]|1[0-2]|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)))?)(/[1-9][0-9]?)?(,([*]|(0?[1-9]|1[0-2]|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))(-(0?[1-9]|1[0-2]|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)))?)(/[1-9][0-9]?)?)*[ ]+([*]|([0-7]|(?i:sun|mon|tue|wed|thu|fri|sat))(-([0-7]|(?i:sun|mon|tue|wed|thu|fri|sat)))?)(/[1-9][0-9]?)?(,([*]|([0-7]|(?i:sun|mon|tue|wed|thu|fri|sat))(-([0-7]|(?i:sun|mon|tue|wed|thu|fri|sat)))?)(/[1-9][0-9]?)?)*)$')",message="schedule must be a 5-field cron expression such as '0 3 * * *' or one of @hourly, @daily (@midnight), @weekly, @monthly, @yearly (@annually)"
	Schedule string `json:"schedule"`

	// timeZone is the IANA time zone the schedule is read in, e.g.
	// Europe/Berlin, UTC or Etc/GMT+5. Omitted: UTC.
	//
	// Names the Go runtime resolves but the IANA database does not define
	// are refused: Local (the operator's own zone), and the files a zoneinfo
	// directory holds besides the zones (localtime, posixrules, the posix/
	// and right/ copies). With them the schedule would follow whatever the
	// operator's image or node has. Path tricks (., .., a leading or double
	// /) cannot be written.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$') && !(self in ['Local', 'localtime', 'posixrules']) && !self.startsWith('posix/') && !self.startsWith('right/')",message="timeZone must be an IANA time zone name such as Europe/Berlin or UTC: /-separated parts of letters, digits, _, + and -, starting with a letter; not Local, localtime, posixrules or a posix/ or right/ name"
	TimeZone string `json:"timeZone,omitempty"`

	// applicationSelector selects the Applications in this namespace to back up.
	// +optional
	ApplicationSelector *metav1.LabelSelector `json:"applicationSelector,omitempty"`

	// applicationRef names one Application to back up.
	// +optional
	ApplicationRef *LocalObjectReference `json:"applicationRef,omitempty"`

	// backupTemplate is the spec of the Backups created (without applicationRef).
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.type != 'Snapshot' || (!has(self.storage) && !self.protected)",message="storage and protected apply only to type Archive"
	BackupTemplate BackupParameters `json:"backupTemplate,omitempty"`

	// keepLast is how many Completed Backups per Application this schedule
	// keeps; older ones are deleted (honouring their deletionPolicy).
	// +optional
	// +kubebuilder:default=7
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	KeepLast *int32 `json:"keepLast,omitempty"`

	// suspend stops creating new Backups; existing ones are kept.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// BackupScheduleStatus is the observed state of a BackupSchedule.
type BackupScheduleStatus struct {
	// conditions: Ready, Reconciling, Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// lastScheduleTime is when Backups were last created.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`

	// lastSuccessfulTime is when a Backup of this schedule last completed.
	// +optional
	LastSuccessfulTime *metav1.Time `json:"lastSuccessfulTime,omitempty"`

	// nextScheduleTime is when Backups are next due.
	// +optional
	NextScheduleTime *metav1.Time `json:"nextScheduleTime,omitempty"`
}

// BackupSchedule creates Backups of Applications on a cron schedule. The
// Backups it creates carry no copy of its own labels, so GitOps tools that
// prune by tracking label do not delete them.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=pxschedule,categories=proxmox
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`
// +kubebuilder:printcolumn:name="Suspend",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Last Schedule",type=date,JSONPath=`.status.lastScheduleTime`
// +kubebuilder:printcolumn:name="Last Success",type=date,JSONPath=`.status.lastSuccessfulTime`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type BackupSchedule struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the schedule.
	// +required
	Spec BackupScheduleSpec `json:"spec"`

	// status is what the operator last observed.
	// +optional
	Status BackupScheduleStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// BackupScheduleList is a list of BackupSchedules.
type BackupScheduleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BackupSchedule `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &BackupSchedule{}, &BackupScheduleList{})
}
