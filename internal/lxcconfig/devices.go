package lxcconfig

import (
	"strconv"
	"strings"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// deviceProps renders a device passthrough (devN) as PVE prints it: the
// path bare, then the options it has.
func deviceProps(d v1alpha1.Device) Props {
	p := Props{"": d.Path}
	setIf(p, "mode", d.Mode)
	if d.UID != nil {
		p["uid"] = strconv.FormatInt(*d.UID, 10)
	}
	if d.GID != nil {
		p["gid"] = strconv.FormatInt(*d.GID, 10)
	}
	setFlag(p, "deny-write", d.DenyWrite)
	return p
}

// startupValue is PVE's startup order string ("order=1,up=30,down=60").
func startupValue(s *v1alpha1.Startup) string {
	var parts []string
	for _, kv := range []struct {
		key string
		v   *int32
	}{{"order", s.Order}, {"up", s.UpDelaySeconds}, {"down", s.DownTimeoutSeconds}} {
		if kv.v != nil {
			parts = append(parts, kv.key+"="+strconv.Itoa(int(*kv.v)))
		}
	}
	return strings.Join(parts, ",")
}
