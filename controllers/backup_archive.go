package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/proxmox"
)

// backupMarker is the unique text vzdump writes into the archive's notes
// (first line, which is all PVE lists). It is how the operator finds its
// archive: the file name only carries a timestamp, and "newest backup of
// this container" is wrong as soon as anyone else backs it up too.
func backupMarker(b *v1alpha1.Backup) string {
	return "pve-operator-backup=" + string(b.UID)
}

// archiveMadeBy checks that vol is the archive Backup b made: its notes
// carry b's marker. A Backup is always in the namespace of what restores
// it, so this is what keeps one namespace from restoring another's archive
// (or one made outside the operator) whatever a status says.
func archiveMadeBy(b *v1alpha1.Backup, vol proxmox.BackupVolume) (outcome, bool) {
	if strings.Contains(vol.Notes, backupMarker(b)) {
		return outcome{}, true
	}
	return stalled(v1alpha1.ReasonNotOwned, fmt.Sprintf(
		"archive %s does not carry Backup %q's marker in its notes: it was not made by this Backup; nothing was touched", vol.VolID, b.Name)), false
}

// notesTemplate is vzdump's notes-template: the marker, then something a
// human reading the Proxmox UI recognises.
func notesTemplate(b *v1alpha1.Backup) string {
	return fmt.Sprintf("%s %s/%s {{guestname}}", backupMarker(b), b.Namespace, b.Name)
}

// startArchive starts vzdump for the Application's container unless an
// earlier attempt of this Backup is still running or already produced its
// archive (its status write was lost).
func (r *BackupReconciler) startArchive(ctx context.Context, s *backupScope) (ctrl.Result, error) {
	b, ct, c := s.backup, s.ct, s.host.Client
	storage, o := backupStorage(s.host.Inventory.Snapshot(), b, ct.Node)
	if storage == "" {
		s.set(o)
		return ctrl.Result{RequeueAfter: time.Minute}, nil
	}
	b.Status.VMID, b.Status.Node = int32(ct.VMID), ct.Node
	if res, turn := r.takeTurn(s); !turn {
		return res, nil
	}
	if vol, found, err := findArchive(ctx, c, b, ct.Node, storage); err != nil || found {
		if found {
			r.archived(ctx, s, vol, "")
		}
		return ctrl.Result{}, err
	}
	// Only one vzdump runs per node; one already running for this container
	// may be this Backup's own from before a lost status write. Wait for it
	// and look for the marker again instead of starting a second dump.
	if t, running, err := runningTask(ctx, c, ct.Node, ct.VMID, "vzdump"); err != nil || running {
		if running {
			s.slot = slotHeld
			s.set(progressing(v1alpha1.ReasonTaskRunning, fmt.Sprintf("a backup of container %d is already running (task %s); waiting for it", ct.VMID, t.UPID)))
		}
		return ctrl.Result{RequeueAfter: taskPoll}, err
	}
	if ct.Lock != "" {
		return r.locked(s, ct.Lock)
	}
	opts := proxmox.BackupOptions{
		VMID: ct.VMID, Storage: storage, Mode: string(b.Spec.Mode), Compress: vzdumpCompress(b.Spec.Compress),
		NotesTemplate: notesTemplate(b), Protected: b.Spec.Protected,
	}
	upid, err := c.Vzdump(ctx, ct.Node, opts)
	if proxmox.IsOutcomeUnknown(err) {
		// PVE may be running it: the node stays taken until a pass knows.
		s.slot = slotHeld
	}
	res, err := r.started(s, upid, err, fmt.Sprintf("backing up container %d on %s to %s", ct.VMID, ct.Node, storage))
	if err == nil && b.Status.Task != nil {
		res.RequeueAfter = r.pacer.posted(nodeKey{s.host.Name, ct.Node}, b.UID, r.now())
	}
	return res, err
}

// takeTurn admits the Backup to its node's vzdump slot, or leaves it
// Queued, without a Proxmox request, until the dump ahead of it ends.
// The node is held from the POST on (see startArchive), not from here.
func (r *BackupReconciler) takeTurn(s *backupScope) (ctrl.Result, bool) {
	res, use, ok := takeLane(&r.queue, nodeKey{s.host.Name, s.ct.Node}, s)
	if !ok {
		s.slot = use
	}
	return res, ok
}

// settleSlot records on the node's queue what this pass left the Backup
// holding; a recorded vzdump holds the node whatever the pass decided.
func (r *BackupReconciler) settleSlot(s *backupScope) {
	b := s.backup
	use := s.slot
	if t := b.Status.Task; t != nil && t.Type == "vzdump" {
		use = slotHeld
	}
	node := b.Status.Node
	if t := b.Status.Task; t != nil && t.Node != "" {
		node = t.Node
	}
	if use == slotNone || backupHost(b) == "" || node == "" {
		r.queue.forget(client.ObjectKeyFromObject(b))
		return
	}
	r.queue.settle(nodeKey{backupHost(b), node}, entryOf(b), use)
}

// archiveTaskEnded handles the end of the vzdump task: the archive is found
// by its marker, never by being the newest file.
func (r *BackupReconciler) archiveTaskEnded(ctx context.Context, s *backupScope, ref *v1alpha1.TaskReference, res taskResult, st proxmox.TaskStatus) (ctrl.Result, error) {
	b := s.backup
	if res == taskFailed {
		if proxmox.IsLocked(st.Err) || proxmox.IsLockTimeout(st.Err) {
			return r.locked(s, proxmox.LockName(st.Err))
		}
		r.fail(s, v1alpha1.ReasonTaskFailed, fmt.Sprintf("vzdump of container %d: %s", b.Status.VMID, taskFailure(st)))
		return ctrl.Result{}, nil
	}
	storage, _ := backupStorage(s.host.Inventory.Snapshot(), b, b.Status.Node)
	vol, found, err := findArchive(ctx, s.host.Client, b, b.Status.Node, storage)
	if err != nil {
		// Keep the task: the next pass asks again.
		b.Status.Task = ref
		return ctrl.Result{}, err
	}
	if !found {
		what := "vzdump reported success"
		if res == taskLost {
			what = "Proxmox no longer knows the vzdump task"
		}
		r.fail(s, v1alpha1.ReasonTaskFailed, fmt.Sprintf("%s, but no archive on storage %q carries this Backup's marker %q", what, storage, backupMarker(b)))
		return ctrl.Result{}, nil
	}
	note := ""
	if res == taskSucceeded {
		note = r.noteTaskLog(ctx, s, ref, st)
	}
	r.archived(ctx, s, vol, note)
	return ctrl.Result{}, nil
}

// archived records a found archive and completes the Backup.
func (r *BackupReconciler) archived(ctx context.Context, s *backupScope, vol proxmox.BackupVolume, note string) {
	b := s.backup
	b.Status.VolID = vol.VolID
	b.Status.Size = int64(vol.Size)
	b.Status.SizeHuman = humanSize(b.Status.Size)
	if b.Status.StartTime == nil {
		b.Status.StartTime = metaTime(vol.CTime)
	}
	msg := fmt.Sprintf("archive %s (%d bytes) of container %d", vol.VolID, vol.Size, b.Status.VMID)
	if b.Spec.Protected && !vol.Protected {
		// vzdump marks it when asked; make sure, as spec.protected promises.
		if err := s.host.Client.SetVolumeProtected(ctx, b.Status.Node, volStorage(vol.VolID), vol.VolID, true); err != nil {
			msg += "; marking it protected failed: " + err.Error()
		}
	}
	r.complete(s, msg+note)
	r.event(b, eventNormal, v1alpha1.ReasonCompleted, msg)
}

// noteTaskLog reports what a successful dump's log says the user should
// know: PVE's fallback from snapshot to suspend mode, and warnings.
func (r *BackupReconciler) noteTaskLog(ctx context.Context, s *backupScope, ref *v1alpha1.TaskReference, st proxmox.TaskStatus) string {
	b := s.backup
	if b.Spec.Mode != "" && b.Spec.Mode != "snapshot" && st.Warnings == 0 {
		return ""
	}
	lines, err := s.host.Client.TaskLog(ctx, ref.UPID, 0, 1000)
	if err != nil {
		return ""
	}
	note := ""
	for _, l := range lines {
		if strings.Contains(l, "trying 'suspend' mode instead") {
			msg := fmt.Sprintf("snapshot mode was not possible for container %d (some of its volumes do not support snapshots); Proxmox fell back to suspend mode, which pauses the container briefly", b.Status.VMID)
			r.event(b, eventWarning, v1alpha1.ReasonSnapshotModeFallback, msg)
			note = "; fell back to suspend mode"
		}
	}
	if st.Warnings > 0 {
		var warns []string
		for _, l := range lines {
			if strings.HasPrefix(l, "WARN:") && len(warns) < 3 {
				warns = append(warns, strings.TrimSpace(strings.TrimPrefix(l, "WARN:")))
			}
		}
		r.event(b, eventWarning, "TaskWarnings", fmt.Sprintf("vzdump of container %d finished with %d warning(s): %s", b.Status.VMID, st.Warnings, strings.Join(warns, "; ")))
		note += fmt.Sprintf("; %d warning(s)", st.Warnings)
	}
	return note
}

// findArchive looks for this Backup's archive (by marker) on storage.
func findArchive(ctx context.Context, c proxmox.BackupManager, b *v1alpha1.Backup, node, storage string) (proxmox.BackupVolume, bool, error) {
	if node == "" || storage == "" {
		return proxmox.BackupVolume{}, false, nil
	}
	vols, err := c.BackupVolumes(ctx, node, storage, int(b.Status.VMID))
	if err != nil {
		if proxmox.IsNotFound(err) {
			return proxmox.BackupVolume{}, false, nil
		}
		return proxmox.BackupVolume{}, false, err
	}
	marker := backupMarker(b)
	for _, v := range vols {
		if strings.Contains(v.Notes, marker) {
			return v, true, nil
		}
	}
	return proxmox.BackupVolume{}, false, nil
}

// runningTask returns a running task of one of types about vmid on node.
func runningTask(ctx context.Context, c proxmox.TaskReader, node string, vmid int, types ...string) (proxmox.TaskSummary, bool, error) {
	tasks, err := c.ActiveTasks(ctx, node, vmid)
	if err != nil {
		return proxmox.TaskSummary{}, false, err
	}
	want := sets.New(types...)
	for _, t := range tasks {
		if t.Running && want.Has(t.UPID.Type) && (t.UPID.VMID() == vmid || t.UPID.ID == "") {
			return t, true, nil
		}
	}
	return proxmox.TaskSummary{}, false, nil
}

// backupStorage is spec.storage, or the first active storage (by name)
// on node that takes backups. The choice is deterministic so that a pass
// after a restart looks for the archive where the dump put it.
func backupStorage(snap *inventorySnapshot, b *v1alpha1.Backup, node string) (string, outcome) {
	var cands []string
	for _, st := range snap.Storages {
		if (st.Node == node || st.Shared) && st.Accepts("backup") && st.Active {
			cands = append(cands, st.ID)
		}
	}
	sort.Strings(cands)
	if want := b.Spec.Storage; want != "" {
		for _, id := range cands {
			if id == want {
				return want, outcome{}
			}
		}
		return "", stalled(v1alpha1.ReasonInvalidSpec, fmt.Sprintf("storage %q is not an active backup storage on node %s", want, node))
	}
	if len(cands) == 0 {
		return "", stalled(v1alpha1.ReasonInvalidSpec, fmt.Sprintf("node %s has no active storage that accepts backups; set spec.storage", node))
	}
	return cands[0], outcome{}
}

// vzdumpCompress maps spec.compress to vzdump's values (none is "0").
func vzdumpCompress(c v1alpha1.Compression) string {
	switch c {
	case "":
		return "zstd"
	case "none":
		return "0"
	}
	return string(c)
}

// volStorage is the storage ID of a volid ("local:backup/..." -> "local").
func volStorage(volid string) string {
	storage, _, _ := strings.Cut(volid, ":")
	return storage
}
