package proxmox

import (
	"context"
	"sync"

	"golang.org/x/time/rate"
)

// limits are the per-host guards every request goes through:
//
//   - a token bucket over all requests, so a burst of reconciles (or a
//     restart with thousands of objects) cannot flood pveproxy;
//   - a semaphore over mutating requests in flight (the POST/PUT/DELETE that
//     starts a task or changes a config). It bounds how many such calls the
//     operator has outstanding against one host at once. It does not bound
//     tasks running inside PVE, because the client never waits for a task;
//     a caller wanting that must count the UPIDs it recorded as running.
type limits struct {
	bucket *rate.Limiter // nil: unlimited
	slots  chan struct{}

	mu          sync.Mutex
	inFlight    int
	maxInFlight int
}

func newLimits(rl RateLimit, maxMutating int) *limits {
	l := &limits{slots: make(chan struct{}, maxMutating)}
	if rl.QPS > 0 {
		l.bucket = rate.NewLimiter(rate.Limit(rl.QPS), rl.Burst)
	}
	return l
}

// wait blocks until the token bucket allows one request or ctx ends.
func (l *limits) wait(ctx context.Context) error {
	if l.bucket == nil {
		return nil
	}
	return l.bucket.Wait(ctx)
}

// acquire takes a mutating slot; release must be called exactly once.
func (l *limits) acquire(ctx context.Context) (release func(), err error) {
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	l.mu.Lock()
	l.inFlight++
	l.maxInFlight = max(l.maxInFlight, l.inFlight)
	l.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			l.inFlight--
			l.mu.Unlock()
			<-l.slots
		})
	}, nil
}

// LimitStats reports the mutating-request gauge of one client.
type LimitStats struct {
	// MutatingInFlight is the number of mutating requests outstanding now.
	MutatingInFlight int
	// MaxMutatingInFlight is the highest MutatingInFlight seen so far.
	MaxMutatingInFlight int
	// MaxConcurrentTasks is the configured bound.
	MaxConcurrentTasks int
}

// LimitStats returns the current gauge (for metrics and tests).
func (c *APIClient) LimitStats() LimitStats {
	c.limits.mu.Lock()
	defer c.limits.mu.Unlock()
	return LimitStats{
		MutatingInFlight:    c.limits.inFlight,
		MaxMutatingInFlight: c.limits.maxInFlight,
		MaxConcurrentTasks:  cap(c.limits.slots),
	}
}
