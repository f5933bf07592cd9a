package main

import (
	"sort"
	"sync"
	"time"
)

// requestLog timestamps one simulator's API requests while recording is on.
// It hooks the simulator's per-request log line, so every request is seen
// (sampling the counters would blur 1-second windows); the line is written
// when the answer goes out, which for a host with -slow-host is the delay
// after the request arrived.
type requestLog struct {
	mu     sync.Mutex
	on     bool
	stamps []time.Time
}

// requestLineFormats are the formats pvesim.Server logs a request with
// (answered and failed); task and SSH lines are not requests.
var requestLineFormats = map[string]bool{"%s %s -> 200": true, "%s %s -> %d %s": true}

func (l *requestLog) logf(format string, _ ...any) {
	if !requestLineFormats[format] {
		return
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.on {
		l.stamps = append(l.stamps, now)
	}
}

// record starts recording afresh.
func (l *requestLog) record() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.on, l.stamps = true, nil
}

// stop ends recording and returns the timestamps, oldest first.
func (l *requestLog) stop() []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.on = false
	out := l.stamps
	l.stamps = nil
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// within counts the sorted stamps in [from, from+d).
func within(stamps []time.Time, from time.Time, d time.Duration) int {
	n := 0
	for _, t := range stamps {
		if !t.Before(from) && t.Before(from.Add(d)) {
			n++
		}
	}
	return n
}

// peakPerSecond is the most sorted stamps in any 1-second window (sliding,
// not aligned to whole seconds) that starts in [from, from+d).
func peakPerSecond(stamps []time.Time, from time.Time, d time.Duration) int {
	peak, lo := 0, 0
	for hi, t := range stamps {
		if t.Before(from) || !t.Before(from.Add(d)) {
			continue
		}
		for lo < hi && (stamps[lo].Before(from) || t.Sub(stamps[lo]) >= time.Second) {
			lo++
		}
		peak = max(peak, hi-lo+1)
	}
	return peak
}
