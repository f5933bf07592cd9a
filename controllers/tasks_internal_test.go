package controllers

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

func TestOverdue(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	ref := func(age time.Duration) *v1alpha1.TaskReference {
		started := metav1.NewTime(now.Add(-age))
		return &v1alpha1.TaskReference{UPID: "UPID:pve1:1:2:3:vzstart:100:root@pam:", Type: "vzstart", Node: "pve1", StartedAt: &started}
	}
	for _, tc := range []struct {
		name     string
		ref      *v1alpha1.TaskReference
		deadline time.Duration
		late     bool
	}{
		{"no task", nil, 0, false},
		{"no start time", &v1alpha1.TaskReference{UPID: "x"}, time.Second, false},
		{"young task, default deadline", ref(59 * time.Minute), 0, false},
		{"old task, default deadline", ref(61 * time.Minute), 0, true},
		{"exactly at the deadline", ref(10 * time.Minute), 10 * time.Minute, false},
		{"past a short deadline", ref(11 * time.Second), 10 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, late := overdue(tc.ref, "start of container 100", tc.deadline, now)
			if late != tc.late {
				t.Fatalf("late = %v, want %v", late, tc.late)
			}
			if !late {
				return
			}
			if !o.stalled || o.reason != v1alpha1.ReasonTaskStuck {
				t.Errorf("outcome %+v, want Stalled with reason TaskStuck", o)
			}
			for _, want := range []string{"start of container 100", tc.ref.UPID, "pve1", "Datacenter > Tasks"} {
				if !strings.Contains(o.message, want) {
					t.Errorf("message %q does not mention %q", o.message, want)
				}
			}
		})
	}
}

func TestTaskInFlight(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	started := metav1.NewTime(now.Add(-time.Minute))
	for _, tc := range []struct {
		name, typ, reason string
		deadline          time.Duration
		want              []string
		stuck             bool
	}{
		{"a stop is called a stop, not a shutdown", "vzstop", v1alpha1.ReasonRestoring, time.Hour, []string{"stop of container 7 running on pve2"}, false},
		{"a shutdown is called a shutdown", "vzshutdown", v1alpha1.ReasonStopping, time.Hour, []string{"shutdown of container 7 running on pve2"}, false},
		{"a task type without a name is shown as it is", "vzmount", v1alpha1.ReasonTaskRunning, time.Hour, []string{"vzmount of container 7"}, false},
		{"a task past its deadline is stuck", "vzdump", v1alpha1.ReasonTaskRunning, time.Second, []string{"backup of container 7", "longer than the task deadline"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := &v1alpha1.TaskReference{UPID: "UPID:pve2:1:2:3:" + tc.typ + ":7:root@pam:", Type: tc.typ, Node: "pve2", StartedAt: &started}
			o := taskInFlight(ref, 7, tc.reason, tc.deadline, now)
			if o.stalled != tc.stuck || (!tc.stuck && o.reason != tc.reason) {
				t.Fatalf("outcome %+v", o)
			}
			for _, w := range append(tc.want, ref.UPID) {
				if !strings.Contains(o.message, w) {
					t.Errorf("message %q lacks %q", o.message, w)
				}
			}
		})
	}
}

func TestEveryApplicationTaskHasAReason(t *testing.T) {
	for _, typ := range []string{"vzcreate", "vzrestore", "vzstart", "vzstop", "vzshutdown", "resize", "vzdestroy"} {
		if taskReason(typ) == v1alpha1.ReasonTaskRunning {
			t.Errorf("%s has no Application reason", typ)
		}
	}
}
