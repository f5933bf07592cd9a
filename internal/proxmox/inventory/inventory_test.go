package inventory_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/pve-operator/pve-operator/internal/proxmox"
	"github.com/pve-operator/pve-operator/internal/proxmox/inventory"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

func newSim(t testing.TB) *pvesim.Server {
	t.Helper()
	srv, err := pvesim.New(pvesim.DefaultOptions())
	if err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func newClient(t testing.TB, srv *pvesim.Server) *proxmox.APIClient {
	t.Helper()
	c, err := proxmox.New(proxmox.Config{
		Endpoint:    srv.URL(),
		CABundle:    srv.CACertPEM(),
		Credentials: proxmox.Credentials{TokenID: pvesim.DefaultTokenID, TokenSecret: pvesim.DefaultTokenSecret},
		RateLimit:   proxmox.RateLimit{QPS: -1},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func totalRequests(srv *pvesim.Server) int {
	n := 0
	for _, c := range srv.RequestCounts() {
		n += c
	}
	return n
}

// TestRefreshCostDoesNotGrowWithContainers: the steady-state cost of
// watching a host is a fixed number of requests per interval, whatever the
// number of containers.
func TestRefreshCostDoesNotGrowWithContainers(t *testing.T) {
	perRefresh := map[int]int{}
	for _, n := range []int{10, 5000} {
		srv := newSim(t)
		if err := srv.SeedContainers("pve1", 100, n, false); err != nil {
			t.Fatal(err)
		}
		inv := inventory.New(newClient(t, srv), inventory.Options{})
		srv.ResetRequestCounts()
		if err := inv.Refresh(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		if got := len(inv.Snapshot().Containers); got != n {
			t.Fatalf("snapshot has %d containers, want %d", got, n)
		}
		perRefresh[n] = totalRequests(srv)
		t.Logf("%d containers: %v", n, srv.RequestCounts())
	}
	if perRefresh[10] != perRefresh[5000] || perRefresh[10] != 3 {
		t.Fatalf("requests per refresh = %v, want 3 for both", perRefresh)
	}
}

func TestSnapshot(t *testing.T) {
	srv := newSim(t)
	if err := srv.AddContainer("pve2", 100, map[string]string{"hostname": "web", "tags": "k8s"}, true); err != nil {
		t.Fatal(err)
	}
	inv := inventory.New(newClient(t, srv), inventory.Options{})
	if inv.Snapshot() != nil {
		t.Fatal("snapshot before the first refresh")
	}
	if _, ok := inv.Container(100); ok {
		t.Fatal("container before the first refresh")
	}
	if err := inv.Refresh(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	s := inv.Snapshot()
	if len(s.Nodes) != 3 || len(s.Storages) != 6 || s.Time.IsZero() {
		t.Fatalf("snapshot = %d nodes, %d storages, time %v", len(s.Nodes), len(s.Storages), s.Time)
	}
	ct, ok := inv.Container(100)
	if !ok || ct.Node != "pve2" || ct.Name != "web" || ct.Status != "running" || !ct.HasTag("k8s") {
		t.Fatalf("Container(100) = %+v, %t", ct, ok)
	}
}

// next returns the next event or fails the test.
func next(t *testing.T, ch <-chan inventory.Event) inventory.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("event channel closed")
		}
		return ev
	case <-testCtx(t).Done():
		t.Fatal("no event")
	}
	return inventory.Event{}
}

// watched is an inventory of a simulator with containers 100 (running)
// to 103, subscribed to and refreshed once.
type watched struct {
	srv    *pvesim.Server
	inv    *inventory.Inventory
	ch     <-chan inventory.Event
	cancel func()
}

func startWatching(ctx context.Context, t *testing.T) watched {
	t.Helper()
	srv := newSim(t)
	for vmid := 100; vmid <= 103; vmid++ {
		must(t, srv.AddContainer("pve1", vmid, map[string]string{"hostname": "ct"}, vmid == 100))
	}
	inv := inventory.New(newClient(t, srv), inventory.Options{})
	ch, cancel := inv.Subscribe()
	t.Cleanup(cancel)
	must(t, inv.Refresh(ctx))
	for vmid := 100; vmid <= 103; vmid++ {
		if ev := next(t, ch); ev.VMID != vmid || ev.Change != inventory.Appeared {
			t.Fatalf("first refresh: event %+v, want %d appeared", ev, vmid)
		}
	}
	return watched{srv: srv, inv: inv, ch: ch, cancel: cancel}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestWatchers: each case first refreshes with nothing changed, then makes
// one change and refreshes again. Events are delivered in order, so the
// next event being the expected one proves the idle refresh sent nothing.
func TestWatchers(t *testing.T) {
	ctx := testCtx(t)
	w := startWatching(ctx, t)
	for _, tt := range watcherCases(w) {
		t.Run(tt.name, func(t *testing.T) {
			must(t, w.inv.Refresh(ctx)) // nothing changed
			tt.change(t)
			must(t, w.inv.Refresh(ctx))
			if ev := next(t, w.ch); ev.VMID != tt.vmid || ev.Change != tt.want {
				t.Fatalf("event %+v (%s), want %d %s", ev, ev.Change, tt.vmid, tt.want)
			}
		})
	}
	t.Run("a slow subscriber loses no change and gets at most two events per container", func(t *testing.T) {
		slowSubscriberLosesNothing(ctx, t, w)
	})
	t.Run("a failed listing keeps the snapshot and reports no disappearances", func(t *testing.T) {
		failedListingKeepsSnapshot(ctx, t, w)
	})
	t.Run("a failed node listing keeps the previous nodes but updates containers", func(t *testing.T) {
		failedNodeListingUpdatesContainers(ctx, t, w)
	})
	t.Run("cancel closes the channel", func(t *testing.T) {
		w.cancel()
		w.cancel() // idempotent
		for range w.ch {
		}
	})
}

type watcherCase struct {
	name   string
	change func(t *testing.T)
	vmid   int
	want   inventory.Change
}

// watcherCases each make one change; they run in order on one inventory.
func watcherCases(w watched) []watcherCase {
	srv := w.srv
	return []watcherCase{
		{"starting a container is a status change", func(t *testing.T) { must(t, srv.SetRunning(101, true)) }, 101, inventory.StatusChanged},
		{"a lock taken behind our back is a lock change", func(t *testing.T) { must(t, srv.SetLock(102, "backup")) }, 102, inventory.LockChanged},
		{"the lock going away is a lock change too", func(t *testing.T) { must(t, srv.SetLock(102, "")) }, 102, inventory.LockChanged},
		{"new tags are a tags change", func(t *testing.T) { must(t, srv.SetConfigValue(101, "tags", "k8s;web")) }, 101, inventory.TagsChanged},
		{"a new hostname is a name change", func(t *testing.T) { must(t, srv.SetConfigValue(101, "hostname", "renamed")) }, 101, inventory.NameChanged},
		{"a container moved to another node is a node change", func(t *testing.T) {
			must(t, srv.RemoveContainer(103))
			must(t, srv.AddContainer("pve2", 103, map[string]string{"hostname": "ct"}, false))
		}, 103, inventory.NodeChanged},
		{"a new container appears", func(t *testing.T) { must(t, srv.AddContainer("pve3", 104, nil, false)) }, 104, inventory.Appeared},
		{"a removed container disappears", func(t *testing.T) { must(t, srv.RemoveContainer(102)) }, 102, inventory.Disappeared},
	}
}

func slowSubscriberLosesNothing(ctx context.Context, t *testing.T, w watched) {
	must(t, w.srv.SetRunning(101, false))
	must(t, w.inv.Refresh(ctx))
	must(t, w.srv.SetLock(101, "snapshot"))
	must(t, w.inv.Refresh(ctx))
	must(t, w.srv.SetRunning(100, false))
	must(t, w.inv.Refresh(ctx))
	// One event per container may already be on its way to the channel
	// while later changes merge into the pending one.
	var got []inventory.Event
	for len(got) == 0 || got[len(got)-1].VMID != 100 {
		got = append(got, next(t, w.ch))
	}
	var ct101 inventory.Change
	for _, ev := range got[:len(got)-1] {
		if ev.VMID != 101 {
			t.Fatalf("events %+v: unexpected VMID", got)
		}
		ct101 |= ev.Change
	}
	if len(got) > 3 || ct101 != inventory.StatusChanged|inventory.LockChanged || got[len(got)-1].Change != inventory.StatusChanged {
		t.Fatalf("events %+v, want 101 status+lock in at most two events, then 100 status", got)
	}
}

func failedListingKeepsSnapshot(ctx context.Context, t *testing.T, w watched) {
	before := w.inv.Snapshot()
	w.srv.FailRequests(http.MethodGet, "/cluster/resources", 1, 500, "pvestatd is dead")
	if err := w.inv.Refresh(ctx); err == nil || w.inv.LastError() == nil {
		t.Fatalf("Refresh() = %v, LastError() = %v; want the failure", err, w.inv.LastError())
	}
	if w.inv.Snapshot() != before {
		t.Fatal("snapshot replaced by a failed refresh")
	}
	must(t, w.srv.SetRunning(100, true))
	must(t, w.inv.Refresh(ctx))
	if w.inv.LastError() != nil {
		t.Fatalf("LastError() after recovery = %v", w.inv.LastError())
	}
	if ev := next(t, w.ch); ev.VMID != 100 || ev.Change != inventory.StatusChanged {
		t.Fatalf("event %+v (%s), want only 100 status", ev, ev.Change)
	}
}

func failedNodeListingUpdatesContainers(ctx context.Context, t *testing.T, w watched) {
	nodes := w.inv.Snapshot().Nodes
	w.srv.FailRequests(http.MethodGet, "/nodes", 1, 500, "boom")
	must(t, w.srv.SetRunning(100, false))
	if err := w.inv.Refresh(ctx); err == nil {
		t.Fatal("node failure not reported")
	}
	if s := w.inv.Snapshot(); len(s.Nodes) != len(nodes) || s.Containers[100].Status != "stopped" {
		t.Fatalf("snapshot = %d nodes, CT 100 %s", len(s.Nodes), s.Containers[100].Status)
	}
	if ev := next(t, w.ch); ev.VMID != 100 {
		t.Fatalf("event %+v", ev)
	}
}

func TestRunRefreshesOnInvalidate(t *testing.T) {
	srv := newSim(t)
	if err := srv.AddContainer("pve1", 100, nil, false); err != nil {
		t.Fatal(err)
	}
	inv := inventory.New(newClient(t, srv), inventory.Options{Interval: time.Hour, MinInterval: time.Millisecond})
	ch, cancelSub := inv.Subscribe()
	defer cancelSub()
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() { done <- inv.Run(ctx) }()

	if ev := next(t, ch); ev.VMID != 100 || ev.Change != inventory.Appeared {
		t.Fatalf("first event %+v", ev)
	}
	if err := srv.SetRunning(100, true); err != nil {
		t.Fatal(err)
	}
	// Without Invalidate the next refresh would be an hour away.
	inv.Invalidate()
	if ev := next(t, ch); ev.VMID != 100 || ev.Change != inventory.StatusChanged {
		t.Fatalf("event after Invalidate %+v", ev)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run() = %v", err)
	}
}

func BenchmarkRefresh10000Containers(b *testing.B) {
	srv := newSim(b)
	if err := srv.SeedContainers("pve1", 100, 10000, true); err != nil {
		b.Fatal(err)
	}
	inv := inventory.New(newClient(b, srv), inventory.Options{})
	ctx := testCtx(b)
	srv.ResetRequestCounts()
	refreshes := 0
	for b.Loop() {
		if err := inv.Refresh(ctx); err != nil {
			b.Fatal(err)
		}
		refreshes++
	}
	b.ReportMetric(float64(totalRequests(srv))/float64(refreshes), "requests/op")
}
