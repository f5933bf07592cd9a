package controllers

import (
	"slices"
	"testing"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

func TestParseOCIRef(t *testing.T) {
	for _, tt := range []struct {
		name, ref                     string
		repository, tag, digest, file string
	}{
		{"a bare name is Docker Hub's library", "nginx:1.27", "docker.io/library/nginx", "1.27", "", "docker.io_library_nginx_1.27"},
		{"a user repository is on Docker Hub", "grafana/grafana:11.0", "docker.io/grafana/grafana", "11.0", "", "docker.io_grafana_grafana_11.0"},
		{"a first component with a dot is a registry", "ghcr.io/acme/tool:v1", "ghcr.io/acme/tool", "v1", "", "ghcr.io_acme_tool_v1"},
		{"a registry with a port keeps it, and the tag is after the last colon", "registry.local:5000/app:2", "registry.local:5000/app", "2", "", "registry.local_5000_app_2"},
		{"localhost is a registry", "localhost/app:dev", "localhost/app", "dev", "", "localhost_app_dev"},
		{"a pinned digest is split off", "alpine:3.20@sha256:abc", "docker.io/library/alpine", "3.20", "sha256:abc", "docker.io_library_alpine_3.20"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := parseOCIRef(tt.ref)
			if r.repository != tt.repository || r.tag != tt.tag || r.digest != tt.digest || r.filename() != tt.file {
				t.Errorf("parseOCIRef(%q) = %+v, file %q", tt.ref, r, r.filename())
			}
		})
	}
}

func TestRegistryWithin(t *testing.T) {
	for _, tt := range []struct {
		name, repo, allowed string
		want                bool
	}{
		{"a registry host allows its repositories", "docker.io/library/nginx", "docker.io", true},
		{"a repository prefix allows what lies beneath", "docker.io/library/nginx", "docker.io/library", true},
		{"a prefix is matched by whole components", "docker.io/library2/x", "docker.io/library", false},
		{"another registry is denied", "ghcr.io/acme/tool", "docker.io", false},
		{"a registry host does not match a longer host", "docker.io.evil.com/x", "docker.io", false},
		{"a bare name is qualified like a reference, as Docker Hub's library", "docker.io/library/nginx", "nginx", true},
		{"a Docker Hub user prefix allows that user's repositories", "docker.io/grafana/grafana", "docker.io/grafana", true},
		{"a registry with a port matches exactly", "registry.local:5000/app", "registry.local:5000", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := registryWithin(tt.repo, tt.allowed); got != tt.want {
				t.Errorf("registryWithin(%q, %q) = %v", tt.repo, tt.allowed, got)
			}
		})
	}
}

func TestStagedImageNameIsOnePerSourceAndStorage(t *testing.T) {
	oci := v1alpha1.StagedImageSource{OCI: "docker.io/library/nginx:1.27"}
	a := stagedImageName("pve", "local", oci)
	if b := stagedImageName("pve", "local", oci); a != b {
		t.Errorf("the same source is named %q and %q", a, b)
	}
	for _, other := range []string{
		stagedImageName("pve", "nfs", oci),
		stagedImageName("pve2", "local", oci),
		stagedImageName("pve", "local", v1alpha1.StagedImageSource{OCI: "docker.io/library/nginx:1.28"}),
	} {
		if other == a {
			t.Errorf("different sources share the name %q", a)
		}
	}
	if len(a) > 63 {
		t.Errorf("name %q is longer than a label", a)
	}
}

func TestStagedImagesToWake(t *testing.T) {
	app := func(si string) *v1alpha1.Application {
		a := &v1alpha1.Application{}
		a.Status.StagedImage = si
		return a
	}
	for _, tt := range []struct {
		name     string
		old, cur string
		want     []string
	}{
		{"an update that keeps the StagedImage wakes nothing", "oci-a", "oci-a", nil},
		{"taking a StagedImage wakes it", "", "oci-a", []string{"oci-a"}},
		{"moving to another wakes both", "oci-a", "oci-b", []string{"oci-a", "oci-b"}},
		{"an Application without one wakes nothing", "", "", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := stagedImagesToWake(app(tt.old), app(tt.cur)); !slices.Equal(got, tt.want) {
				t.Errorf("stagedImagesToWake = %v, want %v", got, tt.want)
			}
		})
	}
}
