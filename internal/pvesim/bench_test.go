package pvesim

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// benchClient sends requests with the default token and checks for 200.
type benchClient struct {
	srv  *Server
	http *http.Client
}

func (c benchClient) do(b *testing.B, method, path, body string) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, c.srv.URL()+path, rd)
	req.Header.Set("Authorization", "PVEAPIToken="+DefaultTokenID+"="+DefaultTokenSecret)
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Errorf("%s %s: %s", method, path, resp.Status)
	}
}

func seededSim(b *testing.B, n int) *Server {
	b.Helper()
	srv := newSim(b, func(o *Options) {
		o.Storages = DefaultStorages()
		o.Storages[1].Total = 1 << 50 // room for every create the benchmark makes
	})
	per := n / 3
	for i, node := range []string{"pve1", "pve2", "pve3"} {
		count := per
		if i == 2 {
			count = n - 2*per
		}
		if err := srv.SeedContainers(node, 1000+i*per, count, i != 1); err != nil {
			b.Fatal(err)
		}
	}
	return srv
}

// BenchmarkClusterResources10k serves GET /cluster/resources?type=vm with
// 10,000 containers. "cached" is the steady state of a poller (state
// unchanged within the second); "rebuilt" forces a fresh render every call.
func BenchmarkClusterResources10k(b *testing.B) {
	srv := seededSim(b, 10000)
	c := benchClient{srv: srv, http: srv.HTTPClient()}
	b.Run("cached", func(b *testing.B) {
		start := time.Now()
		b.SetParallelism(2)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.do(b, "GET", "/cluster/resources?type=vm", "")
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	})
	b.Run("rebuilt", func(b *testing.B) {
		start := time.Now()
		for i := 0; i < b.N; i++ {
			srv.RefreshResources() // invalidates the cache
			c.do(b, "GET", "/cluster/resources?type=vm", "")
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	})
}

// BenchmarkMixedRequests is an operator-like mix against 1,000 containers:
// status and config reads, resource polls, config PUTs, creates, task polls
// and node listings, from 16 concurrent clients.
func BenchmarkMixedRequests(b *testing.B) {
	srv := seededSim(b, 1000)
	c := benchClient{srv: srv, http: srv.HTTPClient()}
	var seq, nextID atomic.Int64
	nextID.Store(100000)
	upid := srv.Tasks("", "")
	_ = upid
	createUPID := upidOf(b, raw(b, srv, "POST", "/nodes/pve1/lxc", form("vmid", "99999", "ostemplate", DebianTemplate, "rootfs", "local-lvm:1")))
	waitTask(b, srv, createUPID)
	b.ResetTimer()
	start := time.Now()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			vmid := 1000 + int(i%333)
			switch k := i % 20; {
			case k < 8:
				c.do(b, "GET", fmt.Sprintf("/nodes/pve1/lxc/%d/status/current", vmid), "")
			case k < 11:
				c.do(b, "GET", fmt.Sprintf("/nodes/pve1/lxc/%d/config", vmid), "")
			case k < 13:
				c.do(b, "GET", "/cluster/resources?type=vm", "")
			case k < 16:
				c.do(b, "PUT", fmt.Sprintf("/nodes/pve1/lxc/%d/config", vmid), form("description", fmt.Sprintf("rev %d", i)))
			case k < 17:
				id := nextID.Add(1)
				c.do(b, "POST", "/nodes/pve2/lxc", form("vmid", fmt.Sprint(id), "ostemplate", DebianTemplate, "rootfs", "local-lvm:1"))
			case k < 18:
				c.do(b, "GET", "/nodes/pve1/tasks/"+createUPID+"/status", "")
			case k < 19:
				c.do(b, "GET", "/nodes/pve3/lxc", "")
			default:
				c.do(b, "GET", "/nodes/pve1/tasks?source=active", "")
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}
