package controllers

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

func TestPassEndRulesPerKind(t *testing.T) {
	ready := []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonReconciled}}
	quietDefault := progressing(v1alpha1.ReasonProgressing, "reconciling")
	quietDefault.quiet = true
	for _, tc := range []struct {
		name     string
		end      passEnd
		prev     []metav1.Condition
		o        outcome
		event    string // "" for none, else "<type> <reason>"
		observed bool
	}{
		{"an Application's change of verdict is a Normal event", applicationPassEnd, ready, progressing(v1alpha1.ReasonUpdating, "applying"), "Normal Updating", true},
		{"an Application's failed create it retries is a Warning", applicationPassEnd, ready, progressing(v1alpha1.ReasonCreateFailed, "x"), "Warning CreateFailed", true},
		{"the same verdict again is no event", applicationPassEnd, ready, readyOutcome(v1alpha1.ReasonReconciled, "ok"), "", true},
		{"a defaulted verdict is no event", applicationPassEnd, ready, quietDefault, "", true},
		{"a Backup's progress is no event", backupPassEnd, ready, progressing(v1alpha1.ReasonTaskRunning, "x"), "", true},
		{"a Backup's lock is a Normal event", backupPassEnd, ready, progressing(v1alpha1.ReasonLocked, "x"), "Normal Locked", true},
		{"a Restore's refusal is a Warning", restorePassEnd, nil, stalled(v1alpha1.ReasonNotOwned, "x"), "Warning NotOwned", true},
		{"a ProxmoxError leaves observedGeneration behind", restorePassEnd, nil, progressing(v1alpha1.ReasonProxmoxError, "x"), "", false},
		{"a schedule's refusal is a Warning and its verdicts always observe", schedulePassEnd, nil, stalled(v1alpha1.ReasonNamespaceNotAllowed, "x"), "Warning NamespaceNotAllowed", true},
		{"a host that is not Ready is a Warning even when it retries", hostPassEnd, ready, progressing(v1alpha1.ReasonUnreachable, "x"), "Warning Unreachable", true},
		{"a host that is Ready again is a Normal event", hostPassEnd, nil, readyOutcome(v1alpha1.ReasonConnected, "x"), "Normal Connected", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := events.NewFakeRecorder(4)
			tc.end.record(rec, &v1alpha1.Application{}, tc.prev, tc.o)
			got := ""
			select {
			case e := <-rec.Events:
				got = e
			default:
			}
			if want := tc.event; (want == "") != (got == "") || want != "" && got[:len(want)] != want {
				t.Errorf("event %q, want %q", got, want)
			}
			if obs := tc.end.observed(tc.o); obs != tc.observed {
				t.Errorf("observed = %v, want %v", obs, tc.observed)
			}
		})
	}
}
