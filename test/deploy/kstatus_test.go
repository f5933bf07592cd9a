package deploy

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// argoVerdictsOf is the one mapping between kstatus (what Flux, kpt and
// cli-utils' apply wait on) and Argo CD's health: for each kstatus status,
// the Argo CD verdicts that agree with it. A status missing here (Unknown,
// NotFound) agrees with nothing.
var argoVerdictsOf = map[kstatus.Status][]string{
	// Current: the spec is in place. Argo CD says Healthy, or Suspended for
	// a stopped Application or a paused BackupSchedule: kstatus has no
	// suspended status, and such an object is fully reconciled, only
	// deliberately idle.
	kstatus.CurrentStatus: {"Healthy", "Suspended"},
	// InProgress: the operator is working or waiting on something that may
	// still come (a host, a task, a new generation), which is Progressing.
	kstatus.InProgressStatus: {"Progressing"},
	// Failed: Stalled=True, nothing moves without a person; Degraded.
	kstatus.FailedStatus: {"Degraded"},
	// Terminating: deletionTimestamp set. Argo CD has no deleting verdict
	// and calls every deleting object Progressing ("Pending deletion").
	kstatus.TerminatingStatus: {"Progressing"},
}

func computeKstatus(t *testing.T, u *unstructured.Unstructured) *kstatus.Result {
	t.Helper()
	res, err := kstatus.Compute(u)
	if err != nil {
		t.Fatalf("kstatus of %s: %v", key(u), err)
	}
	return res
}

// checkKstatus fails t unless kstatus agrees with the Argo CD verdict argo
// (message msg) on u.
func checkKstatus(t *testing.T, u *unstructured.Unstructured, argo, msg string) {
	t.Helper()
	res := computeKstatus(t, u)
	if want := argoVerdictsOf[res.Status]; !slices.Contains(want, argo) {
		t.Errorf("%s (%s): Argo CD says %s (%q), kstatus says %s (%q), which agrees only with %s",
			key(u), describeStatus(u), argo, msg, res.Status, res.Message, orNothing(want))
	}
}

func orNothing(verdicts []string) string {
	if len(verdicts) == 0 {
		return "nothing"
	}
	return strings.Join(verdicts, " or ")
}
