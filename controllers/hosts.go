package controllers

import (
	"context"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/event"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/proxmox"
	"github.com/pve-operator/pve-operator/internal/proxmox/inventory"
)

// Hosts is the registry of connected ProxmoxHosts shared by the controllers,
// and the one owner of their Proxmox clients: it builds each host's client,
// reuses it while the connection fingerprint is unchanged, and closes it when
// it is replaced or the host is forgotten. The ProxmoxHost controller is its
// only writer: it connects each host and refreshes its inventory once per
// sync interval. The other controllers read containers from the inventory
// instead of asking Proxmox, so watching N containers costs O(hosts) requests.
type Hosts struct {
	mu      sync.RWMutex
	entries map[string]*HostEntry

	// refresh wakes the ProxmoxHost controller for a prompt inventory
	// refresh (after an Application changed something).
	refresh chan event.GenericEvent
	// containers carries inventory change events to the Application controller.
	containers chan ContainerEvent
}

// HostEntry is one connected host.
type HostEntry struct {
	Name      string
	Client    proxmox.Client
	Inventory *inventory.Inventory
	// Spec is the ProxmoxHost spec the client was built from.
	Spec v1alpha1.ProxmoxHostSpec
	// Endpoint is Spec.Endpoint as the client parsed it.
	Endpoint proxmox.Endpoint

	fingerprint string
	// stop ends the inventory subscription and closes the client.
	stop func()

	// apps is what the controllers remember about the host's Applications;
	// it outlives a rebuilt client (see appMemory).
	apps *appMemory

	mu          sync.Mutex
	lastRefresh time.Time
	refreshDue  bool

	// allocMu serializes VMID allocation; reserved holds VMIDs handed out
	// recently, which PVE's nextid does not know about until the create
	// lands, so concurrent creates do not all pick the same one.
	allocMu  sync.Mutex
	reserved map[int]time.Time
	// placed is memory promised to creates on each node since the last
	// listing, so a burst of creates spreads over the nodes.
	placed map[string]uint64

	lastVersionCheck time.Time

	// root is the host's root@pam access while spec.rootCredentialsRef is
	// set (see Root); the ProxmoxHost controller writes it.
	rootMu sync.Mutex
	root   *rootAccess
}

// place records memory a create will use on node until the next listing.
func (e *HostEntry) place(node string, bytes uint64) {
	e.allocMu.Lock()
	defer e.allocMu.Unlock()
	if e.placed == nil {
		e.placed = map[string]uint64{}
	}
	e.placed[node] += bytes
}

// placedOn returns the memory promised on node since the last listing.
func (e *HostEntry) placedOn(node string) uint64 {
	e.allocMu.Lock()
	defer e.allocMu.Unlock()
	return e.placed[node]
}

// reservationTTL is how long a handed-out VMID stays reserved.
const reservationTTL = 2 * time.Minute

// allocateVMID returns a VMID no other create of this operator is using:
// PVE's next free one, skipping recent reservations.
func (e *HostEntry) allocateVMID(ctx context.Context) (int, error) {
	e.allocMu.Lock()
	defer e.allocMu.Unlock()
	now := time.Now()
	for id, at := range e.reserved {
		if now.Sub(at) > reservationTTL {
			delete(e.reserved, id)
		}
	}
	id, err := e.Client.NextID(ctx)
	if err != nil {
		return 0, err
	}
	for {
		if _, taken := e.reserved[id]; !taken {
			break
		}
		id++
	}
	if e.reserved == nil {
		e.reserved = map[int]time.Time{}
	}
	e.reserved[id] = now
	return id, nil
}

// ContainerEvent says a container on a host changed.
type ContainerEvent struct {
	Host   string
	VMID   int
	Change inventory.Change
}

// NewHosts returns an empty registry.
func NewHosts() *Hosts {
	return &Hosts{
		entries:    map[string]*HostEntry{},
		refresh:    make(chan event.GenericEvent, 64),
		containers: make(chan ContainerEvent, 1024),
	}
}

// Get returns the entry of a connected host.
func (h *Hosts) Get(name string) (*HostEntry, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	e, ok := h.entries[name]
	return e, ok
}

// Len is the number of connected hosts.
func (h *Hosts) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.entries)
}

// ContainerEvents is the stream of container changes on every host.
func (h *Hosts) ContainerEvents() <-chan ContainerEvent { return h.containers }

// RequestRefresh asks for a prompt inventory refresh of host, e.g. after a
// create or delete. Requests coalesce.
func (h *Hosts) RequestRefresh(host string) {
	if e, ok := h.Get(host); ok {
		e.mu.Lock()
		e.refreshDue = true
		e.mu.Unlock()
	}
	h.wake(host)
}

func (h *Hosts) wake(host string) {
	ev := event.GenericEvent{Object: &v1alpha1.ProxmoxHost{}}
	ev.Object.SetName(host)
	select {
	case h.refresh <- ev:
	default: // a wake-up is already queued
	}
}

// connect returns the host's entry for cfg. While Fingerprint(cfg, version)
// is unchanged the entry and its client are reused; otherwise a new client
// and inventory replace them (the spec or Secret changed) and the old client
// is closed; callers still holding it may finish their calls. version is
// anything that changes whenever the inputs change, such as the
// resourceVersions of the host and its Secret; the config itself, secrets
// included, is part of the fingerprint too. A config that cannot make a
// client is an error and leaves the current entry in place.
func (h *Hosts) connect(host *v1alpha1.ProxmoxHost, version string, cfg proxmox.Config) (*HostEntry, error) {
	fp := proxmox.Fingerprint(cfg, version)
	h.mu.Lock()
	defer h.mu.Unlock()
	old, ok := h.entries[host.Name]
	if ok && old.fingerprint == fp {
		old.Spec = *host.Spec.DeepCopy()
		return old, nil
	}
	client, err := proxmox.New(cfg)
	if err != nil {
		return nil, err
	}
	memory := &appMemory{}
	if ok {
		old.stop()
		// The containers did not change with the credentials.
		memory = old.apps
	}
	e := h.newEntry(host, client, fp, memory)
	if ok {
		e.root = old.takeRoot()
	}
	h.entries[host.Name] = e
	return e, nil
}

// newEntry starts an inventory over client whose change events feed the
// Application controller.
func (h *Hosts) newEntry(host *v1alpha1.ProxmoxHost, client *proxmox.APIClient, fp string, memory *appMemory) *HostEntry {
	inv := inventory.New(client, inventory.Options{MinInterval: time.Second})
	events, cancel := inv.Subscribe()
	go func() {
		for ev := range events {
			h.containers <- ContainerEvent{Host: host.Name, VMID: ev.VMID, Change: ev.Change}
		}
	}()
	return &HostEntry{
		Name: host.Name, Client: client, Inventory: inv, Spec: *host.Spec.DeepCopy(), Endpoint: client.Endpoint(),
		fingerprint: fp, apps: memory,
		stop: func() {
			cancel()
			client.Close()
		},
	}
}

// forget drops a deleted host, its client and all it remembered.
func (h *Hosts) forget(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e, ok := h.entries[name]; ok {
		e.stop()
		e.setRoot(nil)
		e.apps.stopReads()
		delete(h.entries, name)
	}
}

// minRefreshGap is the least time between two listings of one host that
// RequestRefresh can cause, so a burst of Applications costs one listing.
const minRefreshGap = time.Second

// refreshIfDue lists the host when its snapshot is older than interval, or a
// refresh was requested and the last one is at least minRefreshGap old. It
// returns how soon it should be called again at the latest.
func (e *HostEntry) refreshIfDue(ctx context.Context, interval time.Duration, now time.Time) (time.Duration, error) {
	e.mu.Lock()
	age := now.Sub(e.lastRefresh)
	due := e.Inventory.Snapshot() == nil || age >= interval-minRefreshGap || (e.refreshDue && age >= minRefreshGap)
	next := interval - age
	if e.refreshDue && !due {
		next = minRefreshGap - age
	}
	if due {
		e.refreshDue = false
		e.lastRefresh = now
		next = interval
	}
	e.mu.Unlock()
	if !due {
		return next, e.Inventory.LastError()
	}
	err := e.Inventory.Refresh(ctx)
	if err == nil {
		e.allocMu.Lock()
		e.placed = nil
		e.allocMu.Unlock()
	}
	return next, err
}

// versionDue reports whether the host's version should be asked again: once
// per sync interval is enough to notice an upgrade.
func (e *HostEntry) versionDue(interval time.Duration, now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if now.Sub(e.lastVersionCheck) < interval-minRefreshGap {
		return false
	}
	e.lastVersionCheck = now
	return true
}
