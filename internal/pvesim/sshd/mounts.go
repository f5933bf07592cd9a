package sshd

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
)

// MountedVolumes gives `pct exec` the files on a container's data volumes,
// so that what a command writes under a mount point belongs to the volume
// (and moves with it) rather than to the scratch directory. It is called
// from session goroutines and must be safe for concurrent use.
type MountedVolumes interface {
	// ContainerMounts lists container vmid's data mount points: the mount
	// path (the mp= value, e.g. "/var/lib/app") → the volume's ID. Bind
	// and device mounts are not listed.
	ContainerMounts(vmid int) map[string]string
	// VolumeFiles is everything on the volume: relative, "/"-separated
	// path → content.
	VolumeFiles(volid string) (map[string]string, error)
	// ReplaceVolumeFiles makes files the volume's whole content.
	ReplaceVolumeFiles(volid string, files map[string]string) error
}

// The files on a volume stand for a test's markers and a script's small
// state, not for real data: what a command leaves beyond these limits is
// dropped (and logged) rather than held in memory and the state file.
const (
	MaxMountedFileSize = 1 << 20
	MaxMountedFiles    = 1024
)

// ctMounts is the volumes laid out in one container's scratch directory.
// They are put in place when the first of the container's commands starts
// and taken away when the last one ends, so concurrent commands share one
// tree instead of overwriting each other's files.
type ctMounts struct {
	mu     sync.Mutex
	active int // commands running with the volumes in place
	// dirs is the scratch-relative mount directory → volume, and hidden
	// the files of a volume that a mount nested inside it covers (kept
	// back so that they survive), while active > 0.
	dirs   map[string]string
	hidden map[string]map[string]string
}

func (s *Server) ctMounts(vmid int) *ctMounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.mounts[vmid]
	if m == nil {
		m = &ctMounts{}
		s.mounts[vmid] = m
	}
	return m
}

// mountVolumes lays out vmid's data volumes under its scratch directory
// dir before a command and returns what must run when the command has
// ended, however it ended.
func (s *Server) mountVolumes(vmid int, dir string) (unmount func(), err error) {
	if s.volumes == nil {
		return func() {}, nil
	}
	m := s.ctMounts(vmid)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.active == 0 {
		if err := s.layOut(m, dir, s.volumes.ContainerMounts(vmid)); err != nil {
			s.removeMounts(m, dir)
			return nil, err
		}
	}
	m.active++
	return func() { s.unmountVolumes(vmid, m, dir) }, nil
}

// layOut writes each volume's files under its mount directory, replacing
// whatever an earlier run left there. The caller holds m.mu.
func (s *Server) layOut(m *ctMounts, dir string, mounts map[string]string) error {
	m.dirs, m.hidden = map[string]string{}, map[string]map[string]string{}
	for mp, volid := range mounts {
		// The container's "/" is dir; a mount on "/" itself would be the
		// root file system, which no volume of ours stands for.
		if rel := strings.TrimPrefix(path.Clean("/"+mp), "/"); rel != "" {
			m.dirs[rel] = volid
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	// Sorted, a mount comes before the mounts nested inside it, which
	// then cover its files as a real mount would.
	for _, rel := range slices.Sorted(maps.Keys(m.dirs)) {
		volid := m.dirs[rel]
		files, err := s.volumes.VolumeFiles(volid)
		if err != nil {
			return fmt.Errorf("mount %s at /%s: %w", volid, rel, err)
		}
		if err := root.RemoveAll(rel); err != nil {
			return err
		}
		if err := root.MkdirAll(rel, 0o755); err != nil {
			return err
		}
		for name, content := range files {
			full := path.Join(rel, name)
			if m.covered(rel, full) {
				if m.hidden[volid] == nil {
					m.hidden[volid] = map[string]string{}
				}
				m.hidden[volid][name] = content
				continue
			}
			if err := root.MkdirAll(path.Dir(full), 0o755); err != nil {
				return err
			}
			if err := root.WriteFile(full, []byte(content), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// covered says whether p, inside the mount directory rel, is at or below
// another mount directory nested in rel.
func (m *ctMounts) covered(rel, p string) bool {
	for d := range m.dirs {
		if d != rel && strings.HasPrefix(d, rel+"/") && (p == d || strings.HasPrefix(p, d+"/")) {
			return true
		}
	}
	return false
}

// unmountVolumes reads every mount directory back into its volume once a
// command has ended, and removes the tree when no other command of the
// container still runs.
func (s *Server) unmountVolumes(vmid int, m *ctMounts, dir string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	root, err := os.OpenRoot(dir)
	if err != nil {
		s.logf("sshd: CT %d: cannot read back its volumes: %v", vmid, err)
	} else {
		for rel, volid := range m.dirs {
			files, err := s.readBack(m, root, rel)
			if err == nil {
				for name, content := range m.hidden[volid] {
					files[name] = content
				}
				err = s.volumes.ReplaceVolumeFiles(volid, files)
			}
			if err != nil {
				s.logf("sshd: CT %d: volume %s at /%s keeps its earlier files: %v", vmid, volid, rel, err)
			}
		}
		_ = root.Close()
	}
	m.active--
	if m.active == 0 {
		s.removeMounts(m, dir)
	}
}

// readBack collects the regular files under the mount directory rel, as
// paths relative to it, leaving out mounts nested inside it. A directory
// the command removed is an empty volume. The caller holds m.mu.
func (s *Server) readBack(m *ctMounts, root *os.Root, rel string) (map[string]string, error) {
	files := map[string]string{}
	fsys := root.FS()
	err := fs.WalkDir(fsys, rel, func(p string, d fs.DirEntry, err error) error {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// The command removed the mount directory (an empty volume),
			// or another command of the container removed a file.
			return nil
		case err != nil:
			return err
		case p != rel && m.dirs[p] != "":
			// A nested mount is the inner volume's (and a file in its
			// place no volume's).
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		case d.IsDir():
			return nil
		case p == rel, !d.Type().IsRegular():
			// A file in place of the mount directory, symlinks, sockets,
			// fifos: nothing a volume holds here.
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, rel+"/")
		if info.Size() > MaxMountedFileSize || len(files) >= MaxMountedFiles {
			s.logf("sshd: /%s: %s dropped: a volume holds at most %d files of %d bytes", rel, name, MaxMountedFiles, MaxMountedFileSize)
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		files[name] = string(data)
		return nil
	})
	return files, err
}

// removeMounts takes the volumes' files away from the scratch directory:
// between commands they live on the volume only, so a volume that moved to
// another container leaves nothing behind. The caller holds m.mu.
func (s *Server) removeMounts(m *ctMounts, dir string) {
	if root, err := os.OpenRoot(dir); err == nil {
		for rel := range m.dirs {
			_ = root.RemoveAll(rel)
		}
		_ = root.Close()
	}
	m.dirs, m.hidden = nil, nil
}
