// Package hostconfig reads what a ProxmoxHost and its credentials Secret
// say about reaching Proxmox, for every client that talks to a host: the
// operator and kubectl-pve build their clients from the same keys.
package hostconfig

import (
	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/proxmox"
)

// Credentials are the keys of a credentials Secret: tokenID and
// tokenSecret, or username and password.
func Credentials(data map[string][]byte) proxmox.Credentials {
	return proxmox.Credentials{
		TokenID:     string(data["tokenID"]),
		TokenSecret: string(data["tokenSecret"]),
		Username:    string(data["username"]),
		Password:    string(data["password"]),
	}
}

// Config is the client configuration spec and creds give: the endpoint,
// the credentials and how to trust the host's certificate. Timeouts, rate
// limits and observers are the caller's to add.
func Config(spec v1alpha1.ProxmoxHostSpec, creds proxmox.Credentials) proxmox.Config {
	cfg := proxmox.Config{Endpoint: spec.Endpoint, Credentials: creds}
	if t := spec.TLS; t != nil {
		cfg.InsecureSkipVerify = t.InsecureSkipVerify
		cfg.CABundle = []byte(t.CABundle)
		cfg.CertificateFingerprint = t.CertificateFingerprint
	}
	return cfg
}
