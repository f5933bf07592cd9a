package testenv

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

// CredentialsNamespace holds the fixtures' credentials Secret.
const CredentialsNamespace = "pve-operator-system"

// HostFixture describes the ProxmoxHost the system-level suites (bench,
// faults, crash) point at the simulator.
type HostFixture struct {
	// Name of the ProxmoxHost.
	Name string
	// Namespaces to create for Applications (the credentials namespace is
	// always created).
	Namespaces []string
	// SyncInterval of the host; zero keeps the API default.
	SyncInterval time.Duration
	// Images, when set, is granted to every namespace in Namespaces.
	Images *v1alpha1.ImageGrant
}

// CreateHost creates the namespaces, a token Secret and a ProxmoxHost that
// trusts the simulator's CA; it does not wait (no operator may run yet).
func CreateHost(ctx context.Context, k8s client.Client, sim *pvesim.Server, f HostFixture) error {
	objs := []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: CredentialsNamespace}}}
	for _, ns := range f.Namespaces {
		objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}
	host := &v1alpha1.ProxmoxHost{
		ObjectMeta: metav1.ObjectMeta{Name: f.Name},
		Spec: v1alpha1.ProxmoxHostSpec{
			Endpoint:       sim.URL(),
			CredentialsRef: v1alpha1.SecretReference{Name: "creds", Namespace: CredentialsNamespace},
			TLS:            &v1alpha1.TLSConfig{CABundle: string(sim.CACertPEM())},
		},
	}
	if f.SyncInterval > 0 {
		host.Spec.SyncInterval = &metav1.Duration{Duration: f.SyncInterval}
	}
	if f.Images != nil {
		host.Spec.Grants = []v1alpha1.TenantGrant{{
			NamespaceSelector: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: corev1.LabelMetadataName, Operator: metav1.LabelSelectorOpIn, Values: f.Namespaces},
			}},
			Images: f.Images,
		}}
	}
	objs = append(objs,
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: CredentialsNamespace},
			StringData: map[string]string{"tokenID": pvesim.DefaultTokenID, "tokenSecret": pvesim.DefaultTokenSecret},
		},
		host)
	for _, o := range objs {
		if err := k8s.Create(ctx, o); err != nil {
			return fmt.Errorf("create %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}

// WaitHostReady waits until the named ProxmoxHost reports Ready=True.
func WaitHostReady(ctx context.Context, k8s client.Client, name string, timeout time.Duration) error {
	host := &v1alpha1.ProxmoxHost{}
	return Poll(ctx, timeout, func() (bool, error) {
		if err := k8s.Get(ctx, client.ObjectKey{Name: name}, host); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		return meta.IsStatusConditionTrue(host.Status.Conditions, v1alpha1.ConditionReady), nil
	})
}

// SmallApp is the Application the system-level suites create: 1 core,
// 256 MiB, 1 GiB on local-lvm, from the simulator's Debian template.
func SmallApp(namespace, name, host string) *v1alpha1.Application {
	return &v1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: v1alpha1.ApplicationSpec{
			HostRef:   v1alpha1.LocalObjectReference{Name: host},
			Template:  pvesim.DebianTemplate,
			Resources: &v1alpha1.Resources{Cores: ptr.To[int32](1), Memory: ptr.To(resource.MustParse("256Mi"))},
			RootFS:    &v1alpha1.RootFS{Storage: "local-lvm", Size: resource.MustParse("1Gi")},
		},
	}
}

// Poll calls cond every 200 ms until it returns true, an error, or timeout
// passes (an error naming the timeout).
func Poll(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	return PollEvery(ctx, timeout, 200*time.Millisecond, cond)
}

// PollEvery is Poll with interval between the calls of cond.
func PollEvery(ctx context.Context, timeout, interval time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("condition not met within %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// AddOwnedByOther adds a container carrying the operator's ownership marker
// for an Application UID that no test creates: what another namespace's (or
// another operator's) container looks like. The operator must never act on
// it. It returns the container's digest.
func AddOwnedByOther(sim *pvesim.Server, node string, vmid int, running bool) (string, error) {
	tags := lxcconfig.JoinTags([]string{lxcconfig.ManagedTag, lxcconfig.OwnerTag(string(uuid.NewUUID()))})
	if err := sim.AddContainer(node, vmid, map[string]string{"hostname": fmt.Sprintf("other-%d", vmid), "memory": "256", "tags": tags}, running); err != nil {
		return "", err
	}
	ct, _ := sim.Container(vmid)
	return ct.Digest, nil
}
