package controllers

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/proxmox"
	"github.com/pve-operator/pve-operator/internal/pveparams"
	"github.com/pve-operator/pve-operator/internal/redact"
)

// pollTask checks the recorded task, if any. done is true when this pass
// must end here (the task still runs, or its end needs a fresh inventory).
func (r *ApplicationReconciler) pollTask(ctx context.Context, s *appScope) (ctrl.Result, bool, error) {
	app := s.app
	ref := app.Status.Task
	if ref == nil {
		return ctrl.Result{}, false, nil
	}
	res, st, err := checkTask(ctx, s.host.Client, ref)
	if err != nil {
		return ctrl.Result{}, true, err
	}
	switch res {
	case taskRunning:
		s.set(taskInFlight(ref, app.Status.VMID, taskReason(ref.Type), r.TaskDeadline, time.Now()))
		return ctrl.Result{RequeueAfter: pollAfter(ref, time.Now())}, true, nil
	case taskFailed:
		app.Status.Task = nil
		s.host.markMutation(app.UID)
		if createTaskType(ref.Type) && proxmox.IsWorkerVanished(st.Err) {
			return r.createVanished(s, ref), true, nil
		}
		if createTaskType(ref.Type) {
			// PVE removed the half-created container itself. The VMID stays
			// recorded: the retry reuses it (allocateVMID re-checks it is
			// still free), so failed attempts touch one VMID only.
			msg := fmt.Sprintf("creating container %d failed: %s", app.Status.VMID, st.ExitStatus)
			return ctrl.Result{RequeueAfter: r.createFailed(s, st.Err, msg)}, true, nil
		}
		if ref.Type == "vzmigrate" {
			return ctrl.Result{RequeueAfter: r.migrationFailed(s, st)}, true, nil
		}
		s.set(progressing(v1alpha1.ReasonTaskFailed, fmt.Sprintf("%s of container %d failed: %s", taskVerb(ref.Type), app.Status.VMID, st.ExitStatus)))
		return ctrl.Result{RequeueAfter: 30 * time.Second}, true, nil
	}
	// Succeeded or lost: the container's state says what happened. Wait for
	// an inventory listing taken after the task ended.
	app.Status.Task = nil
	s.host.markMutation(app.UID)
	r.Hosts.RequestRefresh(s.host.Name)
	s.set(progressing(taskReason(ref.Type), fmt.Sprintf("%s of container %d finished", taskVerb(ref.Type), app.Status.VMID)))
	return ctrl.Result{RequeueAfter: minRefreshGap + 500*time.Millisecond}, true, nil
}

// findOrCreate returns the Application's container from the inventory, or
// starts creating it. ok is false when this pass must end.
func (r *ApplicationReconciler) findOrCreate(ctx context.Context, s *appScope) (proxmox.ContainerSummary, ctrl.Result, bool, error) {
	app := s.app
	if o, wait, ok := r.createFailures.pending(app.UID, createInputsOf(s), r.now()); ok {
		// The status write of the failure wakes us at once: restate the
		// verdict (no new event) and wait out the backoff. A failed create
		// left no container of ours to look for in the meantime.
		s.set(o)
		return proxmox.ContainerSummary{}, ctrl.Result{RequeueAfter: wait}, false, nil
	}
	snap := s.host.Inventory.Snapshot()
	if !s.host.freshEnough(app.UID, snap.Time) {
		r.Hosts.RequestRefresh(s.host.Name)
		return proxmox.ContainerSummary{}, ctrl.Result{RequeueAfter: minRefreshGap}, false, nil
	}
	vmid := int(app.Status.VMID)
	if vmid == 0 && app.Spec.VMID != nil {
		vmid = int(*app.Spec.VMID)
	}
	if vmid == 0 {
		// Crash recovery: a create whose status write was lost is found by
		// the ownership tag written in the same create call (never a clone
		// of ours that still carries the tag: see recoverOwned).
		var err error
		if vmid, err = r.recoverOwned(ctx, s, snap); err != nil {
			return proxmox.ContainerSummary{}, ctrl.Result{}, false, err
		}
	}
	if ct, found := snap.Containers[vmid]; vmid != 0 && found {
		if cloning(app, ct) {
			return r.claimClone(ctx, s, ct)
		}
		return r.claim(ctx, s, ct)
	}
	if app.Spec.Adopt {
		reason, what := v1alpha1.ReasonContainerNotFound, "no container with VMID %d exists on host %q to adopt"
		if app.Status.Adopted {
			reason, what = v1alpha1.ReasonContainerMissing, "adopted container %d was deleted outside the operator on host %q; adopted containers are not recreated"
		}
		s.set(stalled(reason, fmt.Sprintf(what, vmid, s.host.Name)))
		return proxmox.ContainerSummary{}, ctrl.Result{RequeueAfter: time.Minute}, false, nil
	}
	if app.Status.VMID != 0 && app.Status.State != "" {
		msg := fmt.Sprintf("container %d was deleted outside the operator; creating it again", app.Status.VMID)
		r.event(app, corev1.EventTypeWarning, v1alpha1.ReasonContainerMissing, msg)
		app.Status.State = ""
		s.set(progressing(v1alpha1.ReasonContainerMissing, msg))
		return proxmox.ContainerSummary{}, ctrl.Result{RequeueAfter: requeueSoon}, false, nil
	}
	res, err := r.create(ctx, s)
	return proxmox.ContainerSummary{}, res, false, err
}

// createFailed records a failed create (its vzcreate task, or the call
// itself) classified once: a failure that needs a person is Stalled at once,
// a transient one is retried with backoff. It returns the wait.
func (r *ApplicationReconciler) createFailed(s *appScope, err error, msg string) time.Duration {
	class := classifyFailure(err)
	o := progressing(v1alpha1.ReasonCreateFailed, msg)
	if class == failureNeedsPerson {
		o = stalled(v1alpha1.ReasonCreateFailed, msg)
	}
	s.set(o)
	return r.createFailures.record(s.app.UID, createInputsOf(s), class, o, r.now())
}

func createInputsOf(s *appScope) createInputs {
	return createInputs{generation: s.app.Generation, host: s.host.fingerprint}
}

// claim decides whether an existing container belongs to this Application.
// The operator never touches a container it does not own unless told to adopt it.
func (r *ApplicationReconciler) claim(ctx context.Context, s *appScope, ct proxmox.ContainerSummary) (proxmox.ContainerSummary, ctrl.Result, bool, error) {
	app := s.app
	owner, tagged := lxcconfig.OwnerOf(ct.Tags)
	ours := tagged && owner == string(app.UID)
	if app.Spec.Adopt && (ours || !tagged) && ct.Lock != "create" {
		// Checked on every pass, not only the first: a revoked grant stops
		// the operator from acting on the container any further.
		if o, ok := adoptionAllowed(s, ct); !ok {
			s.set(o)
			return ct, ctrl.Result{}, false, nil
		}
	}
	switch {
	case ours:
		app.Status.VMID = int32(ct.VMID)
		// The create landed: the reservation has proved all it had to.
		app.Status.VMIDReservedAt = nil
		r.createFailures.reset(app.UID)
		return ct, ctrl.Result{}, true, nil
	case tagged && app.Spec.VMID == nil && !app.Spec.Adopt:
		// Another Application's create won the VMID we had picked: pick again.
		app.Status.VMID = 0
		return ct, ctrl.Result{RequeueAfter: requeueSoon}, false, nil
	case tagged:
		s.set(stalled(v1alpha1.ReasonVMIDConflict, fmt.Sprintf("container %d is owned by another Application (uid %s)", ct.VMID, owner)))
		return ct, ctrl.Result{}, false, nil
	case ct.Lock == "create":
		return r.lockedCreate(ctx, s, ct)
	case app.Spec.Adopt:
		app.Status.VMID = int32(ct.VMID)
		if !app.Status.Adopted {
			app.Status.Adopted = true
			r.event(app, corev1.EventTypeNormal, "Adopted", fmt.Sprintf("adopting container %d on %s", ct.VMID, ct.Node))
		}
		return ct, ctrl.Result{}, true, nil
	case app.Spec.VMID == nil:
		// Someone else took the VMID we had picked before our create landed.
		app.Status.VMID = 0
		return ct, ctrl.Result{RequeueAfter: requeueSoon}, false, nil
	}
	s.set(stalled(v1alpha1.ReasonVMIDInUse, fmt.Sprintf(
		"VMID %d is used by a container this Application does not own; set adopt: true to take it over", ct.VMID)))
	return ct, ctrl.Result{}, false, nil
}

// createLockWait judges an untagged container locked "create" at the
// Application's VMID: a create in flight, perhaps ours from before a
// restart, whose tags appear when the task finishes. PVE's create worker
// removes its own half on failure, so one still locked after
// ForeignLockBound was left by a create that died with its node or
// daemon. Nothing proves it is ours, so the operator leaves it alone and
// says how to clear it.
func (r *ApplicationReconciler) createLockWait(app *v1alpha1.Application, ct proxmox.ContainerSummary) outcome {
	since := r.lockSince(app, ct.Lock)
	if r.now().Sub(since) < ForeignLockBound {
		return progressing(v1alpha1.ReasonCreating, fmt.Sprintf("container %d is being created", ct.VMID))
	}
	return stalled(v1alpha1.ReasonLocked, fmt.Sprintf(
		"container %d has been locked (create) since %s, longer than %s, and carries no owner: a create that died with its node left it behind; if nobody is creating it, remove it on node %s with `pct unlock %d && pct destroy %d` (the operator does not remove a container it cannot prove it made)",
		ct.VMID, since.UTC().Format(time.RFC3339), ForeignLockBound, ct.Node, ct.VMID, ct.VMID))
}

// adoptionAllowed checks the host's adoption grant for ct, including that
// a declared deletionPolicy Delete is granted too.
func adoptionAllowed(s *appScope, ct proxmox.ContainerSummary) (outcome, bool) {
	allowDelete, o, ok := s.tenancy.adoption(ct)
	if !ok {
		return o, false
	}
	if s.app.Spec.DeletionPolicy == v1alpha1.DeletionPolicyDelete && !allowDelete {
		return stalled(v1alpha1.ReasonAdoptionNotAllowed, fmt.Sprintf(
			"ProxmoxHost %q lets namespace %q adopt container %d but not destroy it (spec.grants[].adopt.allowDelete): use deletionPolicy Retain; nothing was touched",
			s.tenancy.host.Name, s.app.Namespace, ct.VMID)), false
	}
	return outcome{}, true
}

// create starts the vzcreate task. The VMID and node are written to status
// before the call, and the ownership tag travels in the call itself, so a
// crash at any instant leaves enough behind to find the container again.
func (r *ApplicationReconciler) create(ctx context.Context, s *appScope) (ctrl.Result, error) {
	app := s.app
	if host := s.tenancy.host; !host.DeletionTimestamp.IsZero() {
		// A host waiting for its users to go must not gain one.
		s.set(stalled(v1alpha1.ReasonHostDeleting, fmt.Sprintf(
			"ProxmoxHost %q is being deleted: no new container is created on it (containers already there are still managed)", host.Name)))
		return ctrl.Result{}, nil
	}
	if app.Spec.RestoreFrom != nil {
		return r.createFromBackup(ctx, s)
	}
	if app.Spec.CloneFrom != nil {
		return r.cloneNewContainer(ctx, s)
	}
	node, o := stagingNode(s)
	if node == "" {
		s.set(o)
		return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
	}
	// Refuse before creating anything what provisioning would refuse later.
	if o, ok := r.provisionPrerequisites(ctx, s); !ok {
		s.set(o)
		return ctrl.Result{RequeueAfter: time.Minute}, nil
	}
	from, o, ok, err := r.stageSource(ctx, s, node)
	if !ok || err != nil {
		app.Status.Node = node
		s.set(o)
		return ctrl.Result{RequeueAfter: stagingRecheck}, err
	}
	params := lxcconfig.CreateParams(app)
	params[0].Value = from.ostemplate
	via, o, ok := validCreate(s, params)
	if !ok {
		s.set(o)
		return ctrl.Result{}, nil
	}
	// Recorded before the VMID is, and so written with it: a create whose
	// status write is lost still says which digest and archive it used.
	recordImage(app, from)
	password, vmid, res, ok, err := r.reserve(ctx, s, node)
	if !ok || err != nil {
		return res, err
	}
	req := proxmox.CreateRequest{Params: withHAManaged(withPool(params, app), app), Password: password}
	upid, err := via.CreateContainer(ctx, node, vmid, req)
	return r.started(s, upid, err, v1alpha1.ReasonCreating, fmt.Sprintf("creating container %d on %s from %s", vmid, node, from.ostemplate))
}

// validCreate checks create parameters before anything is taken: against
// PVE's schema, and root-only keys against root credentials (stalled; a
// spec or ProxmoxHost change wakes it). It returns the client to send with.
func validCreate(s *appScope, params pveparams.List) (proxmox.Client, outcome, bool) {
	if o, ok := validSpec(lxcconfig.ValidateCreate(params)); !ok {
		return nil, o, false
	}
	return createClient(s, params)
}

// reserve does what every create does before its call: read the root
// password, allocate the VMID (recorded in status) and promise the memory
// on node. ok is false when the pass must end with res.
func (r *ApplicationReconciler) reserve(ctx context.Context, s *appScope, node string) (password string, vmid int, res ctrl.Result, ok bool, err error) {
	password, o, ok := r.rootPassword(ctx, s.app)
	if !ok {
		s.set(o)
		return "", 0, ctrl.Result{RequeueAfter: time.Minute}, false, nil
	}
	if vmid, res, ok, err = r.allocateVMID(ctx, s, node); !ok || err != nil {
		return "", 0, res, false, err
	}
	s.host.place(node, plannedMemory(s.app))
	return password, vmid, ctrl.Result{}, true, nil
}

// allocateVMID picks the VMID (spec, the one recorded earlier, or PVE's
// next free one) and records it with the node in status before creating.
func (r *ApplicationReconciler) allocateVMID(ctx context.Context, s *appScope, node string) (int, ctrl.Result, bool, error) {
	app := s.app
	if o, ok, err := r.quota.check(ctx, r.Client, s.tenancy, app, declaredUsage(app), true); !ok || err != nil {
		// Looked at again now and then: deleting another Application of
		// the namespace makes room without touching this one.
		s.set(o)
		return 0, ctrl.Result{RequeueAfter: time.Minute}, false, err
	}
	vmid := int(app.Status.VMID)
	fresh := false
	switch {
	case app.Spec.VMID != nil:
		vmid = int(*app.Spec.VMID)
	case vmid == 0:
		id, err := s.host.allocateVMID(ctx)
		if err != nil {
			return 0, ctrl.Result{}, false, err
		}
		vmid, fresh = id, true
	}
	// The inventory lists only containers; PVE's registry also holds VMs.
	// A VMID nextid has just handed out needs no second question.
	if err := checkUnlessFresh(ctx, s.host, vmid, fresh); err != nil {
		if proxmox.IsAlreadyExists(err) && app.Spec.VMID == nil {
			app.Status.VMID = 0
			return 0, ctrl.Result{RequeueAfter: requeueSoon}, false, nil
		}
		if proxmox.IsAlreadyExists(err) {
			s.set(stalled(v1alpha1.ReasonVMIDInUse, fmt.Sprintf("VMID %d is taken by a guest this Application does not own", vmid)))
			return 0, ctrl.Result{}, false, nil
		}
		return 0, ctrl.Result{}, false, err
	}
	if int(app.Status.VMID) != vmid || app.Status.Node != node || app.Status.VMIDReservedAt == nil {
		// Wall-clock time, as it is held against PVE's task start times
		// (see halfMadeProof), not the reconciler's clock.
		app.Status.VMIDReservedAt = &metav1.Time{Time: time.Now()}
	}
	app.Status.VMID = int32(vmid)
	app.Status.Node = node
	if err := r.persist(ctx, s, false); err != nil {
		return 0, ctrl.Result{}, false, err
	}
	return vmid, ctrl.Result{}, true, nil
}

func checkUnlessFresh(ctx context.Context, host *HostEntry, vmid int, fresh bool) error {
	if fresh {
		return nil
	}
	return host.Client.CheckVMID(ctx, vmid)
}

// started records a task a mutating call started, or classifies its failure.
func (r *ApplicationReconciler) started(s *appScope, upid proxmox.UPID, err error, reason, msg string) (ctrl.Result, error) {
	app := s.app
	s.host.markMutation(app.UID)
	r.Hosts.RequestRefresh(s.host.Name)
	if err != nil && !proxmox.IsOutcomeUnknown(err) {
		// PVE refused the call, so no task of ours can have started under
		// this reservation; the next attempt takes a fresh one.
		app.Status.VMIDReservedAt = nil
	}
	switch {
	case err == nil:
		app.Status.Task = taskRef(upid, time.Now())
		if _, retry := r.createFailures.retrying(app.UID, createInputsOf(s)); !retry {
			r.event(app, corev1.EventTypeNormal, reason, msg)
		}
		s.set(progressing(reason, msg))
		return ctrl.Result{RequeueAfter: pollAfter(app.Status.Task, time.Now())}, nil
	case proxmox.IsOutcomeUnknown(err):
		// PVE may have acted: look at the next listing, never repeat blindly.
		// The reservation stays: it may yet prove a half-made container ours.
		s.set(progressing(reason, msg+": the answer was lost; checking what Proxmox did"))
		return ctrl.Result{RequeueAfter: 2 * minRefreshGap}, nil
	case proxmox.IsAlreadyExists(err) && app.Spec.VMID == nil:
		app.Status.VMID = 0
		return ctrl.Result{RequeueAfter: requeueSoon}, nil
	case proxmox.IsLocked(err) || proxmox.IsLockTimeout(err):
		s.set(progressing(v1alpha1.ReasonLocked, fmt.Sprintf("container %d is locked by Proxmox (%s); waiting", app.Status.VMID, proxmox.LockName(err))))
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	case proxmox.IsAlreadyExists(err):
		s.set(stalled(v1alpha1.ReasonVMIDInUse, err.Error()))
		return ctrl.Result{}, nil
	case reason == v1alpha1.ReasonCreating:
		return ctrl.Result{RequeueAfter: r.createFailed(s, err, msg+": "+err.Error())}, nil
	}
	return ctrl.Result{}, err
}

// pickNode returns spec.node, or the online node with the most free memory
// that offers the root storage for containers.
func pickNode(host *HostEntry, app *v1alpha1.Application) (string, outcome) {
	snap := host.Inventory.Snapshot()
	storage := ""
	if app.Spec.RootFS != nil {
		storage = app.Spec.RootFS.Storage
	}
	type cand struct {
		name string
		free uint64
	}
	var cands []cand
	var room roomShortage
	for _, n := range snap.Nodes {
		if !n.Online() || (app.Spec.Node != "" && n.Name != app.Spec.Node) {
			continue
		}
		if storage != "" {
			st, ok := nodeStorage(snap, n.Name, storage, "rootdir")
			if !ok || !room.fits(st, n.Name, app.Spec.RootFS.Size.Value()) {
				continue
			}
		}
		if img := app.Spec.Image; img != nil {
			if _, ok := nodeStorage(snap, n.Name, img.Storage, "vztmpl"); !ok {
				continue
			}
		}
		free := uint64(0)
		if used := n.Mem + host.placedOn(n.Name); n.MaxMem > used {
			free = n.MaxMem - used
		}
		cands = append(cands, cand{n.Name, free})
	}
	if len(cands) == 0 && room.nodes > 0 {
		return "", stalled(v1alpha1.ReasonNoSuitableNode, fmt.Sprintf("no online node has room for a %s rootFS on storage %q (%s); free space there or choose another storage",
			app.Spec.RootFS.Size.String(), storage, room))
	}
	if len(cands) == 0 {
		where := "no online node"
		if app.Spec.Node != "" {
			where = fmt.Sprintf("node %q is not online or", app.Spec.Node)
		}
		return "", stalled(v1alpha1.ReasonNoSuitableNode, fmt.Sprintf("%s has storage %q for containers", where, storage))
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].free != cands[j].free {
			return cands[i].free > cands[j].free
		}
		return cands[i].name < cands[j].name
	})
	return cands[0].name, outcome{}
}

// plannedMemory is the memory a new container will be given (PVE's default
// is 512 MiB).
func plannedMemory(app *v1alpha1.Application) uint64 {
	if r := app.Spec.Resources; r != nil && r.Memory != nil {
		return uint64(r.Memory.Value())
	}
	return 512 << 20
}

// nodeStorage returns storage as node sees it, if node has it for content.
func nodeStorage(snap *inventorySnapshot, node, storage, content string) (proxmox.Storage, bool) {
	for _, st := range snap.Storages {
		if st.ID == storage && (st.Node == node || st.Shared) && st.Accepts(content) {
			return st, true
		}
	}
	return proxmox.Storage{}, false
}

// roomShortage collects the nodes placement passed over because the root
// storage has less free space than the rootFS needs, to say so when no
// node is left: a create PVE would refuse for want of space is never sent.
type roomShortage struct {
	nodes        int
	mostFree     uint64
	mostFreeNode string
}

func (r roomShortage) String() string {
	if r.mostFree == 0 {
		return "no node has any free space on it"
	}
	return fmt.Sprintf("most free: %s on node %s", humanSize(int64(r.mostFree)), r.mostFreeNode)
}

// fits reports whether st, on node, has size bytes free. A storage that
// reports no capacity (not active, or not yet listed) is not judged.
func (r *roomShortage) fits(st proxmox.Storage, node string, size int64) bool {
	if st.Total == 0 || size <= 0 || st.Avail >= uint64(size) {
		return true
	}
	r.nodes++
	if st.Avail >= r.mostFree {
		r.mostFree, r.mostFreeNode = st.Avail, node
	}
	return false
}

// rootPassword reads the create-only root password Secret, if any.
func (r *ApplicationReconciler) rootPassword(ctx context.Context, app *v1alpha1.Application) (string, outcome, bool) {
	ref := app.Spec.RootPasswordSecretRef
	if ref == nil {
		return "", outcome{}, true
	}
	secret := &corev1.Secret{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: app.Namespace, Name: ref.Name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return "", stalled(v1alpha1.ReasonSecretNotFound, fmt.Sprintf("Secret %q (rootPasswordSecretRef) not found", ref.Name)), false
		}
		return "", progressing(v1alpha1.ReasonSecretNotFound, fmt.Sprintf("cannot read Secret %q: %s", ref.Name, apierrors.ReasonForError(err))), false
	}
	pw, ok := secret.Data[ref.Key]
	if !ok || len(pw) < 5 {
		return "", stalled(v1alpha1.ReasonInvalidSpec, fmt.Sprintf("Secret %q has no key %q of at least 5 characters (Proxmox' minimum)", ref.Name, ref.Key)), false
	}
	redact.Add(string(pw))
	return string(pw), outcome{}, true
}
