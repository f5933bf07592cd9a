package pvesim

import (
	"path"
	"strings"
)

// featureStates maps a volume state to the formats that allow a feature in
// it: "current" (a normal volume), "base" (a template's volume) or "snap"
// (a snapshot of it). "*" is any format.
type featureStates map[string]string

// storageFeatures are the tables of pve-storage's volume_has_feature, per
// storage plugin type, for the features a container asks about. Storage
// types not listed (pbs, iscsi, esxi, ...) have no feature at all.
//
// Clone is missing for the file-based plugins on purpose: their linked
// clone is always a qcow2 image, and a container only takes raw or subvol
// volumes (the valid_target_formats pve-container passes), so PVE refuses
// every container linked clone there.
var storageFeatures = map[string]map[string]featureStates{
	"dir": {
		"snapshot": {"current": "qcow2", "snap": "qcow2"},
		"template": {"current": "qcow2 raw vmdk subvol"},
		"copy":     {"base": "qcow2 raw vmdk", "current": "qcow2 raw vmdk", "snap": "qcow2"},
	},
	"lvmthin": {
		"snapshot": {"current": "*"},
		"clone":    {"base": "*", "snap": "*"},
		"template": {"current": "*"},
		"copy":     {"base": "*", "current": "*", "snap": "*"},
	},
	// Thick LVM offers snapshots only for its qcow2 volume chains, and no
	// templates or linked clones at all.
	"lvm": {
		"snapshot": {"current": "qcow2", "snap": "qcow2"},
		"copy":     {"base": "qcow2 raw", "current": "qcow2 raw", "snap": "qcow2"},
	},
	// ZFS clones only from a template's base volume, not from a snapshot.
	"zfspool": {
		"snapshot": {"current": "*", "snap": "*"},
		"clone":    {"base": "*"},
		"template": {"current": "*"},
		"copy":     {"base": "*", "current": "*"},
	},
	"rbd": {
		"snapshot": {"current": "*", "snap": "*"},
		"clone":    {"base": "*", "snap": "*"},
		"template": {"current": "*"},
		"copy":     {"base": "*", "current": "*", "snap": "*"},
	},
	"btrfs": {
		"snapshot": {"current": "qcow2 raw subvol", "snap": "qcow2 raw subvol"},
		"clone":    {"base": "qcow2 raw subvol vmdk", "current": "raw", "snap": "raw"},
		"template": {"current": "qcow2 raw vmdk subvol"},
		"copy":     {"base": "qcow2 raw subvol vmdk", "current": "qcow2 raw subvol vmdk", "snap": "qcow2 raw subvol"},
	},
}

// featurePlugin is the plugin whose table a storage type uses: the network
// file systems inherit the directory plugin's.
func featurePlugin(typ string) string {
	switch typ {
	case "nfs", "cifs", "glusterfs", "cephfs":
		return "dir"
	}
	return typ
}

// isBaseVolume: a template's volumes are renamed base-… (basevol-… for
// ZFS subvolumes); a linked clone "base-100-disk-0/vm-101-disk-0" is not a
// base itself, so only the last path element counts.
func isBaseVolume(volname string) bool {
	last := path.Base(volname)
	return strings.HasPrefix(last, "base-") || strings.HasPrefix(last, "basevol-")
}

// volumeHasFeature is volume_has_feature for a container volume on node:
// a bind mount or a volume the simulator does not know has no feature. The
// caller holds s.mu.
func (s *Server) volumeHasFeature(feature, volid, snapname, node string) bool {
	st, v := s.volumeOf(volid, node)
	if st == nil || v == nil {
		return false
	}
	state := "current"
	switch {
	case snapname != "":
		state = "snap"
	case isBaseVolume(v.volName()):
		state = "base"
	}
	formats, ok := storageFeatures[featurePlugin(st.def.spec.Type)][feature][state]
	if !ok {
		return false
	}
	format := v.format
	if format == "" {
		format = "raw"
	}
	return formats == "*" || strings.Contains(" "+formats+" ", " "+format+" ")
}

// ctHasFeature is PVE::LXC::Config::has_feature: every mount point of conf
// must have the feature. The caller holds s.mu.
func (s *Server) ctHasFeature(feature string, conf ctConf, snapname, node string) bool {
	for _, k := range diskKeys(conf) {
		if !s.volumeHasFeature(feature, diskVolid(conf[k]), snapname, node) {
			return false
		}
	}
	return true
}
