package proxmox

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Every failure a Client method returns wraps exactly one of the error types
// below (plus the action as context, e.g. "start container 100 on pve1: ...").
// Test with the Is* helpers or errors.As; never match on the text.
//
// Most typed errors wrap an *APIError carrying the raw HTTP facts, so
// errors.As(err, &apiErr) also works for logging the status code.

// APIError is a non-2xx answer from PVE. It is returned as is when nothing
// more specific applies, and wrapped by the typed errors otherwise.
type APIError struct {
	// StatusCode is the HTTP status (PVE uses 400, 401, 403, 500, 501, 595).
	StatusCode int
	// Message is the first line of PVE's error message: the "message" field
	// of the body when present (PVE >= 8.3), else the HTTP reason phrase.
	Message string
	// Params holds the per-parameter errors of a 400 answer.
	Params map[string]string
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d", e.StatusCode)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if len(e.Params) > 0 {
		keys := make([]string, 0, len(e.Params))
		for k := range e.Params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString(" (")
		for i, k := range keys {
			if i > 0 {
				b.WriteString("; ")
			}
			fmt.Fprintf(&b, "%s: %s", k, e.Params[k])
		}
		b.WriteString(")")
	}
	return b.String()
}

// NotFoundError: the container, snapshot, storage or volume does not exist
// ("Configuration file 'nodes/pve/lxc/100.conf' does not exist", HTTP 500 in
// PVE, which never uses 404).
type NotFoundError struct {
	// Resource is what is missing when the message says so: "container",
	// "snapshot", "storage", "volume", "node", or "" if unknown.
	Resource string
	Err      error
}

func (e *NotFoundError) Error() string { return "not found: " + errText(e.Err) }
func (e *NotFoundError) Unwrap() error { return e.Err }

// LockedError: the container carries a PVE config lock ("CT is locked
// (backup)"). Lock is the lock name: backup, create, destroyed, disk, fstrim,
// migrate, mounted, rollback, snapshot, snapshot-delete.
type LockedError struct {
	Lock string
	Err  error
}

func (e *LockedError) Error() string { return errText(e.Err) }
func (e *LockedError) Unwrap() error { return e.Err }

// AlreadyExistsError: the VMID is taken ("CT 100 already exists on node
// 'pve'", or nextid's "VM 100 already exists"), the snapshot name is used,
// a file of that name is on the storage ("refusing to override existing
// file 'x.tar'"), or move_volume's target key is taken.
type AlreadyExistsError struct{ Err error }

func (e *AlreadyExistsError) Error() string { return errText(e.Err) }
func (e *AlreadyExistsError) Unwrap() error { return e.Err }

// DigestMismatchError: the config changed since it was read ("detected
// modified configuration - file changed by other user? Try again."). Re-read
// the config and recompute the change.
type DigestMismatchError struct{ Err error }

func (e *DigestMismatchError) Error() string { return errText(e.Err) }
func (e *DigestMismatchError) Unwrap() error { return e.Err }

// LockTimeoutError: another worker held the per-CT config flock for 10 s
// ("can't lock file '/run/lock/lxc/pve-config-100.lock' - got timeout").
// Transient; retry later.
type LockTimeoutError struct{ Err error }

func (e *LockTimeoutError) Error() string { return errText(e.Err) }
func (e *LockTimeoutError) Unwrap() error { return e.Err }

// UnauthorizedError: HTTP 401, a wrong or revoked token or password.
type UnauthorizedError struct{ Err error }

func (e *UnauthorizedError) Error() string { return "unauthorized: " + errText(e.Err) }
func (e *UnauthorizedError) Unwrap() error { return e.Err }

// ForbiddenError: HTTP 403, the token lacks a privilege ("Permission check
// failed (/vms/100, VM.Audit)").
type ForbiddenError struct{ Err error }

func (e *ForbiddenError) Error() string { return "forbidden: " + errText(e.Err) }
func (e *ForbiddenError) Unwrap() error { return e.Err }

// UnreachableError: no complete answer came back: connection refused or
// reset, DNS, timeouts, a dropped connection, a truncated body, HTTP 595/596
// (pveproxy could not reach the target node) or a 502/503/504 gateway error.
type UnreachableError struct {
	// RequestSent is true when the request was fully written before the
	// failure. For a mutating call this means the outcome is unknown: PVE may
	// have acted on it. See IsOutcomeUnknown.
	RequestSent bool
	// Mutating is true for POST, PUT and DELETE.
	Mutating bool
	Err      error
}

func (e *UnreachableError) Error() string {
	if e.Mutating && e.RequestSent {
		return "proxmox unreachable (request was sent, outcome unknown): " + errText(e.Err)
	}
	return "proxmox unreachable: " + errText(e.Err)
}
func (e *UnreachableError) Unwrap() error { return e.Err }

// TLSError: the server certificate failed verification (unknown authority,
// hostname mismatch, expiry, a pinned fingerprint that does not match, see
// FingerprintMismatchError) or the handshake failed.
type TLSError struct{ Err error }

func (e *TLSError) Error() string { return "TLS verification failed: " + errText(e.Err) }
func (e *TLSError) Unwrap() error { return e.Err }

// TaskFailedError: a task ended with an exit status other than OK or
// "WARNINGS: n". Err is the exit status classified like a synchronous error
// (so IsLocked works on a start that failed in the worker with "CT is locked
// (backup)"), or nil when it says nothing more specific.
type TaskFailedError struct {
	UPID       string
	ExitStatus string
	// Detail is the first per-guest ERROR line of a vzdump log when the exit
	// status is the generic "job errors".
	Detail string
	Err    error
}

func (e *TaskFailedError) Error() string {
	typ := "task"
	if u, err := ParseUPID(e.UPID); err == nil {
		typ = u.Type + " task"
	}
	msg := fmt.Sprintf("%s failed: %s", typ, e.ExitStatus)
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	return msg
}
func (e *TaskFailedError) Unwrap() error { return e.Err }

// NotRunningError: the operation needs a running container ("CT 100 not
// running", reboot's "VM 100 not running").
type NotRunningError struct{ Err error }

func (e *NotRunningError) Error() string { return errText(e.Err) }
func (e *NotRunningError) Unwrap() error { return e.Err }

// AlreadyRunningError: the container is running and the operation needs it
// stopped or not running ("CT 100 already running", "unable to destroy CT 100
// - container is running", "can't overwrite running container").
type AlreadyRunningError struct{ Err error }

func (e *AlreadyRunningError) Error() string { return errText(e.Err) }
func (e *AlreadyRunningError) Unwrap() error { return e.Err }

// ProtectedError: the container has protection set ("can't remove CT 100 -
// protection mode enabled") or the volume is protected ("cannot remove
// protected volume").
type ProtectedError struct{ Err error }

func (e *ProtectedError) Error() string { return errText(e.Err) }
func (e *ProtectedError) Unwrap() error { return e.Err }

// NoSuchTaskError: PVE does not know the UPID (log rotated, node reinstalled,
// or the UPID never existed). The task's outcome cannot be learned any more;
// look at the resulting state instead.
type NoSuchTaskError struct {
	UPID string
	Err  error
}

func (e *NoSuchTaskError) Error() string { return "no such task: " + errText(e.Err) }
func (e *NoSuchTaskError) Unwrap() error { return e.Err }

// WorkerVanishedError: a task stopped without its worker writing an end
// (the exit status "unexpected status"): pvedaemon was killed or the node
// went down mid-task. PVE reads a stopped task's status from the last line
// of its log, so a worker that died before writing "TASK OK" or "TASK
// ERROR" reads this way. It is the one failure after which the worker's
// own cleanup did not run: a create leaves its container locked "create".
type WorkerVanishedError struct{ UPID string }

func (e *WorkerVanishedError) Error() string {
	return "the task's worker ended without finishing (unexpected status): its daemon or node died"
}

// BadRequestError: HTTP 400, parameter verification failed. Params maps each
// offending parameter to PVE's complaint.
type BadRequestError struct {
	Params map[string]string
	Err    error
}

func (e *BadRequestError) Error() string { return "bad request: " + errText(e.Err) }
func (e *BadRequestError) Unwrap() error { return e.Err }

// MalformedResponseError: PVE answered 2xx but the body could not be
// decoded. For a mutating request PVE acted on it (see IsOutcomeUnknown).
type MalformedResponseError struct {
	StatusCode int
	Mutating   bool
	Err        error
}

func (e *MalformedResponseError) Error() string {
	return fmt.Sprintf("malformed HTTP %d response: %s", e.StatusCode, errText(e.Err))
}
func (e *MalformedResponseError) Unwrap() error { return e.Err }

// WrongNodeError: vzdump answered "OK" instead of a UPID, which PVE does when
// the guest is not on the node the request was sent to. Nothing was started.
type WrongNodeError struct {
	Node string
	VMID int
}

func (e *WrongNodeError) Error() string {
	return fmt.Sprintf("no task started: CT %d is not on node %s", e.VMID, e.Node)
}

// InvalidUPIDError: a string that is not a PVE UPID.
type InvalidUPIDError struct{ UPID string }

func (e *InvalidUPIDError) Error() string { return fmt.Sprintf("invalid UPID %q", e.UPID) }

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func is[T error](err error) bool {
	var t T
	return errors.As(err, &t)
}

// IsNotFound reports a missing container, snapshot, storage or volume.
func IsNotFound(err error) bool { return is[*NotFoundError](err) }

// IsLocked reports a PVE config lock on the container; see LockName.
func IsLocked(err error) bool { return is[*LockedError](err) }

// LockName returns the lock of a LockedError in err's chain, or "".
func LockName(err error) string {
	var e *LockedError
	if errors.As(err, &e) {
		return e.Lock
	}
	return ""
}

// IsAlreadyExists reports a taken VMID, snapshot name, file name or config
// key.
func IsAlreadyExists(err error) bool { return is[*AlreadyExistsError](err) }

// IsDigestMismatch reports a config that changed since it was read.
func IsDigestMismatch(err error) bool { return is[*DigestMismatchError](err) }

// IsLockTimeout reports PVE's 10 s config flock timeout.
func IsLockTimeout(err error) bool { return is[*LockTimeoutError](err) }

// IsUnauthorized reports HTTP 401.
func IsUnauthorized(err error) bool { return is[*UnauthorizedError](err) }

// IsForbidden reports HTTP 403.
func IsForbidden(err error) bool { return is[*ForbiddenError](err) }

// IsUnreachable reports that no complete answer came back.
func IsUnreachable(err error) bool { return is[*UnreachableError](err) }

// IsOutcomeUnknown reports a mutating request that was sent but whose answer
// was lost: PVE may or may not have acted. Never repeat such a request
// blindly; look for its effect (for a create, the ownership marker).
func IsOutcomeUnknown(err error) bool {
	var u *UnreachableError
	if errors.As(err, &u) && u.Mutating && u.RequestSent {
		return true
	}
	var m *MalformedResponseError
	return errors.As(err, &m) && m.Mutating
}

// IsTLS reports a certificate verification or handshake failure.
func IsTLS(err error) bool { return is[*TLSError](err) }

// IsTaskFailed reports a task that ended in failure.
func IsTaskFailed(err error) bool { return is[*TaskFailedError](err) }

// IsNotRunning reports an operation refused because the CT is not running.
func IsNotRunning(err error) bool { return is[*NotRunningError](err) }

// IsAlreadyRunning reports an operation refused because the CT is running.
func IsAlreadyRunning(err error) bool { return is[*AlreadyRunningError](err) }

// IsProtected reports protection on the container or a protected volume.
func IsProtected(err error) bool { return is[*ProtectedError](err) }

// IsNoSuchTask reports an unknown UPID.
func IsNoSuchTask(err error) bool { return is[*NoSuchTaskError](err) }

// IsWorkerVanished reports a task whose worker died without cleaning up.
func IsWorkerVanished(err error) bool { return is[*WorkerVanishedError](err) }

// IsBadRequest reports HTTP 400 parameter errors.
func IsBadRequest(err error) bool { return is[*BadRequestError](err) }

// IsWrongNode reports vzdump's "OK" reply: the guest is not on that node.
func IsWrongNode(err error) bool { return is[*WrongNodeError](err) }

// IsTransient reports failures worth retrying later without changing
// anything: unreachable, flock timeout, or a PVE config lock.
func IsTransient(err error) bool {
	return IsUnreachable(err) || IsLockTimeout(err) || IsLocked(err)
}

// StatusCode returns the HTTP status of the APIError in err's chain, or 0.
func StatusCode(err error) int {
	var e *APIError
	if errors.As(err, &e) {
		return e.StatusCode
	}
	return 0
}
