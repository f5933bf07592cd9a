package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/proxmox"
)

const (
	// migrateShutdownTimeout is how long a restart migration waits for the
	// container to shut down (PVE's default for migrate is 180 s).
	migrateShutdownTimeout = 180
	// migrationRecheck is how soon a blocked migration looks at Proxmox
	// again by itself: a blocker removed there (not in the spec) wakes
	// nothing, and the checks are reads only.
	migrationRecheck = 10 * time.Minute
)

// convergeNode moves the container to spec.node when that names another
// node than the one it is on: a restart migration when it runs, an
// offline one when it is stopped. Its VMID stays; it is never recreated.
// A container HA manages is placed by HA and only followed. done is true
// when this pass must end here.
func (r *ApplicationReconciler) convergeNode(ctx context.Context, s *appScope, ct proxmox.ContainerSummary) (ctrl.Result, bool, error) {
	app := s.app
	target := app.Spec.Node
	if target == "" || target == ct.Node {
		r.migrations.reset(app.UID)
		return ctrl.Result{}, false, nil
	}
	if haPlaced(app, ct) {
		r.eventOnce(s, "NotApplied", fmt.Sprintf("spec.node %s is not applied: HA manages container %d and has placed it on %s", target, ct.VMID, ct.Node))
		return ctrl.Result{}, false, nil
	}
	if o, wait, ok := r.migrations.pending(app.UID, app.Generation, target, r.now()); ok {
		// Restated without asking Proxmox again: a failed or blocked
		// migration needs a person (or, when blocked, the slow recheck).
		s.set(o)
		return ctrl.Result{RequeueAfter: wait}, true, nil
	}
	if o, ok, err := r.migrationAllowed(ctx, s, ct, target); !ok || err != nil {
		s.set(o)
		if o.stalled {
			r.migrations.record(app.UID, app.Generation, target, o, r.now().Add(migrationRecheck))
			return ctrl.Result{RequeueAfter: migrationRecheck}, true, err
		}
		return ctrl.Result{RequeueAfter: 30 * time.Second}, true, err
	}
	opts, how := proxmox.MigrateOptions{}, "offline"
	if ct.Status == "running" {
		opts, how = proxmox.MigrateOptions{Restart: true, Timeout: migrateShutdownTimeout}, "restart migration"
	}
	upid, err := s.host.Client.MigrateContainer(ctx, ct.Node, ct.VMID, target, opts)
	msg := fmt.Sprintf("migrating container %d from %s to %s (%s)", ct.VMID, ct.Node, target, how)
	if err != nil && !proxmox.IsOutcomeUnknown(err) && classifyFailure(err) == failureNeedsPerson {
		o := stalled(v1alpha1.ReasonMigrationBlocked, fmt.Sprintf("Proxmox refused to migrate container %d from %s to %s: %v", ct.VMID, ct.Node, target, err))
		s.set(o)
		r.migrations.record(app.UID, app.Generation, target, o, time.Time{})
		return ctrl.Result{}, true, nil
	}
	res, err := r.started(s, upid, err, v1alpha1.ReasonMigrating, msg)
	return res, true, err
}

// haPlaced reports whether HA, not spec.node, decides where the container
// runs: spec.ha asks for it, or HA already manages the container.
func haPlaced(app *v1alpha1.Application, ct proxmox.ContainerSummary) bool {
	return (app.Spec.HA != nil && app.Spec.HA.State != "ignored") || (ct.HAState != "" && ct.HAState != "ignored")
}

// migrationAllowed checks before anything is sent what would make the
// migration fail: the target is a known, online node, PVE's preconditions
// (GET .../migrate) allow it, and nothing in the config ties the container
// to its node. ok is false with the outcome to report.
func (r *ApplicationReconciler) migrationAllowed(ctx context.Context, s *appScope, ct proxmox.ContainerSummary, target string) (outcome, bool, error) {
	snap := s.host.Inventory.Snapshot()
	node, known := snapNode(snap, target)
	switch {
	case !known:
		return stalled(v1alpha1.ReasonMigrationBlocked, fmt.Sprintf("container %d cannot move to %s: host %q has no such node", ct.VMID, target, s.host.Name)), false, nil
	case !node.Online():
		return progressing(v1alpha1.ReasonMigrationBlocked, fmt.Sprintf("container %d waits to move to %s: the node is not online", ct.VMID, target)), false, nil
	}
	c := s.host.Client
	pre, err := c.MigratePreconditions(ctx, ct.Node, ct.VMID, target)
	if err != nil {
		return outcome{}, false, err
	}
	cfg, err := c.ContainerConfig(ctx, ct.Node, ct.VMID, false)
	if err != nil {
		return outcome{}, false, err
	}
	var blockers []string
	if !pre.Allows(target) {
		blockers = append(blockers, haBlockers(pre, target))
	}
	blockers = append(blockers, proxmox.MigrationBlockers(cfg, snap.Storages, ct.Node, target)...)
	if len(blockers) > 0 {
		return stalled(v1alpha1.ReasonMigrationBlocked, fmt.Sprintf(
			"container %d cannot move from %s to %s: %s; nothing was sent to Proxmox (remove what ties it to %s, or set spec.node back to %s)",
			ct.VMID, ct.Node, target, strings.Join(blockers, "; "), ct.Node, ct.Node)), false, nil
	}
	return outcome{}, true, nil
}

// haBlockers says why PVE's preconditions do not list target.
func haBlockers(pre proxmox.MigratePreconditions, target string) string {
	bs := pre.NotAllowedNodes[target]
	if len(bs) == 0 {
		return fmt.Sprintf("Proxmox does not list %s among the nodes it may go to", target)
	}
	parts := make([]string, 0, len(bs))
	for _, b := range bs {
		parts = append(parts, fmt.Sprintf("%s (%s)", b.SID, b.Cause))
	}
	sort.Strings(parts)
	return fmt.Sprintf("HA resources keep it off %s: %s", target, strings.Join(parts, ", "))
}

// snapNode finds a node of the inventory by name.
func snapNode(snap *inventorySnapshot, name string) (proxmox.Node, bool) {
	for _, n := range snap.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return proxmox.Node{}, false
}

// migrationFailed ends the pass of a failed vzmigrate task. A failed
// migration is not repeated by itself: a restart migration shuts the
// container down before some of PVE's checks, so each attempt costs
// downtime. It waits for a change of the spec; a transient failure (a
// lock, a lost connection) is retried.
func (r *ApplicationReconciler) migrationFailed(s *appScope, st proxmox.TaskStatus) time.Duration {
	app := s.app
	msg := fmt.Sprintf("migrating container %d to %s failed: %s", app.Status.VMID, app.Spec.Node, st.ExitStatus)
	if proxmox.IsTransient(st.Err) {
		s.set(progressing(v1alpha1.ReasonMigrationFailed, msg+"; retrying"))
		return 30 * time.Second
	}
	o := stalled(v1alpha1.ReasonMigrationFailed, msg+"; the task log in Proxmox says why; change the spec to try again")
	s.set(o)
	r.migrations.record(app.UID, app.Generation, app.Spec.Node, o, time.Time{})
	return 0
}

// migrationFailures remembers, per Application, a migration that failed
// or is blocked for one generation and target, so later passes restate it
// instead of trying again. In memory: a restart costs one more check.
type migrationFailures struct{ m sync.Map } // UID -> migrationFailure

type migrationFailure struct {
	generation int64
	target     string
	outcome    outcome
	// recheck is when to look again by itself (zero: only on a spec change).
	recheck time.Time
}

func (f *migrationFailures) record(uid types.UID, generation int64, target string, o outcome, recheck time.Time) {
	f.m.Store(uid, migrationFailure{generation: generation, target: target, outcome: o, recheck: recheck})
}

// pending returns the remembered outcome while it still applies, and how
// long until the recheck (0: none).
func (f *migrationFailures) pending(uid types.UID, generation int64, target string, now time.Time) (outcome, time.Duration, bool) {
	v, ok := f.m.Load(uid)
	if !ok {
		return outcome{}, 0, false
	}
	mf := v.(migrationFailure)
	if mf.generation != generation || mf.target != target || (!mf.recheck.IsZero() && !now.Before(mf.recheck)) {
		f.m.Delete(uid)
		return outcome{}, 0, false
	}
	if mf.recheck.IsZero() {
		return mf.outcome, 0, true
	}
	return mf.outcome, mf.recheck.Sub(now), true
}

func (f *migrationFailures) reset(uid types.UID) { f.m.Delete(uid) }
