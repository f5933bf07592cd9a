package controllers

import (
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// PVE's rule for snapshot names: a letter, then letters, digits, '-' or '_'
// (case-insensitive), at most 40 characters; "current" and "vzdump" are
// reserved.
var pveSnapName = regexp.MustCompile(`(?i)^[a-z][a-z0-9_-]+$`)

func TestSnapshotNameIsValidForProxmox(t *testing.T) {
	for _, name := range []string{
		"nightly", "0-starts-with-a-digit", "has.dots.in.it", "current", "vzdump",
		strings.Repeat("very-long-backup-name-", 10), "a",
	} {
		t.Run(name, func(t *testing.T) {
			b := &v1alpha1.Backup{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name)}}
			got := snapshotName(b)
			if !pveSnapName.MatchString(got) || len(got) > 40 || got == "current" || got == "vzdump" {
				t.Fatalf("snapshotName(%q) = %q, not a valid PVE snapshot name", name, got)
			}
			other := &v1alpha1.Backup{ObjectMeta: metav1.ObjectMeta{Name: name, UID: "another-uid"}}
			if snapshotName(other) == got {
				t.Fatalf("two Backups named %q share snapshot name %q", name, got)
			}
		})
	}
}

func TestScheduledBackupNameFitsAnObjectName(t *testing.T) {
	due := time.Date(2027, 1, 1, 2, 0, 0, 0, time.UTC)
	long := strings.Repeat("s", 250)
	for _, tc := range []struct {
		schedule, app string
		byRef         bool
		want          string
	}{
		{"nightly", "web", true, "nightly-20270101020000"},
		{"nightly", "web", false, "nightly-web-20270101020000"},
		{long, "web", true, ""},
	} {
		sc := &v1alpha1.BackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: tc.schedule}}
		if tc.byRef {
			sc.Spec.ApplicationRef = &v1alpha1.LocalObjectReference{Name: tc.app}
		}
		got := scheduledBackupName(sc, tc.app, due)
		if errs := validation.IsDNS1123Subdomain(got); len(errs) > 0 {
			t.Errorf("scheduledBackupName(%.20s...) = %q: %v", tc.schedule, got, errs)
		}
		if tc.want != "" && got != tc.want {
			t.Errorf("scheduledBackupName(%q, %q) = %q, want %q", tc.schedule, tc.app, got, tc.want)
		}
		if !strings.HasSuffix(got, "20270101020000") {
			t.Errorf("%q does not end in the run's timestamp", got)
		}
	}
}

func TestDueRunTakesOnlyTheLatestMissedRunWithinTheDeadline(t *testing.T) {
	created := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	hourly := "0 * * * *"
	for _, tc := range []struct {
		name     string
		schedule string
		last     *time.Time
		now      time.Time
		wantDue  time.Time
		wantRun  bool
	}{
		{"nothing due before the first run", hourly, nil, created.Add(30 * time.Minute), time.Time{}, false},
		{"the first run", hourly, nil, created.Add(61 * time.Minute), created.Add(time.Hour), true},
		{"after downtime, only the latest missed run", hourly, nil, created.Add(5*time.Hour + 10*time.Minute), created.Add(5 * time.Hour), true},
		{"a run later than the deadline is skipped", "0 3 * * *", nil, time.Date(2026, 3, 2, 5, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC), false},
		{"runs are counted from the last one", hourly, ptrTime(created.Add(3 * time.Hour)), created.Add(3*time.Hour + 30*time.Minute), time.Time{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := &v1alpha1.BackupSchedule{
				ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(created), UID: types.UID(tc.name)},
				Spec:       v1alpha1.BackupScheduleSpec{Schedule: tc.schedule},
			}
			if tc.last != nil {
				sc.Status.LastScheduleTime = metaTime(*tc.last)
			}
			sched, loc, o := parseSchedule(sc)
			if o.reason != "" {
				t.Fatal(o.message)
			}
			r := &BackupScheduleReconciler{}
			due, run := r.dueRun(sc, sched, loc, tc.now)
			if run != tc.wantRun || (!tc.wantDue.IsZero() && !due.Equal(tc.wantDue)) {
				t.Fatalf("dueRun at %s = %s, %t; want %s, %t", tc.now, due, run, tc.wantDue, tc.wantRun)
			}
		})
	}
}

func TestParseScheduleReadsTheTimeZone(t *testing.T) {
	sc := &v1alpha1.BackupSchedule{Spec: v1alpha1.BackupScheduleSpec{Schedule: "0 3 * * *", TimeZone: "Europe/Berlin"}}
	sched, loc, o := parseSchedule(sc)
	if o.reason != "" {
		t.Fatal(o.message)
	}
	next := sched.Next(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC).In(loc))
	if want := time.Date(2026, 7, 1, 1, 0, 0, 0, time.UTC); !next.Equal(want) {
		t.Fatalf("03:00 Berlin in summer is %s, want %s", next.UTC(), want)
	}
	sc.Spec.TimeZone = "Mars/Olympus_Mons"
	if _, _, o := parseSchedule(sc); o.reason != v1alpha1.ReasonInvalidSchedule {
		t.Fatalf("unknown time zone: got %+v", o)
	}
}

func ptrTime(t time.Time) *time.Time { return &t }
