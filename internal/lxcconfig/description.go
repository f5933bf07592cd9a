package lxcconfig

import (
	"strings"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// DesiredDescription is the container's notes: the user's text from
// spec.description first, then the operator's ownership note, which no
// spec can remove (it tells whoever opens the container in Proxmox who
// manages it).
func DesiredDescription(app *v1alpha1.Application) string {
	marker := Description(app.Namespace, app.Name, string(app.UID))
	if app.Spec.Description == nil {
		return marker
	}
	user := strings.TrimRight(*app.Spec.Description, " \t\r\n")
	if user == "" {
		return marker
	}
	return user + "\n\n" + marker
}

// sameDescription compares notes the way PVE round-trips them: it keeps
// the description as comment lines of the config file and reads it back
// with a newline after the last line.
func sameDescription(want, have string) bool {
	return strings.TrimRight(want, "\n") == strings.TrimRight(have, "\n")
}
