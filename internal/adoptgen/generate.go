package adoptgen

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/proxmox"
)

// Source is the part of the operator's Proxmox client the generator
// reads with: one cluster listing, then one config read per container.
type Source interface {
	Containers(ctx context.Context) ([]proxmox.ContainerSummary, error)
	ContainerConfig(ctx context.Context, node string, vmid int, current bool) (proxmox.ContainerConfig, error)
}

// Filter narrows the containers adopted; zero fields match everything.
type Filter struct {
	Node, Pool, Tag string
	// VMIDFrom and VMIDTo bound the VMIDs, inclusive; 0 is unbounded.
	VMIDFrom, VMIDTo int
}

// ParseVMIDRange parses "100-199" or a single "150".
func ParseVMIDRange(s string) (from, to int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if from, err = strconv.Atoi(strings.TrimSpace(a)); err != nil {
		return 0, 0, fmt.Errorf("--vmids %q: want FROM-TO or one VMID", s)
	}
	to = from
	if isRange {
		if to, err = strconv.Atoi(strings.TrimSpace(b)); err != nil || to < from {
			return 0, 0, fmt.Errorf("--vmids %q: want FROM-TO with FROM <= TO", s)
		}
	}
	return from, to, nil
}

// matches reports whether the filter selects ct.
func (f Filter) matches(ct proxmox.ContainerSummary) bool {
	switch {
	case f.Node != "" && ct.Node != f.Node, f.Pool != "" && ct.Pool != f.Pool:
		return false
	case f.VMIDFrom != 0 && ct.VMID < f.VMIDFrom, f.VMIDTo != 0 && ct.VMID > f.VMIDTo:
		return false
	case f.Tag != "" && !slices.ContainsFunc(ct.Tags, func(t string) bool { return strings.EqualFold(t, f.Tag) }):
		return false
	}
	return true
}

// Options say what to generate.
type Options struct {
	// Host is the ProxmoxHost's name, Namespace the Applications'.
	Host, Namespace string
	Filter          Filter
	// Taken are Application names already used in Namespace, avoided as
	// the VMID suffix avoids duplicates among the generated ones.
	Taken map[string]bool
}

// Result is one generated Application and what the operator would do.
type Result struct {
	App *v1alpha1.Application
	// Summary is the container as the cluster listing showed it.
	Summary proxmox.ContainerSummary
	// Config is the observed config the spec was made from.
	Config map[string]string
	// Notes are the keys left undeclared and why.
	Notes []string
	// Plan is lxcconfig.Diff of App against Config.
	Plan Plan
}

// Unmanaged reports whether the operator may be asked to adopt ct: no
// ownership tag (also no contested one) and not a template.
func Unmanaged(ct proxmox.ContainerSummary) bool {
	_, tagged := lxcconfig.OwnerOf(ct.Tags)
	return !tagged && !ct.Template
}

// Generate lists the host's unmanaged containers the filter selects,
// lowest VMID first, and makes an adopting Application for each.
func Generate(ctx context.Context, src Source, o Options) ([]Result, error) {
	cts, err := src.Containers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	sort.Slice(cts, func(i, j int) bool { return cts[i].VMID < cts[j].VMID })
	var out []Result
	for _, ct := range cts {
		if !Unmanaged(ct) || !o.Filter.matches(ct) {
			continue
		}
		raw, err := src.ContainerConfig(ctx, ct.Node, ct.VMID, false)
		if proxmox.IsNotFound(err) {
			continue // deleted (or migrated) since the listing
		}
		if err != nil {
			return nil, err
		}
		cfg := maps.Clone(map[string]string(raw))
		delete(cfg, "digest")
		spec, notes, err := SpecFromConfig(o.Host, ct.VMID, ct.Node, cfg, ct.Status == "running")
		if err != nil {
			// The listing lagged behind a tag or template change: skip.
			continue
		}
		if ct.Pool != "" {
			notes = append(notes, fmt.Sprintf("pool %s: left undeclared (an adopted container keeps its pool; declaring it needs a pool grant)", ct.Pool))
		}
		if ct.HAState != "" {
			notes = append(notes, fmt.Sprintf("HA (state %s): left undeclared; HA keeps managing the container", ct.HAState))
		}
		app := &v1alpha1.Application{
			TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Application"},
			ObjectMeta: metav1.ObjectMeta{Namespace: o.Namespace},
			Spec:       spec,
		}
		out = append(out, Result{App: app, Summary: ct, Config: cfg, Notes: notes})
	}
	nameApps(out, o.Taken)
	noteSharedHostnames(out, cts)
	for i := range out {
		out[i].Plan = PlanFor(out[i].App, out[i].Config, PlaceholderUID)
	}
	return out, nil
}

// noteSharedHostnames: the operator admits one Application per hostname
// on a host (the older keeps it), so a container sharing its hostname with
// another of the listing (adopted now, later or already) is noted.
func noteSharedHostnames(rs []Result, cts []proxmox.ContainerSummary) {
	byName := map[string][]int{}
	for _, ct := range cts {
		byName[ct.Name] = append(byName[ct.Name], ct.VMID)
	}
	for i, r := range rs {
		h, own := lxcconfig.Hostname(r.App), int(*r.App.Spec.VMID)
		others := slices.DeleteFunc(slices.Clone(byName[h]), func(v int) bool { return v == own })
		if len(others) > 0 {
			rs[i].Notes = append(rs[i].Notes, fmt.Sprintf("hostname %q is also that of container %v: the operator admits one Application per hostname on a host (the older keeps it, the other stalls), so change one hostname or adopt only one",
				h, others))
		}
	}
}
