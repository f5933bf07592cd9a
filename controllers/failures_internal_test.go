package controllers

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/pve-operator/pve-operator/internal/proxmox"
)

func TestClassifyFailure(t *testing.T) {
	api := func(code int, msg string) error { return &proxmox.APIError{StatusCode: code, Message: msg} }
	wrap := func(err error) error { return fmt.Errorf("create container 100 on pve1: %w", err) }
	for _, tc := range []struct {
		name string
		err  error
		want failureClass
	}{
		{"a 500 PVE says nothing more about is transient", wrap(api(500, "internal error")), failureTransient},
		{"an unreachable host is transient", wrap(&proxmox.UnreachableError{Err: errors.New("connection refused")}), failureTransient},
		{"a lost answer to a create is transient", wrap(&proxmox.UnreachableError{Mutating: true, RequestSent: true, Err: errors.New("EOF")}), failureTransient},
		{"a config flock timeout is transient", wrap(&proxmox.LockTimeoutError{Err: api(500, "got timeout")}), failureTransient},
		{"a digest mismatch is transient", wrap(&proxmox.DigestMismatchError{Err: api(500, "detected modified configuration")}), failureTransient},
		{"a task that failed on a lock is transient", wrap(&proxmox.TaskFailedError{ExitStatus: "CT is locked (backup)", Err: &proxmox.LockedError{Lock: "backup"}}), failureTransient},
		{"a missing template needs a person", wrap(&proxmox.TaskFailedError{ExitStatus: "volume does not exist", Err: &proxmox.NotFoundError{Resource: "volume"}}), failureNeedsPerson},
		{"a create task that failed for lack of space needs a person", wrap(&proxmox.TaskFailedError{ExitStatus: "not enough space"}), failureNeedsPerson},
		{"an unknown storage needs a person", wrap(&proxmox.NotFoundError{Resource: "storage", Err: api(500, "storage 'x' does not exist")}), failureNeedsPerson},
		{"a parameter PVE rejects with 400 needs a person", wrap(&proxmox.BadRequestError{Err: api(400, "Parameter verification failed.")}), failureNeedsPerson},
		{"rejected credentials need a person", wrap(&proxmox.UnauthorizedError{Err: api(401, "no ticket")}), failureNeedsPerson},
		{"a missing privilege needs a person", wrap(&proxmox.ForbiddenError{Err: api(403, "Permission check failed")}), failureNeedsPerson},
		{"an untrusted certificate needs a person", wrap(&proxmox.TLSError{Err: errors.New("x509: unknown authority")}), failureNeedsPerson},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := classifyFailure(tc.err); got != tc.want {
				t.Fatalf("classifyFailure(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		name     string
		attempt  int
		min, max time.Duration
	}{
		{"the first retry waits the base", 1, backoffBase, backoffBase * 11 / 10},
		{"each failure in a row doubles the wait", 3, 4 * backoffBase, 4 * backoffBase * 11 / 10},
		{"the wait never exceeds the cap", 40, backoffCap, backoffCap * 11 / 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := backoff(tc.attempt); got < tc.min || got > tc.max {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", tc.attempt, got, tc.min, tc.max)
			}
		})
	}
}

// TestCreateFailuresPacing plays ten minutes of a fake clock: a create that
// keeps failing transiently is attempted a handful of times, one that needs
// a person every two minutes, and a spec or host change lifts the wait.
func TestCreateFailuresPacing(t *testing.T) {
	for _, tc := range []struct {
		name        string
		class       failureClass
		maxAttempts int
	}{
		{"a transient failure backs off exponentially", failureTransient, 10},
		{"a failure that needs a person is retried every two minutes", failureNeedsPerson, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f createFailures
			start := time.Unix(0, 0)
			attempts := 0
			for now := start; now.Before(start.Add(10 * time.Minute)); now = now.Add(100 * time.Millisecond) {
				if _, _, wait := f.pending("u", createInputs{generation: 1}, now); wait {
					continue
				}
				attempts++
				f.record("u", createInputs{generation: 1}, tc.class, progressing("CreateFailed", "x"), now)
			}
			if attempts < 2 || attempts > tc.maxAttempts {
				t.Fatalf("%d attempts in ten minutes, want 2..%d", attempts, tc.maxAttempts)
			}
			f.record("u", createInputs{generation: 1}, tc.class, progressing("CreateFailed", "x"), start)
			if _, _, wait := f.pending("u", createInputs{generation: 2}, start); wait {
				t.Fatal("a new generation still waits")
			}
			if _, _, wait := f.pending("u", createInputs{generation: 1, host: "rotated"}, start); wait {
				t.Fatal("a changed host connection still waits")
			}
		})
	}
}
