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

func TestCache(t *testing.T) {
	srv := newSim(t)
	base := simConfig(srv)
	cache := proxmox.NewCache()
	get := func(t *testing.T, key, version string, cfg proxmox.Config) *proxmox.APIClient {
		t.Helper()
		c, err := cache.Get(key, version, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	first := get(t, "host-a", "rv1", base)

	tests := []struct {
		name    string
		key     string
		version string
		mod     func(*proxmox.Config)
		same    bool
	}{
		{"the same key, version and config return the cached client", "host-a", "rv1", nil, true},
		{"a new resourceVersion rebuilds the client", "host-a", "rv2", nil, false},
		{"a rotated token secret rebuilds it even with the same version", "host-a", "rv1", func(c *proxmox.Config) { c.Credentials.TokenSecret = "rotated" }, false},
		{"a new CA bundle rebuilds it", "host-a", "rv1", func(c *proxmox.Config) { c.CABundle = append([]byte("\n"), c.CABundle...) }, false},
		{"another key gets its own client", "host-b", "rv1", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Start each case from the first client cached under host-a.
			cache.Forget("host-a")
			cache.Forget("host-b")
			first = get(t, "host-a", "rv1", base)
			cfg := base
			if tt.mod != nil {
				tt.mod(&cfg)
			}
			got := get(t, tt.key, tt.version, cfg)
			if (got == first) != tt.same {
				t.Fatalf("same client = %t, want %t", got == first, tt.same)
			}
		})
	}
	t.Run("after a rebuild the new client is cached", func(t *testing.T) {
		a := get(t, "host-a", "rv9", base)
		if b := get(t, "host-a", "rv9", base); a != b {
			t.Fatal("rebuilt client not cached")
		}
		if _, err := a.Version(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("forget drops the client", func(t *testing.T) {
		a := get(t, "host-a", "rv9", base)
		cache.Forget("host-a")
		if b := get(t, "host-a", "rv9", base); a == b {
			t.Fatal("forgotten client returned again")
		}
	})
	t.Run("an invalid config is an error and caches nothing", func(t *testing.T) {
		n := cache.Len()
		bad := base
		bad.Endpoint = "http://insecure.example.com"
		if _, err := cache.Get("host-c", "rv1", bad); err == nil {
			t.Fatal("http endpoint accepted")
		}
		if cache.Len() != n {
			t.Fatal("failed build was cached")
		}
	})
}

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
