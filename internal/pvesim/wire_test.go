package pvesim

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestErrorsCarryThePVEMessageAsReasonPhrase(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100)
	if err := srv.SetLock(100, "backup"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path, body string
		status                   string
		message                  string
	}{
		{"a locked CT refuses a config change", "PUT", "/nodes/pve1/lxc/100/config", form("cores", "2"), "500 CT is locked (backup)", "CT is locked (backup)\n"},
		{"a missing CT is a 500, not a 404", "GET", "/nodes/pve1/lxc/999/config", "", "500 Configuration file 'nodes/pve1/lxc/999.conf' does not exist", "Configuration file 'nodes/pve1/lxc/999.conf' does not exist\n"},
		{"a CT on another node is not found on this one", "GET", "/nodes/pve2/lxc/100/status/current", "", "500 Configuration file 'nodes/pve2/lxc/100.conf' does not exist", "Configuration file 'nodes/pve2/lxc/100.conf' does not exist\n"},
		{"an unknown route is 501", "GET", "/nodes/pve1/foo", "", "501 Method 'GET /nodes/pve1/foo' not implemented", "Method 'GET /nodes/pve1/foo' not implemented\n"},
		{"a known path with another method is 501", "POST", "/version", "", "501 Method 'POST /version' not implemented", "Method 'POST /version' not implemented\n"},
		{"a duplicate VMID names the owner", "POST", "/nodes/pve2/lxc", form("vmid", "100", "ostemplate", DebianTemplate), "500 CT 100 already exists on node 'pve1'", "CT 100 already exists on node 'pve1'\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := raw(t, srv, tc.method, tc.path, tc.body)
			if r.Status != tc.status {
				t.Fatalf("status line: got %q want %q", r.Status, tc.status)
			}
			body := r.json(t)
			if body["data"] != nil || body["message"] != tc.message {
				t.Fatalf("body: got %s", r.Body)
			}
			if !r.Close {
				t.Errorf("error responses must close the connection")
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json;charset=UTF-8" {
				t.Errorf("content type %q", ct)
			}
		})
	}
}

func TestGoProxmoxSeesOnlyTheStatusLineFor500And501(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	c := pve(t, srv)
	n, err := c.Node(ctx(t), "pve1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.Container(ctx(t), 123)
	if err == nil || err.Error() != "500 Configuration file 'nodes/pve1/lxc/123.conf' does not exist" {
		t.Fatalf("got %v", err)
	}
	err = c.Get(ctx(t), "/nodes/pve1/nope", nil)
	if err == nil || err.Error() != "501 Method 'GET /nodes/pve1/nope' not implemented" {
		t.Fatalf("got %v", err)
	}
}

func TestParameterVerification(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100)
	tests := []struct {
		name, method, path, body string
		errors                   map[string]string
	}{
		{"unknown parameters are rejected", "PUT", "/nodes/pve1/lxc/100/config", form("bogus", "1"),
			map[string]string{"bogus": "property is not defined in schema and the schema does not allow additional properties"}},
		{"form booleans accept only 0 and 1", "PUT", "/nodes/pve1/lxc/100/config", form("onboot", "true"),
			map[string]string{"onboot": "type check ('boolean') failed - got 'true'"}},
		{"integers are type checked", "PUT", "/nodes/pve1/lxc/100/config", form("cores", "two"),
			map[string]string{"cores": "type check ('integer') failed - got 'two'"}},
		{"minimums are enforced", "PUT", "/nodes/pve1/lxc/100/config", form("memory", "8"),
			map[string]string{"memory": "value must have a minimum value of 16"}},
		{"required parameters are required", "POST", "/nodes/pve1/lxc", form("vmid", "101"),
			map[string]string{"ostemplate": "property is missing and it is not optional"}},
		{"enums list their values", "GET", "/cluster/resources?type=lxc", "",
			map[string]string{"type": "value 'lxc' does not have a value in the enumeration 'vm, storage, node, sdn'"}},
		{"a path parameter conflicting with the body is refused", "PUT", "/nodes/pve1/lxc/100/config", form("vmid", "101", "cores", "2"),
			map[string]string{"vmid": "duplicate parameter (already defined in URI) with conflicting values!"}},
		{"vmids below 100 fail the pve-vmid format, which runs before the minimum", "GET", "/nodes/pve1/lxc/99/config", "",
			map[string]string{"vmid": "invalid format - value does not look like a valid VM ID\n"}},
		{"JSON strings are not booleans", "PUT", "/nodes/pve1/lxc/100/config", `{"onboot":"yes"}`,
			map[string]string{"onboot": "type check ('boolean') failed - got 'yes'"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := raw(t, srv, tc.method, tc.path, tc.body)
			if r.Status != "400 Parameter verification failed." {
				t.Fatalf("status %q body %s", r.Status, r.Body)
			}
			body := r.json(t)
			if body["message"] != "Parameter verification failed.\n" {
				t.Errorf("message %q", body["message"])
			}
			errs, _ := body["errors"].(map[string]any)
			if len(errs) != len(tc.errors) {
				t.Fatalf("errors %v want %v", errs, tc.errors)
			}
			for k, v := range tc.errors {
				if errs[k] != v {
					t.Errorf("errors[%s] = %q want %q", k, errs[k], v)
				}
			}
		})
	}
}

func TestJSONBodiesAcceptTrueAndFalse(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100)
	mustOK(t, raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", `{"onboot":true,"protection":false,"cores":2}`))
	cv, _ := srv.Container(100)
	if cv.Config["onboot"] != "1" || cv.Config["protection"] != "0" || cv.Config["cores"] != "2" {
		t.Fatalf("config %v", cv.Config)
	}
}

func TestQueryParametersWinOverTheBody(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100)
	mustOK(t, raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config?cores=4", form("cores", "2", "memory", "1024")))
	cv, _ := srv.Container(100)
	if cv.Config["cores"] != "4" || cv.Config["memory"] != "1024" {
		t.Fatalf("config %v", cv.Config)
	}
}

func TestBodiesOnGETAndDELETEAreNotImplemented(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	for _, m := range []string{"GET", "DELETE"} {
		t.Run(m+" with a body", func(t *testing.T) {
			r := raw(t, srv, m, "/nodes/pve1/lxc/100", form("force", "1"))
			if want := fmt.Sprintf("501 Unexpected content for method '%s'", m); r.Status != want {
				t.Fatalf("got %q want %q", r.Status, want)
			}
		})
	}
}

func TestOutputTypingFollowsPVE(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100, "cpulimit", "1.5", "onboot", "1", "cores", "2")
	createCT(t, srv, "pve1", 110, "cpulimit", "1.5")

	t.Run("config renders integers and booleans as numbers and cpulimit as a string", func(t *testing.T) {
		var conf map[string]any
		mustOK(t, raw(t, srv, "GET", "/nodes/pve1/lxc/100/config", "")).data(t, &conf)
		if conf["cores"] != float64(2) || conf["onboot"] != float64(1) || conf["unprivileged"] != float64(1) || conf["cpulimit"] != "1.5" {
			t.Fatalf("config %v", conf)
		}
	})
	t.Run("status cpus is the raw cpulimit string when cores is unset", func(t *testing.T) {
		var st map[string]any
		mustOK(t, raw(t, srv, "GET", "/nodes/pve1/lxc/110/status/current", "")).data(t, &st)
		if st["cpus"] != "1.5" {
			t.Fatalf("cpus %#v", st["cpus"])
		}
		if _, ok := st["lock"]; ok {
			t.Fatalf("lock must be absent when unset: %v", st)
		}
	})
	t.Run("which breaks go-proxmox's integer Container.CPUs like on real PVE", func(t *testing.T) {
		n, _ := pve(t, srv).Node(ctx(t), "pve1")
		if _, err := n.Container(ctx(t), 110); err == nil {
			t.Fatal("expected a decode error")
		}
	})
	t.Run("nextid is a string", func(t *testing.T) {
		r := mustOK(t, raw(t, srv, "GET", "/cluster/nextid", ""))
		if string(r.Body) != `{"data":"101"}` {
			t.Fatalf("body %s", r.Body)
		}
	})
	t.Run("loadavg is an array of strings", func(t *testing.T) {
		var st map[string]any
		mustOK(t, raw(t, srv, "GET", "/nodes/pve1/status", "")).data(t, &st)
		la := st["loadavg"].([]any)
		if _, ok := la[0].(string); !ok {
			t.Fatalf("loadavg %v", la)
		}
	})
	t.Run("cluster status booleans are numbers", func(t *testing.T) {
		var st []map[string]any
		mustOK(t, raw(t, srv, "GET", "/cluster/status", "")).data(t, &st)
		for _, e := range st {
			for _, k := range []string{"quorate", "online", "local"} {
				if v, ok := e[k]; ok {
					if _, isNum := v.(float64); !isNum {
						t.Fatalf("%s is %T", k, v)
					}
				}
			}
		}
	})
}

func TestVolumeIDsWithSlashesWorkEncodedOrNot(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	for _, p := range []string{
		"/nodes/pve1/storage/local/content/local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
		"/nodes/pve1/storage/local/content/local:vztmpl%2Fdebian-12-standard_12.7-1_amd64.tar.zst",
		"/nodes/pve1/storage/local/content/vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
	} {
		t.Run(p, func(t *testing.T) {
			var info map[string]any
			mustOK(t, raw(t, srv, "GET", p, "")).data(t, &info)
			if info["path"] != "/var/lib/vz/template/cache/debian-12-standard_12.7-1_amd64.tar.zst" || info["format"] != "tzst" {
				t.Fatalf("info %v", info)
			}
		})
	}
}

func TestServesHTTP1OverTLS12And13Only(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			conn, err := tls.Dial("tcp", srv.Addr(), &tls.Config{RootCAs: srv.CertPool(), MinVersion: v, MaxVersion: v, NextProtos: []string{"h2", "http/1.1"}, ServerName: "127.0.0.1"})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if p := conn.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
				t.Fatalf("ALPN %q", p)
			}
		})
	}
	t.Run("TLS 1.1 is refused", func(t *testing.T) {
		_, err := tls.Dial("tcp", srv.Addr(), &tls.Config{RootCAs: srv.CertPool(), MaxVersion: tls.VersionTLS11, ServerName: "127.0.0.1"})
		if err == nil {
			t.Fatal("handshake succeeded")
		}
	})
}

// A hand-written request proves the reason phrase is on the wire and not a
// client artifact.
func TestTheRawStatusLineIsWrittenByHand(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	conn, err := tls.Dial("tcp", srv.Addr(), &tls.Config{RootCAs: srv.CertPool(), ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /api2/json/nodes/pve1/lxc/555/status/current HTTP/1.1\r\nHost: x\r\nAuthorization: PVEAPIToken=%s=%s\r\n\r\n", DefaultTokenID, DefaultTokenSecret)
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if line != "HTTP/1.1 500 Configuration file 'nodes/pve1/lxc/555.conf' does not exist\r\n" {
		t.Fatalf("status line %q", line)
	}
	resp, err := http.ReadResponse(bufio.NewReader(io.MultiReader(strings.NewReader(line), br)), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if string(b) != `{"data":null,"message":"Configuration file 'nodes/pve1/lxc/555.conf' does not exist\n"}` {
		t.Fatalf("body %s", b)
	}
	// The server closed the connection after the error.
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("connection still open")
	}
}

// PVE never answers 404 or 409; sweep the error paths the operator hits.
func TestNever404Or409(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100)
	paths := []struct{ method, path, body string }{
		{"GET", "/nodes/pve1/lxc/404/config", ""},
		{"GET", "/nodes/pve1/lxc/404/status/current", ""},
		{"DELETE", "/nodes/pve1/lxc/404", ""},
		{"POST", "/nodes/pve1/lxc", form("vmid", "100", "ostemplate", DebianTemplate)},
		{"GET", "/nodes/pve1/storage/nope/content", ""},
		{"GET", "/nodes/pve1/storage/local/content/local:backup/nope.tar.zst", ""},
		{"GET", "/nodes/pve1/tasks/UPID:pve1:00000001:00000001:00000001:vzstart:1:root@pam:/status", ""},
		{"GET", "/no/such/thing", ""},
		{"GET", "/nodes/pve1/lxc/100/snapshot/nope/config", ""},
		{"POST", "/nodes/pve1/lxc/100/status/stop", ""},
	}
	for _, p := range paths {
		r := raw(t, srv, p.method, p.path, p.body)
		if r.Code == 404 || r.Code == 409 || r.Code == 200 {
			t.Errorf("%s %s: %s", p.method, p.path, r.Status)
		}
	}
}
