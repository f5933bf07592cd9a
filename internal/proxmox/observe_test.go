package proxmox_test

import (
	"errors"
	"testing"
	"time"

	"github.com/pve-operator/pve-operator/internal/proxmox"
)

func TestRoute(t *testing.T) {
	for in, want := range map[string]string{
		"/version":                         "/version",
		"/cluster/resources?type=vm":       "/cluster/resources",
		"/nodes/pve1/lxc/100/status/start": "/nodes/{node}/lxc/{vmid}/status/start",
		"/nodes/pve1/lxc":                  "/nodes/{node}/lxc",
		"/nodes/pve1/tasks/UPID:pve1:0001:0002:0003:vzcreate:100:root@pam:/status": "/nodes/{node}/tasks/{upid}/status",
		"/nodes/pve1/storage/local/content/local:backup/vzdump-lxc-100.tar.zst":    "/nodes/{node}/storage/{storage}/content/{volid}",
		"/nodes/pve1/lxc/100/snapshot/before-upgrade/rollback":                     "/nodes/{node}/lxc/{vmid}/snapshot/{snapshot}/rollback",
		"/cluster/nextid?vmid=105": "/cluster/nextid",
	} {
		if got := proxmox.Route(in); got != want {
			t.Errorf("Route(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestObserveHook checks the Config hook sees every attempt of a real call
// with the templated route, status code and outcome.
func TestObserveHook(t *testing.T) {
	srv := newSim(t)
	type obs struct {
		method, route, outcome string
		code                   int
	}
	var seen []obs
	c := newClient(t, srv, func(cfg *proxmox.Config) {
		cfg.Observe = func(method, route string, code int, outcome string, d time.Duration) {
			if d < 0 {
				t.Errorf("negative duration %v", d)
			}
			seen = append(seen, obs{method, route, outcome, code})
		}
	})
	ctx := testCtx(t)
	if _, err := c.Version(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ContainerStatus(ctx, node1, 4242); !proxmox.IsNotFound(err) {
		t.Fatalf("want not found, got %v", err)
	}
	want := []obs{{"GET", "/version", "success", 200}, {"GET", "/nodes/{node}/lxc/{vmid}/status/current", "not_found", 0}}
	if len(seen) != len(want) {
		t.Fatalf("observed %v, want %v", seen, want)
	}
	for i := range want {
		w, g := want[i], seen[i]
		if g.method != w.method || g.route != w.route || g.outcome != w.outcome || (w.code != 0 && g.code != w.code) || g.code == 0 {
			t.Errorf("observation %d = %+v, want %+v (code 0 = any non-zero)", i, g, w)
		}
	}
	if got := proxmox.Outcome(errors.New("x")); got != "error" {
		t.Errorf("Outcome(plain) = %q", got)
	}
}
