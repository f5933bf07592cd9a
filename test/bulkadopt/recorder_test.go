package bulkadopt_test

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pve-operator/pve-operator/internal/pvesim"
)

// recorder sits between the operator and the simulator and keeps the
// parameters of every config PUT: the request counters say how many were
// sent, this says what they set.
type recorder struct {
	sim  *pvesim.Server
	mu   sync.Mutex
	puts map[int][]map[string]string
}

// startRecorder serves the simulator's API through a recorder on a TLS
// server of its own; it returns the recorder, the URL and the CA to trust.
func startRecorder(t *testing.T, sim *pvesim.Server) (*recorder, string, string) {
	t.Helper()
	rec := &recorder{sim: sim, puts: map[int][]map[string]string{}}
	srv := httptest.NewTLSServer(rec)
	t.Cleanup(srv.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return rec, srv.URL, string(ca)
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if vmid, ok := configPath(r); ok && r.Method == http.MethodPut {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec.mu.Lock()
		rec.puts[vmid] = append(rec.puts[vmid], params(r.Header.Get("Content-Type"), body))
		rec.mu.Unlock()
	}
	rec.sim.ServeHTTP(w, r)
}

// configPath matches /api2/json/nodes/{node}/lxc/{vmid}/config.
func configPath(r *http.Request) (int, bool) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) != 7 || parts[2] != "nodes" || parts[4] != "lxc" || parts[6] != "config" {
		return 0, false
	}
	vmid, err := strconv.Atoi(parts[5])
	return vmid, err == nil
}

// params decodes a body as the client sends it, JSON or a form.
func params(contentType string, body []byte) map[string]string {
	out := map[string]string{}
	if strings.HasPrefix(contentType, "application/json") {
		var m map[string]any
		if json.Unmarshal(body, &m) == nil {
			for k, v := range m {
				out[k] = fmt.Sprint(v)
			}
		}
		return out
	}
	vals, _ := url.ParseQuery(string(body))
	for k := range vals {
		out[k] = vals.Get(k)
	}
	return out
}

// configPuts returns the recorded PUTs of one container.
func (rec *recorder) configPuts(vmid int) []map[string]string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.puts[vmid]
}
