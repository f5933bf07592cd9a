package pvesim

import (
	"reflect"
	"testing"
)

// TestOCIArchivesSurviveTheStateFile: a pulled archive keeps the image it
// holds across a restart, so a create after it still maps the image, and
// a moved tag stays moved.
func TestOCIArchivesSurviveTheStateFile(t *testing.T) {
	t.Parallel()
	srv, o := withStateFile(t)
	volid := pullOCI(t, srv, "nginx:1.27")
	moved, err := srv.MoveOCITag("nginx", "stable")
	if err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	_, v := srv.volumeOf(volid, "pve1")
	want := *v.oci
	srv.mu.Unlock()
	srv2 := restarted(t, srv, o)
	t.Run("the archive still names its image, digest and config", func(t *testing.T) {
		srv2.mu.Lock()
		defer srv2.mu.Unlock()
		_, v := srv2.volumeOf(volid, "pve1")
		if v == nil || v.oci == nil || !reflect.DeepEqual(*v.oci, want) {
			t.Fatalf("%+v, want %+v", v, want)
		}
	})
	t.Run("a create from it maps the image", func(t *testing.T) {
		if v := createFrom(t, srv2, 100, volid); v.ExitStatus != "OK" || !hasLine(v.Log, "Detected OCI archive") {
			t.Fatalf("%q %q", v.ExitStatus, v.Log)
		}
		if c := apiConfig(t, srv2, "pve1", 100); c["entrypoint"] != "/docker-entrypoint.sh nginx -g 'daemon off;'" {
			t.Fatalf("%v", c)
		}
	})
	t.Run("a moved tag stays moved", func(t *testing.T) {
		v := taskOf(t, srv2, "POST", "/nodes/pve1/storage/local/oci-registry-pull", form("reference", "nginx:stable"))
		if d := copiedConfigDigest(t, v); d != moved {
			t.Fatalf("%s, want %s", d, moved)
		}
	})
}
