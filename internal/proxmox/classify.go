package proxmox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"regexp"
	"strings"
	"syscall"
)

// This file is the one place that reads PVE's wording. PVE reports nearly
// every failure as HTTP 500 with a free-text first line, so classification is
// by message; the texts are quoted from the PVE sources (pve-container,
// pve-guest-common, pve-storage, pve-common).

var lockedRe = regexp.MustCompile(`(?:CT|VM) is locked \(([^)]+)\)`)

// classifyResponse turns a non-2xx response into a typed error. body is the
// (bounded) response body, reason the HTTP reason phrase without the code.
// scrub removes secrets from texts that PVE may have echoed back.
func classifyResponse(status int, reason string, body []byte, scrub func(string) string) error {
	apiErr := &APIError{StatusCode: status, Message: scrub(firstLine(reason))}
	var env struct {
		Message string            `json:"message"`
		Errors  map[string]string `json:"errors"`
	}
	if len(body) > 0 && json.Unmarshal(body, &env) == nil {
		if m := firstLine(env.Message); m != "" {
			apiErr.Message = scrub(m)
		}
		for k, v := range env.Errors {
			if apiErr.Params == nil {
				apiErr.Params = map[string]string{}
			}
			apiErr.Params[k] = scrub(firstLine(v))
		}
	}
	switch status {
	case 401:
		return &UnauthorizedError{Err: apiErr}
	case 403:
		return &ForbiddenError{Err: apiErr}
	case 595, 596, 502, 503, 504:
		// 595/596 are pveproxy failing to reach the node it proxies to.
		return &UnreachableError{Err: apiErr}
	case 400:
		for _, msg := range apiErr.Params {
			if typed := classifyMessage(msg, apiErr); typed != nil {
				return typed
			}
		}
		return &BadRequestError{Params: apiErr.Params, Err: apiErr}
	}
	if typed := classifyMessage(apiErr.Message, apiErr); typed != nil {
		return typed
	}
	return apiErr
}

// classifyMessage maps one PVE error text to a typed error wrapping cause, or
// returns nil when the text says nothing the caller can act on. It serves
// synchronous errors and task exit statuses alike.
func classifyMessage(msg string, cause error) error {
	switch {
	case lockedRe.MatchString(msg):
		return &LockedError{Lock: lockedRe.FindStringSubmatch(msg)[1], Err: cause}
	case strings.Contains(msg, "can't lock file") && strings.Contains(msg, "got timeout"):
		return &LockTimeoutError{Err: cause}
	case strings.Contains(msg, "detected modified configuration"):
		return &DigestMismatchError{Err: cause}
	case strings.Contains(msg, "no such task"):
		return &NoSuchTaskError{Err: cause}
	case strings.Contains(msg, "already exists"),
		strings.Contains(msg, "already used"),
		// pve-ha-manager: "resource ID 'ct:100' already defined",
		// "HA rule 'x' already defined".
		strings.Contains(msg, "already defined"),
		// pve-storage's oci-registry-pull (before forking) and pve-common's
		// download_file_from_url (in the worker, without a checksum).
		strings.Contains(msg, "refusing to override existing file"),
		// move_volume: "Target volume key 'mp0' is already in use for
		// container '101'".
		strings.Contains(msg, "is already in use for container"):
		return &AlreadyExistsError{Err: cause}
	// move_volume: a VMID missing from the cluster's VM list.
	case strings.Contains(msg, "could not find CT "):
		return &NotFoundError{Resource: "container", Err: cause}
	// pve-ha-manager's read of a missing resource or rule, and its delete
	// of a guest that is not a resource.
	case strings.Contains(msg, "no such resource '"), strings.Contains(msg, "not HA managed"):
		return &NotFoundError{Resource: "ha resource", Err: cause}
	case strings.Contains(msg, "no such ha rule"):
		return &NotFoundError{Resource: "ha rule", Err: cause}
	case strings.Contains(msg, "does not exist"):
		return &NotFoundError{Resource: missingResource(msg), Err: cause}
	case strings.Contains(msg, "protection mode enabled"),
		strings.Contains(msg, "protected volume"):
		return &ProtectedError{Err: cause}
	case strings.Contains(msg, "already running"),
		strings.Contains(msg, "container is running"),
		strings.Contains(msg, "if the CT is running"),
		strings.Contains(msg, "overwrite running container"),
		// move_volume of a mount point to another container.
		strings.Contains(msg, "while the source CT is running"):
		return &AlreadyRunningError{Err: cause}
	case strings.Contains(msg, "not running"):
		return &NotRunningError{Err: cause}
	}
	return nil
}

func missingResource(msg string) string {
	switch {
	case strings.Contains(msg, "Configuration file"):
		return "container"
	case strings.Contains(msg, "storage '"):
		return "storage"
	case strings.Contains(msg, "snapshot '"):
		return "snapshot"
	case strings.Contains(msg, "volume"):
		return "volume"
	case strings.Contains(msg, "CT "):
		return "container"
	}
	return ""
}

// classifyTransport turns an error from the HTTP round trip (or from reading
// the body) into a typed error. ctx errors of the caller pass through as is,
// so a cancelled reconcile is not mistaken for an unreachable host.
func classifyTransport(ctx context.Context, err error, mutating, sent bool) error {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return ctx.Err()
	}
	if isTLSFailure(err) {
		return &TLSError{Err: err}
	}
	return &UnreachableError{Err: err, Mutating: mutating, RequestSent: sent}
}

func isTLSFailure(err error) bool {
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		verify           *tls.CertificateVerificationError
		alert            tls.AlertError
		recordHeader     tls.RecordHeaderError
		pin              *FingerprintMismatchError
	)
	switch {
	case errors.As(err, &unknownAuthority), errors.As(err, &hostname), errors.As(err, &invalid),
		errors.As(err, &verify), errors.As(err, &alert), errors.As(err, &recordHeader), errors.As(err, &pin):
		return true
	}
	return strings.Contains(err.Error(), "tls: ")
}

// isNetworkFailure reports errors that mean the answer did not (fully)
// arrive, as opposed to an answer that arrived and could not be decoded.
func isNetworkFailure(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, net.ErrClosed)
}

// exitWorkerVanished is the status PVE gives a stopped task whose log has
// no final "TASK …" line.
const exitWorkerVanished = "unexpected status"

// classifyExitStatus turns a stopped task's exit status into nil (OK or
// WARNINGS) or a *TaskFailedError.
func classifyExitStatus(upid, exit, detail string) error {
	if exit == "OK" || strings.HasPrefix(exit, "WARNINGS") {
		return nil
	}
	if exit == exitWorkerVanished {
		return &TaskFailedError{UPID: upid, ExitStatus: exit, Err: &WorkerVanishedError{UPID: upid}}
	}
	cause := errors.New(exit)
	msg := exit
	if detail != "" {
		msg = detail
	}
	return &TaskFailedError{UPID: upid, ExitStatus: exit, Detail: detail, Err: classifyMessage(msg, cause)}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}
