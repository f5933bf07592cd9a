package adoptgen

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/hostconfig"
	"github.com/pve-operator/pve-operator/internal/proxmox"
)

// HostClient builds the operator's Proxmox client for a ProxmoxHost from
// its spec and credentials Secret, read with k8s: whoever runs the
// generator needs get on the ProxmoxHost and on that Secret, which is why
// it is a tool for the host's admins. Only reads are made with it.
func HostClient(ctx context.Context, k8s client.Reader, name string) (*proxmox.APIClient, *v1alpha1.ProxmoxHost, error) {
	host := &v1alpha1.ProxmoxHost{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: name}, host); err != nil {
		return nil, nil, fmt.Errorf("get ProxmoxHost %s: %w", name, err)
	}
	ref := host.Spec.CredentialsRef
	secret := &corev1.Secret{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, secret); err != nil {
		return nil, nil, fmt.Errorf("get the credentials Secret %s/%s of ProxmoxHost %s: %w", ref.Namespace, ref.Name, name, err)
	}
	cfg := hostconfig.Config(host.Spec, hostconfig.Credentials(secret.Data))
	c, err := proxmox.New(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("ProxmoxHost %s: %w", name, err)
	}
	return c, host, nil
}
