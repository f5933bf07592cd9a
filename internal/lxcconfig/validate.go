package lxcconfig

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pve-operator/pve-operator/internal/pveparams"
	"github.com/pve-operator/pve-operator/internal/pvesim/pveschema"
)

// InvalidError is a value Proxmox would refuse, found before anything was
// sent: what the CRD's markers cannot express (the zone names PVE knows,
// the length of a description with the ownership note beneath it, ...) is
// checked against PVE 9.1's own parameter schema.
type InvalidError struct {
	// Params maps each refused parameter to PVE's words for it.
	Params map[string]string
}

func (e *InvalidError) Error() string {
	parts := make([]string, 0, len(e.Params))
	for _, k := range slices.Sorted(maps.Keys(e.Params)) {
		parts = append(parts, fmt.Sprintf("%s: %s", k, strings.TrimSpace(e.Params[k])))
	}
	return "Proxmox would refuse " + strings.Join(parts, "; ")
}

// The path parameters the schema requires; any valid value will do, as
// only the body is being checked.
var placeholderPath = map[string]string{"node": "pve", "vmid": "100"}

// ValidateCreate checks create parameters as POST /nodes/{node}/lxc would.
func ValidateCreate(params pveparams.List) error {
	vals := map[string]string{}
	for _, p := range params {
		vals[p.Key] = p.Value
	}
	return validate("POST", "/nodes/{node}/lxc", vals)
}

// ValidateUpdate checks a config change as PUT .../config would.
func ValidateUpdate(set map[string]string, del []string) error {
	vals := maps.Clone(set)
	if len(del) > 0 {
		vals["delete"] = strings.Join(del, ",")
	}
	return validate("PUT", "/nodes/{node}/lxc/{vmid}/config", vals)
}

func validate(method, path string, vals map[string]string) error {
	m, ok := pveschema.Lookup(method, path)
	if !ok {
		return nil
	}
	params := map[string]pveschema.Value{}
	for k, v := range placeholderPath {
		params[k] = pveschema.TextValue(v)
	}
	for k, v := range vals {
		params[k] = pveschema.TextValue(v)
	}
	if _, errs := m.Validate(params); len(errs) > 0 {
		return &InvalidError{Params: errs}
	}
	return nil
}
