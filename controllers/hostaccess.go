package controllers

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
)

// Host access is what reaches the node outside a container's own volumes:
// bind mounts of node paths, devices and hookscripts. Each is root on the
// node, so a namespace may declare none unless a grant of the ProxmoxHost
// names it (spec.grants[].hostPaths, devices, hookscripts). The spec is
// checked on every pass, in admission, so a revoked grant stops every
// further change to the container; but the operator never detaches on its
// own what is attached: a bind mount or device pulled from under a running
// workload is an outage nobody asked for, and removing it from the spec
// is always possible. What an adopted container already has and the spec
// does not declare came from the admin, with the adoption grant: it is
// left as found, and needs no host-access grant.

// declaredHostAccess is the host access an Application's spec asks for.
func declaredHostAccess(app *v1alpha1.Application) lxcconfig.HostAccess {
	h := lxcconfig.HostAccess{HostPaths: map[string]string{}, Devices: map[string]string{}, Hookscript: app.Spec.Hookscript}
	for _, mp := range app.Spec.MountPoints {
		if mp.HostPath != "" {
			h.HostPaths[mp.Name] = mp.HostPath
		}
	}
	for _, d := range app.Spec.Devices {
		h.Devices[d.Name] = d.Path
	}
	return h
}

// hostAccessAllowed checks h against the namespace's grants. what names
// the container in the message ("the declared container", "container
// 123"). The verdict names every item denied; its reason is that of the
// first kind denied (host paths, then devices, then the hookscript).
func (t tenancy) hostAccessAllowed(h lxcconfig.HostAccess, what string) (outcome, bool) {
	var paths, devices, hooks []string
	for _, g := range t.grants {
		paths = append(paths, g.HostPaths...)
		devices = append(devices, g.Devices...)
		hooks = append(hooks, g.Hookscripts...)
	}
	var reason string
	var denied []string
	deny := func(r, msg string) {
		if reason == "" {
			reason = r
		}
		denied = append(denied, msg)
	}
	for _, k := range slices.Sorted(maps.Keys(h.HostPaths)) {
		if p := h.HostPaths[k]; !slices.ContainsFunc(paths, func(a string) bool { return pathWithin(p, a) }) {
			deny(v1alpha1.ReasonHostPathNotAllowed, fmt.Sprintf("mount point %s binds host path %s (spec.grants[].hostPaths allows %s)", k, p, listOrNone(paths)))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(h.Devices)) {
		if p := h.Devices[k]; !slices.ContainsFunc(devices, func(a string) bool { return deviceAllowed(p, a) }) {
			deny(v1alpha1.ReasonDeviceNotAllowed, fmt.Sprintf("%s passes device %s (spec.grants[].devices allows %s)", k, p, listOrNone(devices)))
		}
	}
	if h.Hookscript != "" && !slices.Contains(hooks, h.Hookscript) {
		deny(v1alpha1.ReasonHookscriptNotAllowed, fmt.Sprintf("hookscript %s (spec.grants[].hookscripts allows %s)", h.Hookscript, listOrNone(hooks)))
	}
	if reason == "" {
		return outcome{}, true
	}
	return stalled(reason, fmt.Sprintf("%s reaches the node, which ProxmoxHost %q does not allow namespace %q: %s; nothing was touched",
		what, t.host.Name, t.namespace, strings.Join(denied, "; "))), false
}

// pathWithin reports whether p is allowed or lies beneath it, compared by
// whole path components: /srv/data allows /srv/data and /srv/data/x but
// not /srv/data2. A path with a . or .. component matches nothing (the
// API refuses them; this is the second fence), and repeated or trailing
// slashes do not matter. Symlinks need no care here: PVE refuses a bind
// mount source with a symlink anywhere in it.
func pathWithin(p, allowed string) bool {
	if !plainAbsPath(p) || !plainAbsPath(allowed) {
		return false
	}
	p, allowed = path.Clean(p), path.Clean(allowed)
	return allowed == "/" || p == allowed || strings.HasPrefix(p, allowed+"/")
}

// deviceAllowed reports whether device path p is allowed by a: exactly,
// or beneath a when a ends in "/" (/dev/dri/ allows /dev/dri/renderD128).
func deviceAllowed(p, a string) bool {
	if !plainAbsPath(p) || !plainAbsPath(a) {
		return false
	}
	if strings.HasSuffix(a, "/") {
		return pathWithin(p, a) && path.Clean(p) != path.Clean(a)
	}
	return path.Clean(p) == path.Clean(a)
}

// plainAbsPath: absolute, with no . or .. component.
func plainAbsPath(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	for _, c := range strings.Split(p, "/") {
		if c == "." || c == ".." {
			return false
		}
	}
	return true
}

func listOrNone(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(slices.Compact(slices.Sorted(slices.Values(items))), ", ")
}
