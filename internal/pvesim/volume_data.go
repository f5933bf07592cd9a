package pvesim

import (
	"fmt"
	"io/fs"
	"maps"
	"path"
	"strings"

	"github.com/pve-operator/pve-operator/internal/pvesim/sshd"
)

// The simulator keeps no file systems, but a test needs to know whether a
// volume's data survived an operation (an image update handing volumes to
// a new container, say). So a volume holds a few small files, relative
// path → content, and nothing else: no modes, owners or empty directories.
// The files belong to the volume: they move with a volume move_volume
// hands to another container (target-vmid), are copied by a move to
// another storage, and are gone with a destroyed volume.
//
// A test writes them with SetVolumeFile, or a command the operator runs
// with `pct exec` over the node SSH daemon does. The container's "/" is
// its scratch directory, the cwd and HOME of every command, so a script
// addresses a file on a mount point by a path relative to it: for a volume
// mounted at /var/lib/app, `mkdir -p var/lib/app && echo hi >
// var/lib/app/marker` (or "$HOME/var/lib/app/marker") writes the volume's
// file "marker". While the container runs commands, the files of each data
// mount point (mpN backed by a storage volume; bind and device mounts are
// left alone) are laid out under its mount path, and what a command leaves
// there when it ends, deletions included, becomes the volume's files; see
// package sshd for the details.

var _ sshd.MountedVolumes = (*Server)(nil)

// SetVolumeFile writes content to the file name (relative, "/"-separated,
// e.g. "marker" or "var/log/app.log") on the volume volid, creating or
// replacing it.
func (s *Server) SetVolumeFile(volid, name, content string) error {
	name, err := volumeFileName(name)
	if err != nil {
		return err
	}
	if len(content) > sshd.MaxMountedFileSize {
		return fmt.Errorf("file %s: %d bytes, more than the %d a volume file may hold", name, len(content), sshd.MaxMountedFileSize)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.anyVolume(volid)
	if v == nil {
		return fmt.Errorf("volume %s does not exist", volid)
	}
	if _, exists := v.files[name]; !exists && len(v.files) >= sshd.MaxMountedFiles {
		return fmt.Errorf("volume %s already holds %d files", volid, len(v.files))
	}
	// A path cannot be both a file and a directory on a file system, and
	// the files are laid out on one when the volume is mounted.
	for other := range v.files {
		if strings.HasPrefix(other, name+"/") || strings.HasPrefix(name, other+"/") {
			return fmt.Errorf("file %s conflicts with %s on volume %s", name, other, volid)
		}
	}
	if v.files == nil {
		v.files = map[string]string{}
	}
	v.files[name] = content
	return nil
}

// VolumeFile is the content of the file name on volid: "" if there is no
// such file or volume.
func (s *Server) VolumeFile(volid, name string) string {
	name, err := volumeFileName(name)
	if err != nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.anyVolume(volid); v != nil {
		return v.files[name]
	}
	return ""
}

// VolumeFiles implements sshd.MountedVolumes: every file on volid.
func (s *Server) VolumeFiles(volid string) (map[string]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.anyVolume(volid)
	if v == nil {
		return nil, fmt.Errorf("volume %s does not exist", volid)
	}
	return maps.Clone(v.files), nil
}

// ReplaceVolumeFiles implements sshd.MountedVolumes: files become all that
// is on volid. A volume destroyed while the command ran is not recreated.
func (s *Server) ReplaceVolumeFiles(volid string, files map[string]string) error {
	clean := make(map[string]string, len(files))
	for name, content := range files {
		n, err := volumeFileName(name)
		if err != nil {
			return err
		}
		clean[n] = content
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.anyVolume(volid)
	if v == nil {
		return fmt.Errorf("volume %s does not exist", volid)
	}
	v.files = clean
	return nil
}

// ContainerMounts implements sshd.MountedVolumes: the data mount points of
// the container's current config, mount path → volume. Bind and device
// mounts (a host path) and a volume missing from its storage are left
// out; of two mount points on one path the later one, which PVE mounts on
// top, wins.
func (s *Server) ContainerMounts(vmid int) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ct := s.cts[vmid]
	if ct == nil {
		return nil
	}
	out := map[string]string{}
	for _, key := range diskKeys(ct.conf) {
		if key == "rootfs" {
			continue
		}
		ps, err := parseProp(ct.conf[key], mpFormatLoose)
		if err != nil || mountType(ps.def) != "volume" || ps.keys["mp"] == "" {
			continue
		}
		if _, v := s.volumeOf(ps.def, ct.node); v != nil {
			out[ps.keys["mp"]] = ps.def
		}
	}
	return out
}

// anyVolume finds volid on whichever storage (and node) holds it. The
// caller holds s.mu.
func (s *Server) anyVolume(volid string) *volume {
	for _, st := range s.stores {
		if v := st.byID[volid]; v != nil {
			return v
		}
	}
	return nil
}

// volumeFileName cleans a volume file's path, which must stay inside the
// volume.
func volumeFileName(name string) (string, error) {
	clean := path.Clean(name)
	if clean == "." || !fs.ValidPath(clean) {
		return "", fmt.Errorf("volume file %q: want a relative path inside the volume", name)
	}
	return clean, nil
}
