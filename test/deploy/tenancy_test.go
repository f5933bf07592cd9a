package deploy

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/controllers"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
)

// The attacks a namespace's edit user can make with a few lines of YAML,
// each made through the user's own RBAC (impersonated), against the
// operator as deployed. Each must be stopped with its condition and with no
// POST, PUT or DELETE aimed at anything the namespace does not own, as the
// simulator counts them.

const allowedLabel = "proxmox.pve-operator.io/allowed"

// tenant is a namespace with an edit user, on a host that allows it.
type tenant struct {
	ns   string
	user client.Client
	host *v1alpha1.ProxmoxHost
}

// newTenant makes a namespace, binds user to edit in it, and makes a host
// allowing labelled namespaces with grants for this namespace (if any).
func newTenant(t *testing.T, o *operator, user string, grant *v1alpha1.TenantGrant) tenant {
	t.Helper()
	admin := adminClient(t)
	ns := createNamespace(t, admin, map[string]string{allowedLabel: "true"})
	bind(t, admin, ns, "User", user, "edit")
	host := createHost(t, admin, o, func(h *v1alpha1.ProxmoxHost, _ *corev1.Secret) {
		h.Spec.AllowedNamespaces = &metav1.LabelSelector{MatchLabels: map[string]string{allowedLabel: "true"}}
		if grant != nil {
			g := *grant
			g.NamespaceSelector = metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}}
			h.Spec.Grants = []v1alpha1.TenantGrant{g}
		}
	})
	waitFor(t.Context(), t, admin, host, 60*time.Second, "Ready=True Connected", func(h *v1alpha1.ProxmoxHost) bool {
		return readyIs(h.Status.Conditions, metav1.ConditionTrue, v1alpha1.ReasonConnected)
	})
	return tenant{ns: ns, user: impersonate(t, user), host: host}
}

func (tn tenant) app(mutate func(*v1alpha1.Application)) *v1alpha1.Application {
	return newApplication(tn.ns, tn.host.Name, mutate)
}

func (tn tenant) create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := tn.user.Create(t.Context(), obj); err != nil {
		t.Fatalf("create %T %s as the namespace user: %v", obj, obj.GetName(), err)
	}
}

// backedUpApp creates a Ready Application with a Completed archive Backup.
func (tn tenant) backedUpApp(t *testing.T) (*v1alpha1.Application, *v1alpha1.Backup) {
	t.Helper()
	app := tn.app(nil)
	tn.create(t, app)
	app = readyApp(t, tn.user, app)
	b := &v1alpha1.Backup{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("backup"), Namespace: tn.ns},
		Spec: v1alpha1.BackupSpec{ApplicationRef: v1alpha1.LocalObjectReference{Name: app.Name}}}
	tn.create(t, b)
	return app, completedBackup(t, tn.user, b)
}

// backupNaming makes a Backup of the tenant's whose status names another
// Backup's archive: what a status written wrongly (or restored from an old
// etcd) would say. The tenant cannot write status; the admin does it here.
func (tn tenant) backupNaming(t *testing.T, admin client.Client, archive *v1alpha1.Backup) *v1alpha1.Backup {
	t.Helper()
	ctx := t.Context()
	b := &v1alpha1.Backup{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("stolen"), Namespace: tn.ns},
		Spec: v1alpha1.BackupSpec{ApplicationRef: v1alpha1.LocalObjectReference{Name: "no-such-app"}}}
	tn.create(t, b)
	waitFor(ctx, t, tn.user, b, 60*time.Second, "Stalled ApplicationNotFound", func(b *v1alpha1.Backup) bool {
		return stalledWithReason(b.Status.Conditions, v1alpha1.ReasonApplicationNotFound)
	})
	forged := b.DeepCopy()
	forged.Annotations = map[string]string{controllers.AnnotationBackupHost: tn.host.Name}
	if err := admin.Patch(ctx, forged, client.MergeFrom(b)); err != nil {
		t.Fatal(err)
	}
	status := client.MergeFrom(forged.DeepCopy())
	forged.Status = *archive.Status.DeepCopy()
	forged.Status.Conditions = nil
	if err := admin.Status().Patch(ctx, forged, status); err != nil {
		t.Fatal(err)
	}
	return forged
}

// stalledWithReason reports whether Stalled is True with reason.
func stalledWithReason(conds []metav1.Condition, reason string) bool {
	c := meta.FindStatusCondition(conds, v1alpha1.ConditionStalled)
	return c != nil && c.Status == metav1.ConditionTrue && c.Reason == reason
}

func waitApp(t *testing.T, c client.Client, app *v1alpha1.Application, what string, cond func([]metav1.Condition) bool) *v1alpha1.Application {
	t.Helper()
	return waitFor(t.Context(), t, c, app, 90*time.Second, what, func(a *v1alpha1.Application) bool { return cond(a.Status.Conditions) })
}

func readyApp(t *testing.T, c client.Client, app *v1alpha1.Application) *v1alpha1.Application {
	t.Helper()
	return waitApp(t, c, app, "Ready=True Reconciled", func(cs []metav1.Condition) bool {
		return readyIs(cs, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
	})
}

func completedBackup(t *testing.T, c client.Client, b *v1alpha1.Backup) *v1alpha1.Backup {
	t.Helper()
	return waitFor(t.Context(), t, c, b, 90*time.Second, "Completed", func(b *v1alpha1.Backup) bool {
		return b.Status.Phase == v1alpha1.BackupPhaseCompleted
	})
}

// handMade adds a container nobody manages and returns its digest.
func handMade(t *testing.T, o *operator, vmid int, extra map[string]string) string {
	t.Helper()
	cfg := map[string]string{"hostname": fmt.Sprintf("prod-%d", vmid), "memory": "512", "unprivileged": "1",
		"rootfs": fmt.Sprintf("local-lvm:vm-%d-disk-0,size=4G", vmid)}
	for k, v := range extra {
		cfg[k] = v
	}
	if err := o.sim.AddContainer("pve1", vmid, cfg, cfg["template"] != "1"); err != nil {
		t.Fatal(err)
	}
	ct, _ := o.sim.Container(vmid)
	return ct.Digest
}

// untouched fails unless vmid still exists with digest and no mutating
// request named it beyond the before count.
func untouched(t *testing.T, o *operator, vmid int, digest string, before int) {
	t.Helper()
	ct, ok := o.sim.Container(vmid)
	switch {
	case !ok:
		t.Errorf("container %d was deleted", vmid)
	case ct.Digest != digest:
		t.Errorf("container %d was modified: digest %s, was %s", vmid, ct.Digest, digest)
	}
	if n := o.sim.MutatingRequests(vmid) - before; n != 0 {
		t.Errorf("%d POST/PUT/DELETE requests named container %d", n, vmid)
	}
}

func TestTenancyAdoptionNeedsAGrant(t *testing.T) {
	o := runningOperator(t)
	grant := &v1alpha1.TenantGrant{Adopt: &v1alpha1.AdoptionGrant{VMIDRanges: []v1alpha1.VMIDRange{{From: 8100, To: 8199}}}}
	granted := newTenant(t, o, "adopter", grant)
	ungranted := newTenant(t, o, "mallory-adopt", nil)

	cases := []struct {
		name   string
		tenant tenant
		vmid   int
		extra  map[string]string
		policy v1alpha1.DeletionPolicy
	}{
		{"adopting a hand-made container without a grant is refused and deleting the Application leaves it alone", ungranted, 8001, nil, v1alpha1.DeletionPolicyDelete},
		{"adopting a template is refused even inside a granted range", granted, 8101, map[string]string{"template": "1"}, ""},
		{"adopting outside the granted VMID range is refused", granted, 8201, nil, ""},
		{"adopting with deletionPolicy Delete is refused when the grant does not allow deletion", granted, 8102, nil, v1alpha1.DeletionPolicyDelete},
		{"adopting a privileged container is refused without a privilege grant", granted, 8103, map[string]string{"unprivileged": "0"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			digest := handMade(t, o, tc.vmid, tc.extra)
			app := tc.tenant.app(func(a *v1alpha1.Application) {
				a.Spec = v1alpha1.ApplicationSpec{HostRef: a.Spec.HostRef, VMID: ptr.To(int32(tc.vmid)), Adopt: true, DeletionPolicy: tc.policy}
			})
			tc.tenant.create(t, app)
			reason := v1alpha1.ReasonAdoptionNotAllowed
			if tc.extra["unprivileged"] == "0" {
				reason = v1alpha1.ReasonPrivilegeNotAllowed
			}
			waitApp(t, tc.tenant.user, app, "Stalled "+reason, func(cs []metav1.Condition) bool { return stalledWithReason(cs, reason) })
			untouched(t, o, tc.vmid, digest, 0)

			if err := tc.tenant.user.Delete(t.Context(), app); err != nil {
				t.Fatal(err)
			}
			waitGone(t, tc.tenant.user, app)
			untouched(t, o, tc.vmid, digest, 0)
		})
	}

	t.Run("adopting inside the granted range works and retains the container on delete", func(t *testing.T) {
		handMade(t, o, 8104, nil)
		app := granted.app(func(a *v1alpha1.Application) {
			a.Spec = v1alpha1.ApplicationSpec{HostRef: a.Spec.HostRef, VMID: ptr.To[int32](8104), Adopt: true}
		})
		granted.create(t, app)
		got := readyApp(t, granted.user, app)
		if ct, _ := o.sim.Container(8104); !lxcconfig.OwnedBy(lxcconfig.SplitTags(ct.Config["tags"]), string(got.UID)) {
			t.Fatalf("adopted container 8104 does not carry the owner marker: tags %q", ct.Config["tags"])
		}
		if err := granted.user.Delete(t.Context(), app); err != nil {
			t.Fatal(err)
		}
		waitGone(t, granted.user, app)
		if _, ok := o.sim.Container(8104); !ok {
			t.Fatal("the adopted container was destroyed")
		}
	})
}

func TestTenancyRestoresActOnlyOnWhatTheNamespaceOwns(t *testing.T) {
	o := runningOperator(t)
	admin := adminClient(t)
	mallory := newTenant(t, o, "mallory-restore", nil)
	victim := newTenant(t, o, "victor", nil)

	// The victim's container and archive, and a hand-made container.
	vApp, vBackup := victim.backedUpApp(t)
	handDigest := handMade(t, o, 8301, nil)
	// The attacker's own container and backup.
	own, ownBackup := mallory.backedUpApp(t)

	for _, tc := range []struct {
		name string
		vmid int
	}{
		{"a Restore through an Application whose status names another namespace's container is refused", int(vApp.Status.VMID)},
		{"a Restore through an Application whose status names a hand-made container is refused", 8301},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// An Application of the attacker that never got a container of
			// its own (its hostname is taken), with a status that names the
			// target: whatever a status says, only the marker counts.
			decoy := mallory.app(func(a *v1alpha1.Application) { a.Spec.Hostname = own.Spec.Hostname })
			if decoy.Spec.Hostname == "" {
				decoy.Spec.Hostname = own.Name
			}
			mallory.create(t, decoy)
			waitApp(t, mallory.user, decoy, "Stalled HostnameConflict", func(cs []metav1.Condition) bool {
				return stalledWithReason(cs, v1alpha1.ReasonHostnameConflict)
			})
			patch := client.MergeFrom(decoy.DeepCopy())
			decoy.Status.VMID = int32(tc.vmid)
			decoy.Status.Node = "pve1"
			if err := admin.Status().Patch(t.Context(), decoy, patch); err != nil {
				t.Fatal(err)
			}
			ct, _ := o.sim.Container(tc.vmid)
			before := o.sim.MutatingRequests(tc.vmid)

			rs := &v1alpha1.Restore{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("rs"), Namespace: mallory.ns},
				Spec: v1alpha1.RestoreSpec{BackupRef: v1alpha1.LocalObjectReference{Name: ownBackup.Name}, ApplicationRef: &v1alpha1.LocalObjectReference{Name: decoy.Name}}}
			mallory.create(t, rs)
			waitFor(t.Context(), t, mallory.user, rs, 60*time.Second, "Failed NotOwned", func(r *v1alpha1.Restore) bool {
				return r.Status.Phase == v1alpha1.RestorePhaseFailed && stalledWithReason(r.Status.Conditions, v1alpha1.ReasonNotOwned)
			})
			untouched(t, o, tc.vmid, ct.Digest, before)
		})
	}

	t.Run("restoreFrom an archive another namespace's Backup made is refused", func(t *testing.T) {
		stolen := mallory.backupNaming(t, admin, vBackup)
		before := o.sim.MutatingRequests(int(vBackup.Status.VMID))

		app := mallory.app(func(a *v1alpha1.Application) {
			a.Spec.Template = ""
			a.Spec.RestoreFrom = &v1alpha1.RestoreSource{BackupRef: v1alpha1.LocalObjectReference{Name: stolen.Name}}
		})
		mallory.create(t, app)
		got := waitApp(t, mallory.user, app, "Stalled NotOwned", func(cs []metav1.Condition) bool {
			return stalledWithReason(cs, v1alpha1.ReasonNotOwned)
		})
		if got.Status.VMID != 0 {
			t.Errorf("a VMID (%d) was allocated for the refused restore", got.Status.VMID)
		}
		for _, ct := range o.sim.State().Containers {
			if lxcconfig.OwnedBy(lxcconfig.SplitTags(ct.Config["tags"]), string(got.UID)) {
				t.Errorf("container %d was created from the stolen archive", ct.VMID)
			}
		}
		if n := o.sim.MutatingRequests(int(vBackup.Status.VMID)) - before; n != 0 {
			t.Errorf("%d mutating requests named the victim's container", n)
		}
	})

	untouched(t, o, 8301, handDigest, 0)
}

func TestTenancyForgedOwnershipTagsAreRejected(t *testing.T) {
	o := runningOperator(t)
	mallory := newTenant(t, o, "mallory-tags", nil)
	for _, tag := range []string{"pve-operator-owner.0b7d1e3a-5c1f-4a8e-9d2b-3f6a7c8e9d10", "PVE-Operator-Owner.x", "pve-operator", "pve-operatorx"} {
		t.Run("the tag "+tag+" is refused at admission", func(t *testing.T) {
			app := mallory.app(func(a *v1alpha1.Application) { a.Spec.Tags = []string{"web", tag} })
			err := mallory.user.Create(t.Context(), app)
			if err == nil || !strings.Contains(err.Error(), "reserved for the operator") {
				t.Fatalf("want a rejection naming the reserved prefix, got %v", err)
			}
		})
	}
	t.Run("ordinary tags give exactly one container, and none is left after delete", func(t *testing.T) {
		app := mallory.app(func(a *v1alpha1.Application) { a.Spec.Tags = []string{"web", "operator"} })
		mallory.create(t, app)
		got := readyApp(t, mallory.user, app)
		if n := ownedContainers(o, string(got.UID)); n != 1 {
			t.Fatalf("%d containers carry the Application's marker, want 1", n)
		}
		if err := mallory.user.Delete(t.Context(), app); err != nil {
			t.Fatal(err)
		}
		waitGone(t, mallory.user, app)
		if n := ownedContainers(o, string(got.UID)); n != 0 {
			t.Fatalf("%d containers of the deleted Application are left", n)
		}
	})
}

func TestTenancyRevocationStopsEveryKind(t *testing.T) {
	o := runningOperator(t)
	admin := adminClient(t)
	ctx := t.Context()
	tn := newTenant(t, o, "revoked-user", nil)
	app, b := tn.backedUpApp(t)
	if err := o.sim.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}

	// The admin takes the namespace off the host.
	ns := &corev1.Namespace{}
	if err := admin.Get(ctx, client.ObjectKey{Name: tn.ns}, ns); err != nil {
		t.Fatal(err)
	}
	delete(ns.Labels, allowedLabel)
	if err := admin.Update(ctx, ns); err != nil {
		t.Fatal(err)
	}
	vmid := int(app.Status.VMID)
	ct, _ := o.sim.Container(vmid)
	before := o.sim.MutatingRequests(vmid)
	notAllowed := func(cs []metav1.Condition) bool { return stalledWithReason(cs, v1alpha1.ReasonNamespaceNotAllowed) }

	t.Run("the Application reports NamespaceNotAllowed", func(t *testing.T) {
		// A spec change it may no longer apply wakes it.
		patch := client.MergeFrom(app.DeepCopy())
		app.Spec.Resources.Cores = ptr.To[int32](2)
		if err := tn.user.Patch(t.Context(), app, patch); err != nil {
			t.Fatal(err)
		}
		waitApp(t, tn.user, app, "Stalled NamespaceNotAllowed", notAllowed)
	})
	t.Run("a new Backup reports NamespaceNotAllowed", func(t *testing.T) {
		nb := &v1alpha1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "after", Namespace: tn.ns},
			Spec: v1alpha1.BackupSpec{ApplicationRef: v1alpha1.LocalObjectReference{Name: app.Name}}}
		tn.create(t, nb)
		waitFor(t.Context(), t, tn.user, nb, 60*time.Second, "Stalled NamespaceNotAllowed", func(b *v1alpha1.Backup) bool { return notAllowed(b.Status.Conditions) })
	})
	t.Run("a new Restore fails with NamespaceNotAllowed", func(t *testing.T) {
		rs := &v1alpha1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "rollback", Namespace: tn.ns},
			Spec: v1alpha1.RestoreSpec{BackupRef: v1alpha1.LocalObjectReference{Name: b.Name}}}
		tn.create(t, rs)
		waitFor(t.Context(), t, tn.user, rs, 60*time.Second, "Failed NamespaceNotAllowed", func(r *v1alpha1.Restore) bool {
			return r.Status.Phase == v1alpha1.RestorePhaseFailed && notAllowed(r.Status.Conditions)
		})
	})
	t.Run("a BackupSchedule reports NamespaceNotAllowed and makes no Backup", func(t *testing.T) {
		sc := &v1alpha1.BackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: "every-minute", Namespace: tn.ns},
			Spec: v1alpha1.BackupScheduleSpec{Schedule: "* * * * *", ApplicationRef: &v1alpha1.LocalObjectReference{Name: app.Name}}}
		tn.create(t, sc)
		waitFor(t.Context(), t, tn.user, sc, 60*time.Second, "Stalled NamespaceNotAllowed", func(s *v1alpha1.BackupSchedule) bool { return notAllowed(s.Status.Conditions) })
	})
	t.Run("deleting the Backup taken before leaves its archive and waits", func(t *testing.T) {
		if err := tn.user.Delete(t.Context(), b); err != nil {
			t.Fatal(err)
		}
		waitFor(t.Context(), t, tn.user, b, 60*time.Second, "Stalled NamespaceNotAllowed", func(b *v1alpha1.Backup) bool { return notAllowed(b.Status.Conditions) })
	})
	untouched(t, o, vmid, ct.Digest, before)
	if backups := o.sim.Backups(vmid); len(backups) != 1 {
		t.Errorf("container %d has %d archives after revocation, want the 1 taken before", vmid, len(backups))
	}
}

func TestTenancyPrivilegeAndQuotaNeedGrants(t *testing.T) {
	o := runningOperator(t)
	quota := &v1alpha1.TenantGrant{Quota: &v1alpha1.TenantQuota{Containers: ptr.To[int32](1), Cores: ptr.To[int32](2)}}
	tn := newTenant(t, o, "quota-user", quota)

	t.Run("a privileged container without a grant is refused before anything is created", func(t *testing.T) {
		app := tn.app(func(a *v1alpha1.Application) { a.Spec.Unprivileged = ptr.To(false); a.Spec.VMID = ptr.To[int32](8401) })
		tn.create(t, app)
		waitApp(t, tn.user, app, "Stalled PrivilegeNotAllowed", func(cs []metav1.Condition) bool {
			return stalledWithReason(cs, v1alpha1.ReasonPrivilegeNotAllowed)
		})
		if _, ok := o.sim.Container(8401); ok || o.sim.MutatingRequests(8401) != 0 {
			t.Fatal("a request reached Proxmox for the privileged container")
		}
		if err := tn.user.Delete(t.Context(), app); err != nil {
			t.Fatal(err)
		}
		waitGone(t, tn.user, app)
	})

	first := tn.app(func(a *v1alpha1.Application) { a.Spec.Resources.Cores = ptr.To[int32](2) })
	tn.create(t, first)
	first = readyApp(t, tn.user, first)

	t.Run("a create beyond the container quota is refused", func(t *testing.T) {
		app := tn.app(func(a *v1alpha1.Application) { a.Spec.VMID = ptr.To[int32](8402) })
		tn.create(t, app)
		waitApp(t, tn.user, app, "Stalled QuotaExceeded", func(cs []metav1.Condition) bool {
			return stalledWithReason(cs, v1alpha1.ReasonQuotaExceeded)
		})
		if o.sim.MutatingRequests(8402) != 0 {
			t.Fatal("a request reached Proxmox for the create beyond the quota")
		}
	})
	t.Run("a grow beyond the cores quota is refused and the container keeps its size", func(t *testing.T) {
		patch := client.MergeFrom(first.DeepCopy())
		first.Spec.Resources.Cores = ptr.To[int32](4)
		first.Spec.Resources.Memory = ptr.To(resource.MustParse("1Gi"))
		if err := tn.user.Patch(t.Context(), first, patch); err != nil {
			t.Fatal(err)
		}
		waitApp(t, tn.user, first, "Stalled QuotaExceeded", func(cs []metav1.Condition) bool {
			return stalledWithReason(cs, v1alpha1.ReasonQuotaExceeded)
		})
		if ct, _ := o.sim.Container(int(first.Status.VMID)); ct.Config["cores"] != "2" || ct.Config["memory"] != "512" {
			t.Fatalf("the container was changed: cores %q memory %q", ct.Config["cores"], ct.Config["memory"])
		}
	})
}

func ownedContainers(o *operator, uid string) int {
	n := 0
	for _, ct := range o.sim.State().Containers {
		if lxcconfig.OwnedBy(lxcconfig.SplitTags(ct.Config["tags"]), uid) {
			n++
		}
	}
	return n
}

func waitGone(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := c.Get(t.Context(), client.ObjectKeyFromObject(obj), obj)
		if client.IgnoreNotFound(err) == nil && err != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still exists after 60s; status:\n%s", obj.GetName(), toYAML(statusOf(obj)))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
