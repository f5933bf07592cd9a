package adoptgen

import (
	"strconv"
	"strings"
)

// maxName keeps names DNS labels: the CRD accepts a name as the hostname
// only when it is one, and a spec without a hostname needs that.
const maxName = 63

// SanitizeName turns a hostname into a DNS-1123 label: lowercase, runs of
// anything but letters and digits become one '-', no '-' at either end,
// at most 63 characters. fallback is used when nothing is left.
func SanitizeName(hostname, fallback string) string {
	var sb strings.Builder
	dash := false
	for _, r := range strings.ToLower(hostname) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			sb.WriteRune(r)
			dash = false
			continue
		}
		if !dash && sb.Len() > 0 {
			sb.WriteByte('-')
			dash = true
		}
	}
	s := strings.Trim(sb.String(), "-")
	if len(s) > maxName {
		s = strings.TrimRight(s[:maxName], "-")
	}
	if s == "" {
		return fallback
	}
	return s
}

// withSuffix appends "-<vmid>", shortening the name to stay a label.
func withSuffix(name string, vmid int) string {
	suffix := "-" + strconv.Itoa(vmid)
	if len(name)+len(suffix) > maxName {
		name = strings.TrimRight(name[:maxName-len(suffix)], "-")
	}
	return name + suffix
}

// nameApps names each Application after its container's hostname. Of
// containers whose names collide (with each other or with taken), the
// lowest VMID keeps the plain name unless it is taken, and every other
// gets its VMID appended, which is unique on the host.
func nameApps(rs []Result, taken map[string]bool) {
	used := map[string]bool{}
	for n := range taken {
		used[n] = true
	}
	for i := range rs {
		app := rs[i].App
		vmid := int(*app.Spec.VMID)
		name := SanitizeName(rs[i].Config["hostname"], "ct-"+strconv.Itoa(vmid))
		if used[name] {
			name = withSuffix(name, vmid)
		}
		used[name] = true
		app.Name = name
	}
}
