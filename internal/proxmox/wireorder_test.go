package proxmox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/pve-operator/pve-operator/internal/proxmox"
	"github.com/pve-operator/pve-operator/internal/pveparams"
)

// TestParametersReachTheWireInOrder records the raw bodies the client sends.
// The parameters are deliberately out of alphabetical order: a body built
// from a map would arrive sorted.
func TestParametersReachTheWireInOrder(t *testing.T) {
	type received struct {
		contentType string
		body        []byte
		err         error
	}
	requests := make(chan received, 1)
	pve := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		requests <- received{contentType: r.Header.Get("Content-Type"), body: b, err: err}
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		fmt.Fprint(w, `{"data":"UPID:pve1:00001023:018B85E8:6B092B02:vzcreate:100:root@pam!operator:"}`)
	}))
	t.Cleanup(pve.Close)
	c, err := proxmox.New(proxmox.Config{
		Endpoint:    pve.URL,
		CABundle:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pve.Certificate().Raw}),
		Credentials: tokenCreds(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	overrides := pveparams.List{{Key: "tags", Value: "k8s"}, {Key: "hostname", Value: "db"}, {Key: "description", Value: "owned"}}

	tests := []struct {
		name string
		call func(ctx context.Context) error
		want []string
	}{
		{
			name: "a create sends the VMID, then the parameters as given, then the password",
			call: func(ctx context.Context) error {
				_, err := c.CreateContainer(ctx, node1, 100, proxmox.CreateRequest{Params: pveparams.List{
					{Key: "ostemplate", Value: "local:vztmpl/x.tar.zst"}, {Key: "hostname", Value: "web1"},
					{Key: "unprivileged", Value: "1"}, {Key: "cores", Value: "2"}, {Key: "ssh-public-keys", Value: "a\nb"},
				}, Password: "s3cret"})
				return err
			},
			want: []string{"vmid=100", "ostemplate=local:vztmpl/x.tar.zst", "hostname=web1", "unprivileged=1", "cores=2", "ssh-public-keys=a\nb", "password=s3cret"},
		},
		{
			name: "a restore sends its own parameters, then the overrides as given, then the password",
			call: func(ctx context.Context) error {
				_, err := c.RestoreContainer(ctx, node1, 100, proxmox.RestoreSpec{
					Archive: "local:backup/x.tar.zst", Storage: "local-lvm", Force: true, Unique: true, Start: true,
					Params: overrides, Password: "s3cret",
				})
				return err
			},
			want: []string{"vmid=100", "ostemplate=local:backup/x.tar.zst", "restore=1", "storage=local-lvm",
				"force=1", "unique=1", "start=1", "tags=k8s", "hostname=db", "description=owned", "password=s3cret"},
		},
		{
			name: "no password, no password parameter",
			call: func(ctx context.Context) error {
				_, err := c.RestoreContainer(ctx, node1, 100, proxmox.RestoreSpec{Archive: "local:backup/x.tar.zst", Params: overrides})
				return err
			},
			want: []string{"vmid=100", "ostemplate=local:backup/x.tar.zst", "restore=1", "tags=k8s", "hostname=db", "description=owned"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			r := <-requests
			if r.err != nil || r.contentType != "application/json" {
				t.Fatalf("request body %q (%s): %v; want JSON", r.body, r.contentType, r.err)
			}
			if got := bodyParams(t, r.body); !slices.Equal(got, tt.want) {
				t.Fatalf("body = %q\nwant   %q", got, tt.want)
			}
		})
	}
}

// bodyParams lists a JSON object's members as key=value in the order they
// stand in the body; every value must be a string.
func bodyParams(t *testing.T, body []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("body %q is not a JSON object", body)
	}
	var out []string
	for dec.More() {
		key, err1 := dec.Token()
		value, err2 := dec.Token()
		k, ok1 := key.(string)
		v, ok2 := value.(string)
		if err1 != nil || err2 != nil || !ok1 || !ok2 {
			t.Fatalf("body %q: member %v: %v is not a string parameter", body, key, value)
		}
		out = append(out, k+"="+v)
	}
	return out
}
