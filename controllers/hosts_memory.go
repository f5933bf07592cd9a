package controllers

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// appMemory is what the controllers remember between passes about the
// Applications on one host. It belongs to the host's entry, which the
// Application and Restore controllers share, so it goes when the host is
// forgotten; each Application's part goes when its deletion is done
// (forgetApp). A client rebuilt for new credentials keeps it: the
// containers did not change.
type appMemory struct {
	mu   sync.Mutex
	apps map[types.UID]*appRecord
	// reads paces the host's drift reads and the first reads after a
	// restart (see configPassDue).
	reads *readPacer
	// slots caps the Application reconciles the host holds at once.
	slots hostSlots
}

// appRecord is what is remembered about one Application's container.
type appRecord struct {
	// mutated is when the operator last changed the container, so decisions
	// are taken on an inventory listed after that change, never on one that
	// predates it.
	mutated time.Time
	// heldUntil is when a Restore's hold on the container lapses.
	heldUntil time.Time
	// restored says a Restore let the container go since the Application
	// controller last looked: the config was replaced and must be read again.
	restored bool
	// noted holds the warnings already recorded, each recorded once.
	noted map[string]struct{}
}

// update runs f on uid's record, creating it.
func (m *appMemory) update(uid types.UID, f func(*appRecord)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.apps == nil {
		m.apps = map[types.UID]*appRecord{}
	}
	a, ok := m.apps[uid]
	if !ok {
		a = &appRecord{}
		m.apps[uid] = a
	}
	f(a)
}

// read returns a copy of uid's record (zero if there is none).
func (m *appMemory) read(uid types.UID) appRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a, ok := m.apps[uid]; ok {
		return *a
	}
	return appRecord{}
}

// markMutation records that the operator just changed uid's container.
func (e *HostEntry) markMutation(uid types.UID) {
	e.apps.update(uid, func(a *appRecord) { a.mutated = time.Now() })
}

// freshEnough reports whether an inventory listed at listed postdates the
// operator's last change to uid's container.
func (e *HostEntry) freshEnough(uid types.UID, listed time.Time) bool {
	a := e.apps.read(uid)
	return a.mutated.IsZero() || listed.After(a.mutated)
}

// noteOnce reports whether msg is new for uid, and remembers it.
func (e *HostEntry) noteOnce(uid types.UID, msg string) bool {
	fresh := false
	e.apps.update(uid, func(a *appRecord) {
		if _, seen := a.noted[msg]; seen {
			return
		}
		if a.noted == nil {
			a.noted = map[string]struct{}{}
		}
		a.noted[msg] = struct{}{}
		fresh = true
	})
	return fresh
}

// forgetApp drops everything remembered about uid, once its Application's
// deletion is done.
func (e *HostEntry) forgetApp(uid types.UID) {
	e.apps.mu.Lock()
	reads := e.apps.reads
	delete(e.apps.apps, uid)
	e.apps.mu.Unlock()
	if reads != nil {
		reads.forget(uid)
	}
}

// readPacer is the host's paced read schedule, made at rps on first use;
// it wakes Applications through wake.
func (e *HostEntry) readPacer(rps float64, wake func(types.NamespacedName)) *readPacer {
	e.apps.mu.Lock()
	defer e.apps.mu.Unlock()
	if e.apps.reads == nil {
		e.apps.reads = newReadPacer(rps, wake)
	}
	return e.apps.reads
}

// stopReads stops the host's read schedule when the host is forgotten.
func (m *appMemory) stopReads() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.reads != nil {
		m.reads.close()
	}
}
