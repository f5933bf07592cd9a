package hostconfig

import (
	"testing"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/proxmox"
)

func TestConfigCarriesWhatTheHostAndSecretSay(t *testing.T) {
	creds := Credentials(map[string][]byte{"tokenID": []byte("op@pve!k8s"), "tokenSecret": []byte("s3cret"), "other": []byte("ignored")})
	for _, tt := range []struct {
		name string
		spec v1alpha1.ProxmoxHostSpec
		want proxmox.Config
	}{
		{"without TLS settings the system roots are trusted", v1alpha1.ProxmoxHostSpec{Endpoint: "https://pve:8006"},
			proxmox.Config{Endpoint: "https://pve:8006", Credentials: creds}},
		{"a CA bundle and a pinned fingerprint are passed on", v1alpha1.ProxmoxHostSpec{Endpoint: "https://pve:8006",
			TLS: &v1alpha1.TLSConfig{CABundle: "PEM", CertificateFingerprint: "AB:CD"}},
			proxmox.Config{Endpoint: "https://pve:8006", Credentials: creds, CABundle: []byte("PEM"), CertificateFingerprint: "AB:CD"}},
		{"insecureSkipVerify is passed on", v1alpha1.ProxmoxHostSpec{Endpoint: "https://pve:8006", TLS: &v1alpha1.TLSConfig{InsecureSkipVerify: true}},
			proxmox.Config{Endpoint: "https://pve:8006", Credentials: creds, InsecureSkipVerify: true, CABundle: []byte{}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := Config(tt.spec, creds)
			if got.Endpoint != tt.want.Endpoint || got.Credentials != tt.want.Credentials || got.InsecureSkipVerify != tt.want.InsecureSkipVerify ||
				string(got.CABundle) != string(tt.want.CABundle) || got.CertificateFingerprint != tt.want.CertificateFingerprint {
				t.Errorf("Config = %+v, want %+v", got, tt.want)
			}
		})
	}
	if creds.TokenID != "op@pve!k8s" || creds.TokenSecret != "s3cret" || creds.Username != "" {
		t.Errorf("Credentials = %+v", creds)
	}
}
