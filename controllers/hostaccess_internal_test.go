package controllers

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
)

func TestPathWithin(t *testing.T) {
	for _, tt := range []struct {
		name, path, allowed string
		want                bool
	}{
		{"the allowed path itself is allowed", "/srv/data", "/srv/data", true},
		{"a path beneath it is allowed", "/srv/data/app/logs", "/srv/data", true},
		{"a sibling sharing the prefix is denied", "/srv/data2", "/srv/data", false},
		{"a sibling with a suffix is denied", "/srv/data-old/x", "/srv/data", false},
		{"the parent is denied", "/srv", "/srv/data", false},
		{"an allowed path with a trailing slash still matches beneath", "/srv/data/x", "/srv/data/", true},
		{"a trailing slash on the asked path does not matter", "/srv/data/", "/srv/data", true},
		{"doubled slashes do not matter", "/srv//data///x", "/srv/data", true},
		{"a .. climbing out is denied", "/srv/data/../../etc", "/srv/data", false},
		{"a .. staying inside is denied all the same", "/srv/data/a/../b", "/srv/data", false},
		{"a . component is denied", "/srv/data/./x", "/srv/data", false},
		{"an allowed path with .. matches nothing", "/etc/passwd", "/srv/../etc", false},
		{"a relative path is denied", "srv/data/x", "/srv/data", false},
		{"an allowed / allows everything", "/etc", "/", true},
		{"an empty allowed path allows nothing", "/srv/data", "", false},
		{"a name starting with dots is an ordinary name", "/srv/data/..hidden", "/srv/data", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := pathWithin(tt.path, tt.allowed); got != tt.want {
				t.Errorf("pathWithin(%q, %q) = %v, want %v", tt.path, tt.allowed, got, tt.want)
			}
		})
	}
}

func TestDeviceAllowed(t *testing.T) {
	for _, tt := range []struct {
		name, path, allowed string
		want                bool
	}{
		{"an exact device is allowed", "/dev/fuse", "/dev/fuse", true},
		{"a device is not a directory: nothing beneath it", "/dev/fuse/x", "/dev/fuse", false},
		{"a sibling sharing the prefix is denied", "/dev/fuse0", "/dev/fuse", false},
		{"beneath a directory ending in / is allowed", "/dev/dri/renderD128", "/dev/dri/", true},
		{"deeper beneath it is allowed", "/dev/dri/by-path/pci-0000", "/dev/dri/", true},
		{"the directory itself is not a device", "/dev/dri", "/dev/dri/", false},
		{"a sibling directory is denied", "/dev/dri2/card0", "/dev/dri/", false},
		{"a .. out of the directory is denied", "/dev/dri/../sda", "/dev/dri/", false},
		{"without the trailing / only the exact path is allowed", "/dev/dri/card0", "/dev/dri", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := deviceAllowed(tt.path, tt.allowed); got != tt.want {
				t.Errorf("deviceAllowed(%q, %q) = %v, want %v", tt.path, tt.allowed, got, tt.want)
			}
		})
	}
}

func TestHostAccessAllowedUnionsTheGrantsAndNamesEveryDenial(t *testing.T) {
	host := &v1alpha1.ProxmoxHost{ObjectMeta: metav1.ObjectMeta{Name: "pve"}}
	ten := tenancy{host: host, namespace: "team-a", grants: []v1alpha1.TenantGrant{
		{HostPaths: []string{"/srv/data"}},
		{Devices: []string{"/dev/dri/"}, Hookscripts: []string{"local:snippets/ok.sh"}},
	}}
	access := func(paths, devices map[string]string, hook string) lxcconfig.HostAccess {
		return lxcconfig.HostAccess{HostPaths: paths, Devices: devices, Hookscript: hook}
	}
	for _, tt := range []struct {
		name   string
		h      lxcconfig.HostAccess
		reason string
		names  []string
	}{
		{name: "what the grants list is allowed", h: access(map[string]string{"mp0": "/srv/data/x"}, map[string]string{"dev0": "/dev/dri/card0"}, "local:snippets/ok.sh")},
		{name: "nothing asked needs no grant", h: access(nil, nil, "")},
		{name: "a sibling host path is denied", h: access(map[string]string{"mp0": "/srv/data2"}, nil, ""), reason: v1alpha1.ReasonHostPathNotAllowed, names: []string{"mp0", "/srv/data2"}},
		{name: "an unlisted device is denied", h: access(nil, map[string]string{"dev1": "/dev/sda"}, ""), reason: v1alpha1.ReasonDeviceNotAllowed, names: []string{"dev1", "/dev/sda"}},
		{name: "an unlisted hookscript is denied", h: access(nil, nil, "local:snippets/evil.sh"), reason: v1alpha1.ReasonHookscriptNotAllowed, names: []string{"local:snippets/evil.sh"}},
		{
			name:   "several denials are all named under the first kind's reason",
			h:      access(map[string]string{"mp1": "/etc"}, map[string]string{"dev0": "/dev/mem"}, "local:snippets/evil.sh"),
			reason: v1alpha1.ReasonHostPathNotAllowed, names: []string{"/etc", "/dev/mem", "local:snippets/evil.sh"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o, ok := ten.hostAccessAllowed(tt.h, "the declared container")
			if ok != (tt.reason == "") || o.reason != tt.reason {
				t.Fatalf("hostAccessAllowed = %v %q, want reason %q", ok, o.reason, tt.reason)
			}
			if !ok && !o.stalled {
				t.Errorf("a denial is not Stalled: %+v", o)
			}
			for _, n := range tt.names {
				if !strings.Contains(o.message, n) {
					t.Errorf("message %q does not name %q", o.message, n)
				}
			}
		})
	}
}

func TestNoGrantAllowsNoHostAccess(t *testing.T) {
	ten := tenancy{host: &v1alpha1.ProxmoxHost{ObjectMeta: metav1.ObjectMeta{Name: "pve"}}, namespace: "team-b",
		grants: []v1alpha1.TenantGrant{{Privileged: true}}}
	o, ok := ten.hostAccessAllowed(lxcconfig.HostAccess{HostPaths: map[string]string{"mp0": "/"}}, "the declared container")
	if ok || !strings.Contains(o.message, "allows none") {
		t.Errorf("a grant without hostPaths allowed / or did not say none is allowed: %v %q", ok, o.message)
	}
}
