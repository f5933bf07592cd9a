package controllers

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// vzdumpPacer decides when a running vzdump is asked about again. The
// first look comes when the node's last dump took, then the usual backoff.
// PVE's task status has no duration, so it is learned from the time the end
// was first seen: exact enough when an earlier poll still saw the dump
// running, else only an upper bound, shrunk so that one slow dump (or a
// late poll) does not slow every later look.
// Everything here is a pacing aid: lost on restart, polls simply start
// from taskPoll again.
type vzdumpPacer struct {
	mu sync.Mutex
	// last is the node's last dump duration.
	last map[nodeKey]time.Duration
	// due is when a Backup's next poll is planned: passes woken earlier (by
	// the Backup's own status write) do not ask.
	due map[types.UID]time.Time
	// started is when a Backup's dump was posted, to the nanosecond; status
	// keeps only seconds.
	started map[types.UID]time.Time
	// seenRunning marks dumps a poll found still running.
	seenRunning map[types.UID]bool
}

// posted notes a dump just started and plans its first poll.
func (p *vzdumpPacer) posted(k nodeKey, uid types.UID, now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.initLocked()
	p.started[uid] = now
	return p.planLocked(k, uid, now, now)
}

// early is how long until the planned poll, if one is planned later.
func (p *vzdumpPacer) early(uid types.UID, now time.Time) (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	due, ok := p.due[uid]
	if !ok || !now.Before(due) {
		return 0, false
	}
	return due.Sub(now), true
}

// running plans the next poll of a dump seen still running.
func (p *vzdumpPacer) running(k nodeKey, uid types.UID, ref *v1alpha1.TaskReference, now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.initLocked()
	p.seenRunning[uid] = true
	return p.planLocked(k, uid, p.startOf(uid, ref, now), now)
}

// ended learns the node's dump duration from a dump seen ended.
func (p *vzdumpPacer) ended(k nodeKey, uid types.UID, ref *v1alpha1.TaskReference, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.initLocked()
	if d := now.Sub(p.startOf(uid, ref, now)); d > 0 {
		if !p.seenRunning[uid] {
			d = d * 7 / 8
		}
		p.last[k] = d
	}
	delete(p.due, uid)
	delete(p.started, uid)
	delete(p.seenRunning, uid)
}

// forget drops what is kept about a Backup that is gone.
func (p *vzdumpPacer) forget(uid types.UID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.due, uid)
	delete(p.started, uid)
	delete(p.seenRunning, uid)
}

func (p *vzdumpPacer) initLocked() {
	if p.due == nil {
		p.started, p.due, p.last = map[types.UID]time.Time{}, map[types.UID]time.Time{}, map[nodeKey]time.Duration{}
		p.seenRunning = map[types.UID]bool{}
	}
}

func (p *vzdumpPacer) startOf(uid types.UID, ref *v1alpha1.TaskReference, now time.Time) time.Time {
	if t, ok := p.started[uid]; ok {
		return t
	}
	if ref != nil && ref.StartedAt != nil {
		return ref.StartedAt.Time
	}
	return now
}

// planLocked is the wait before the next poll: until the estimate is
// reached, then a quarter of the time the dump has run (0.25 s to 10 s).
// Past the estimate the end is near, and every second waited after it is
// a second the node's next dump cannot start: with half the run time (and
// at least a second), 1 s dumps ran at two thirds of the node's pace.
func (p *vzdumpPacer) planLocked(k nodeKey, uid types.UID, start, now time.Time) time.Duration {
	est, ok := p.last[k]
	if !ok {
		est = taskPoll
	}
	ran := now.Sub(start)
	d := est - ran
	if d < 200*time.Millisecond {
		d = min(max(ran/4, 250*time.Millisecond), 10*time.Second)
	}
	p.due[uid] = now.Add(d)
	return d
}
