package controllers

import (
	"time"

	"golang.org/x/time/rate"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/proxmox"
)

const (
	// DefaultDriftInterval is how often a settled Application re-reads its
	// container's config to detect edits made in Proxmox. Inventory events
	// (status, tags, name, lock, node) wake it sooner; the config read is
	// the only per-object call in steady state.
	DefaultDriftInterval = 10 * time.Minute
	// DefaultDriftReadsPerSecond caps those re-reads per host, so that the
	// steady-state load on Proxmox does not grow with the number of
	// Applications: with N of them each is re-read every
	// max(drift interval, N / rate).
	DefaultDriftReadsPerSecond = 1.0
)

// configPassDue says whether this pass reads the container's config: after
// a spec change, when the operator's tags are not (yet) right, and when a
// drift check is due and its slot in the host's drift budget has come.
// Otherwise it returns how long until the next drift read.
func (r *ApplicationReconciler) configPassDue(app *v1alpha1.Application, ct proxmox.ContainerSummary, host *HostEntry) (bool, time.Duration) {
	v, ok := r.converged.Load(app.UID)
	if !ok {
		return true, 0
	}
	m := v.(convergeMark)
	if m.generation != app.Generation || !lxcconfig.OwnedBy(ct.Tags, string(app.UID)) ||
		lxcconfig.JoinTags(ct.Tags) != lxcconfig.JoinTags(inventoryTags(app, ct)) {
		return true, 0
	}
	interval := r.DriftInterval
	if interval <= 0 {
		interval = DefaultDriftInterval
	}
	now := time.Now()
	if age := now.Sub(m.at); age <= interval {
		return false, interval - age
	}
	if !m.driftSlot.IsZero() {
		if !now.Before(m.driftSlot) {
			return true, 0
		}
		return false, m.driftSlot.Sub(now)
	}
	// Reserve the next free slot of the host's budget and come back then;
	// the reservation is kept in memory, so passes woken in between (an
	// inventory event) do not take another one.
	d := r.driftLimiter(host).Reserve().Delay()
	if d == 0 {
		return true, 0
	}
	m.driftSlot = now.Add(d)
	r.converged.Store(app.UID, m)
	return false, d
}

// driftLimiter is the host's drift budget; it lives on the host's entry, so
// it goes with the host.
func (r *ApplicationReconciler) driftLimiter(host *HostEntry) *rate.Limiter {
	rps := r.DriftReadsPerSecond
	if rps <= 0 {
		rps = DefaultDriftReadsPerSecond
	}
	return host.driftLimiter(rps)
}
