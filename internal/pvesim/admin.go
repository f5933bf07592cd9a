package pvesim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The admin API mirrors the Go fault/inspect API as JSON under /_sim/, for
// the cmd/pvesim binary and for tests in other languages. It needs no auth:
// the simulator listens on loopback and is a test fixture.
//
//	GET    /_sim/state                         StateView
//	GET    /_sim/containers/{vmid}             ContainerView
//	GET    /_sim/counters                      {"GET /cluster/resources": 3, …}
//	DELETE /_sim/counters                      reset counters
//	POST   /_sim/faults                        RequestFault (+ "delay": "2s") → {"id"}
//	POST   /_sim/task-faults                   TaskFault → {"id"} ("{password}" in exitstatus: the create's password)
//	DELETE /_sim/faults                        clear request and task faults
//	DELETE /_sim/faults/{id}                   remove one fault
//	POST   /_sim/tasks/release                 {"upid": "…"} or {} for all stalled
//	POST   /_sim/tasks/forget                  {"upid": "…"}
//	POST   /_sim/containers                    ContainerSpec JSON (node, vmid, config, running, pool)
//	POST   /_sim/seed                          {"node","first","count","running"}
//	DELETE /_sim/containers/{vmid}             remove out of band
//	POST   /_sim/containers/{vmid}/lock        {"lock": "backup"} ("" removes)
//	POST   /_sim/containers/{vmid}/config      {"key": "value", …} out-of-band edit ("" deletes)
//	POST   /_sim/containers/{vmid}/bump-digest
//	POST   /_sim/containers/{vmid}/running     {"running": true}
//	POST   /_sim/containers/{vmid}/ignore-shutdown {"ignore": true}
//	POST   /_sim/backups                       BackupSpec → {"volid"}
//	POST   /_sim/nodes/{node}/online           {"online": false}
//	POST   /_sim/tokens/revoke | /restore      {"id": "root@pam!operator"}
//	POST   /_sim/privileges/drop               {"principal","path","privilege"}
//	POST   /_sim/privileges/restore            {"principal"}
//	POST   /_sim/tickets/expire
//	POST   /_sim/unauthorized-delay            {"delay": "3s"}
//	POST   /_sim/storage/extra-used            {"storage","node","bytes"}
//	POST   /_sim/resources/refresh             force a /cluster/resources refresh
//	POST   /_sim/save                          write the state file

type adminFault struct {
	RequestFault
	Delay string `json:"delay,omitempty"`
}

func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/_sim"), "/")
	segs := splitPath(path)
	res, err := s.adminDispatch(r, segs)
	if r.Method != http.MethodGet {
		s.mu.Lock()
		s.bumpVersion()
		s.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		status := http.StatusBadRequest
		if ae, ok := err.(adminErr); ok {
			status = ae.status
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	if res == nil {
		res = map[string]any{"ok": true}
	}
	_ = json.NewEncoder(w).Encode(res)
}

type adminErr struct {
	status int
	msg    string
}

func (e adminErr) Error() string { return e.msg }

var errAdminNotFound = adminErr{http.StatusNotFound, "no such admin endpoint"}

func decodeBody(r *http.Request, v any) error {
	if r.Body == nil {
		return nil
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && err.Error() != "EOF" {
		return fmt.Errorf("decode body: %w", err)
	}
	return nil
}

func (s *Server) adminDispatch(r *http.Request, segs []string) (any, error) {
	m := r.Method
	seg := func(i int) string {
		if i < len(segs) {
			return segs[i]
		}
		return ""
	}
	switch {
	case m == "GET" && seg(0) == "state" && len(segs) == 1:
		return s.State(), nil
	case seg(0) == "counters" && len(segs) == 1:
		if m == "DELETE" {
			s.ResetRequestCounts()
			return nil, nil
		}
		return s.RequestCounts(), nil
	case seg(0) == "faults" && m == "POST" && len(segs) == 1:
		var f adminFault
		if err := decodeBody(r, &f); err != nil {
			return nil, err
		}
		if f.Delay != "" {
			d, err := time.ParseDuration(f.Delay)
			if err != nil {
				return nil, err
			}
			f.RequestFault.Delay = d
		}
		id, err := s.InjectFault(f.RequestFault)
		if err != nil {
			return nil, err
		}
		return map[string]string{"id": id}, nil
	case seg(0) == "faults" && m == "DELETE" && len(segs) == 1:
		s.ClearFaults()
		return nil, nil
	case seg(0) == "faults" && m == "DELETE" && len(segs) == 2:
		if !s.RemoveFault(seg(1)) {
			return nil, errAdminNotFound
		}
		return nil, nil
	case seg(0) == "task-faults" && m == "POST":
		var f TaskFault
		if err := decodeBody(r, &f); err != nil {
			return nil, err
		}
		id, err := s.InjectTaskFault(f)
		if err != nil {
			return nil, err
		}
		return map[string]string{"id": id}, nil
	case seg(0) == "tasks" && m == "POST" && (seg(1) == "release" || seg(1) == "forget"):
		var b struct {
			UPID string `json:"upid"`
		}
		if err := decodeBody(r, &b); err != nil {
			return nil, err
		}
		if seg(1) == "forget" {
			return map[string]bool{"ok": s.ForgetTask(b.UPID)}, nil
		}
		if b.UPID == "" {
			return map[string]int{"released": s.ReleaseTasks()}, nil
		}
		return map[string]bool{"ok": s.ReleaseTask(b.UPID)}, nil
	case seg(0) == "containers" && m == "POST" && len(segs) == 1:
		var sp ContainerSpec
		if err := decodeBody(r, &sp); err != nil {
			return nil, err
		}
		return nil, s.AddContainers([]ContainerSpec{sp})
	case seg(0) == "seed" && m == "POST":
		var b struct {
			Node    string `json:"node"`
			First   int    `json:"first"`
			Count   int    `json:"count"`
			Running bool   `json:"running"`
		}
		if err := decodeBody(r, &b); err != nil {
			return nil, err
		}
		return nil, s.SeedContainers(b.Node, b.First, b.Count, b.Running)
	case seg(0) == "containers" && len(segs) >= 2:
		vmid, err := strconv.Atoi(seg(1))
		if err != nil {
			return nil, fmt.Errorf("bad vmid %q", seg(1))
		}
		return s.adminContainer(r, vmid, segs[2:])
	case seg(0) == "backups" && m == "POST":
		var b BackupSpec
		if err := decodeBody(r, &b); err != nil {
			return nil, err
		}
		volid, err := s.AddBackup(b)
		if err != nil {
			return nil, err
		}
		return map[string]string{"volid": volid}, nil
	case seg(0) == "nodes" && seg(2) == "online" && m == "POST":
		var b struct {
			Online bool `json:"online"`
		}
		if err := decodeBody(r, &b); err != nil {
			return nil, err
		}
		return nil, s.SetNodeOnline(seg(1), b.Online)
	case seg(0) == "tokens" && m == "POST":
		var b struct {
			ID string `json:"id"`
		}
		if err := decodeBody(r, &b); err != nil {
			return nil, err
		}
		switch seg(1) {
		case "revoke":
			return nil, s.RevokeToken(b.ID)
		case "restore":
			return nil, s.RestoreToken(b.ID)
		}
	case seg(0) == "privileges" && m == "POST":
		var b struct {
			Principal string `json:"principal"`
			Path      string `json:"path"`
			Privilege string `json:"privilege"`
		}
		if err := decodeBody(r, &b); err != nil {
			return nil, err
		}
		switch seg(1) {
		case "drop":
			return nil, s.DropPrivilege(b.Principal, b.Path, b.Privilege)
		case "restore":
			return nil, s.RestorePrivileges(b.Principal)
		}
	case seg(0) == "tickets" && seg(1) == "expire" && m == "POST":
		s.ExpireTickets()
		return nil, nil
	case seg(0) == "unauthorized-delay" && m == "POST":
		var b struct {
			Delay string `json:"delay"`
		}
		if err := decodeBody(r, &b); err != nil {
			return nil, err
		}
		d, err := time.ParseDuration(b.Delay)
		if err != nil {
			return nil, err
		}
		s.SetUnauthorizedDelay(d)
		return nil, nil
	case seg(0) == "storage" && seg(1) == "extra-used" && m == "POST":
		var b struct {
			Storage string `json:"storage"`
			Node    string `json:"node"`
			Bytes   uint64 `json:"bytes"`
		}
		if err := decodeBody(r, &b); err != nil {
			return nil, err
		}
		return nil, s.SetStorageExtraUsed(b.Storage, b.Node, b.Bytes)
	case seg(0) == "resources" && seg(1) == "refresh" && m == "POST":
		s.RefreshResources()
		return nil, nil
	case seg(0) == "save" && m == "POST":
		if s.opts.StateFile == "" {
			return nil, fmt.Errorf("no state file configured")
		}
		return nil, s.SaveState(s.opts.StateFile)
	}
	return nil, errAdminNotFound
}

func (s *Server) adminContainer(r *http.Request, vmid int, rest []string) (any, error) {
	m := r.Method
	action := ""
	if len(rest) > 0 {
		action = rest[0]
	}
	switch {
	case m == "GET" && action == "":
		v, ok := s.Container(vmid)
		if !ok {
			return nil, adminErr{http.StatusNotFound, fmt.Sprintf("CT %d does not exist", vmid)}
		}
		return v, nil
	case m == "DELETE" && action == "":
		return nil, s.RemoveContainer(vmid)
	case m == "POST" && action == "lock":
		var b struct {
			Lock string `json:"lock"`
		}
		if err := decodeBody(r, &b); err != nil {
			return nil, err
		}
		return nil, s.SetLock(vmid, b.Lock)
	case m == "POST" && action == "config":
		var b map[string]string
		if err := decodeBody(r, &b); err != nil {
			return nil, err
		}
		for k, v := range b {
			if err := s.SetConfigValue(vmid, k, v); err != nil {
				return nil, err
			}
		}
		return nil, nil
	case m == "POST" && action == "bump-digest":
		return nil, s.BumpDigest(vmid)
	case m == "POST" && action == "running":
		var b struct {
			Running bool `json:"running"`
		}
		if err := decodeBody(r, &b); err != nil {
			return nil, err
		}
		return nil, s.SetRunning(vmid, b.Running)
	case m == "POST" && action == "ignore-shutdown":
		var b struct {
			Ignore bool `json:"ignore"`
		}
		if err := decodeBody(r, &b); err != nil {
			return nil, err
		}
		return nil, s.SetIgnoreShutdown(vmid, b.Ignore)
	}
	return nil, errAdminNotFound
}
