package adoptgen

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
)

// PlaceholderUID stands in for the UID an Application gets only once it
// is created, so the ownership marking can be shown (and validated as
// Proxmox would) before that.
const PlaceholderUID = "00000000-0000-0000-0000-000000000000"

// markingKeys are what adoption itself writes: the ownership tags, and the
// ownership note beneath a declared description.
var markingKeys = map[string]bool{"tags": true, "description": true}

// Plan is what the operator's first reconcile of an adopting Application
// would do to its container, computed with the operator's own
// lxcconfig.Diff against the observed config.
type Plan struct {
	// Marking is the ownership marking: tags (and description, when the
	// spec declares one) as the config PUT would set them.
	Marking map[string]string
	// Other is every other change; empty for a spec SpecFromConfig made.
	Other lxcconfig.Changes
	// Invalid is what Proxmox would refuse in the PUT ("" when nothing).
	Invalid string
}

// Empty reports whether the plan changes nothing beyond the marking.
func (p Plan) Empty() bool { return p.Other.Empty() }

// PlanFor diffs app against cfg as the operator would on its first pass,
// with uid as the Application's UID (PlaceholderUID when not yet created).
func PlanFor(app *v1alpha1.Application, cfg map[string]string, uid string) Plan {
	a := app.DeepCopy()
	a.UID = types.UID(uid)
	ch := lxcconfig.Diff(a, cfg, nil)
	p := Plan{Marking: map[string]string{}, Other: lxcconfig.Changes{Set: map[string]string{}, Delete: ch.Delete, Resizes: ch.Resizes, Notes: ch.Notes}}
	for k, v := range ch.Set {
		if markingKeys[k] {
			p.Marking[k] = v
		} else {
			p.Other.Set[k] = v
		}
	}
	if err := lxcconfig.ValidateUpdate(ch.Set, ch.Delete); err != nil {
		p.Invalid = err.Error()
	}
	return p
}

// Lines renders the plan as the dry run prints it: one line per key, the
// observed value first.
func (p Plan) Lines(cfg map[string]string) []string {
	var out []string
	for _, k := range sortedKeys(p.Marking) {
		out = append(out, fmt.Sprintf("  ~ %s: %s -> %s   (ownership marking)", k, quote(cfg[k]), quote(p.Marking[k])))
	}
	for _, k := range sortedKeys(p.Other.Set) {
		out = append(out, fmt.Sprintf("  ! %s: %s -> %s", k, quote(cfg[k]), quote(p.Other.Set[k])))
	}
	for _, k := range p.Other.Delete {
		out = append(out, fmt.Sprintf("  ! %s: %s -> (removed)", k, quote(cfg[k])))
	}
	for _, r := range p.Other.Resizes {
		out = append(out, fmt.Sprintf("  ! resize %s to %s", r.Disk, r.Size))
	}
	for _, n := range p.Other.Notes {
		out = append(out, "  ! "+n)
	}
	if p.Invalid != "" {
		out = append(out, "  ! "+p.Invalid)
	}
	return out
}

func quote(s string) string {
	if s == "" {
		return "(absent)"
	}
	return fmt.Sprintf("%q", strings.TrimRight(s, "\n"))
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
