package pveschema

// Formats of backup jobs: pve-guest-common's PVE::VZDump::Common and
// pve-manager's PVE::API2::Backup.

func init() {
	registerHash("backup-fleecing", fleecingFormat, verifyBackupFleecing)
	registerHash("backup-performance", performanceFormat, nil)
	// verify_day_of_week: lower-case three-letter names only.
	registerCode("pve-day-of-week", matchOr(mustPerlAnchored(`mon|tue|wed|thu|fri|sat|sun`), "invalid day '%s'"))
}

var fleecingFormat = PropertyFormat{
	"enabled": {Type: "boolean", Optional: true, DefaultKey: true, MinLength: -1, MaxLength: -1},
	"storage": {Type: "string", Optional: true, Format: "pve-storage-id", MinLength: -1, MaxLength: -1},
}

// verifyBackupFleecing: enabling fleecing needs a storage for it.
func verifyBackupFleecing(keys map[string]string) error {
	if keys["storage"] == "" && keys["enabled"] != "" && keys["enabled"] != "0" {
		return dief("'storage' parameter is required when 'enabled' is set")
	}
	return nil
}

var performanceFormat = PropertyFormat{
	"max-workers":     {Type: "integer", Optional: true, Minimum: "1", Maximum: "256", MinLength: -1, MaxLength: -1},
	"pbs-entries-max": {Type: "integer", Optional: true, Minimum: "1", MinLength: -1, MaxLength: -1},
}
