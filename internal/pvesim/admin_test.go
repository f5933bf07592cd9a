package pvesim

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// admin calls the JSON admin API.
func admin(t *testing.T, srv *Server, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.AdminURL()+path, strings.NewReader(body))
	resp, err := srv.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

func mustAdmin(t *testing.T, srv *Server, method, path, body string) map[string]any {
	t.Helper()
	code, m := admin(t, srv, method, path, body)
	if code != 200 {
		t.Fatalf("%s %s: %d %v", method, path, code, m)
	}
	return m
}

// adminTest holds what the subtests of TestAdminHTTPEndpoint share; they run in order.
type adminTest struct {
	srv *Server
}

func TestAdminHTTPEndpoint(t *testing.T) {
	t.Parallel()
	srv := newSim(t, func(o *Options) {
		o.Tokens = []TokenSpec{{ID: DefaultTokenID, Secret: DefaultTokenSecret}, {ID: "ro@pve!t", Secret: "x", Privileges: []string{"VM.Audit"}}}
		o.Users = []UserSpec{{ID: "root@pam", Password: DefaultRootPassword}}
	})

	fx := adminTest{srv: srv}
	t.Run("seed containers and read them back", fx.seedContainers)
	t.Run("request faults", fx.requestFaults)
	t.Run("task faults and release", fx.taskFaults)
	t.Run("state faults", fx.stateFaults)
	t.Run("auth faults", fx.authFaults)
	t.Run("counters and state", fx.countersAndState)
	t.Run("unknown admin paths are 404 (the admin API is not PVE)", fx.unknownPaths)
}

func (fx adminTest) seedContainers(t *testing.T) {
	srv := fx.srv
	mustAdmin(t, srv, "POST", "/containers", `{"node":"pve1","vmid":100,"config":{"hostname":"pre","memory":"1024"},"running":true}`)
	mustAdmin(t, srv, "POST", "/seed", `{"node":"pve2","first":1000,"count":5,"running":false}`)
	ct := mustAdmin(t, srv, "GET", "/containers/100", "")
	if ct["status"] != "running" || ct["config"].(map[string]any)["hostname"] != "pre" {
		t.Fatalf("%v", ct)
	}
	if code, _ := admin(t, srv, "GET", "/containers/999", ""); code != 404 {
		t.Fatalf("%d", code)
	}
}

func (fx adminTest) requestFaults(t *testing.T) {
	srv := fx.srv
	m := mustAdmin(t, srv, "POST", "/faults", `{"method":"GET","path":"/version","action":"error","status":503}`)
	if !strings.HasPrefix(m["id"].(string), "fault-") {
		t.Fatalf("%v", m)
	}
	if r := raw(t, srv, "GET", "/version", ""); r.Code != 503 {
		t.Fatalf("%q", r.Status)
	}
	mustAdmin(t, srv, "POST", "/faults", `{"path":"/version","action":"delay","delay":"10ms","count":-1}`)
	mustAdmin(t, srv, "DELETE", "/faults", "")
	if code, _ := admin(t, srv, "POST", "/faults", `{"path":"/version","action":"explode"}`); code != 400 {
		t.Fatalf("%d", code)
	}
}

func (fx adminTest) taskFaults(t *testing.T) {
	srv := fx.srv
	mustAdmin(t, srv, "POST", "/task-faults", `{"type":"vzstop","id":"100","action":"stall"}`)
	upid := upidOf(t, raw(t, srv, "POST", "/nodes/pve1/lxc/100/status/stop", ""))
	eventually(t, "stall", func() bool { v, _ := srv.Task(upid); return v.Stalled })
	if m := mustAdmin(t, srv, "POST", "/tasks/release", `{}`); m["released"] != float64(1) {
		t.Fatalf("%v", m)
	}
	waitTask(t, srv, upid)
	mustAdmin(t, srv, "POST", "/tasks/forget", `{"upid":"`+upid+`"}`)
	if r := raw(t, srv, "GET", "/nodes/pve1/tasks/"+upid+"/status", ""); r.Code != 400 {
		t.Fatalf("%q", r.Status)
	}
}

func (fx adminTest) stateFaults(t *testing.T) {
	srv := fx.srv
	mustAdmin(t, srv, "POST", "/containers/100/lock", `{"lock":"backup"}`)
	if r := raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", form("cores", "2")); r.Status != "500 CT is locked (backup)" {
		t.Fatalf("%q", r.Status)
	}
	mustAdmin(t, srv, "POST", "/containers/100/lock", `{"lock":""}`)
	before := getConfig(t, srv, "100", "")["digest"]
	mustAdmin(t, srv, "POST", "/containers/100/bump-digest", "")
	mustAdmin(t, srv, "POST", "/containers/100/config", `{"description":"hand edit"}`)
	if getConfig(t, srv, "100", "")["digest"] == before {
		t.Fatal("digest unchanged")
	}
	mustAdmin(t, srv, "POST", "/containers/100/running", `{"running":true}`)
	mustAdmin(t, srv, "POST", "/containers/100/ignore-shutdown", `{"ignore":true}`)
	if cv, _ := srv.Container(100); !cv.IgnoresShutdown || cv.Status != "running" {
		t.Fatalf("%+v", cv)
	}
	mustAdmin(t, srv, "POST", "/nodes/pve2/online", `{"online":false}`)
	if r := raw(t, srv, "GET", "/nodes/pve2/status", ""); r.Code != 595 {
		t.Fatalf("%q", r.Status)
	}
	mustAdmin(t, srv, "POST", "/nodes/pve2/online", `{"online":true}`)
	mustAdmin(t, srv, "POST", "/storage/extra-used", `{"storage":"local-lvm","node":"pve1","bytes":1000}`)
	mustAdmin(t, srv, "DELETE", "/containers/1000", "")
	if _, ok := srv.Container(1000); ok {
		t.Fatal("removed")
	}
	m := mustAdmin(t, srv, "POST", "/backups", `{"vmid":100,"notes":"seeded"}`)
	if !strings.HasPrefix(m["volid"].(string), "local:backup/vzdump-lxc-100-") {
		t.Fatalf("%v", m)
	}
}

func (fx adminTest) authFaults(t *testing.T) {
	srv := fx.srv
	mustAdmin(t, srv, "POST", "/tokens/revoke", `{"id":"`+DefaultTokenID+`"}`)
	if r := raw(t, srv, "GET", "/version", ""); r.Status != "401 Authentication failed!" {
		t.Fatalf("%q", r.Status)
	}
	mustAdmin(t, srv, "POST", "/tokens/restore", `{"id":"`+DefaultTokenID+`"}`)
	mustAdmin(t, srv, "POST", "/privileges/drop", `{"principal":"`+DefaultTokenID+`","path":"/vms/100","privilege":"VM.Audit"}`)
	if r := raw(t, srv, "GET", "/nodes/pve1/lxc/100/config", ""); r.Status != "403 Permission check failed (/vms/100, VM.Audit)" {
		t.Fatalf("%q", r.Status)
	}
	mustAdmin(t, srv, "POST", "/privileges/restore", `{"principal":"`+DefaultTokenID+`"}`)
	mustOK(t, raw(t, srv, "GET", "/nodes/pve1/lxc/100/config", ""))
	ticket, _ := login(t, srv, "root@pam", DefaultRootPassword)
	mustAdmin(t, srv, "POST", "/tickets/expire", "")
	if r := raw(t, srv, "GET", "/version", "", noAuth(), withTicket(ticket)); r.Code != 401 {
		t.Fatalf("%q", r.Status)
	}
	mustAdmin(t, srv, "POST", "/unauthorized-delay", `{"delay":"0s"}`)
}

func (fx adminTest) countersAndState(t *testing.T) {
	srv := fx.srv
	mustAdmin(t, srv, "DELETE", "/counters", "")
	raw(t, srv, "GET", "/cluster/resources", "")
	if m := mustAdmin(t, srv, "GET", "/counters", ""); m["GET /cluster/resources"] != float64(1) {
		t.Fatalf("%v", m)
	}
	st := mustAdmin(t, srv, "GET", "/state", "")
	if len(st["containers"].([]any)) != 5 || len(st["nodes"].([]any)) != 3 {
		t.Fatalf("%v", st["containers"])
	}
	mustAdmin(t, srv, "POST", "/resources/refresh", "")
}

func (fx adminTest) unknownPaths(t *testing.T) {
	srv := fx.srv
	if code, _ := admin(t, srv, "GET", "/nope", ""); code != 404 {
		t.Fatalf("%d", code)
	}
}
