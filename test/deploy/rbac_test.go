package deploy

import (
	"context"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// The shipped objects are valid for a real apiserver: every object of both
// renderings passes a server-side dry-run apply (schema, defaulting,
// admission and RBAC escalation checks included).
func TestRenderedManifestsApplyWithServerSideDryRun(t *testing.T) {
	ctx := t.Context()
	admin := adminClient(t)
	// `helm install --create-namespace` or the kustomize Namespace makes it.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}}
	if err := admin.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	// Helm releases go to namespaces of their own: the kustomize install may
	// already be there (a Deployment's selector cannot change in place).
	_, helmCRDs := helmRender(t, nil)
	helmObjs := helmRenderIn(t, "pve-operator-helm", nil)
	otherObjs := helmRenderIn(t, "pve-operator-helm2", map[string]any{"credentialsNamespace": operatorNamespace, "replicaCount": 3})
	for name, objs := range map[string][]*unstructured.Unstructured{
		"kustomize config/default":                       kustomize(t, repoPath("config", "default")),
		"Helm chart (defaults)":                          append(helmObjs, helmCRDs...),
		"Helm chart (3 replicas, credentials elsewhere)": otherObjs,
		"config/samples":                                 kustomize(t, repoPath("config", "samples")),
	} {
		t.Run(name, func(t *testing.T) {
			for _, o := range objs {
				if o.GetNamespace() != "" && o.GetNamespace() != operatorNamespace {
					ensureNamespace(ctx, t, admin, o.GetNamespace())
				}
				err := admin.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), client.DryRunAll, client.FieldOwner("dry-run"), client.ForceOwnership)
				if err != nil {
					t.Errorf("%s: %v", key(o), err)
				}
			}
		})
	}
}

func ensureNamespace(ctx context.Context, t *testing.T, c client.Client, name string) {
	t.Helper()
	err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// Every rule of every role shipped names its verbs, resources and groups.
func TestShippedRolesHaveNoWildcards(t *testing.T) {
	helm, _ := helmRender(t, nil)
	for _, o := range append(kustomize(t, repoPath("config", "default")), helm...) {
		if o.GetKind() == "Role" || o.GetKind() == "ClusterRole" {
			ruleSet(t, o) // fails the test on a wildcard
		}
	}
}

// The security model, exercised against a real apiserver with the operator
// running as its ServiceAccount under exactly the shipped RBAC:
// a namespace `edit` user manages Applications in their namespace and
// nothing else, and the operator reads Secrets only where it must.
func TestRBACNamespaceEditUser(t *testing.T) {
	f := newEditUserFixture(t)

	t.Run("can create an Application in its namespace, and the operator creates the container", f.createsAnApplication)

	t.Run("can manage Backups, Restores and BackupSchedules in its namespace", func(t *testing.T) {
		for _, res := range []string{"applications", "backups", "restores", "backupschedules"} {
			for _, verb := range []string{"create", "update", "patch", "delete", "get", "list", "watch"} {
				if !allowed(t, f.alice, verb, v1alpha1.GroupVersion.Group, res, "", f.teamA) {
					t.Errorf("alice may not %s %s in %s", verb, res, f.teamA)
				}
			}
		}
	})

	t.Run("cannot write status: only the operator reports state", func(t *testing.T) {
		for _, res := range []string{"applications", "backups", "restores", "backupschedules"} {
			for _, verb := range []string{"update", "patch"} {
				if allowed(t, f.alice, verb, v1alpha1.GroupVersion.Group, res, "status", f.teamA) {
					t.Errorf("alice may %s %s/status", verb, res)
				}
			}
		}
	})

	t.Run("cannot create Applications in another namespace", func(t *testing.T) {
		err := f.alice.Create(f.ctx, newApplication(f.teamB, f.open.Name, nil))
		expectForbidden(t, err, "create an Application in "+f.teamB)
	})

	t.Run("cannot create, patch, read or list ProxmoxHosts", f.cannotTouchHosts)

	t.Run("cannot read or list the credentials Secret", func(t *testing.T) {
		ref := f.open.Spec.CredentialsRef
		expectForbidden(t, f.alice.Get(f.ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, &corev1.Secret{}), "read the credentials Secret")
		expectForbidden(t, f.alice.List(f.ctx, &corev1.SecretList{}, client.InNamespace(ref.Namespace)), "list Secrets in the credentials namespace")
	})

	t.Run("cannot use a host whose allowedNamespaces excludes its namespace", f.cannotUseRestrictedHost)
}

// editUserFixture: alice has `edit` in teamA; teamB carries the label the
// restricted host admits, teamA does not; the open host admits both.
type editUserFixture struct {
	o                *operator
	ctx              context.Context
	alice            client.Client
	teamA, teamB     string
	open, restricted *v1alpha1.ProxmoxHost
}

func newEditUserFixture(t *testing.T) *editUserFixture {
	t.Helper()
	o := runningOperator(t)
	ctx := t.Context()
	admin := adminClient(t)

	teamA := createNamespace(t, admin, nil)
	teamB := createNamespace(t, admin, map[string]string{"proxmox.pve-operator.io/allowed": "true"})
	bind(t, admin, teamA, "User", "alice", "edit")

	open := createHost(t, admin, o, nil)
	restricted := createHost(t, admin, o, func(h *v1alpha1.ProxmoxHost, _ *corev1.Secret) {
		h.Spec.AllowedNamespaces = &metav1.LabelSelector{MatchLabels: map[string]string{"proxmox.pve-operator.io/allowed": "true"}}
	})
	for _, h := range []*v1alpha1.ProxmoxHost{open, restricted} {
		waitFor(ctx, t, admin, h, 60*time.Second, "Ready=True Connected", func(h *v1alpha1.ProxmoxHost) bool {
			return readyIs(h.Status.Conditions, metav1.ConditionTrue, v1alpha1.ReasonConnected)
		})
	}
	return &editUserFixture{
		o: o, ctx: ctx, alice: impersonate(t, "alice"),
		teamA: teamA, teamB: teamB, open: open, restricted: restricted,
	}
}

func (f *editUserFixture) createsAnApplication(t *testing.T) {
	app := newApplication(f.teamA, f.open.Name, nil)
	if err := f.alice.Create(f.ctx, app); err != nil {
		t.Fatalf("alice cannot create an Application in %s: %v", f.teamA, err)
	}
	// The edit role reaches the Application through the aggregated role.
	waitFor(f.ctx, t, f.alice, app, 90*time.Second, "Ready=True Reconciled", func(a *v1alpha1.Application) bool {
		return readyIs(a.Status.Conditions, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
	})
	if _, ok := f.o.sim.Container(int(app.Status.VMID)); !ok {
		t.Errorf("no container %d in the simulator", app.Status.VMID)
	}
}

func (f *editUserFixture) cannotTouchHosts(t *testing.T) {
	ctx, alice := f.ctx, f.alice
	h := &v1alpha1.ProxmoxHost{
		ObjectMeta: metav1.ObjectMeta{Name: "alice-host"},
		Spec: v1alpha1.ProxmoxHostSpec{
			Endpoint:       "https://pve.example:8006",
			CredentialsRef: v1alpha1.SecretReference{Name: "mine", Namespace: f.teamA},
		},
	}
	expectForbidden(t, alice.Create(ctx, h), "create a ProxmoxHost")
	patch := client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"allowedNamespaces":null}}`))
	expectForbidden(t, alice.Patch(ctx, f.restricted.DeepCopy(), patch), "patch a ProxmoxHost")
	expectForbidden(t, alice.Get(ctx, client.ObjectKeyFromObject(f.open), &v1alpha1.ProxmoxHost{}), "read a ProxmoxHost")
	expectForbidden(t, alice.List(ctx, &v1alpha1.ProxmoxHostList{}), "list ProxmoxHosts")
	expectForbidden(t, alice.Delete(ctx, f.open.DeepCopy()), "delete a ProxmoxHost")
}

func (f *editUserFixture) cannotUseRestrictedHost(t *testing.T) {
	ctx, alice := f.ctx, f.alice
	app := newApplication(f.teamA, f.restricted.Name, nil)
	if err := alice.Create(ctx, app); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, alice, app, 60*time.Second, "Ready=False NamespaceNotAllowed and Stalled", func(a *v1alpha1.Application) bool {
		return readyIs(a.Status.Conditions, metav1.ConditionFalse, v1alpha1.ReasonNamespaceNotAllowed) &&
			meta.IsStatusConditionTrue(a.Status.Conditions, v1alpha1.ConditionStalled)
	})
	if app.Status.VMID != 0 {
		t.Errorf("a container was created for a refused Application: VMID %d", app.Status.VMID)
	}
	// Nor can alice let herself in by labelling her namespace.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: f.teamA}}
	patch := client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"labels":{"proxmox.pve-operator.io/allowed":"true"}}}`))
	expectForbidden(t, alice.Patch(ctx, ns, patch), "label its namespace into allowedNamespaces")
	// The operator's events (events.k8s.io, its RBAC) tell her why.
	waitForEvent(ctx, t, alice, f.teamA, app.Name, v1alpha1.ReasonNamespaceNotAllowed)
}

// Root password Secrets live in the Application's namespace. The operator
// may read them only where a namespace admin has bound the
// root-password-reader ClusterRole to it; an edit user cannot grant that.
func TestRBACRootPasswordSecretsNeedANamespaceBinding(t *testing.T) {
	o := runningOperator(t)
	ctx := t.Context()
	admin := adminClient(t)
	ns := createNamespace(t, admin, nil)
	bind(t, admin, ns, "User", "alice", "edit")
	bind(t, admin, ns, "User", "anna", "admin")
	alice, anna := impersonate(t, "alice"), impersonate(t, "anna")
	host := createHost(t, admin, o, nil)

	if err := alice.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "root-password", Namespace: ns},
		StringData: map[string]string{"password": "correct horse battery"},
	}); err != nil {
		t.Fatalf("alice cannot create a Secret in her namespace: %v", err)
	}
	app := newApplication(ns, host.Name, func(a *v1alpha1.Application) {
		a.Spec.RootPasswordSecretRef = &v1alpha1.SecretKeySelector{Name: "root-password", Key: "password"}
	})
	if err := alice.Create(ctx, app); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, alice, app, 60*time.Second, "Ready=False SecretNotFound (Forbidden)", func(a *v1alpha1.Application) bool {
		c := meta.FindStatusCondition(a.Status.Conditions, v1alpha1.ConditionReady)
		return c != nil && c.Reason == v1alpha1.ReasonSecretNotFound && strings.Contains(c.Message, "Forbidden")
	})

	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "pve-operator-root-password-reader", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "pve-operator-root-password-reader"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: serviceAccount, Namespace: operatorNamespace}},
	}
	expectForbidden(t, alice.Create(ctx, rb.DeepCopy()), "bind the operator to read Secrets (edit user)")
	if err := anna.Create(ctx, rb); err != nil {
		t.Fatalf("a namespace admin cannot bind the root-password reader: %v", err)
	}
	// The operator retries every minute; any edit makes it retry now.
	touch := client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"annotations":{"test/retry":"now"}}}`))
	if err := alice.Patch(ctx, app, touch); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, alice, app, 90*time.Second, "Ready=True once the binding exists", func(a *v1alpha1.Application) bool {
		return readyIs(a.Status.Conditions, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
	})
}

// What the operator's ServiceAccount may do with Secrets and beyond.
func TestRBACOperatorServiceAccount(t *testing.T) {
	runningOperator(t) // installs the RBAC
	admin := adminClient(t)
	other := createNamespace(t, admin, nil)
	cases := []struct {
		verb, group, resource, namespace string
		want                             bool
	}{
		{"get", "", "secrets", operatorNamespace, true},
		{"list", "", "secrets", operatorNamespace, true},
		{"watch", "", "secrets", operatorNamespace, true},
		{"create", "", "secrets", operatorNamespace, false},
		{"update", "", "secrets", operatorNamespace, false},
		{"get", "", "secrets", other, false},
		{"list", "", "secrets", "", false},
		{"get", "", "secrets", "kube-system", false},
		{"create", "", "pods", other, false},
		{"create", "", "configmaps", other, false},
		{"update", "", "namespaces", "", false},
		{"create", "proxmox.pve-operator.io", "proxmoxhosts", "", false},
		{"delete", "proxmox.pve-operator.io", "applications", other, false},
		{"create", "proxmox.pve-operator.io", "backups", other, true},
		{"create", "events.k8s.io", "events", other, true},
		{"create", "coordination.k8s.io", "leases", operatorNamespace, true},
		{"create", "coordination.k8s.io", "leases", other, false},
		{"create", "rbac.authorization.k8s.io", "rolebindings", other, false},
	}
	for _, c := range cases {
		got := subjectAllowed(t, admin, operatorUser, operatorGroups, c.verb, c.group, c.resource, c.namespace)
		if got != c.want {
			t.Errorf("the operator may %s %s %q in namespace %q: %v, want %v", c.verb, c.group, c.resource, c.namespace, got, c.want)
		}
	}
}

func newApplication(ns, host string, mutate func(*v1alpha1.Application)) *v1alpha1.Application {
	app := &v1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("ct"), Namespace: ns},
		Spec: v1alpha1.ApplicationSpec{
			HostRef:   v1alpha1.LocalObjectReference{Name: host},
			Template:  "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
			Resources: &v1alpha1.Resources{Cores: ptr.To[int32](1), Memory: ptr.To(resource.MustParse("512Mi"))},
			RootFS:    &v1alpha1.RootFS{Storage: "local-lvm", Size: resource.MustParse("4Gi")},
			Network:   []v1alpha1.NetworkInterface{{Name: "eth0", Bridge: "vmbr0", IPv4: "dhcp"}},
		},
	}
	if mutate != nil {
		mutate(app)
	}
	return app
}

// bind gives a subject a built-in (aggregated) ClusterRole in namespace ns.
func bind(t *testing.T, c client.Client, ns, kind, name, clusterRole string) {
	t.Helper()
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-" + clusterRole, Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRole},
		Subjects:   []rbacv1.Subject{{Kind: kind, Name: name, APIGroup: rbacv1.GroupName}},
	}
	if err := c.Create(t.Context(), rb); err != nil {
		t.Fatal(err)
	}
}

func expectForbidden(t *testing.T, err error, what string) {
	t.Helper()
	if !apierrors.IsForbidden(err) {
		t.Errorf("%s: want Forbidden, got %v", what, err)
	}
}

// allowed asks the apiserver whether the client's user may do verb.
func allowed(t *testing.T, c client.Client, verb, group, res, sub, ns string) bool {
	t.Helper()
	r := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Group: group, Resource: res, Subresource: sub, Namespace: ns},
	}}
	if err := c.Create(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	return r.Status.Allowed
}

func subjectAllowed(t *testing.T, admin client.Client, user string, groups []string, verb, group, res, ns string) bool {
	t.Helper()
	r := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user, Groups: groups,
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Group: group, Resource: res, Namespace: ns},
	}}
	if err := admin.Create(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	return r.Status.Allowed
}

func waitForEvent(ctx context.Context, t *testing.T, c client.Client, ns, regarding, reason string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		// Read through core/v1, as `kubectl describe` does: the built-in
		// view role grants that, and the API serves events.k8s.io events too.
		list := &corev1.EventList{}
		if err := c.List(ctx, list, client.InNamespace(ns)); err == nil {
			for _, e := range list.Items {
				if e.InvolvedObject.Name == regarding && e.Reason == reason {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s event about %s/%s", reason, ns, regarding)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
