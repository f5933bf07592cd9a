package pvesim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	proxmox "github.com/luthermonson/go-proxmox"
)

// requestFaultsTest holds what the subtests of TestRequestFaultsBeforeCommit share; they run in order.
type requestFaultsTest struct {
	srv *Server
}

func TestRequestFaultsBeforeCommit(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	tests := []struct {
		name    string
		fault   RequestFault
		status  string
		body    string
		emptyOK bool
	}{
		{"a 500 with a PVE message", RequestFault{Method: "GET", Path: "/version", Status: 500, Message: "got timeout\nsecond line"}, "500 got timeout", `{"data":null,"message":"got timeout\nsecond line\n"}`, false},
		{"a 502 from a proxy has no body", RequestFault{Path: "/version", Status: 502}, "502 Bad Gateway", "", true},
		{"a 503", RequestFault{Path: "/version", Status: 503}, "503 Service Unavailable", "", true},
		{"a 504", RequestFault{Path: "/version", Status: 504}, "504 Gateway Timeout", "", true},
		{"a 595 has an empty body", RequestFault{Path: "/version", Status: 595}, "595 Connection refused", "", true},
		{"a 401 from the auth phase", RequestFault{Path: "/version", Status: 401, Message: "No ticket"}, "401 No ticket", `{"data":null,"message":"No ticket\n"}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fault.Action = FaultError
			if _, err := srv.InjectFault(tc.fault); err != nil {
				t.Fatal(err)
			}
			r := raw(t, srv, "GET", "/version", "")
			if r.Status != tc.status || string(r.Body) != tc.body {
				t.Fatalf("%q %q", r.Status, r.Body)
			}
			mustOK(t, raw(t, srv, "GET", "/version", ""))
		})
	}
	fx := requestFaultsTest{srv: srv}
	t.Run("go-proxmox reads an empty 595 body as a JSON error", fx.emptyBodyIsJSONError)
	t.Run("go-proxmox WithRetry rides out 502/503/504", fx.retryRidesOut)
	t.Run("the fault only hits matching requests and only count times", fx.onlyMatchingCountTimes)
	t.Run("paths match by template, ** glob and regex", fx.pathMatching)
	t.Run("RemoveFault and ClearFaults disarm", fx.removeAndClear)
	t.Run("a dropped connection fails the client and changes nothing", fx.droppedConnection)
}

func (fx requestFaultsTest) emptyBodyIsJSONError(t *testing.T) {
	srv := fx.srv
	srv.FailRequests("GET", "/version", 1, 595, "")
	if _, err := pve(t, srv).Version(ctx(t)); err == nil || err.Error() != "unexpected end of JSON input" {
		t.Fatalf("%v", err)
	}
}

func (fx requestFaultsTest) retryRidesOut(t *testing.T) {
	srv := fx.srv
	srv.ResetRequestCounts()
	srv.FailRequests("GET", "/cluster/status", 1, 502, "")
	srv.FailRequests("GET", "/cluster/status", 1, 503, "")
	c := pve(t, srv, proxmox.WithRetry(proxmox.WithRetryMax(4), proxmox.WithRetryBackoff(5*time.Millisecond, 20*time.Millisecond)))
	if _, err := c.Cluster(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if n := srv.RequestCount("GET /cluster/status"); n != 3 {
		t.Fatalf("attempts %d", n)
	}
}

func (fx requestFaultsTest) onlyMatchingCountTimes(t *testing.T) {
	srv := fx.srv
	srv.FailRequests("PUT", "/nodes/*/lxc/*/config", 2, 500, "nope")
	mustOK(t, raw(t, srv, "GET", "/version", ""))
	for i := 0; i < 2; i++ {
		if r := raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", form("cores", "1")); r.Status != "500 nope" {
			t.Fatalf("%d: %q", i, r.Status)
		}
	}
	if r := raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", form("cores", "1")); r.Status == "500 nope" {
		t.Fatal("a third hit")
	}
}

func (fx requestFaultsTest) pathMatching(t *testing.T) {
	srv := fx.srv
	for _, p := range []string{"/nodes/{node}/tasks", "/nodes/**", "~^/nodes/pve[0-9]/tasks$"} {
		srv.FailRequests("", p, 1, 500, "matched")
		if r := raw(t, srv, "GET", "/nodes/pve2/tasks", ""); r.Status != "500 matched" {
			t.Errorf("%s: %q", p, r.Status)
		}
	}
}

func (fx requestFaultsTest) removeAndClear(t *testing.T) {
	srv := fx.srv
	id := srv.FailRequests("GET", "/version", -1, 500, "forever")
	raw(t, srv, "GET", "/version", "")
	if !srv.RemoveFault(id) {
		t.Fatal("remove")
	}
	mustOK(t, raw(t, srv, "GET", "/version", ""))
	srv.FailRequests("GET", "/version", -1, 500, "forever")
	srv.ClearFaults()
	mustOK(t, raw(t, srv, "GET", "/version", ""))
}

func (fx requestFaultsTest) droppedConnection(t *testing.T) {
	srv := fx.srv
	_, _ = srv.InjectFault(RequestFault{Method: "POST", Path: "/nodes/{node}/lxc", Action: FaultDrop})
	resp, err := srv.HTTPClient().Post(srv.URL()+"/nodes/pve1/lxc", "application/x-www-form-urlencoded", strings.NewReader(form("vmid", "100")))
	if err == nil {
		resp.Body.Close()
		t.Fatal("expected a transport error")
	}
	if _, ok := srv.Container(100); ok {
		t.Fatal("nothing must be created")
	}
}

// TestRequestFaultProbability: a fault with a probability breaks only some
// matching requests, reproducibly for a seed, and rejects nonsense.
func TestRequestFaultProbability(t *testing.T) {
	t.Parallel()
	failures := func() []int {
		srv := newSim(t)
		if _, err := srv.InjectFault(RequestFault{Method: "GET", Path: "/version", Count: -1, Probability: 0.1, Action: FaultError, Status: 500, Message: "simulated"}); err != nil {
			t.Fatal(err)
		}
		var failed []int
		for i := range 200 {
			if r := raw(t, srv, "GET", "/version", ""); r.Status != "200 OK" {
				failed = append(failed, i)
			}
		}
		return failed
	}
	first, second := failures(), failures()
	if len(first) < 5 || len(first) > 40 {
		t.Fatalf("%d of 200 requests failed at probability 0.1", len(first))
	}
	if fmt.Sprint(first) != fmt.Sprint(second) {
		t.Errorf("the same seed failed different requests: %v and %v", first, second)
	}
	srv := newSim(t)
	if _, err := srv.InjectFault(RequestFault{Path: "/version", Probability: 1.5, Action: FaultError}); err == nil {
		t.Error("a probability above 1 was accepted")
	}
}

func TestRequestFaultsAfterCommit(t *testing.T) {
	t.Parallel()
	srv := newSim(t)

	t.Run("a create whose response is lost still happens, and a retry conflicts", func(t *testing.T) {
		srv.DropAfterCommit("POST", "/nodes/{node}/lxc", 1)
		c := pve(t, srv, proxmox.WithRetry(proxmox.WithRetryBackoff(5*time.Millisecond, 20*time.Millisecond)))
		n, _ := c.Node(ctx(t), "pve1")
		_, err := n.NewContainer(ctx(t), 100, proxmox.ContainerOption{Name: "ostemplate", Value: DebianTemplate}, proxmox.ContainerOption{Name: "rootfs", Value: "local-lvm:4"})
		if err == nil || err.Error() != "500 CT 100 already exists on node 'pve1'" {
			t.Fatalf("%v", err)
		}
		if _, ok := srv.Container(100); !ok {
			t.Fatal("the first, dropped POST created the CT")
		}
		ts := srv.Tasks(TaskCreate, "100")
		if len(ts) != 1 {
			t.Fatalf("one create task ran: %+v", ts)
		}
		waitTask(t, srv, ts[0].UPID)
	})
	t.Run("a truncated body", func(t *testing.T) {
		_, _ = srv.InjectFault(RequestFault{Method: "POST", Path: "/nodes/pve1/lxc/100/status/start", Action: FaultPartialAfterCommit})
		err := pve(t, srv).Post(ctx(t), "/nodes/pve1/lxc/100/status/start", nil, new(string))
		if err == nil || !strings.Contains(err.Error(), "unexpected EOF") {
			t.Fatalf("%v", err)
		}
		eventually(t, "start committed", func() bool { cv, _ := srv.Container(100); return cv.Status == "running" })
	})
	t.Run("a body that is not JSON", func(t *testing.T) {
		_, _ = srv.InjectFault(RequestFault{Path: "/nodes/pve1/lxc/100/config", Method: "PUT", Action: FaultInvalidJSONAfterCommit})
		r := raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", form("cores", "3"))
		if r.Code != 200 || !strings.HasPrefix(string(r.Body), "<html>") {
			t.Fatalf("%q %s", r.Status, r.Body)
		}
		if cv, _ := srv.Container(100); cv.Config["cores"] != "3" {
			t.Fatal("the change was committed")
		}
	})
}

func TestSlowAndHangingRequests(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	t.Run("a delay postpones the headers", func(t *testing.T) {
		srv.DelayRequests("GET", "/version", 1, 200*time.Millisecond)
		start := time.Now()
		mustOK(t, raw(t, srv, "GET", "/version", ""))
		if time.Since(start) < 200*time.Millisecond {
			t.Fatal("not delayed")
		}
	})
	t.Run("a client timeout fires on a delayed response", func(t *testing.T) {
		srv.DelayRequests("GET", "/version", 1, 5*time.Second)
		c := pve(t, srv, proxmox.WithTimeout(100*time.Millisecond))
		if _, err := c.Version(context.Background()); err == nil {
			t.Fatal("expected a timeout")
		}
	})
	t.Run("a hang lasts until the client cancels", func(t *testing.T) {
		srv.HangRequests("GET", "/cluster/resources", 1)
		c, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(c, "GET", srv.URL()+"/cluster/resources", nil)
		req.Header.Set("Authorization", "PVEAPIToken="+DefaultTokenID+"="+DefaultTokenSecret)
		resp, err := srv.HTTPClient().Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			t.Fatal("expected cancellation")
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%v", err)
		}
		mustOK(t, raw(t, srv, "GET", "/cluster/resources", ""))
	})
}

func TestRequestCounters(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100)
	srv.ResetRequestCounts()
	for i := 0; i < 3; i++ {
		mustOK(t, raw(t, srv, "GET", "/cluster/resources?type=vm", ""))
	}
	mustOK(t, raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", form("cores", "2")))
	raw(t, srv, "GET", "/nope", "")
	want := map[string]int{"GET /cluster/resources": 3, "PUT /nodes/{node}/lxc/{vmid}/config": 1, "GET /nope": 1}
	if got := srv.RequestCounts(); mustJSON(got) != mustJSON(want) {
		t.Fatalf("%v", got)
	}
	srv.ResetRequestCounts()
	if len(srv.RequestCounts()) != 0 {
		t.Fatal("reset")
	}
}
