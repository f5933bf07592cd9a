package inventory

import (
	"slices"
	"strings"

	"github.com/pve-operator/pve-operator/internal/proxmox"
)

// Change is a set of things that changed about one container.
type Change uint16

// Changes an Event can carry. Statistics (cpu, mem, uptime, ...) are not
// changes: they move on every refresh and would wake every subscriber.
const (
	Appeared Change = 1 << iota
	Disappeared
	StatusChanged
	NameChanged
	TagsChanged
	LockChanged
	NodeChanged
	TemplateChanged
	// HAStateChanged: HA took the container on, let it go, or its HA state
	// moved (started, stopped, migrate, fence, error, ...).
	HAStateChanged
	// PoolChanged: the container joined, left or changed its resource pool.
	PoolChanged
)

var changeNames = []string{"appeared", "disappeared", "status", "name", "tags", "lock", "node", "template", "ha", "pool"}

func (c Change) String() string {
	var parts []string
	for i, n := range changeNames {
		if c&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// Has reports whether c includes all of o.
func (c Change) Has(o Change) bool { return c&o == o }

// Event says that container VMID changed. Undelivered events for one VMID
// are merged (their Change bits or'ed), so a slow subscriber never loses a
// change and its backlog stays bounded by the number of containers.
type Event struct {
	VMID   int
	Change Change
}

// diff compares two snapshots; old may be nil (first refresh: everything
// appears).
func diff(old, next *Snapshot) []Event {
	var events []Event
	var before map[int]proxmox.ContainerSummary
	if old != nil {
		before = old.Containers
	}
	for vmid, n := range next.Containers {
		o, ok := before[vmid]
		if !ok {
			events = append(events, Event{VMID: vmid, Change: Appeared})
			continue
		}
		if ch := compare(o, n); ch != 0 {
			events = append(events, Event{VMID: vmid, Change: ch})
		}
	}
	for vmid := range before {
		if _, ok := next.Containers[vmid]; !ok {
			events = append(events, Event{VMID: vmid, Change: Disappeared})
		}
	}
	slices.SortFunc(events, func(a, b Event) int { return a.VMID - b.VMID })
	return events
}

func compare(o, n proxmox.ContainerSummary) Change {
	var ch Change
	if o.Status != n.Status {
		ch |= StatusChanged
	}
	if o.Name != n.Name {
		ch |= NameChanged
	}
	if !slices.Equal(o.Tags, n.Tags) {
		ch |= TagsChanged
	}
	if o.Lock != n.Lock {
		ch |= LockChanged
	}
	if o.Node != n.Node {
		ch |= NodeChanged
	}
	if o.Template != n.Template {
		ch |= TemplateChanged
	}
	if o.HAState != n.HAState {
		ch |= HAStateChanged
	}
	if o.Pool != n.Pool {
		ch |= PoolChanged
	}
	return ch
}
