package testenv

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

// backupNotesPrefix is how the operator marks the archives it takes (the
// first word of the vzdump notes); see controllers/backup_archive.go.
const backupNotesPrefix = "pve-operator-backup="

// CheckInvariants checks the promises the operator makes about data, in
// one namespace, and returns every violation found (none is success):
//
//   - every Application not being deleted owns exactly one container, the
//     one its status names;
//   - every container carrying an owner tag belongs to an existing
//     Application (no orphans);
//   - every container in foreign (VMID → digest at the start) still exists
//     with the same digest and no POST, PUT or DELETE ever named it: the
//     operator never modified or deleted it (foreign containers may carry
//     the owner marker of an Application that is not in this namespace);
//   - every Completed Backup's archive exists, and its snapshot while the
//     container it was taken of is still there and not restored over;
//   - no Backup has more than one archive, and no archive the operator
//     took outlives its Backup (all fixtures use deletionPolicy Delete).
func CheckInvariants(ctx context.Context, k8s client.Reader, sim *pvesim.Server, namespace string, foreign map[int]string) ([]string, error) {
	w, err := observe(ctx, k8s, sim, namespace)
	if err != nil {
		return nil, err
	}
	var v []string
	v = append(v, w.ownershipViolations(foreign)...)
	v = append(v, w.foreignViolations(sim, foreign)...)
	v = append(v, w.backupViolations()...)
	v = append(v, w.halfMadeViolations()...)
	return v, nil
}

// halfMadeViolations: no container is left locked "create" without a task
// that may still finish it. Only a create's own worker removes that lock,
// so one outliving its task (a create that died with its node) stays
// until someone removes it. A clone's task is named after its source, so
// any running clone may be the one.
func (w *world) halfMadeViolations() []string {
	running := map[string]bool{}
	cloning := false
	for _, t := range w.state.Tasks {
		if t.Running {
			running[t.ID] = true
			cloning = cloning || t.Type == pvesim.TaskClone
		}
	}
	var v []string
	for _, ct := range w.state.Containers {
		if ct.Lock == "create" && !running[strconv.Itoa(ct.VMID)] && !cloning {
			v = append(v, fmt.Sprintf("container %d on %s is left locked (create) without a task", ct.VMID, ct.Node))
		}
	}
	return v
}

// world is what CheckInvariants judges: one namespace's objects and the
// simulator's state, indexed.
type world struct {
	backups []v1alpha1.Backup
	byUID   map[string]v1alpha1.Application
	byName  map[string]v1alpha1.Application
	// restored names the Applications a Restore has replaced the container
	// of.
	restored   map[string]bool
	state      pvesim.StateView
	containers map[int]pvesim.ContainerView
}

func observe(ctx context.Context, k8s client.Reader, sim *pvesim.Server, namespace string) (*world, error) {
	apps := &v1alpha1.ApplicationList{}
	if err := k8s.List(ctx, apps, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	backups := &v1alpha1.BackupList{}
	if err := k8s.List(ctx, backups, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	restores := &v1alpha1.RestoreList{}
	if err := k8s.List(ctx, restores, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	w := &world{
		backups: backups.Items, restored: restoredApplications(restores.Items, backups.Items),
		state: sim.State(), byUID: map[string]v1alpha1.Application{}, byName: map[string]v1alpha1.Application{},
		containers: map[int]pvesim.ContainerView{},
	}
	for _, a := range apps.Items {
		w.byUID[string(a.UID)] = a
		w.byName[a.Name] = a
	}
	for _, ct := range w.state.Containers {
		w.containers[ct.VMID] = ct
	}
	return w, nil
}

// restoredApplications: a restore replaces the container, and its snapshots
// with it.
func restoredApplications(restores []v1alpha1.Restore, backups []v1alpha1.Backup) map[string]bool {
	restored := map[string]bool{}
	for _, rs := range restores {
		if rs.Spec.ApplicationRef != nil {
			restored[rs.Spec.ApplicationRef.Name] = true
		} else {
			for _, b := range backups {
				if b.Name == rs.Spec.BackupRef.Name {
					restored[b.Spec.ApplicationRef.Name] = true
				}
			}
		}
	}
	return restored
}

// ownershipViolations: no orphans, and every Application not being deleted
// owns exactly the container its status names. Foreign containers are not
// counted, whatever marker they carry.
func (w *world) ownershipViolations(foreign map[int]string) []string {
	var v []string
	owned := map[string][]int{}
	for _, ct := range w.state.Containers {
		uid, ok := lxcconfig.OwnerOf(lxcconfig.SplitTags(ct.Config["tags"]))
		if _, isForeign := foreign[ct.VMID]; !ok || isForeign {
			continue
		}
		if _, exists := w.byUID[uid]; !exists {
			v = append(v, fmt.Sprintf("container %d is owned by no existing Application (orphan, owner %s)", ct.VMID, uid))
		}
		owned[uid] = append(owned[uid], ct.VMID)
	}
	for uid, a := range w.byUID {
		got := owned[uid]
		switch {
		case a.DeletionTimestamp != nil && len(got) <= 1:
		case len(got) != 1 || got[0] != int(a.Status.VMID):
			v = append(v, fmt.Sprintf("Application %s owns containers %v, status says %d", a.Name, got, a.Status.VMID))
		}
	}
	return v
}

// foreignViolations: every foreign container is still there, unchanged, and
// no mutating request ever named it.
func (w *world) foreignViolations(sim *pvesim.Server, foreign map[int]string) []string {
	var v []string
	for vmid, digest := range foreign {
		ct, ok := w.containers[vmid]
		switch {
		case !ok:
			v = append(v, fmt.Sprintf("foreign container %d was deleted", vmid))
		case ct.Digest != digest:
			v = append(v, fmt.Sprintf("foreign container %d was modified (digest %s, was %s)", vmid, ct.Digest, digest))
		}
		if n := sim.MutatingRequests(vmid); n > 0 {
			v = append(v, fmt.Sprintf("foreign container %d was named by %d mutating requests", vmid, n))
		}
	}
	return v
}

// backupViolations: every Completed Backup's archive (or snapshot) exists,
// no Backup has more than one archive, and no archive outlives its Backup.
func (w *world) backupViolations() []string {
	var v []string
	archives := map[string][]string{}
	volids := map[string]bool{}
	for _, vol := range w.state.Volumes {
		volids[vol.Volid] = true
		first, _, _ := strings.Cut(vol.Notes, " ")
		if uid, ok := strings.CutPrefix(first, backupNotesPrefix); ok && vol.Content == "backup" {
			archives[uid] = append(archives[uid], vol.Volid)
		}
	}
	backupUIDs := map[string]bool{}
	for _, b := range w.backups {
		backupUIDs[string(b.UID)] = true
		if n := len(archives[string(b.UID)]); n > 1 {
			v = append(v, fmt.Sprintf("Backup %s has %d archives: %v", b.Name, n, archives[string(b.UID)]))
		}
		if b.Status.Phase != v1alpha1.BackupPhaseCompleted {
			continue
		}
		if b.Spec.Type == v1alpha1.BackupTypeSnapshot {
			v = append(v, w.snapshotViolations(b)...)
			continue
		}
		if !volids[b.Status.VolID] {
			v = append(v, fmt.Sprintf("Completed Backup %s: archive %q does not exist", b.Name, b.Status.VolID))
		}
	}
	for uid, vols := range archives {
		if !backupUIDs[uid] {
			v = append(v, fmt.Sprintf("archives %v outlive their Backup %s", vols, uid))
		}
	}
	return v
}

// snapshotViolations checks a Completed snapshot Backup. A snapshot lives
// as long as its container: only while the Application still owns the
// container it was taken of (a deleted Application's VMID may have been
// reused) and no Restore replaced it must the snapshot be there.
func (w *world) snapshotViolations(b v1alpha1.Backup) []string {
	app, appExists := w.byName[b.Spec.ApplicationRef.Name]
	ct, ok := w.containers[int(b.Status.VMID)]
	owner, _ := lxcconfig.OwnerOf(lxcconfig.SplitTags(ct.Config["tags"]))
	if appExists && ok && owner == string(app.UID) && !w.restored[app.Name] && !hasSnapshot(ct, b.Status.SnapshotName) {
		return []string{fmt.Sprintf("Completed Backup %s: snapshot %q is missing on container %d", b.Name, b.Status.SnapshotName, b.Status.VMID)}
	}
	return nil
}

func hasSnapshot(ct pvesim.ContainerView, name string) bool {
	for _, s := range ct.Snapshots {
		if s.Name == name {
			return true
		}
	}
	return false
}
