package proxmox

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// Migrator moves containers between the nodes of a cluster.
type Migrator interface {
	// MigratePreconditions is GET .../migrate: whether the container runs
	// and which nodes HA lets it go to. PVE 9.1 says nothing there about
	// mount points, devices or storages; those are checked by the
	// vzmigrate worker (see MigrationBlockers for the same rules up front).
	MigratePreconditions(ctx context.Context, node string, vmid int, target string) (MigratePreconditions, error)
	// MigrateContainer starts a vzmigrate task (or, for a container HA
	// manages, a hamigrate task that only asks HA to move it).
	MigrateContainer(ctx context.Context, node string, vmid int, target string, opts MigrateOptions) (UPID, error)
}

// MigratePreconditions is PVE's answer to GET .../migrate.
type MigratePreconditions struct {
	Running bool
	// AllowedNodes are the other nodes the container may go to.
	AllowedNodes []string
	// NotAllowedNodes maps a node to the HA resources that keep the
	// container off it.
	NotAllowedNodes map[string][]HABlocker
	// DependentHAResources would move along with the container (positive
	// resource affinity).
	DependentHAResources []string
}

// HABlocker is an HA resource that keeps a container off a node.
type HABlocker struct {
	SID string
	// Cause is PVE's: "resource-affinity" (9.1), "node-affinity" (later).
	Cause string
}

// Allows reports whether target is among the allowed nodes.
func (p MigratePreconditions) Allows(target string) bool {
	for _, n := range p.AllowedNodes {
		if n == target {
			return true
		}
	}
	return false
}

// MigrateOptions for POST .../migrate.
type MigrateOptions struct {
	// Restart migrates a running container by shutting it down, moving it
	// and starting it on the target (LXC has no live migration). Ignored
	// for a stopped container, which migrates offline.
	Restart bool
	// Timeout is the shutdown timeout of a restart migration in seconds;
	// 0 means PVE's default (180).
	Timeout int
}

// MigratePreconditions reads GET /nodes/{node}/lxc/{vmid}/migrate.
func (c *APIClient) MigratePreconditions(ctx context.Context, node string, vmid int, target string) (MigratePreconditions, error) {
	path := ctPath(node, vmid, "/migrate")
	if target != "" {
		path += "?" + url.Values{"target": {target}}.Encode()
	}
	var raw struct {
		Running         flag     `json:"running"`
		AllowedNodes    []string `json:"allowed-nodes"`
		DependentHA     []string `json:"dependent-ha-resources"`
		NotAllowedNodes map[string]struct {
			Blocking []struct {
				SID   string `json:"sid"`
				Cause string `json:"cause"`
			} `json:"blocking-ha-resources"`
		} `json:"not-allowed-nodes"`
	}
	if err := c.get(ctx, path, &raw); err != nil {
		return MigratePreconditions{}, fmt.Errorf("read migration preconditions of container %d on %s: %w", vmid, node, err)
	}
	out := MigratePreconditions{Running: bool(raw.Running), AllowedNodes: raw.AllowedNodes, DependentHAResources: raw.DependentHA}
	sort.Strings(out.AllowedNodes)
	for n, na := range raw.NotAllowedNodes {
		if out.NotAllowedNodes == nil {
			out.NotAllowedNodes = map[string][]HABlocker{}
		}
		bs := make([]HABlocker, 0, len(na.Blocking))
		for _, b := range na.Blocking {
			bs = append(bs, HABlocker{SID: b.SID, Cause: b.Cause})
		}
		out.NotAllowedNodes[n] = bs
	}
	return out, nil
}

// MigrateContainer starts the migration of container vmid from node to
// target.
func (c *APIClient) MigrateContainer(ctx context.Context, node string, vmid int, target string, opts MigrateOptions) (UPID, error) {
	body := map[string]any{"target": target}
	if opts.Restart {
		body["restart"] = 1
		if opts.Timeout > 0 {
			body["timeout"] = opts.Timeout
		}
	}
	u, err := c.startTask(ctx, request{method: http.MethodPost, path: ctPath(node, vmid, "/migrate"), body: body})
	if err != nil {
		return UPID{}, fmt.Errorf("migrate container %d from %s to %s: %w", vmid, node, target, err)
	}
	return u, nil
}

// migratableLocalTypes are the storage types whose local (not shared)
// volumes vzmigrate can copy to another node (pve-container's
// PVE::LXC::Migrate, for a migration inside the cluster).
var migratableLocalTypes = map[string]bool{"dir": true, "zfspool": true, "lvmthin": true, "lvm": true, "btrfs": true}

// MigrationBlockers lists, in PVE's words where PVE has them, what keeps
// the container with config cfg from moving from node source to target,
// given the cluster's storages (one entry per node). These are the checks
// pve-container's vzmigrate worker makes before it moves anything, so a
// caller can refuse up front instead of starting a task that is bound to
// fail:
//   - a bind or device mount point not marked shared ("cannot migrate local
//     bind mount point 'mp0'");
//   - a volume on a storage the target does not have for containers;
//   - a volume on local storage of a type vzmigrate cannot copy, or with
//     snapshots (the config's parent) on local storage other than zfs or
//     btrfs ("non-migratable snapshot exists").
//
// Passed-through devices (devN) are listed too. PVE does not check them
// (its worker leaves "test if VM uses local resources" to do), but the
// path names a device of the source node: on the target it is another
// device or none, and the container would not start there.
func MigrationBlockers(cfg ContainerConfig, storages []Storage, source, target string) []string {
	var out []string
	on := placement{storages: storages, source: source, target: target, snapshots: cfg["parent"] != ""}
	for _, key := range sortedConfigKeys(cfg) {
		val := cfg[key]
		switch {
		case isDeviceKey(key):
			out = append(out, fmt.Sprintf("%s passes through %s, a device of node %s", key, mountSource(val), source))
		case key == "rootfs" || isIndexedKey(key, "mp"):
			out = append(out, on.volumeBlockers(key, val)...)
		case isIndexedKey(key, "unused"):
			out = append(out, on.volumeBlockers(key, "volume="+val)...)
		}
	}
	return out
}

// placement is what a volume's check needs to know about the move.
type placement struct {
	storages       []Storage
	source, target string
	// snapshots: the container has some (its config names a parent).
	snapshots bool
}

// volumeBlockers judges one mount point (or unused volume).
func (on placement) volumeBlockers(key, val string) []string {
	src, opts := mountSource(val), mountOptions(val)
	if strings.HasPrefix(src, "/") {
		if opts["shared"] == "1" {
			return nil // the user says every node has this path
		}
		kind := "bind"
		if strings.HasPrefix(src, "/dev/") {
			kind = "device"
		}
		return []string{fmt.Sprintf("cannot migrate local %s mount point '%s'", kind, key)}
	}
	sid, _, ok := strings.Cut(src, ":")
	if !ok || sid == "" {
		return nil
	}
	from, onSource := storageOn(on.storages, sid, on.source)
	to, onTarget := storageOn(on.storages, sid, on.target)
	local := onSource && !from.Shared
	switch {
	case !onTarget:
		return []string{fmt.Sprintf("%s: storage '%s' is not available on node '%s'", src, sid, on.target)}
	case !to.Accepts("rootdir"):
		return []string{fmt.Sprintf("%s: content type 'rootdir' is not available on storage '%s'", src, sid)}
	case local && !migratableLocalTypes[from.Type]:
		return []string{fmt.Sprintf("can't migrate local volume '%s': storage type '%s' not supported", src, from.Type)}
	case local && on.snapshots && from.Type != "zfspool" && from.Type != "btrfs":
		return []string{fmt.Sprintf("can't migrate local volume '%s': non-migratable snapshot exists", src)}
	}
	return nil
}

// storageOn finds storage sid as node sees it.
func storageOn(storages []Storage, sid, node string) (Storage, bool) {
	for _, st := range storages {
		if st.ID == sid && st.Node == node {
			return st, true
		}
	}
	return Storage{}, false
}

// mountSource is the volume (or host path) of a mount point value: its
// first field without a key, or volume=.
func mountSource(val string) string {
	for i, f := range strings.Split(val, ",") {
		if k, v, ok := strings.Cut(f, "="); ok && k == "volume" {
			return v
		} else if !ok && i == 0 {
			return f
		}
	}
	return ""
}

// mountOptions are the key=value fields of a mount point value.
func mountOptions(val string) map[string]string {
	out := map[string]string{}
	for _, f := range strings.Split(val, ",") {
		if k, v, ok := strings.Cut(f, "="); ok {
			out[k] = v
		}
	}
	return out
}

// isIndexedKey reports key == prefix followed by digits (mp0, unused3).
func isIndexedKey(key, prefix string) bool {
	if len(key) <= len(prefix) || !strings.HasPrefix(key, prefix) {
		return false
	}
	for _, r := range key[len(prefix):] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func isDeviceKey(key string) bool { return isIndexedKey(key, "dev") }

func sortedConfigKeys(cfg ContainerConfig) []string {
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
