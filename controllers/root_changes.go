package controllers

import (
	"fmt"
	"maps"
	"slices"

	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/proxmox"
	"github.com/pve-operator/pve-operator/internal/pveparams"
)

// Root-only changes. PVE lets only root@pam set bind mounts, devices,
// hookscripts and most feature flags (lxcconfig.RootOnly). The operator
// predicts that refusal instead of provoking it: without working root
// credentials such a change is Stalled/RootRequired, naming the keys, and
// nothing is sent; with them it goes through the host's root client. All
// else still goes through the API token, so root is used for as little as
// possible.

// createClient returns the client a create with params is sent through.
// A create with root-only keys is sent whole through the root client, not
// split into a token create and a root update: the ownership marker and
// every declared key then land in the one create call, and the container
// never exists half-configured (a bind mount missing when it first
// starts) or without its owner.
func createClient(s *appScope, params pveparams.List) (proxmox.Client, outcome, bool) {
	return clientFor(s, lxcconfig.CreateRootOnly(params), fmt.Sprintf("the container of Application %s", s.app.Name))
}

// configStep trims ch to what this pass sends, and returns the client to
// send it with. A change that mixes ordinary and
// root-only keys is sent in two steps, the ordinary keys first through
// the token (more is true: the caller requeues, and the next pass, with a
// fresh config and digest, sends the rest through the root client). A
// change with only root-only keys and no working root credentials is the
// RootRequired verdict, with nothing sent.
func configStep(s *appScope, ct proxmox.ContainerSummary, cfg proxmox.ContainerConfig, ch *lxcconfig.Changes) (via proxmox.Client, more bool, o outcome, ok bool) {
	root := lxcconfig.RootOnly(ch.Set, ch.Delete, cfg, cfg["unprivileged"] == "1")
	if len(root) == 0 {
		return s.host.Client, false, outcome{}, true
	}
	if len(root) < len(ch.Set)+len(ch.Delete) {
		maps.DeleteFunc(ch.Set, func(k, _ string) bool { return slices.Contains(root, k) })
		ch.Delete = slices.DeleteFunc(ch.Delete, func(k string) bool { return slices.Contains(root, k) })
		return s.host.Client, true, outcome{}, true
	}
	via, o, ok = clientFor(s, root, fmt.Sprintf("container %d", ct.VMID))
	return via, false, o, ok
}
