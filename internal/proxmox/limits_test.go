package proxmox_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/pve-operator/pve-operator/internal/proxmox"
)

// TestMutatingConcurrencyIsBounded holds every start request inside the
// simulator and checks that no more than MaxConcurrentTasks ever reach it;
// the rest wait for a slot until their context ends. No timing is asserted.
func TestMutatingConcurrencyIsBounded(t *testing.T) {
	srv := newSim(t)
	c := newClient(t, srv, func(c *proxmox.Config) { c.MaxConcurrentTasks = 2 })
	const n = 6
	for i := range n {
		seedCT(t, srv, node1, 100+i, false, nil)
	}
	srv.HangRequests(http.MethodPost, "/nodes/{node}/lxc/{vmid}/status/start", -1)
	srv.ResetRequestCounts()

	ctx, cancel := context.WithCancel(testCtx(t))
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := c.StartContainer(ctx, node1, 100+i)
			errs <- err
		})
	}
	// Reads are not limited by the semaphore, even while it is exhausted.
	waitFor(t, func() bool { return srv.RequestCount("POST /nodes/{node}/lxc/{vmid}/status/start") == 2 })
	if st := c.LimitStats(); st.MutatingInFlight != 2 {
		t.Fatalf("LimitStats() while hanging = %+v", st)
	}
	if _, err := c.Version(testCtx(t)); err != nil {
		t.Fatalf("read blocked by mutating requests: %v", err)
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("start = %v, want context canceled", err)
		}
	}
	if got := srv.RequestCount("POST /nodes/{node}/lxc/{vmid}/status/start"); got != 2 {
		t.Fatalf("the simulator received %d starts, want 2", got)
	}
	if st := c.LimitStats(); st.MaxMutatingInFlight != 2 || st.MutatingInFlight != 0 || st.MaxConcurrentTasks != 2 {
		t.Fatalf("LimitStats() = %+v", st)
	}
}

// TestRateLimit: with an empty bucket the next request waits for a token;
// a context that ends first means the request is never sent.
func TestRateLimit(t *testing.T) {
	srv := newSim(t)
	c := newClient(t, srv, func(c *proxmox.Config) { c.RateLimit = proxmox.RateLimit{QPS: 0.001, Burst: 1} })
	if _, err := c.Version(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(testCtx(t), time.Second)
	defer cancel()
	if _, err := c.Version(ctx); err == nil {
		t.Fatal("second request within the same token period went through")
	}
	if got := srv.RequestCount("GET /version"); got != 1 {
		t.Fatalf("the simulator received %d requests, want 1", got)
	}
}

// waitFor polls cond until it holds or the test context ends.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	ctx := testCtx(t)
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatal("condition not reached")
		case <-time.After(5 * time.Millisecond):
		}
	}
}
