package proxmox_test

import (
	"net/http"
	"testing"

	"github.com/pve-operator/pve-operator/internal/proxmox"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

const createRoute = "POST /nodes/{node}/lxc"

// TestMutatingRequestsAreNeverRepeated: a create whose answer is lost may
// have happened; the client must report that and send it exactly once.
func TestMutatingRequestsAreNeverRepeated(t *testing.T) {
	tests := []struct {
		name   string
		action pvesim.FaultAction
	}{
		{"a connection dropped after commit", pvesim.FaultDropAfterCommit},
		{"a 200 whose body is cut off", pvesim.FaultPartialAfterCommit},
		{"a 200 whose body is not JSON", pvesim.FaultInvalidJSONAfterCommit},
	}
	for _, tt := range tests {
		t.Run(tt.name+" makes the create's outcome unknown and it is sent once", func(t *testing.T) {
			srv := newSim(t)
			c := newClient(t, srv)
			ctx := testCtx(t)
			if _, err := srv.InjectFault(pvesim.RequestFault{Method: http.MethodPost, Path: "/nodes/{node}/lxc", Action: tt.action}); err != nil {
				t.Fatal(err)
			}
			srv.ResetRequestCounts()
			_, err := c.CreateContainer(ctx, node1, 100, proxmox.CreateRequest{Params: debianCT(), Password: "create-pw-123"})
			if !proxmox.IsOutcomeUnknown(err) {
				t.Fatalf("CreateContainer() = %v, want an outcome-unknown error", err)
			}
			assertNoSecrets(t, err, "create-pw-123")
			if n := srv.RequestCount(createRoute); n != 1 {
				t.Fatalf("create was sent %d times, want 1", n)
			}
			// The create did happen: the caller finds it by listing.
			cts, err := c.Containers(ctx)
			if err != nil || len(cts) != 1 || cts[0].VMID != 100 {
				t.Fatalf("Containers() after the lost answer = %+v, %v", cts, err)
			}
		})
	}

	t.Run("a connection dropped before the request is handled is not retried either", func(t *testing.T) {
		srv := newSim(t)
		c := newClient(t, srv)
		seedCT(t, srv, node1, 100, false, nil)
		if _, err := srv.InjectFault(pvesim.RequestFault{Method: http.MethodPost, Path: "/nodes/{node}/lxc/{vmid}/status/start", Action: pvesim.FaultDrop}); err != nil {
			t.Fatal(err)
		}
		srv.ResetRequestCounts()
		_, err := c.StartContainer(testCtx(t), node1, 100)
		if !proxmox.IsUnreachable(err) {
			t.Fatalf("StartContainer() = %v, want unreachable", err)
		}
		if n := srv.RequestCount("POST /nodes/{node}/lxc/{vmid}/status/start"); n != 1 {
			t.Fatalf("start was sent %d times, want 1", n)
		}
	})
}

func TestReadsAreRetriedOnTransientFailures(t *testing.T) {
	tests := []struct {
		name   string
		fault  pvesim.RequestFault
		wantOK bool
		sent   int
	}{
		{"two 502s then success", pvesim.RequestFault{Action: pvesim.FaultError, Status: 502, Count: 2}, true, 3},
		{"a dropped connection then success", pvesim.RequestFault{Action: pvesim.FaultDrop, Count: 1}, true, 2},
		{"a 595 on every attempt gives up after three", pvesim.RequestFault{Action: pvesim.FaultError, Status: 595, Count: -1}, false, 3},
		{"a 500 is not retried", pvesim.RequestFault{Action: pvesim.FaultError, Status: 500, Message: "boom", Count: 1}, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newSim(t)
			c := newClient(t, srv)
			f := tt.fault
			f.Method, f.Path = http.MethodGet, "/version"
			if _, err := srv.InjectFault(f); err != nil {
				t.Fatal(err)
			}
			srv.ResetRequestCounts()
			_, err := c.Version(testCtx(t))
			if (err == nil) != tt.wantOK {
				t.Fatalf("Version() = %v, want ok=%t", err, tt.wantOK)
			}
			if n := srv.RequestCount("GET /version"); n != tt.sent {
				t.Fatalf("sent %d times, want %d", n, tt.sent)
			}
		})
	}
}
