package controllers

import (
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// A Restore holds the Application controller off the container it
// overwrites: between stopping the container and PVE locking it for the
// restore there is no lock, and the Application controller would start it
// again. The hold lives on the host's entry, which both controllers share.

// holdForRestore keeps the Application controller away from uid's container
// until `until` (or releaseFromRestore). The Application reports Restoring
// meanwhile, and no listing taken before `until` counts as fresh.
func (e *HostEntry) holdForRestore(uid types.UID, until time.Time) {
	e.apps.update(uid, func(a *appRecord) {
		a.heldUntil = until
		a.mutated = until
	})
}

// releaseFromRestore ends a hold: the next listing counts, and the config is
// read and converged again (a restore replaced it with the backup's).
func (e *HostEntry) releaseFromRestore(uid types.UID) {
	e.apps.update(uid, func(a *appRecord) {
		a.heldUntil = time.Time{}
		a.mutated = time.Now()
		a.restored = true
	})
}

// restoreHold reports whether a Restore holds uid's container, and whether
// one released it since the last call.
func (e *HostEntry) restoreHold(uid types.UID) (held, released bool) {
	e.apps.mu.Lock()
	defer e.apps.mu.Unlock()
	a, ok := e.apps.apps[uid]
	if !ok {
		return false, false
	}
	released, a.restored = a.restored, false
	return time.Now().Before(a.heldUntil), released
}

// heldByRestore reports whether a Restore holds the Application's container.
// After a Restore let it go, the remembered config pass is replaced by one
// of no generation, so the next pass reads the restored config at once.
func (r *ApplicationReconciler) heldByRestore(s *appScope) bool {
	held, released := s.host.restoreHold(s.app.UID)
	if released {
		r.converged.Store(s.app.UID, convergeMark{})
	}
	return held
}
