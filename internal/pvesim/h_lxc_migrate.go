package pvesim

import (
	"fmt"
	"sort"
	"strings"
)

// The migrate endpoints' PVE rules beyond the POST handler (h_lxc_clone.go):
// pve-container's migrate_vm_precondition and the checks of its vzmigrate
// worker (PVE::LXC::Migrate prepare and phase1) that refuse a container
// before anything moves.

// hLXCMigratePrecondition is GET .../migrate (PVE 9.1): the container must
// be on the node and unlocked; every other cluster node, online or not,
// is allowed unless an HA resource it must stay apart from (a negative
// resource-affinity rule) runs there. Mount points, devices and storages
// are not looked at here: the worker checks them.
func hLXCMigratePrecondition(s *Server, rq *request) (any, *apiError) {
	return s.onCT(rq, func(ct *container) (any, *apiError) {
		if e := ct.checkLock(); e != nil {
			return nil, e
		}
		res := map[string]any{"running": b01(ct.running)}
		blocked := map[string][]map[string]string{}
		if s.haManaged(ct.vmid) {
			dependent, byNode := s.haMotionInfo(haSID(ct.vmid))
			res["dependent-ha-resources"] = dependent
			blocked = byNode
		}
		allowed := []string{}
		notAllowed := map[string]any{}
		for _, n := range s.nodeOrder {
			if n == ct.node {
				continue
			}
			if b := blocked[n]; len(b) > 0 {
				notAllowed[n] = map[string]any{"blocking-ha-resources": b}
				continue
			}
			allowed = append(allowed, n)
		}
		res["allowed-nodes"] = allowed
		res["not-allowed-nodes"] = notAllowed
		return res, nil
	})
}

// haMotionInfo is get_resource_motion_info: the resources a positive rule
// ties to sid (they would move along), and per node the resources a
// negative rule keeps apart from sid that are there. The caller holds s.mu.
func (s *Server) haMotionInfo(sid string) ([]string, map[string][]map[string]string) {
	rs := s.enabledRuleSets()
	dependent := map[string]bool{}
	for _, r := range rs.positive {
		if r.resources[sid] {
			for other := range r.resources {
				if other != sid {
					dependent[other] = true
				}
			}
		}
	}
	byNode := map[string][]map[string]string{}
	for _, id := range sortedKeys(rs.negative) {
		r := rs.negative[id]
		if !r.resources[sid] {
			continue
		}
		for _, other := range sortedKeys(r.resources) {
			if other == sid {
				continue
			}
			if n := s.haResourceNode(other); n != "" {
				byNode[n] = append(byNode[n], map[string]string{"sid": other, "cause": "resource-affinity"})
			}
		}
	}
	return append([]string{}, sortedKeys(dependent)...), byNode
}

// haResourceNode is the node the guest of an HA resource is on, or "".
// The caller holds s.mu.
func (s *Server) haResourceNode(sid string) string {
	_, name, _ := strings.Cut(sid, ":")
	var vmid int
	if _, err := fmt.Sscan(name, &vmid); err != nil {
		return ""
	}
	_, node, _ := s.vmidOwner(vmid)
	return node
}

// migratableLocalTypes are the storage types whose local volumes vzmigrate
// copies to the target (phase1's list for a migration in the cluster).
var migratableLocalTypes = map[string]bool{"dir": true, "zfspool": true, "lvmthin": true, "lvm": true, "btrfs": true}

// migrationRefusal is what the vzmigrate worker dies with before moving
// anything, for ct going to target, or nil. prepare's checks come first
// (per mount point in foreach_volume_full's order: bind and device mount
// points not marked shared, storages without rootdir content on either
// side); then phase1's, which log a warning per volume and die with
// "can't migrate CT - check log". The caller holds s.mu.
func (s *Server) migrationRefusal(ct *container, target string) (warnings []string, err error) {
	keys := diskKeys(ct.conf)
	for k := range ct.conf {
		if _, ok := indexOf(k, "unused"); ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if e := s.prepareMountCheck(ct, k, target); e != nil {
			return nil, e
		}
	}
	for _, k := range keys {
		volid := diskVolid(ct.conf[k])
		if msg := s.localVolumeProblem(ct, volid); msg != "" {
			warnings = append(warnings, fmt.Sprintf("can't migrate local volume '%s': %s", volid, msg))
		}
	}
	if len(warnings) > 0 {
		sort.Strings(warnings)
		return warnings, errorsf("can't migrate CT - check log")
	}
	return nil, nil
}

// prepareMountCheck is prepare's look at one mount point.
func (s *Server) prepareMountCheck(ct *container, key, target string) error {
	val := ct.conf[key]
	volid := diskVolid(val)
	if strings.HasPrefix(volid, "/") {
		if strings.Contains(","+val+",", ",shared=1,") {
			return nil
		}
		kind := "bind"
		if strings.HasPrefix(volid, "/dev/") {
			kind = "device"
		}
		return errorsf("cannot migrate local %s mount point '%s'", kind, key)
	}
	sid, _, ok := parseVolid(volid)
	if !ok {
		return errorsf("can't determine assigned storage for mount point '%s'", key)
	}
	def := s.storageByID[sid]
	switch {
	case def == nil || !def.availableOn(ct.node):
		return errorsf("storage '%s' is not available on node '%s'", sid, ct.node)
	case !def.content["rootdir"]:
		return errorsf("content type 'rootdir' is not available on storage '%s'", sid)
	case !def.availableOn(target):
		return errorsf("storage '%s' is not available on node '%s'", sid, target)
	}
	return nil
}

// localVolumeProblem is phase1's per-volume check of local storage: the
// type must be one vzmigrate copies, and snapshots only move on zfs and
// btrfs.
func (s *Server) localVolumeProblem(ct *container, volid string) string {
	sid, _, ok := parseVolid(volid)
	def := s.storageByID[sid]
	if !ok || def == nil || def.spec.Shared {
		return ""
	}
	if !migratableLocalTypes[def.spec.Type] {
		return fmt.Sprintf("storage type '%s' not supported", def.spec.Type)
	}
	if len(ct.snaps) > 0 && def.spec.Type != "zfspool" && def.spec.Type != "btrfs" {
		return "non-migratable snapshot exists"
	}
	return ""
}
