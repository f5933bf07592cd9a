package controllers

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// passEnd is how one kind ends a reconcile pass: the transition event, the
// kstatus conditions, observedGeneration and the status patch happen in
// the same order for every kind, and where kinds differ the difference is
// one of these named rules rather than a copy of the sequence.
type passEnd struct {
	// eventFor says which verdicts are worth an event when the Ready reason
	// changes (nil: every verdict).
	eventFor func(outcome) bool
	// warning says which of them are Warning events (nil: the stalled ones).
	warning func(outcome) bool
	// action is the event's action (empty: reconcileAction).
	action string
	// observes says whether a verdict means the generation was looked at
	// in full, so observedGeneration may follow it (nil: every verdict but
	// a ProxmoxError, which may have cut the pass short).
	observes func(outcome) bool
	// optimistic patches with the resourceVersion read, so a pass that
	// started from a stale cached copy cannot overwrite what a newer pass
	// recorded (a task, a phase) and is retried instead.
	optimistic bool
	// skipUnchanged leaves out the patch when nothing in status changed.
	skipUnchanged bool
}

// statusOf points at the status fields the frame writes, and at the whole
// status as read (was) and as this pass leaves it (is).
type statusOf struct {
	conditions *[]metav1.Condition
	observed   *int64
	was, is    any
}

// end finishes a pass of obj (before is the object as read) with verdict o.
// A pass without a verdict records no event and keeps the conditions.
func (p passEnd) end(ctx context.Context, c client.Client, rec events.EventRecorder, obj, before client.Object, st statusOf, o outcome) error {
	if o.reason != "" {
		p.record(rec, obj, *st.conditions, o)
		setConditions(st.conditions, obj.GetGeneration(), o)
		if p.observed(o) {
			*st.observed = obj.GetGeneration()
		}
	}
	recordObjectMetrics(obj, *st.conditions)
	if p.skipUnchanged && equality.Semantic.DeepEqual(st.was, st.is) {
		return nil
	}
	patch := client.MergeFrom(before)
	if p.optimistic {
		patch = client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})
	}
	return client.IgnoreNotFound(c.Status().Patch(ctx, obj, patch))
}

func (p passEnd) observed(o outcome) bool {
	if p.observes != nil {
		return p.observes(o)
	}
	return o.reason != v1alpha1.ReasonProxmoxError
}

// record emits the transition event for o when the Ready reason changes.
func (p passEnd) record(rec events.EventRecorder, obj client.Object, prev []metav1.Condition, o outcome) {
	if o.quiet || p.eventFor != nil && !p.eventFor(o) {
		return
	}
	if c := meta.FindStatusCondition(prev, v1alpha1.ConditionReady); c != nil && c.Reason == o.reason {
		return
	}
	kind := eventNormal
	if p.warning == nil && o.stalled || p.warning != nil && p.warning(o) {
		kind = eventWarning
	}
	action := p.action
	if action == "" {
		action = reconcileAction
	}
	if rec != nil {
		rec.Eventf(obj, nil, kind, o.reason, action, "%s", o.message)
	}
}
