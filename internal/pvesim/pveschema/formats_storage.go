package pveschema

import "strconv"

// Formats registered by pve-storage's PVE::Storage::Plugin.

// storageContentTypes is the content list of the dir plugin, which
// verify_content uses because it holds every type ("import" is accepted
// separately, and is in the list too).
var storageContentTypes = map[string]bool{
	"images": true, "rootdir": true, "vztmpl": true, "iso": true, "backup": true,
	"snippets": true, "none": true, "import": true,
}

var reVolumeID = mustPerlAnchored(`(?i)([a-z][a-z0-9\-\_\.]*[a-z0-9]):(.+)`)

func init() {
	registerCode("pve-storage-content", func(v string) error {
		if storageContentTypes[v] {
			return nil
		}
		return dief("invalid content type '%s'", v)
	})
	// parse_volume_id: "<storage id>:<anything>".
	registerCode("pve-volume-id", matchOr(reVolumeID, "unable to parse volume ID '%s'"))
	registerHash("prune-backups", pruneBackupsFormat, validatePruneBackups)
}

var pruneBackupsFormat = func() PropertyFormat {
	f := PropertyFormat{"keep-all": {Type: "boolean", Optional: true, MinLength: -1, MaxLength: -1}}
	for _, k := range []string{"keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly"} {
		f[k] = &Prop{Type: "integer", Optional: true, Minimum: "0", MinLength: -1, MaxLength: -1}
	}
	return f
}()

// validatePruneBackups: keep-all set together with any positive keep-*
// option is a conflict.
func validatePruneBackups(keys map[string]string) error {
	keepAll := keys["keep-all"]
	positive := false
	for k, v := range keys {
		if n, _ := strconv.ParseFloat(v, 64); k != "keep-all" && n > 0 {
			positive = true
		}
	}
	if positive && keepAll != "" && keepAll != "0" {
		return dief("keep-all cannot be set together with other options.")
	}
	return nil
}
