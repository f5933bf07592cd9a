package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/proxmox"
	"github.com/pve-operator/pve-operator/internal/proxmox/inventory"
)

type inventorySnapshot = inventory.Snapshot

// converge makes an owned container match the spec, one step per pass:
// config (one PUT with the digest), then disk growth, then power state,
// then provisioning.
func (r *ApplicationReconciler) converge(ctx context.Context, s *appScope, ct proxmox.ContainerSummary) (ctrl.Result, error) {
	app := s.app
	observe(app, ct)
	if ct.Status == "unknown" {
		s.set(progressing(v1alpha1.ReasonHostNotReady, fmt.Sprintf("node %s of container %d is not reporting (offline?)", ct.Node, ct.VMID)))
		return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
	}
	if ct.Lock != "" {
		// Proxmox is busy with the container (backup, snapshot...): wait it
		// out instead of fighting over the lock.
		return r.lockedWait(ctx, s, ct, "waiting"), nil
	}
	r.lockSeen.Delete(app.UID)
	if res, done, err := r.convergeNode(ctx, s, ct); done || err != nil {
		return res, err
	}
	pass := r.configPassDue(app, ct, s.host)
	if !pass && r.restartedSinceRead(app.UID, ct) {
		pass = true // the restart applied what was pending: see what is left
	}
	if res, done, err := r.convergeHA(ctx, s, ct, pass); done || err != nil {
		return res, err
	}
	if pass {
		if res, done, err := r.convergeConfig(ctx, s, ct); done || err != nil {
			return res, err
		}
	} else if v, ok := r.converged.Load(app.UID); ok {
		m := v.(convergeMark)
		if m.privileged && !s.tenancy.privileged() {
			s.set(s.tenancy.privilegeDenied(fmt.Sprintf("container %d", ct.VMID)))
			return ctrl.Result{}, nil
		}
		// From memory, not from status: the cached object may predate the
		// status write of the pass that read Proxmox' pending list.
		s.restartRequired = r.pendingAfterStop(app.UID, m, ct)
	}
	if res, done := r.convergePool(ctx, s, ct); done {
		return res, nil
	}
	if res, done, err := r.convergePower(ctx, s, ct); done || err != nil {
		return res, err
	}
	if res, done, err := r.convergeTemplate(ctx, s, ct); done || err != nil {
		return res, err
	}
	if ct.Status == "running" && hasNetwork(app) && (len(app.Status.IPAddresses) == 0 || pass) {
		r.observeIPs(ctx, s, ct)
	}
	if res, done := r.reconcileProvision(ctx, s, ct); done {
		return res, nil
	}
	if v, ok := r.converged.Load(app.UID); ok {
		m := v.(convergeMark)
		m.generation = app.Generation
		r.converged.Store(app.UID, m)
	}
	s.settled = true
	msg := fmt.Sprintf("container %d is %s on %s", ct.VMID, ct.Status, ct.Node)
	if len(s.restartRequired) > 0 {
		msg += fmt.Sprintf("; restart it to apply %s", strings.Join(s.restartRequired, ", "))
	}
	s.set(readyOutcome(v1alpha1.ReasonReconciled, msg))
	if ct.Status == "running" && len(app.Status.IPAddresses) == 0 && len(app.Spec.Network) > 0 {
		// A DHCP lease arrives some seconds after start.
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}
	// Settled: no timer. Inventory changes wake it, and the host's read
	// pacer when its drift read is due.
	r.scheduleDrift(s)
	return ctrl.Result{}, nil
}

// inventoryTags is what the tags should read in the inventory once converged.
func inventoryTags(app *v1alpha1.Application, ct proxmox.ContainerSummary) []string {
	if app.Spec.Tags == nil {
		return ct.Tags
	}
	return lxcconfig.WithOwner(app.Spec.Tags, string(app.UID))
}

func (r *ApplicationReconciler) convergeConfig(ctx context.Context, s *appScope, ct proxmox.ContainerSummary) (ctrl.Result, bool, error) {
	app := s.app
	c := s.host.Client
	cfg, err := c.ContainerConfig(ctx, ct.Node, ct.VMID, false)
	if err != nil {
		return ctrl.Result{}, true, err
	}
	env, o, ok := r.resolveEnv(ctx, app)
	if !ok {
		s.set(o)
		return ctrl.Result{}, true, nil
	}
	app.Status.Config = observedConfig(cfg)
	maskSecretEnv(app.Status.Config, env)
	privileged := cfg["unprivileged"] != "1" // PVE's default is privileged
	if privileged && !s.tenancy.privileged() {
		s.set(s.tenancy.privilegeDenied(fmt.Sprintf("container %d", ct.VMID)))
		return ctrl.Result{}, true, nil
	}
	if want := declaredUsage(app); want.grows(configUsage(cfg)) {
		if o, ok, err := r.quota.check(ctx, r.Client, s.tenancy, app, want, false); !ok || err != nil {
			s.set(o)
			return ctrl.Result{RequeueAfter: time.Minute}, true, err
		}
	}
	ch := lxcconfig.Diff(app, cfg, env.vars)
	for _, n := range ch.Notes {
		r.eventOnce(s, "NotApplied", n)
	}
	if o, ok := validSpec(lxcconfig.ValidateUpdate(ch.Set, ch.Delete)); !ok {
		s.set(o)
		return ctrl.Result{}, true, nil
	}
	// Root-only keys are judged before anything is sent.
	via, more, o, ok := configStep(s, ct, cfg, &ch)
	if !ok {
		s.set(o)
		return ctrl.Result{}, true, nil
	}
	if len(ch.Set) > 0 || len(ch.Delete) > 0 {
		if res, done := r.applyConfig(ctx, s, ct, via, ch, cfg.Digest(), more); done {
			return res, true, nil
		}
	}
	if len(ch.Resizes) > 0 {
		rs := ch.Resizes[0]
		if res, done, err := r.repairPendingSize(ctx, s, ct, rs, cfg.Digest()); done || err != nil {
			return res, true, err
		}
		upid, err := c.ResizeDisk(ctx, ct.Node, ct.VMID, rs.Disk, rs.Size)
		res, err := r.started(s, upid, err, v1alpha1.ReasonResizing, fmt.Sprintf("growing %s of container %d to %s", rs.Disk, ct.VMID, rs.Size))
		return res, true, err
	}
	s.restartRequired = nil
	if ct.Status == "running" {
		// A stopped container has nothing pending: it starts with its config.
		pending, err := c.Pending(ctx, ct.Node, ct.VMID)
		if err != nil {
			return ctrl.Result{}, true, err
		}
		s.restartRequired = pendingKeys(pending)
	}
	// The config matches this generation: later passes (after a start,
	// say) need not read it again until the spec changes or drift is due.
	r.converged.Store(app.UID, convergeMark{generation: app.Generation, at: time.Now(), restartKeys: s.restartRequired, privileged: privileged})
	return ctrl.Result{}, false, nil
}

// applyConfig sends one config PUT (with the digest of the config ch was
// computed from) through via, the token's client or root@pam's. done means
// the pass ends here: the PUT failed or was refused, or more must follow
// against the new digest (the root-only rest, or an unusedN a detach left
// that detachedVolumes Delete destroys).
func (r *ApplicationReconciler) applyConfig(ctx context.Context, s *appScope, ct proxmox.ContainerSummary, via proxmox.Client, ch lxcconfig.Changes, digest string, more bool) (ctrl.Result, bool) {
	app := s.app
	err := via.UpdateContainerConfig(ctx, ct.Node, ct.VMID, proxmox.ConfigUpdate{Set: ch.Set, Delete: ch.Delete, Digest: digest})
	s.host.markMutation(app.UID)
	switch {
	case proxmox.IsDigestMismatch(err):
		// Someone edited the config since we read it: read it again.
		return ctrl.Result{RequeueAfter: requeueSoon}, true
	case proxmox.IsLocked(err) || proxmox.IsLockTimeout(err):
		// The listing predates the lock: judge it as one seen there.
		if ct.Lock == "" {
			ct.Lock = "unknown"
		}
		return r.lockedWait(ctx, s, ct, "waiting to apply "+strings.Join(ch.Keys(), ", ")), true
	case err != nil:
		s.set(progressing(v1alpha1.ReasonUpdating, fmt.Sprintf("applying %s to container %d failed: %v", strings.Join(ch.Keys(), ", "), ct.VMID, err)))
		return ctrl.Result{RequeueAfter: 30 * time.Second}, true
	}
	r.event(app, corev1.EventTypeNormal, v1alpha1.ReasonUpdating, fmt.Sprintf("applied %s to container %d", strings.Join(ch.Keys(), ", "), ct.VMID))
	r.Hosts.RequestRefresh(s.host.Name)
	if more || lxcconfig.LeavesUnusedToDestroy(app, ch) {
		return ctrl.Result{RequeueAfter: requeueSoon}, true
	}
	return ctrl.Result{}, false
}

// pendingKeys lists the keys Proxmox will change at the next restart.
func pendingKeys(pending []proxmox.PendingChange) []string {
	var keys []string
	for _, p := range pending {
		if p.Delete || (p.Pending != "" && p.Pending != p.Value) {
			keys = append(keys, p.Key)
		}
	}
	sort.Strings(keys)
	return keys
}

// convergePower starts or shuts down the container to match powerState.
func (r *ApplicationReconciler) convergePower(ctx context.Context, s *appScope, ct proxmox.ContainerSummary) (ctrl.Result, bool, error) {
	if res, done, viaHA := r.powerViaHA(s, ct); viaHA {
		return res, done, nil
	}
	app := s.app
	want := app.Spec.PowerState
	if want == "" {
		want = v1alpha1.PowerStateRunning
	}
	switch {
	case want == v1alpha1.PowerStateRunning && ct.Status == "stopped":
		upid, err := s.host.Client.StartContainer(ctx, ct.Node, ct.VMID)
		if proxmox.IsAlreadyRunning(err) {
			r.Hosts.RequestRefresh(s.host.Name)
			return ctrl.Result{RequeueAfter: minRefreshGap}, true, nil
		}
		res, err := r.started(s, upid, err, v1alpha1.ReasonStarting, fmt.Sprintf("starting container %d on %s", ct.VMID, ct.Node))
		return res, true, err
	case want == v1alpha1.PowerStateStopped && ct.Status == "running":
		upid, err := s.host.Client.ShutdownContainer(ctx, ct.Node, ct.VMID, proxmox.ShutdownOptions{Timeout: 60, Force: true})
		if proxmox.IsNotRunning(err) {
			r.Hosts.RequestRefresh(s.host.Name)
			return ctrl.Result{RequeueAfter: minRefreshGap}, true, nil
		}
		res, err := r.started(s, upid, err, v1alpha1.ReasonStopping, fmt.Sprintf("shutting down container %d on %s", ct.VMID, ct.Node))
		return res, true, err
	}
	return ctrl.Result{}, false, nil
}

// hasNetwork says whether the container may have addresses worth a call:
// declared interfaces, or an adopted container's own.
func hasNetwork(app *v1alpha1.Application) bool {
	return len(app.Spec.Network) > 0 || app.Spec.Adopt
}

// observe copies what the inventory shows into status.
func observe(app *v1alpha1.Application, ct proxmox.ContainerSummary) {
	st := &app.Status
	st.VMID = int32(ct.VMID)
	st.Node = ct.Node
	switch ct.Status {
	case "running":
		st.State = v1alpha1.ContainerStateRunning
	case "stopped":
		st.State = v1alpha1.ContainerStateStopped
		st.IPAddresses = nil
	default:
		st.State = v1alpha1.ContainerStateUnknown
	}
	u := &v1alpha1.Usage{MemoryTotal: bytesQuantity(ct.MaxMem), DiskTotal: bytesQuantity(ct.MaxDisk)}
	if ct.Status == "running" {
		u.CPU = fmt.Sprintf("%.2f", ct.CPU)
		u.MemoryUsed = bytesQuantity(ct.Mem)
		u.DiskUsed = bytesQuantity(ct.Disk)
	}
	st.Usage = u
	st.Activity = ""
	st.Template = ct.Template
	st.Pool = ct.Pool
}

// observeIPs reads the container's addresses (one call, only when needed).
func (r *ApplicationReconciler) observeIPs(ctx context.Context, s *appScope, ct proxmox.ContainerSummary) {
	ifs, err := s.host.Client.Interfaces(ctx, ct.Node, ct.VMID)
	if err != nil {
		return
	}
	var v4, v6 []string
	for _, i := range ifs {
		if i.Name == "lo" {
			continue
		}
		for _, a := range i.IPAddresses {
			if a.Type == "inet" {
				v4 = append(v4, a.Address)
			} else if !strings.HasPrefix(strings.ToLower(a.Address), "fe80") {
				v6 = append(v6, a.Address)
			}
		}
		if len(i.IPAddresses) == 0 && i.Inet != "" {
			v4 = append(v4, strings.Split(i.Inet, "/")[0])
		}
	}
	s.app.Status.IPAddresses = append(v4, v6...)
}

// restartPendingPrefix starts the RestartRequired message; the keys follow.
const restartPendingPrefix = "pending until the next restart: "

func setRestartRequired(app *v1alpha1.Application, keys []string) {
	if len(keys) == 0 {
		meta.RemoveStatusCondition(&app.Status.Conditions, v1alpha1.ConditionRestartRequired)
		return
	}
	meta.SetStatusCondition(&app.Status.Conditions, metav1.Condition{
		Type: v1alpha1.ConditionRestartRequired, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonRestartRequired,
		Message: restartPendingPrefix + strings.Join(keys, ", "), ObservedGeneration: app.Generation,
	})
}

// restartKeysOf reads back the keys setRestartRequired recorded, so a
// restarted operator keeps reporting them until it reads the config.
func restartKeysOf(app *v1alpha1.Application) []string {
	c := meta.FindStatusCondition(app.Status.Conditions, v1alpha1.ConditionRestartRequired)
	if c == nil || c.Status != metav1.ConditionTrue || !strings.HasPrefix(c.Message, restartPendingPrefix) {
		return nil
	}
	return strings.Split(strings.TrimPrefix(c.Message, restartPendingPrefix), ", ")
}
