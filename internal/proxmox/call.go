package proxmox

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	pve "github.com/luthermonson/go-proxmox"
)

// readAttempts is how often an idempotent GET is tried when no answer came
// back. Mutating requests are tried exactly once.
const readAttempts = 3

// request is one API call. path is relative to /api2/json and may carry a
// query string.
type request struct {
	method string
	path   string
	body   any
	out    any
	// secrets are request values (a new container's password) that must
	// never appear in an error.
	secrets []string
}

func (r request) mutating() bool { return r.method != http.MethodGet }

// do performs r with rate limiting, the mutating-request semaphore, a retry
// for reads only, and classification into typed errors.
func (c *APIClient) do(ctx context.Context, r request) error {
	backoff := 100 * time.Millisecond
	relogged := false
	for attempt := 1; ; attempt++ {
		sc, err := c.session(ctx)
		if err != nil {
			return c.redactor.redact(err, r.secrets...)
		}
		err = c.once(ctx, sc.pc, r)
		if err == nil {
			return nil
		}
		if !relogged && !c.creds.useToken() && IsUnauthorized(err) {
			// The ticket expired or was revoked. PVE refused the request
			// before acting on it, so sending it again after a fresh login is
			// safe even for a mutation.
			relogged = true
			c.pve.CompareAndSwap(sc, nil)
			attempt--
			continue
		}
		if r.mutating() || attempt >= readAttempts || !IsUnreachable(err) {
			return c.redactor.redact(err, r.secrets...)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return c.redactor.redact(err, r.secrets...)
		case <-t.C:
		}
		backoff *= 2
	}
}

func (c *APIClient) once(ctx context.Context, pc *pve.Client, r request) error {
	if err := c.limits.wait(ctx); err != nil {
		return err
	}
	if r.mutating() {
		release, err := c.limits.acquire(ctx)
		if err != nil {
			return err
		}
		defer release()
	}
	xctx, x := withExchange(ctx)
	start := time.Now()
	err := c.send(xctx, pc, r)
	err = c.classify(ctx, x, err, r.mutating(), r.secrets)
	if c.observe != nil {
		status, _, _, _ := x.snapshot()
		c.observe(r.method, Route(r.path), status, Outcome(err), time.Since(start))
	}
	return err
}

func (c *APIClient) send(ctx context.Context, pc *pve.Client, r request) error {
	switch r.method {
	case http.MethodGet:
		return pc.Get(ctx, r.path, r.out)
	case http.MethodPost:
		return pc.Post(ctx, r.path, r.body, r.out)
	case http.MethodPut:
		return pc.Put(ctx, r.path, r.body, r.out)
	case http.MethodDelete:
		return pc.Delete(ctx, r.path, r.out)
	}
	return fmt.Errorf("unsupported method %s", r.method)
}

// classify decides the call's outcome from what the wire said (the
// exchange), using go-proxmox's error only when no response arrived or the
// body could not be read or decoded.
func (c *APIClient) classify(ctx context.Context, x *exchange, err error, mutating bool, secrets []string) error {
	status, reason, body, wrote := x.snapshot()
	x.mu.Lock()
	trips := x.roundTrips
	x.mu.Unlock()
	scrub := func(s string) string { return c.redactor.scrub(s, secrets...) }
	switch {
	case status >= 300:
		// Even when go-proxmox returned nil (it does for a 404 with
		// {"data":null}), a non-2xx status is a failure.
		return classifyResponse(status, reason, body, scrub)
	case err == nil:
		return nil
	case trips == 0:
		// Failed before anything was sent (marshalling, request building).
		return err
	case status == 0:
		return classifyTransport(ctx, err, mutating, wrote)
	case isNetworkFailure(err):
		// A 2xx whose body broke off: PVE answered, so a mutation happened.
		return &UnreachableError{Err: err, Mutating: mutating, RequestSent: true}
	default:
		return &MalformedResponseError{StatusCode: status, Mutating: mutating, Err: errors.New(scrub(err.Error()))}
	}
}

// session returns the go-proxmox client to send with, logging in first when
// credentials are a username and password and there is no ticket yet.
//
// The login is done here rather than by go-proxmox (WithCredentials):
// go-proxmox sends the first request without a ticket (paying pveproxy's 3 s
// 401 delay) before logging in, writes its session without a lock, and
// within an hour of a login answers any 401 with ErrNotAuthorized instead
// of logging in again, so an expired or revoked ticket would stick. Here a
// ticket lives in an immutable client built WithSession; it is replaced
// after ticketRenewAfter, and a 401 discards it (see do) so the next call
// logs in afresh.
func (c *APIClient) session(ctx context.Context) (*sessionClient, error) {
	if sc := c.pve.Load(); sc.usable() {
		return sc, nil
	}
	c.sessionMu.Lock()
	defer c.sessionMu.Unlock()
	if sc := c.pve.Load(); sc.usable() {
		return sc, nil
	}
	if err := c.limits.wait(ctx); err != nil {
		return nil, err
	}
	var s pve.Session
	xctx, x := withExchange(ctx)
	err := c.login.Post(xctx, "/access/ticket", map[string]string{
		"username": c.creds.Username, "password": c.creds.Password,
	}, &s)
	if err := c.classify(ctx, x, err, false, nil); err != nil {
		return nil, fmt.Errorf("log in as %s: %w", c.creds.Username, err)
	}
	if s.Ticket == "" || s.CSRFPreventionToken == "" {
		return nil, fmt.Errorf("log in as %s: PVE returned no ticket", c.creds.Username)
	}
	sc := &sessionClient{pc: c.newSession(s.Ticket, s.CSRFPreventionToken), renewAt: time.Now().Add(ticketRenewAfter)}
	c.pve.Store(sc)
	return sc, nil
}

// ticketRenewAfter is when a ticket is replaced ahead of PVE's 2 h expiry,
// so steady-state calls never meet the (3 s delayed) 401.
const ticketRenewAfter = 90 * time.Minute

// sessionClient is a go-proxmox client bound to one credential: a token
// (renewAt zero, never renewed) or one login ticket.
type sessionClient struct {
	pc      *pve.Client
	renewAt time.Time
}

func (sc *sessionClient) usable() bool {
	return sc != nil && (sc.renewAt.IsZero() || time.Now().Before(sc.renewAt))
}
