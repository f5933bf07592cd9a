package pvesim

import (
	"path/filepath"
	"testing"
)

// withStateFile starts a default simulator that keeps its state in a file
// of the test's temporary directory, and returns it with its options.
func withStateFile(t *testing.T) (*Server, Options) {
	t.Helper()
	o := DefaultOptions()
	o.StateFile = filepath.Join(t.TempDir(), "state.json")
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv, o
}

// restarted closes srv, which writes its state file, and starts a new
// simulator from it with the same options.
func restarted(t *testing.T, srv *Server, o Options) *Server {
	t.Helper()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = again.Close() })
	return again
}
