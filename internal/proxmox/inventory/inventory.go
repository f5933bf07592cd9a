package inventory

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pve-operator/pve-operator/internal/proxmox"
)

// Source is what the inventory lists; *proxmox.APIClient implements it.
type Source interface {
	Nodes(ctx context.Context) ([]proxmox.Node, error)
	ClusterStorages(ctx context.Context) ([]proxmox.Storage, error)
	Containers(ctx context.Context) ([]proxmox.ContainerSummary, error)
}

var _ Source = (*proxmox.APIClient)(nil)

// Defaults for Options.
const (
	DefaultInterval    = 30 * time.Second
	DefaultMinInterval = time.Second
)

// Options tune the refresh loop.
type Options struct {
	// Interval between refreshes in Run; 0 means DefaultInterval.
	Interval time.Duration
	// MinInterval is the least time between two refreshes that Invalidate
	// can cause, so a burst of controllers asking for a refresh costs one
	// listing; 0 means DefaultMinInterval.
	MinInterval time.Duration
	// Now is the clock for Snapshot.Time; default time.Now.
	Now func() time.Time
}

// Snapshot is the host as of one refresh. It is shared and must not be
// modified.
type Snapshot struct {
	// Time is when the refresh that produced it finished.
	Time     time.Time
	Nodes    []proxmox.Node
	Storages []proxmox.Storage
	// Containers by VMID.
	Containers map[int]proxmox.ContainerSummary
}

// Inventory is one host's picture. Create it with New, then either call
// Refresh yourself or run Run in a goroutine.
type Inventory struct {
	src  Source
	opts Options

	// refreshMu serialises refreshes so events are computed against the
	// snapshot they replace.
	refreshMu sync.Mutex
	lastStart time.Time

	mu      sync.RWMutex
	snap    *Snapshot
	lastErr error

	kick chan struct{}

	subMu sync.Mutex
	subs  map[*subscriber]struct{}
}

// New returns an inventory over src. It lists nothing until Refresh or Run.
func New(src Source, opts Options) *Inventory {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.MinInterval <= 0 {
		opts.MinInterval = DefaultMinInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Inventory{src: src, opts: opts, kick: make(chan struct{}, 1), subs: map[*subscriber]struct{}{}}
}

// Refresh lists the host once and notifies subscribers of every container
// that changed. The container listing is required: when it fails the
// previous snapshot stays and no event fires (a failed listing must not look
// like every container vanished). Node or storage listing failures keep the
// previous nodes or storages and are reported in the returned error.
func (inv *Inventory) Refresh(ctx context.Context) error {
	inv.refreshMu.Lock()
	defer inv.refreshMu.Unlock()
	inv.lastStart = inv.opts.Now()

	cts, err := inv.src.Containers(ctx)
	if err != nil {
		inv.setErr(err)
		return fmt.Errorf("refresh inventory: %w", err)
	}
	old := inv.Snapshot()
	next := &Snapshot{Containers: make(map[int]proxmox.ContainerSummary, len(cts))}
	for _, c := range cts {
		next.Containers[c.VMID] = c
	}
	var errs []error
	if next.Nodes, err = inv.src.Nodes(ctx); err != nil {
		errs = append(errs, err)
		if old != nil {
			next.Nodes = old.Nodes
		}
	}
	if next.Storages, err = inv.src.ClusterStorages(ctx); err != nil {
		errs = append(errs, err)
		if old != nil {
			next.Storages = old.Storages
		}
	}
	next.Time = inv.opts.Now()
	joined := errors.Join(errs...)

	inv.mu.Lock()
	inv.snap = next
	inv.lastErr = joined
	inv.mu.Unlock()

	inv.publish(diff(old, next))
	if joined != nil {
		return fmt.Errorf("refresh inventory: %w", joined)
	}
	return nil
}

func (inv *Inventory) setErr(err error) {
	inv.mu.Lock()
	inv.lastErr = err
	inv.mu.Unlock()
}

// Snapshot returns the latest snapshot, or nil before the first successful
// refresh.
func (inv *Inventory) Snapshot() *Snapshot {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	return inv.snap
}

// Container returns one container from the latest snapshot.
func (inv *Inventory) Container(vmid int) (proxmox.ContainerSummary, bool) {
	s := inv.Snapshot()
	if s == nil {
		return proxmox.ContainerSummary{}, false
	}
	c, ok := s.Containers[vmid]
	return c, ok
}

// LastError returns the error of the latest refresh, nil if it succeeded.
func (inv *Inventory) LastError() error {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	return inv.lastErr
}

// Invalidate asks Run for a refresh soon (not sooner than MinInterval after
// the previous one). Calls coalesce; it never blocks.
func (inv *Inventory) Invalidate() {
	select {
	case inv.kick <- struct{}{}:
	default:
	}
}

// Run refreshes every Interval, and after Invalidate, until ctx ends. Errors
// are kept for LastError; the loop goes on. It returns nil when ctx ends.
func (inv *Inventory) Run(ctx context.Context) error {
	for {
		_ = inv.Refresh(ctx)
		interval := time.NewTimer(inv.opts.Interval)
		select {
		case <-ctx.Done():
			interval.Stop()
			return nil
		case <-interval.C:
		case <-inv.kick:
			interval.Stop()
			if !inv.waitMinInterval(ctx) {
				return nil
			}
		}
	}
}

// waitMinInterval sleeps until MinInterval has passed since the last
// refresh started; kicks arriving meanwhile are absorbed by the one refresh
// that follows.
func (inv *Inventory) waitMinInterval(ctx context.Context) bool {
	inv.refreshMu.Lock()
	wait := inv.opts.MinInterval - inv.opts.Now().Sub(inv.lastStart)
	inv.refreshMu.Unlock()
	if wait <= 0 {
		return true
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		select {
		case <-inv.kick:
		default:
		}
		return true
	}
}
