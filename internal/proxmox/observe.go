package proxmox

import (
	"strings"
)

// placeholders name the path segment that follows a fixed segment. Anything
// that follows one of these keys is a name or ID chosen by users or PVE, so
// it is replaced to keep the route label's cardinality bounded.
var placeholders = map[string]string{
	"nodes":    "{node}",
	"lxc":      "{vmid}",
	"qemu":     "{vmid}",
	"tasks":    "{upid}",
	"storage":  "{storage}",
	"snapshot": "{snapshot}",
	"pools":    "{pool}",
}

// Route turns an API path relative to /api2/json ("/nodes/pve1/lxc/100/status/start?x=1")
// into a low-cardinality template ("/nodes/{node}/lxc/{vmid}/status/start"):
// the query is dropped, the segment after nodes, lxc, qemu, tasks, storage,
// snapshot and pools becomes a placeholder, and any other all-digit
// segment becomes {id}; everything after content is one {volid}.
func Route(path string) string {
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i := 0; i < len(segs); i++ {
		if segs[i] == "content" && i+1 < len(segs) {
			// A volume ID keeps its "/" and takes the rest of the path.
			segs = append(segs[:i+1], "{volid}")
			break
		}
		if ph, ok := placeholders[segs[i]]; ok && i+1 < len(segs) {
			segs[i+1] = ph
			i++
			continue
		}
		if isDigits(segs[i]) {
			segs[i] = "{id}"
		}
	}
	return "/" + strings.Join(segs, "/")
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Outcome names the class of a call's result for metrics: "success" for
// nil, otherwise one of not_found, locked, lock_timeout, already_exists,
// digest_mismatch, unauthorized, forbidden, tls, unreachable, bad_request,
// no_such_task, wrong_node, malformed_response, api_error or error.
func Outcome(err error) string {
	switch {
	case err == nil:
		return "success"
	case IsNotFound(err):
		return "not_found"
	case IsLocked(err):
		return "locked"
	case IsLockTimeout(err):
		return "lock_timeout"
	case IsAlreadyExists(err):
		return "already_exists"
	case IsDigestMismatch(err):
		return "digest_mismatch"
	case IsUnauthorized(err):
		return "unauthorized"
	case IsForbidden(err):
		return "forbidden"
	case IsTLS(err):
		return "tls"
	case IsUnreachable(err):
		return "unreachable"
	case IsBadRequest(err):
		return "bad_request"
	case IsNoSuchTask(err):
		return "no_such_task"
	case IsWrongNode(err):
		return "wrong_node"
	case is[*MalformedResponseError](err):
		return "malformed_response"
	case is[*APIError](err):
		return "api_error"
	}
	return "error"
}
