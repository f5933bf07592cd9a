package controllers

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// takeHostSlot takes one of the pass's host's slots, or queues the
// Application for one. release gives it back and wakes the next in line.
func (r *ApplicationReconciler) takeHostSlot(s *appScope) (release func(), ok bool) {
	slots := &s.host.apps.slots
	key := types.NamespacedName{Namespace: s.app.Namespace, Name: s.app.Name}
	if !slots.acquire(key, hostSlotLimit(r.workers, r.Hosts.Len())) {
		return nil, false
	}
	return func() {
		next, ok := slots.release()
		if !ok || r.wake == nil {
			return
		}
		// Its place in line is gone: the wake must not be dropped.
		deliver(r.wake, next)
	}, true
}

// hostSlots caps the Application reconciles one host holds at once. A
// pass blocks its worker for every Proxmox request it makes (and while it
// waits for the host's request budget or mutation slots), so a cluster
// that answers in seconds, or not at all, would otherwise soon hold every
// worker and stall the healthy clusters' Applications behind it. Those
// over the cap wait in order, cost nothing, and are woken when a slot
// frees.
type hostSlots struct {
	mu      sync.Mutex
	busy    int
	waiting []types.NamespacedName
	queued  map[types.NamespacedName]bool
}

// acquire takes a slot for key when fewer than limit are busy; otherwise
// key waits for release to wake it.
func (h *hostSlots) acquire(key types.NamespacedName, limit int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.busy < limit {
		h.busy++
		return true
	}
	if h.queued == nil {
		h.queued = map[types.NamespacedName]bool{}
	}
	if !h.queued[key] {
		h.queued[key] = true
		h.waiting = append(h.waiting, key)
	}
	return false
}

// release frees a slot and says who waited longest for one, if anyone.
func (h *hostSlots) release() (types.NamespacedName, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.busy--
	if len(h.waiting) == 0 {
		return types.NamespacedName{}, false
	}
	next := h.waiting[0]
	h.waiting = h.waiting[1:]
	delete(h.queued, next)
	return next, true
}

// hostSlotLimit is how many of workers one host may hold: all of them when
// the operator talks to one host, half when there are others to be fair to.
func hostSlotLimit(workers, hosts int) int {
	if hosts <= 1 || workers <= 1 {
		return max(workers, 1)
	}
	return (workers + 1) / 2
}
