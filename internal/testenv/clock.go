package testenv

import (
	"sync/atomic"
	"time"
)

// Clock is the wall clock plus an offset a test moves forward: waits the
// operator computes from it (a create's retry, how long a lock has been
// held) pass at once, while timers, the apiserver and the simulator keep
// real time. Its Now is what manager.Options.Now takes.
type Clock struct{ offset atomic.Int64 }

// Now is the current time as the operator sees it.
func (c *Clock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }
