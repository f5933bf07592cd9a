package controllers

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"

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

// configPassDue says whether this pass reads the container's config.
// Reads the user is waiting for go at once: after a spec change, when the
// operator's tags are not (yet) right, and while this process has never
// read the container (a create, an adoption). The others go through the
// host's read pacer: the periodic drift read, and after a restart the
// first read of an Application whose status says it was settled (trusted
// until then; a spec changed meanwhile is read first, one changed since it
// started at once). A pass that does not
// read leaves the Application queued there, so it needs no requeue.
func (r *ApplicationReconciler) configPassDue(app *v1alpha1.Application, ct proxmox.ContainerSummary, host *HostEntry) bool {
	m, ok := r.mark(app, ct)
	if !ok {
		return true
	}
	stale := m.generation != app.Generation || !lxcconfig.OwnedBy(ct.Tags, string(app.UID)) ||
		lxcconfig.JoinTags(ct.Tags) != lxcconfig.JoinTags(inventoryTags(app, ct))
	if stale && (!m.trusted || app.Generation != m.seenGeneration) {
		return true
	}
	key := types.NamespacedName{Namespace: app.Namespace, Name: app.Name}
	return r.pacer(host).ask(app.UID, key, stale, m.at.Add(r.driftInterval()))
}

// scheduleDrift queues a settled Application's next drift read.
func (r *ApplicationReconciler) scheduleDrift(s *appScope) {
	m, ok := r.mark(s.app, proxmox.ContainerSummary{})
	if !ok || m.trusted {
		return // queued when it was trusted, or never read
	}
	key := types.NamespacedName{Namespace: s.app.Namespace, Name: s.app.Name}
	r.pacer(s.host).ask(s.app.UID, key, false, m.at.Add(r.driftInterval()))
}

// mark is what the last config pass left, or after a restart what the
// Application's status says it left: a container the status names and the
// operator owns, at a generation the status reports Ready, is trusted
// until its first paced read; one not Ready then must be read, paced too.
// ct zero means "do not seed".
func (r *ApplicationReconciler) mark(app *v1alpha1.Application, ct proxmox.ContainerSummary) (convergeMark, bool) {
	if v, ok := r.converged.Load(app.UID); ok {
		return v.(convergeMark), true
	}
	st := app.Status
	if ct.VMID == 0 || st.ObservedGeneration == 0 || int(st.VMID) != ct.VMID || !lxcconfig.OwnedBy(ct.Tags, string(app.UID)) {
		return convergeMark{}, false
	}
	m := convergeMark{trusted: true, seenGeneration: app.Generation, restartKeys: restartKeysOf(app)}
	if meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionReady) {
		m.generation = st.ObservedGeneration
	}
	// PVE's default is privileged; a status that never recorded the config
	// is read before anything relies on it, as it is not Ready.
	m.privileged = st.Config != nil && st.Config["unprivileged"] != "1"
	r.converged.Store(app.UID, m)
	return m, true
}

func (r *ApplicationReconciler) driftInterval() time.Duration {
	if r.DriftInterval > 0 {
		return r.DriftInterval
	}
	return DefaultDriftInterval
}

// pacer is the host's read pacer; it lives on the host's entry, so it goes
// with the host. It wakes Applications through the controller's wake-ups.
func (r *ApplicationReconciler) pacer(host *HostEntry) *readPacer {
	rps := r.DriftReadsPerSecond
	if rps <= 0 {
		rps = DefaultDriftReadsPerSecond
	}
	return host.readPacer(rps, func(key types.NamespacedName) { r.wake <- key })
}
