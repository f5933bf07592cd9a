package controllers

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// hostWait is the verdict of an object that needs its ProxmoxHost while
// the host is not connected; doing says what waits ("", or " to delete
// the container"). A host that needs a person (rejected token, untrusted
// certificate, missing Secret) makes the object Stalled as well, with the
// host's reason and words in the message: a GitOps user watching only the
// Application sees red at once and learns whom to ask. A host that may
// come back by itself (unreachable, not yet synced) is a wait. host may be
// nil when it could not be read.
func hostWait(host *v1alpha1.ProxmoxHost, name, doing string) outcome {
	msg := fmt.Sprintf("waiting for ProxmoxHost %q to become Ready%s", name, doing)
	if host == nil {
		return progressing(v1alpha1.ReasonHostNotReady, msg)
	}
	if c := meta.FindStatusCondition(host.Status.Conditions, v1alpha1.ConditionStalled); c != nil && c.Status == metav1.ConditionTrue {
		return stalled(v1alpha1.ReasonHostNotReady, fmt.Sprintf("ProxmoxHost %q needs its owner to act (%s: %s); nothing is done%s until then",
			name, c.Reason, c.Message, doing))
	}
	if c := meta.FindStatusCondition(host.Status.Conditions, v1alpha1.ConditionReady); c != nil && c.Status != metav1.ConditionTrue {
		msg += ": " + c.Reason
	}
	return progressing(v1alpha1.ReasonHostNotReady, msg)
}
