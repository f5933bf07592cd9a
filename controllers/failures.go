package controllers

import (
	"math/rand/v2"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/pve-operator/pve-operator/internal/proxmox"
)

// failureClass says what a failed Proxmox call or task asks of the operator.
type failureClass int

const (
	// failureTransient heals by itself (an outage, a lock, a lost answer):
	// retry with exponential backoff.
	failureTransient failureClass = iota
	// failureNeedsPerson repeats until someone changes the spec, the host
	// or a Secret (a missing template, a rejected token): say so at once
	// (Stalled), and retry only slowly.
	failureNeedsPerson
)

// Retry pacing of failed creates: transient failures back off from
// backoffBase, doubling up to backoffCap; needs-a-person failures are looked
// at again every needsPersonRetry, and at once on a spec change.
const (
	backoffBase      = 2 * time.Second
	backoffCap       = 2 * time.Minute
	needsPersonRetry = 2 * time.Minute
)

// classifyFailure is the one table from the client's typed errors to a
// failure class. A task PVE ran to failure refused its inputs (a missing
// template, too little space) unless its exit status says lock or timeout.
func classifyFailure(err error) failureClass {
	switch {
	case err == nil, proxmox.IsTransient(err), proxmox.IsDigestMismatch(err), proxmox.IsOutcomeUnknown(err):
		return failureTransient
	case proxmox.IsUnauthorized(err), proxmox.IsForbidden(err), proxmox.IsTLS(err),
		proxmox.IsBadRequest(err), proxmox.IsNotFound(err), proxmox.IsTaskFailed(err), proxmox.IsRefused(err):
		return failureNeedsPerson
	}
	return failureTransient
}

// createInputs is what a failed create was tried with: the Application's
// generation and the host connection's fingerprint (its spec and Secret).
// A change of either is a person's fix, retried at once.
type createInputs struct {
	generation int64
	host       string
}

// createFailure remembers the last failed create of one Application: the
// inputs it was tried with, how many failed in a row, and when the next
// attempt is due. It lives in memory keyed by UID, so a restart forgets it
// and costs at most one extra attempt.
type createFailure struct {
	inputs   createInputs
	attempts int
	next     time.Time
	outcome  outcome
}

// createFailures is the per-Application memory of failed creates.
type createFailures struct{ m sync.Map } // UID -> createFailure

// record notes a failed create with inputs in classified as class, with
// the verdict o to restate while waiting, and returns the wait.
func (f *createFailures) record(uid types.UID, in createInputs, class failureClass, o outcome, now time.Time) time.Duration {
	prev, _ := f.m.Load(uid)
	cf, _ := prev.(createFailure)
	if cf.inputs != in {
		cf = createFailure{inputs: in}
	}
	cf.attempts++
	wait := needsPersonRetry
	if class == failureTransient {
		wait = backoff(cf.attempts)
	}
	cf.next, cf.outcome = now.Add(wait), o
	f.m.Store(uid, cf)
	return wait
}

// pending returns the verdict to restate and the time left when a create
// with inputs in must still wait; changed inputs never wait.
func (f *createFailures) pending(uid types.UID, in createInputs, now time.Time) (outcome, time.Duration, bool) {
	v, ok := f.m.Load(uid)
	if !ok {
		return outcome{}, 0, false
	}
	cf := v.(createFailure)
	if cf.inputs != in || !now.Before(cf.next) {
		return outcome{}, 0, false
	}
	return cf.outcome, cf.next.Sub(now), true
}

// retrying returns the Stalled verdict of the last failed create when
// the create now under way retries it with the same inputs: the retry is
// a quiet probe that keeps the verdict (kstatus stays Failed rather than
// flapping to InProgress and back every retry, and no event repeats);
// only its success is news.
func (f *createFailures) retrying(uid types.UID, in createInputs) (outcome, bool) {
	v, ok := f.m.Load(uid)
	if !ok {
		return outcome{}, false
	}
	cf := v.(createFailure)
	if cf.inputs != in || !cf.outcome.stalled {
		return outcome{}, false
	}
	o := cf.outcome
	o.quiet = true
	return o, true
}

// reset forgets the failures once the container is there or the object is gone.
func (f *createFailures) reset(uid types.UID) { f.m.Delete(uid) }

// backoff is the wait after the n-th transient failure in a row: doubling
// from backoffBase, capped at backoffCap, with up to 10% jitter so many
// Applications failing together do not retry together.
func backoff(n int) time.Duration {
	d := backoffBase
	for i := 1; i < n && d < backoffCap; i++ {
		d *= 2
	}
	d = min(d, backoffCap)
	return d + time.Duration(rand.Int64N(int64(d)/10+1))
}

// nowFrom reads a reconciler's clock: now when set (tests), else the wall
// clock.
func nowFrom(now func() time.Time) time.Time {
	if now != nil {
		return now()
	}
	return time.Now()
}
