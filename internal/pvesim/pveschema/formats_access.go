package pveschema

import (
	"slices"
	"strings"
)

// Formats registered by pve-access-control (PVE::AccessControl,
// PVE::Auth::Plugin) and pve-ha-manager (PVE::HA::Tools).

// Privileges is the privilege list of PVE::AccessControl's $privgroups
// (every group's root, admin, user and audit entries) plus
// Permissions.Modify, which belongs to no group: the privileges verify_privname
// accepts.
var Privileges = []string{
	"Datastore.Allocate", "Datastore.AllocateSpace", "Datastore.AllocateTemplate", "Datastore.Audit",
	"Group.Allocate", "Mapping.Audit", "Mapping.Modify", "Mapping.Use", "Permissions.Modify",
	"Pool.Allocate", "Pool.Audit", "Realm.Allocate", "Realm.AllocateUser",
	"SDN.Allocate", "SDN.Audit", "SDN.Use",
	"Sys.AccessNetwork", "Sys.Audit", "Sys.Console", "Sys.Incoming", "Sys.Modify", "Sys.PowerMgmt", "Sys.Syslog",
	"User.Modify",
	"VM.Allocate", "VM.Audit", "VM.Backup", "VM.Clone", "VM.Config.CDROM", "VM.Config.CPU",
	"VM.Config.Cloudinit", "VM.Config.Disk", "VM.Config.HWType", "VM.Config.Memory", "VM.Config.Network",
	"VM.Config.Options", "VM.Console", "VM.GuestAgent.Audit", "VM.GuestAgent.FileRead",
	"VM.GuestAgent.FileSystemMgmt", "VM.GuestAgent.FileWrite", "VM.GuestAgent.Unrestricted",
	"VM.Migrate", "VM.PowerMgmt", "VM.Replicate", "VM.Snapshot", "VM.Snapshot.Rollback",
}

var rePoolName = mustPerlAnchored(`[A-Za-z0-9\.\-_]+(?:/[A-Za-z0-9\.\-_]+){0,2}`)

func init() {
	// verify_poolname: at most three levels, then the characters.
	registerCode("pve-poolid", func(v string) error {
		if perlSplitCount(v, "/") > 3 {
			return dief("pool name '%s' nested too deeply (max levels = 3)", v)
		}
		if !rePoolName.MatchString(v) {
			return dief("pool name '%s' contains invalid characters", v)
		}
		return nil
	})
	// verify_privname.
	registerCode("pve-priv", func(v string) error {
		if slices.Contains(Privileges, v) {
			return nil
		}
		return dief("invalid privilege '%s'", v)
	})
	// pve_verify_realm: $realm_regex.
	registerCode("pve-realm", matchOr(mustPerlAnchored(`[A-Za-z][A-Za-z0-9\.\-_]+`), "value does not look like a valid realm"))
	// pve_verify_ha_resource_id: "<type>:<name>".
	registerCode("pve-ha-resource-id", matchOr(mustPerlAnchored(`[a-z]+:\S+`), "value does not look like a valid ha resource id"))
	// pve_verify_ha_resource_or_vm_id: "<type>:<name>" or a bare VMID.
	registerCode("pve-ha-resource-or-vm-id", matchOr(mustPerlAnchored(`([a-z]+:\S+|\d+)`), "value does not look like a valid ha resource id"))
	// pve_verify_ha_node: a node name with an optional ":priority".
	registerCode("pve-ha-node", matchOr(mustPerlAnchored(`([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)(:\d+)?`), "value does not look like a valid ha node"))
}

// perlSplitCount is split(sep, s) in scalar context: the number of fields
// with trailing empty fields dropped.
func perlSplitCount(s, sep string) int {
	parts := strings.Split(s, sep)
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return len(parts)
}
