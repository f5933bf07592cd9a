package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// pprofAddr is where the manager serves /debug/pprof when -pprof is set.
const pprofAddr = "127.0.0.1:16060"

// profileCPU takes a CPU profile of the manager over d, then a heap
// profile, into c.Pprof; the channel says when both are written. Without
// -pprof it is closed at once.
func (b *bench) profileCPU(d time.Duration) <-chan error {
	done := make(chan error, 1)
	if b.c.Pprof == "" {
		close(done)
		return done
	}
	go func() {
		err := fetchProfile(fmt.Sprintf("/debug/pprof/profile?seconds=%d", int(d.Seconds())), filepath.Join(b.c.Pprof, "steady.cpu.pprof"), d+30*time.Second)
		if err == nil {
			err = fetchProfile("/debug/pprof/heap?gc=1", filepath.Join(b.c.Pprof, "steady.heap.pprof"), 30*time.Second)
		}
		done <- err
	}()
	return done
}

func fetchProfile(path, file string, timeout time.Duration) error {
	c := &http.Client{Timeout: timeout}
	resp, err := c.Get("http://" + pprofAddr + path)
	if err != nil {
		return fmt.Errorf("profile %s: %w", path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile %s: %s", path, resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
