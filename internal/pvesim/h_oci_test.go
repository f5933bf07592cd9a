package pvesim

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func ociSim(t *testing.T) *Server {
	t.Helper()
	return newSim(t, func(o *Options) {
		o.Tokens = []TokenSpec{
			{ID: DefaultTokenID, Secret: DefaultTokenSecret},
			{ID: "oci@pve!store", Secret: "s", Privileges: []string{"Datastore.AllocateTemplate"}},
			{ID: "oci@pve!net", Secret: "s", Privileges: []string{"Sys.AccessNetwork"}},
		}
	})
}

// ociToken sends a request as one of ociSim's tokens, or as root for "".
func ociToken(id string) []rawOpt {
	if id == "" {
		return nil
	}
	return []rawOpt{asToken(id, "s")}
}

func TestQueryOCIRepoTags(t *testing.T) {
	t.Parallel()
	srv := ociSim(t)
	tests := []struct{ name, ref, token, status, body string }{
		{"a Docker Hub short name lists its tags", "alpine", "", "200 OK", `{"data":["3.20","3.21","latest"]}`},
		{"a fully qualified name lists the same", "docker.io/library/nginx", "", "200 OK", `{"data":["1.27","stable","latest"]}`},
		{"an unknown repository fails like skopeo", "docker.io/library/nosuch", "", "500 command 'skopeo list-tags docker://docker.io/library/nosuch' failed: exit code 1", ""},
		{"a reference with a tag is not a repository", "alpine:3.20", "", "400 Parameter verification failed.", `"reference":"value does not match the regex pattern"`},
		{"Sys.AccessNetwork on the node is required", "alpine", "oci@pve!store", "403 Permission check failed (/nodes/pve1, Sys.AccessNetwork)", ""},
		{"Sys.AccessNetwork alone suffices", "alpine", "oci@pve!net", "200 OK", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := raw(t, srv, "GET", "/nodes/pve1/query-oci-repo-tags?reference="+url.QueryEscape(tc.ref), "", ociToken(tc.token)...)
			replyIs(t, r, tc.status, tc.body)
		})
	}
	t.Run("go-proxmox decodes the tags", func(t *testing.T) {
		n := pveNode(t, srv, "pve1")
		tags, err := n.QueryOCIRepoTags(ctx(t), "docker.io/library/alpine")
		if err != nil || len(tags) != 3 {
			t.Fatalf("%v %v", tags, err)
		}
	})
}

func TestOCIRegistryPull(t *testing.T) {
	t.Parallel()
	srv := ociSim(t)
	t.Run("an image becomes an OCI archive template named after the reference", func(t *testing.T) {
		v := taskOf(t, srv, "POST", "/nodes/pve1/storage/local/oci-registry-pull", form("reference", "docker.io/library/alpine:3.20"))
		if v.ExitStatus != "OK" || v.Type != TaskOCIRegistryPull || v.ID != "alpine_3.20.tar" {
			t.Fatalf("%+v", v)
		}
		if !slices.Contains(v.Log, "Writing manifest to image destination") {
			t.Fatalf("%s", strings.Join(v.Log, "\n"))
		}
		r := mustOK(t, raw(t, srv, "GET", "/nodes/pve1/storage/local/content?content=vztmpl", ""))
		if !strings.Contains(string(r.Body), `"format":"tar","size":8388608,"volid":"local:vztmpl/alpine_3.20.tar"`) {
			t.Fatalf("%s", r.Body)
		}
	})
	t.Run("a second pull to the same file is refused before the task", func(t *testing.T) {
		r := raw(t, srv, "POST", "/nodes/pve1/storage/local/oci-registry-pull", form("reference", "alpine:3.20"))
		if r.Status != "500 refusing to override existing file 'alpine_3.20.tar'" {
			t.Fatalf("%q", r.Status)
		}
	})
	t.Run("go-proxmox pulls with a file name of its own", func(t *testing.T) {
		task, err := pveStorage(t, srv, "local").OCIRegistryPull(ctx(t), "nginx:stable", "web server")
		if err != nil {
			t.Fatal(err)
		}
		if err := task.Wait(ctx(t), 20*time.Millisecond, 20*time.Second); err != nil || !task.IsSuccessful || task.ID != "web_server.tar" {
			t.Fatalf("%+v %v", task, err)
		}
	})
}

func TestOCIRegistryPullFailures(t *testing.T) {
	t.Parallel()
	srv := ociSim(t)
	dir := "/var/lib/vz/template/cache/"
	tests := []struct{ name, ref, detail string }{
		{"an unknown tag has no manifest", "alpine:9.9", "reading manifest 9.9 in docker.io/library/alpine: manifest unknown"},
		{"an unknown repository is denied", "docker.io/library/nosuch:1", "reading manifest 1 in docker.io/library/nosuch: requested access to the resource is denied"},
		{"an unknown registry does not resolve", "quay.io/x/y:1", `pinging container registry quay.io: Get \"https://quay.io/v2/\": dial tcp: lookup quay.io: no such host`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := taskOf(t, srv, "POST", "/nodes/pve1/storage/local/oci-registry-pull", form("reference", tc.ref))
			name := normalizeContentFilename(tc.ref) + ".tar"
			prefix := "command 'skopeo copy docker://" + tc.ref + " oci-archive:" + dir + name + ".tmp."
			if !strings.HasPrefix(v.ExitStatus, prefix) || !strings.HasSuffix(v.ExitStatus, "' failed: exit code 1") {
				t.Fatalf("exit %q", v.ExitStatus)
			}
			if !strings.Contains(strings.Join(v.Log, "\n"), "level=fatal msg=\"initializing source docker://"+tc.ref+": "+tc.detail+"\"") {
				t.Fatalf("log:\n%s", strings.Join(v.Log, "\n"))
			}
		})
	}
	refusals := []struct{ name, storage, body, token, status string }{
		{"a block storage takes no archives", "local-lvm", form("reference", "alpine:3.20"), "", "500 can't upload to storage type 'lvmthin', not a file based storage!"},
		{"the reference needs a tag", "local", form("reference", "alpine"), "", "400 Parameter verification failed."},
		// A form's empty value drops the key (decode_urlencoded), so the
		// empty name is sent as JSON.
		{"the file name may not be empty", "local", `{"reference":"alpine:3.20","filename":""}`, "", "400 Parameter verification failed."},
		{"storage allocation alone is not enough", "local", form("reference", "alpine:3.20"), "oci@pve!store", "403 Permission check failed (/nodes/pve1, Sys.AccessNetwork)"},
		{"network access alone is not enough", "local", form("reference", "alpine:3.20"), "oci@pve!net", "403 Permission check failed (/storage/local, Datastore.AllocateTemplate)"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			statusIs(t, raw(t, srv, "POST", "/nodes/pve1/storage/"+tc.storage+"/oci-registry-pull", tc.body, ociToken(tc.token)...), tc.status)
		})
	}
}

// copiedConfigDigest is the digest a pull's "Copying config" line names.
func copiedConfigDigest(t *testing.T, v TaskView) string {
	t.Helper()
	for _, l := range v.Log {
		if d, ok := strings.CutPrefix(l, "Copying config "); ok {
			return d
		}
	}
	t.Fatalf("no config line in\n%s", strings.Join(v.Log, "\n"))
	return ""
}

func TestMoveOCITag(t *testing.T) {
	t.Parallel()
	srv := ociSim(t)
	pull := func(ref, name string) TaskView {
		return taskOf(t, srv, "POST", "/nodes/pve1/storage/local/oci-registry-pull", form("reference", ref, "filename", name))
	}
	before := copiedConfigDigest(t, pull("alpine:latest", "before"))
	moved, err := srv.MoveOCITag("alpine", "latest")
	if err != nil {
		t.Fatal(err)
	}
	after := copiedConfigDigest(t, pull("alpine:latest", "after"))
	t.Run("a pull after the move copies the new config digest", func(t *testing.T) {
		if after == before || after != moved {
			t.Fatalf("before %s, after %s, moved to %s", before, after, moved)
		}
	})
	t.Run("the archive pulled before keeps its digest", func(t *testing.T) {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		_, old := srv.volumeOf("local:vztmpl/before.tar", "pve1")
		_, cur := srv.volumeOf("local:vztmpl/after.tar", "pve1")
		if old.oci.digest != before || cur.oci.digest != after || old.oci.repository != "docker.io/library/alpine" || old.oci.tag != "latest" {
			t.Fatalf("%+v %+v", old.oci, cur.oci)
		}
	})
	t.Run("the other tags do not move", func(t *testing.T) {
		if d := copiedConfigDigest(t, pull("alpine:3.20", "other")); d != ociDigest("docker.io/library/alpine", "3.20", "config") {
			t.Fatal(d)
		}
	})
	t.Run("the admin route moves it again", func(t *testing.T) {
		code, got := admin(t, srv, "POST", "/oci-tags/move", `{"repository":"docker.io/library/alpine","tag":"latest"}`)
		if d, _ := got["digest"].(string); code != 200 || d == "" || d == moved {
			t.Fatalf("%d %v", code, got)
		}
	})
	refusals := []struct{ name, repo, tag string }{
		{"an unknown repository cannot move", "nosuch", "latest"},
		{"an unknown tag cannot move", "alpine", "9.9"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := srv.MoveOCITag(tc.repo, tc.tag); err == nil {
				t.Fatal("moved")
			}
		})
	}
}
