package proxmox

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
)

// maxErrorBody bounds how much of an error response is kept for
// classification; PVE error bodies are a few hundred bytes.
const maxErrorBody = 64 << 10

// exchange records what really happened on the wire for one client call, so
// classification does not depend on how go-proxmox formats (or loses) errors:
// it turns 500s into errors.New(res.Status), 401/403 into ErrNotAuthorized,
// and decodes an empty 404/502/595 body as "unexpected end of JSON input".
//
// go-proxmox may issue several HTTP requests for one call (a login and a
// replay after a 401); the last response wins, which is the one that decided
// the call's result.
type exchange struct {
	mu         sync.Mutex
	status     int
	reason     string
	body       []byte
	wroteAll   bool
	roundTrips int
}

type exchangeKey struct{}

func withExchange(ctx context.Context) (context.Context, *exchange) {
	x := &exchange{}
	return context.WithValue(ctx, exchangeKey{}, x), x
}

func (x *exchange) snapshot() (status int, reason string, body []byte, wrote bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.status, x.reason, x.body, x.wroteAll
}

// recordingTransport fills the exchange in the request's context. For error
// responses it buffers the (bounded) body and hands go-proxmox a replayable
// copy.
type recordingTransport struct {
	base http.RoundTripper
}

func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	x, _ := req.Context().Value(exchangeKey{}).(*exchange)
	if x == nil {
		return t.base.RoundTrip(req)
	}
	x.mu.Lock()
	x.status, x.reason, x.body, x.wroteAll = 0, "", nil, false
	x.roundTrips++
	x.mu.Unlock()
	trace := &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				x.mu.Lock()
				x.wroteAll = true
				x.mu.Unlock()
			}
		},
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	res, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	var body []byte
	if res.StatusCode >= 300 {
		body, _ = io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
		_ = res.Body.Close()
		res.Body = io.NopCloser(bytes.NewReader(body))
	}
	x.mu.Lock()
	x.status = res.StatusCode
	x.reason = reasonPhrase(res)
	x.body = body
	x.mu.Unlock()
	return res, nil
}

// reasonPhrase strips the code from "500 CT is locked (backup)".
func reasonPhrase(res *http.Response) string {
	s := res.Status
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[i+1:]
	}
	return s
}

// redactor removes secrets from error texts. Errors wrapping PVE messages
// could echo a parameter value back (schema errors quote values), so every
// error leaving the client goes through it.
type redactor struct{ secrets []string }

func (r redactor) redact(err error, extra ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	leaked := false
	for _, s := range append(append([]string(nil), r.secrets...), extra...) {
		if s != "" && strings.Contains(msg, s) {
			leaked = true
			break
		}
	}
	if !leaked {
		return err
	}
	return &redactedError{msg: r.scrub(msg, extra...), err: err}
}

func (r redactor) scrub(s string, extra ...string) string {
	for _, secret := range append(append([]string(nil), r.secrets...), extra...) {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "<redacted>")
		}
	}
	return s
}

// redactedError keeps the typed chain (errors.As still works) but replaces
// the text.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
