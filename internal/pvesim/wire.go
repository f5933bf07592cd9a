package pvesim

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// apiError is a failure as PVE reports it: an HTTP status, the die() text
// (whose first line becomes the reason phrase) and, for 400, the per-parameter
// errors.
type apiError struct {
	status int
	msg    string
	errs   map[string]string
	// emptyBody is set for errors pveproxy raises before a handler runs (auth,
	// unexpected content, proxy failures): those carry no JSON body.
	emptyBody bool
}

func (e *apiError) Error() string { return e.msg }

// errf is a plain PVE die(): HTTP 500 with the message as reason phrase.
func errf(format string, args ...any) *apiError {
	return &apiError{status: http.StatusInternalServerError, msg: fmt.Sprintf(format, args...)}
}

// paramErr is raise_param_exc: 400 "Parameter verification failed." with the
// per-parameter messages in "errors".
func paramErr(errs map[string]string) *apiError {
	return &apiError{status: http.StatusBadRequest, msg: "Parameter verification failed.", errs: errs}
}

func paramErr1(param, msg string) *apiError { return paramErr(map[string]string{param: msg}) }

// permErr is raise_perm_exc: 403 "Permission check failed (<path>, <privs>)".
func permErr(what string) *apiError {
	return &apiError{status: http.StatusForbidden, msg: fmt.Sprintf("Permission check failed (%s)", what)}
}

// notFoundConfig is AbstractConfig::load_config's not-found die: PVE reports a
// missing guest as a 500, never a 404.
func notFoundConfig(node string, vmid int) *apiError {
	return errf("Configuration file 'nodes/%s/lxc/%d.conf' does not exist", node, vmid)
}

// dataWithTotal is the envelope of paged endpoints such as the task log.
type dataWithTotal struct {
	Data  any `json:"data"`
	Total int `json:"total"`
}

// writeData writes a 200 response with the {"data":…} envelope. Successful
// responses keep the connection alive like pveproxy does.
func writeData(w http.ResponseWriter, data any, now time.Time) {
	var body []byte
	var err error
	switch d := data.(type) {
	case dataWithTotal:
		body, err = json.Marshal(d)
	case rawJSON:
		body = make([]byte, 0, len(d)+10)
		body = append(body, `{"data":`...)
		body = append(body, d...)
		body = append(body, '}')
	default:
		body, err = json.Marshal(struct {
			Data any `json:"data"`
		}{data})
	}
	if err != nil {
		writeError(w, errf("internal error: %v", err), now)
		return
	}
	h := w.Header()
	setCommonHeaders(h, now)
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// rawJSON is pre-encoded "data" content (used for cached large responses).
type rawJSON []byte

func setCommonHeaders(h http.Header, now time.Time) {
	date := now.UTC().Format(http.TimeFormat)
	h.Set("Cache-Control", "max-age=0")
	h.Set("Pragma", "no-cache")
	h.Set("Server", "pve-api-daemon/3.0")
	h.Set("Date", date)
	h.Set("Expires", date)
}

// reasonPhrase is what pveproxy puts on the status line: the first line of
// the message. A phrase that would still break the status line is replaced,
// as pveproxy turns such responses into a plain 400.
func reasonPhrase(msg string) string {
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	msg = strings.TrimRight(msg, "\r")
	if strings.ContainsAny(msg, "\r\n") {
		return "Bad Request"
	}
	return msg
}

// errorBody is the JSON body of a handler error: data null, the full message
// with its trailing newline (libpve-http-server ≥ 5.2) and, for 400, errors.
func errorBody(e *apiError) []byte {
	msg := e.msg
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	body := struct {
		Data    any               `json:"data"`
		Message string            `json:"message"`
		Errors  map[string]string `json:"errors,omitempty"`
	}{nil, msg, e.errs}
	b, _ := json.Marshal(body)
	return b
}

// writeError sends an error response. net/http always writes the canonical
// reason phrase ("500 Internal Server Error"), but go-proxmox surfaces only
// resp.Status for 500 and 501, so the PVE text must be on the status line:
// hijack the connection and write the response by hand. pveproxy closes the
// connection after every response >= 400, and so do we.
func writeError(w http.ResponseWriter, e *apiError, now time.Time) {
	var body []byte
	if !e.emptyBody {
		body = errorBody(e)
	}
	writeRaw(w, e.status, reasonPhrase(e.msg), body, now)
}

// writeRaw writes a complete HTTP/1.1 response on the hijacked connection and
// closes it.
func writeRaw(w http.ResponseWriter, status int, reason string, body []byte, now time.Time) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		h := w.Header()
		setCommonHeaders(h, now)
		h.Set("Connection", "close")
		if body != nil {
			h.Set("Content-Type", "application/json;charset=UTF-8")
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
		return
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	writeResponseHead(rw.Writer, status, reason, len(body), body != nil, now)
	_, _ = rw.Write(body)
	_ = rw.Flush()
}

func writeResponseHead(bw *bufio.Writer, status int, reason string, length int, jsonBody bool, now time.Time) {
	date := now.UTC().Format(http.TimeFormat)
	fmt.Fprintf(bw, "HTTP/1.1 %03d %s\r\n", status, reason)
	fmt.Fprintf(bw, "Cache-Control: max-age=0\r\nConnection: close\r\nDate: %s\r\nPragma: no-cache\r\nServer: pve-api-daemon/3.0\r\n", date)
	if jsonBody {
		// bufio.Writer keeps the first write error and returns it from
		// Flush, which the caller calls once the whole response is queued.
		_, _ = bw.WriteString("Content-Type: application/json;charset=UTF-8\r\n")
	}
	fmt.Fprintf(bw, "Content-Length: %d\r\nExpires: %s\r\n\r\n", length, date)
}

// drainBody reads what is left of the request body so closing the connection
// does not turn into a TCP reset that hides the response from the client.
func drainBody(r *http.Request) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 4<<20))
	}
}

// dropConnection closes the connection without a response: the client sees
// EOF / connection reset, as after a proxy or node crash.
func dropConnection(w http.ResponseWriter, r *http.Request) {
	drainBody(r)
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// writePartial sends a 200 whose body is cut off mid-JSON and closes the
// connection, as when pveproxy dies while streaming.
func writePartial(w http.ResponseWriter, r *http.Request, now time.Time) {
	drainBody(r)
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	body := []byte(`{"data":{"upid":"UPID:`)
	// Announce more than is sent so the client sees an unexpected EOF.
	writeResponseHead(rw.Writer, 200, "OK", len(body)+64, true, now)
	_, _ = rw.Write(body)
	_ = rw.Flush()
}
