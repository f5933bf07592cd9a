package pvesim

import (
	"strings"
	"testing"
)

// TestFormDecoding covers pveproxy's decode_urlencoded and the schema
// step's handling of what it produces.
func TestFormDecoding(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100, "mp0", "local-lvm:1,mp=/mnt/a", "description", "x", "onboot", "1")
	tests := []struct {
		name, method, path, body string
		// wantErrors is the errors object of a 400; nil means a 200.
		wantErrors map[string]string
	}{
		{name: "a repeated key of a -list parameter is joined, so both keys are deleted",
			method: "PUT", path: "/nodes/pve1/lxc/100/config", body: "delete=description&delete=onboot"},
		{name: "a repeated scalar key is an array and fails the type check",
			method: "PUT", path: "/nodes/pve1/lxc/100/config", body: "cores=1&cores=2",
			wantErrors: map[string]string{"cores": "type check ('integer') failed - got ARRAY"}},
		{name: "a repeated query key is an array too",
			method: "GET", path: "/cluster/resources?type=vm&type=node",
			wantErrors: map[string]string{"type": "type check ('string') failed - got ARRAY"}},
		{name: "a query parameter replaces the body's value",
			method: "PUT", path: "/nodes/pve1/lxc/100/config?cores=2", body: "cores=abc"},
		{name: "a key without a value is no parameter at all",
			method: "PUT", path: "/nodes/pve1/lxc/100/config", body: "cores=&memory=1024"},
		{name: "semicolons separate pairs like ampersands",
			method: "PUT", path: "/nodes/pve1/lxc/100/config", body: "cores=2;memory=1024"},
		{name: "the cache buster _dc is dropped",
			method: "GET", path: "/nodes/pve1/lxc/100/config?_dc=123"},
		{name: "a JSON array for a -list parameter is joined",
			method: "PUT", path: "/nodes/pve1/lxc/100/config", body: `{"delete":["mp0"]}`},
		{name: "a JSON array for a scalar parameter fails the type check",
			method: "PUT", path: "/nodes/pve1/lxc/100/config", body: `{"hostname":["a","b"]}`,
			wantErrors: map[string]string{"hostname": "type check ('string') failed - got ARRAY"}},
		{name: "property-string booleans take PVE's spellings",
			method: "PUT", path: "/nodes/pve1/lxc/100/config", body: form("net1", "name=eth1,bridge=vmbr0,firewall=yes,link_down=off")},
		{name: "top-level booleans take only 0 and 1",
			method: "PUT", path: "/nodes/pve1/lxc/100/config", body: "onboot=true",
			wantErrors: map[string]string{"onboot": "type check ('boolean') failed - got 'true'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := raw(t, srv, tt.method, tt.path, tt.body)
			if tt.wantErrors == nil {
				mustOK(t, r)
				return
			}
			if r.Status != "400 Parameter verification failed." {
				t.Fatalf("status %q body %s", r.Status, r.Body)
			}
			errs, _ := r.json(t)["errors"].(map[string]any)
			if len(errs) != len(tt.wantErrors) {
				t.Fatalf("errors %v, want %v", errs, tt.wantErrors)
			}
			for k, v := range tt.wantErrors {
				if errs[k] != v {
					t.Errorf("errors[%s] = %q, want %q", k, errs[k], v)
				}
			}
		})
	}
	t.Run("the joined delete removed both keys and the booleans were stored as 0/1", func(t *testing.T) {
		cv, _ := srv.Container(100)
		if _, ok := cv.Config["description"]; ok {
			t.Errorf("description still set: %v", cv.Config)
		}
		if _, ok := cv.Config["onboot"]; ok {
			t.Errorf("onboot still set: %v", cv.Config)
		}
		if net1 := cv.Config["net1"]; net1 == "" || !containsAll(net1, "firewall=1", "link_down=0") {
			t.Errorf("net1 = %q", net1)
		}
	})
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// TestCheckOrder follows PVE's rest_handler: the path/body conflict (400)
// comes before the permission check (403), which comes before the
// method's parameter verification (400).
func TestCheckOrder(t *testing.T) {
	t.Parallel()
	srv := newSim(t, func(o *Options) {
		o.Tokens = []TokenSpec{{ID: DefaultTokenID, Secret: DefaultTokenSecret}, {ID: "ro@pve!t", Secret: "x", Privileges: []string{"VM.Audit"}}}
	})
	createCT(t, srv, "pve1", 100)
	auditor := asToken("ro@pve!t", "x")
	tests := []struct {
		name, body, want string
	}{
		{"a caller without rights gets 403 even for invalid parameters", "cores=abc", "403 Permission check failed (/vms/100, VM.Config.Disk|VM.Config.CPU|VM.Config.Memory|VM.Config.Network|VM.Config.Options)"},
		{"a body vmid conflicting with the path is a 400 before the permission check", "vmid=101", "400 Parameter verification failed."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", tt.body, auditor)
			if r.Status != tt.want {
				t.Fatalf("status %q, want %q; body %s", r.Status, tt.want, r.Body)
			}
		})
	}
}
