package pvesim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
//	POST   /_sim/tasks/kill                    {"upid": "…"} (the worker dies: no cleanup)
//	POST   /_sim/containers                    ContainerSpec JSON (node, vmid, config, running, pool)
//	POST   /_sim/seed                          {"node","first","count","running"}
//	DELETE /_sim/containers/{vmid}             remove out of band
//	POST   /_sim/containers/{vmid}/lock        {"lock": "backup"} ("" removes)
//	POST   /_sim/containers/{vmid}/config      {"key": "value", …} out-of-band edit ("" deletes)
//	POST   /_sim/containers/{vmid}/bump-digest
//	POST   /_sim/containers/{vmid}/running     {"running": true}
//	POST   /_sim/containers/{vmid}/ignore-shutdown {"ignore": true}
//	POST   /_sim/containers/{vmid}/ha-move     {"node": "pve2"} HA relocates or recovers it there
//	POST   /_sim/backups                       BackupSpec → {"volid"}
//	POST   /_sim/nodes/{node}/online           {"online": false}
//	POST   /_sim/tokens/revoke | /restore      {"id": "root@pam!operator"}
//	POST   /_sim/privileges/drop               {"principal","path","privilege"}
//	POST   /_sim/privileges/restore            {"principal"}
//	POST   /_sim/tickets/expire
//	POST   /_sim/unauthorized-delay            {"delay": "3s"}
//	POST   /_sim/storage/extra-used            {"storage","node","bytes"}
//	POST   /_sim/snippets                      {"volid": "local:snippets/hook.sh"} a hookscript file on every node
//	POST   /_sim/oci-tags/move                 {"repository": "alpine", "tag": "latest"} → {"digest"} the tag's new config digest
//	POST   /_sim/resources/refresh             force a /cluster/resources refresh
//	POST   /_sim/save                          write the state file

type adminFault struct {
	RequestFault
	Delay string `json:"delay,omitempty"`
}

// The request bodies of the admin endpoints.
type (
	upidBody struct {
		UPID string `json:"upid"`
	}
	seedBody struct {
		Node    string `json:"node"`
		First   int    `json:"first"`
		Count   int    `json:"count"`
		Running bool   `json:"running"`
	}
	onlineBody struct {
		Online bool `json:"online"`
	}
	idBody struct {
		ID string `json:"id"`
	}
	privilegeBody struct {
		Principal string `json:"principal"`
		Path      string `json:"path"`
		Privilege string `json:"privilege"`
	}
	delayBody struct {
		Delay string `json:"delay"`
	}
	extraUsedBody struct {
		Storage string `json:"storage"`
		Node    string `json:"node"`
		Bytes   uint64 `json:"bytes"`
	}
	lockBody struct {
		Lock string `json:"lock"`
	}
	runningBody struct {
		Running bool `json:"running"`
	}
	ignoreBody struct {
		Ignore bool `json:"ignore"`
	}
)

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
		var ae adminErr
		if errors.As(err, &ae) {
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
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("decode body: %w", err)
	}
	return nil
}

// postJSON serves a POST-only admin endpoint: f gets the decoded body (an
// empty body decodes as the zero value).
func postJSON[T any](r *http.Request, f func(b T) (any, error)) (any, error) {
	if r.Method != http.MethodPost {
		return nil, errAdminNotFound
	}
	var b T
	if err := decodeBody(r, &b); err != nil {
		return nil, err
	}
	return f(b)
}

// postOnly serves a POST-only admin endpoint that reads no body.
func postOnly(r *http.Request, f func() (any, error)) (any, error) {
	if r.Method != http.MethodPost {
		return nil, errAdminNotFound
	}
	return f()
}

// done adapts an admin action that returns only an error.
func done(err error) (any, error) { return nil, err }

// seg is the i-th path segment below /_sim, or "".
func seg(segs []string, i int) string {
	if i < len(segs) {
		return segs[i]
	}
	return ""
}

// adminHandler serves the admin endpoints below one first path segment.
type adminHandler func(s *Server, r *http.Request, segs []string) (any, error)

var adminRoutes = map[string]adminHandler{
	"state":              (*Server).adminState,
	"counters":           (*Server).adminCounters,
	"faults":             (*Server).adminFaults,
	"task-faults":        (*Server).adminTaskFaults,
	"tasks":              (*Server).adminTasks,
	"containers":         (*Server).adminContainers,
	"seed":               (*Server).adminSeed,
	"backups":            (*Server).adminBackups,
	"nodes":              (*Server).adminNodes,
	"tokens":             (*Server).adminTokens,
	"privileges":         (*Server).adminPrivileges,
	"tickets":            (*Server).adminTickets,
	"unauthorized-delay": (*Server).adminUnauthorizedDelay,
	"storage":            (*Server).adminStorage,
	"resources":          (*Server).adminResources,
	"save":               (*Server).adminSave,
	"snippets":           (*Server).adminSnippets,
	"oci-tags":           (*Server).adminOCITags,
}

// adminSnippets is AddSnippet.
func (s *Server) adminSnippets(r *http.Request, segs []string) (any, error) {
	if len(segs) != 1 {
		return nil, errAdminNotFound
	}
	return postJSON(r, func(b struct {
		VolID string `json:"volid"`
	}) (any, error) {
		return done(s.AddSnippet(b.VolID))
	})
}

// adminOCITags is MoveOCITag.
func (s *Server) adminOCITags(r *http.Request, segs []string) (any, error) {
	if len(segs) != 2 || segs[1] != "move" {
		return nil, errAdminNotFound
	}
	return postJSON(r, func(b struct {
		Repository string `json:"repository"`
		Tag        string `json:"tag"`
	}) (any, error) {
		digest, err := s.MoveOCITag(b.Repository, b.Tag)
		if err != nil {
			return nil, err
		}
		return map[string]string{"digest": digest}, nil
	})
}

func (s *Server) adminDispatch(r *http.Request, segs []string) (any, error) {
	h := adminRoutes[seg(segs, 0)]
	if h == nil {
		return nil, errAdminNotFound
	}
	return h(s, r, segs)
}

func (s *Server) adminState(r *http.Request, segs []string) (any, error) {
	if r.Method != http.MethodGet || len(segs) != 1 {
		return nil, errAdminNotFound
	}
	return s.State(), nil
}

func (s *Server) adminCounters(r *http.Request, segs []string) (any, error) {
	if len(segs) != 1 {
		return nil, errAdminNotFound
	}
	if r.Method == http.MethodDelete {
		s.ResetRequestCounts()
		return nil, nil
	}
	return s.RequestCounts(), nil
}

func (s *Server) adminFaults(r *http.Request, segs []string) (any, error) {
	switch {
	case r.Method == http.MethodPost && len(segs) == 1:
		return postJSON(r, func(f adminFault) (any, error) {
			if f.Delay != "" {
				d, err := time.ParseDuration(f.Delay)
				if err != nil {
					return nil, err
				}
				f.RequestFault.Delay = d
			}
			return idResult(s.InjectFault(f.RequestFault))
		})
	case r.Method == http.MethodDelete && len(segs) == 1:
		s.ClearFaults()
		return nil, nil
	case r.Method == http.MethodDelete && len(segs) == 2:
		if !s.RemoveFault(segs[1]) {
			return nil, errAdminNotFound
		}
		return nil, nil
	}
	return nil, errAdminNotFound
}

// idResult answers an injection with the new fault's id.
func idResult(id string, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return map[string]string{"id": id}, nil
}

func (s *Server) adminTaskFaults(r *http.Request, _ []string) (any, error) {
	return postJSON(r, func(f TaskFault) (any, error) { return idResult(s.InjectTaskFault(f)) })
}

func (s *Server) adminTasks(r *http.Request, segs []string) (any, error) {
	switch seg(segs, 1) {
	case "forget":
		return postJSON(r, func(b upidBody) (any, error) { return map[string]bool{"ok": s.ForgetTask(b.UPID)}, nil })
	case "kill":
		return postJSON(r, func(b upidBody) (any, error) { return map[string]bool{"ok": s.KillTask(b.UPID)}, nil })
	case "release":
		return postJSON(r, func(b upidBody) (any, error) {
			if b.UPID == "" {
				return map[string]int{"released": s.ReleaseTasks()}, nil
			}
			return map[string]bool{"ok": s.ReleaseTask(b.UPID)}, nil
		})
	}
	return nil, errAdminNotFound
}

func (s *Server) adminContainers(r *http.Request, segs []string) (any, error) {
	if len(segs) == 1 {
		return postJSON(r, func(sp ContainerSpec) (any, error) { return done(s.AddContainers([]ContainerSpec{sp})) })
	}
	vmid, err := strconv.Atoi(segs[1])
	if err != nil {
		return nil, fmt.Errorf("bad vmid %q", segs[1])
	}
	return s.adminContainer(r, vmid, seg(segs, 2))
}

func (s *Server) adminSeed(r *http.Request, _ []string) (any, error) {
	return postJSON(r, func(b seedBody) (any, error) { return done(s.SeedContainers(b.Node, b.First, b.Count, b.Running)) })
}

func (s *Server) adminBackups(r *http.Request, _ []string) (any, error) {
	return postJSON(r, func(b BackupSpec) (any, error) {
		volid, err := s.AddBackup(b)
		if err != nil {
			return nil, err
		}
		return map[string]string{"volid": volid}, nil
	})
}

func (s *Server) adminNodes(r *http.Request, segs []string) (any, error) {
	if seg(segs, 2) != "online" {
		return nil, errAdminNotFound
	}
	return postJSON(r, func(b onlineBody) (any, error) { return done(s.SetNodeOnline(seg(segs, 1), b.Online)) })
}

func (s *Server) adminTokens(r *http.Request, segs []string) (any, error) {
	return postJSON(r, func(b idBody) (any, error) {
		switch seg(segs, 1) {
		case "revoke":
			return done(s.RevokeToken(b.ID))
		case "restore":
			return done(s.RestoreToken(b.ID))
		}
		return nil, errAdminNotFound
	})
}

func (s *Server) adminPrivileges(r *http.Request, segs []string) (any, error) {
	return postJSON(r, func(b privilegeBody) (any, error) {
		switch seg(segs, 1) {
		case "drop":
			return done(s.DropPrivilege(b.Principal, b.Path, b.Privilege))
		case "restore":
			return done(s.RestorePrivileges(b.Principal))
		}
		return nil, errAdminNotFound
	})
}

func (s *Server) adminTickets(r *http.Request, segs []string) (any, error) {
	if seg(segs, 1) != "expire" {
		return nil, errAdminNotFound
	}
	return postOnly(r, func() (any, error) {
		s.ExpireTickets()
		return nil, nil
	})
}

func (s *Server) adminUnauthorizedDelay(r *http.Request, _ []string) (any, error) {
	return postJSON(r, func(b delayBody) (any, error) {
		d, err := time.ParseDuration(b.Delay)
		if err != nil {
			return nil, err
		}
		s.SetUnauthorizedDelay(d)
		return nil, nil
	})
}

func (s *Server) adminStorage(r *http.Request, segs []string) (any, error) {
	if seg(segs, 1) != "extra-used" {
		return nil, errAdminNotFound
	}
	return postJSON(r, func(b extraUsedBody) (any, error) { return done(s.SetStorageExtraUsed(b.Storage, b.Node, b.Bytes)) })
}

func (s *Server) adminResources(r *http.Request, segs []string) (any, error) {
	if seg(segs, 1) != "refresh" {
		return nil, errAdminNotFound
	}
	return postOnly(r, func() (any, error) {
		s.RefreshResources()
		return nil, nil
	})
}

func (s *Server) adminSave(r *http.Request, _ []string) (any, error) {
	return postOnly(r, func() (any, error) {
		if s.opts.StateFile == "" {
			return nil, fmt.Errorf("no state file configured")
		}
		return done(s.SaveState(s.opts.StateFile))
	})
}

// adminContainer serves /_sim/containers/{vmid}[/action].
func (s *Server) adminContainer(r *http.Request, vmid int, action string) (any, error) {
	switch {
	case r.Method == http.MethodGet && action == "":
		v, ok := s.Container(vmid)
		if !ok {
			return nil, adminErr{http.StatusNotFound, fmt.Sprintf("CT %d does not exist", vmid)}
		}
		return v, nil
	case r.Method == http.MethodDelete && action == "":
		return nil, s.RemoveContainer(vmid)
	}
	switch action {
	case "lock":
		return postJSON(r, func(b lockBody) (any, error) { return done(s.SetLock(vmid, b.Lock)) })
	case "config":
		return postJSON(r, func(b map[string]string) (any, error) {
			for k, v := range b {
				if err := s.SetConfigValue(vmid, k, v); err != nil {
					return nil, err
				}
			}
			return nil, nil
		})
	case "bump-digest":
		return postOnly(r, func() (any, error) { return done(s.BumpDigest(vmid)) })
	case "running":
		return postJSON(r, func(b runningBody) (any, error) { return done(s.SetRunning(vmid, b.Running)) })
	case "ignore-shutdown":
		return postJSON(r, func(b ignoreBody) (any, error) { return done(s.SetIgnoreShutdown(vmid, b.Ignore)) })
	case "ha-move":
		return postJSON(r, func(b struct {
			Node string `json:"node"`
		}) (any, error) {
			return done(s.HAMove(vmid, b.Node))
		})
	}
	return nil, errAdminNotFound
}
