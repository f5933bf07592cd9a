package controllers

import (
	"testing"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// A BackupSchedule stored before admission refused these names still
// reaches the controller; it must stall, never read the schedule in the
// operator's own zone.
func TestLoadTimeZone(t *testing.T) {
	tests := []struct {
		name   string
		tz     string
		wantOK bool
	}{
		{name: "UTC is an IANA name", tz: "UTC", wantOK: true},
		{name: "Etc/UTC is an IANA name", tz: "Etc/UTC", wantOK: true},
		{name: "a region/city zone loads", tz: "Europe/Berlin", wantOK: true},
		{name: "a three-part zone loads", tz: "America/Argentina/Buenos_Aires", wantOK: true},
		{name: "a fixed-offset zone loads", tz: "Etc/GMT+5", wantOK: true},
		{name: "Local, the operator's own zone, is refused", tz: "Local"},
		{name: "the zoneinfo file posixrules is refused", tz: "posixrules"},
		{name: "the zoneinfo link localtime is refused", tz: "localtime"},
		{name: "the posix/ copy of the database is refused", tz: "posix/Europe/Berlin"},
		{name: "the right/ copy of the database is refused", tz: "right/UTC"},
		{name: "a path climbing out of zoneinfo is refused", tz: "../../etc/localtime"},
		{name: "a path climbing out after a zone name is refused", tz: "Europe/../../etc/passwd"},
		{name: "an absolute path is refused", tz: "/etc/localtime"},
		{name: "an empty part is refused", tz: "Europe//Berlin"},
		{name: "a name no database has is refused", tz: "Mars/Olympus_Mons"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc, err := loadTimeZone(tt.tz)
			if (err == nil) != tt.wantOK {
				t.Fatalf("loadTimeZone(%q) = %v, %v; want ok=%v", tt.tz, loc, err, tt.wantOK)
			}
			if tt.wantOK && loc.String() != tt.tz {
				t.Errorf("loadTimeZone(%q) loaded %q", tt.tz, loc)
			}
		})
	}
}

func TestParseScheduleStallsOnTheOperatorsLocalZone(t *testing.T) {
	sc := &v1alpha1.BackupSchedule{Spec: v1alpha1.BackupScheduleSpec{Schedule: "0 3 * * *", TimeZone: "Local"}}
	sched, loc, o := parseSchedule(sc)
	if sched != nil || loc != nil || o.reason != v1alpha1.ReasonInvalidSchedule || !o.stalled {
		t.Fatalf("parseSchedule = %v, %v, %+v; want Stalled with %s", sched, loc, o, v1alpha1.ReasonInvalidSchedule)
	}
}
