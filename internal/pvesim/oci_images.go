package pvesim

import (
	"fmt"
	"slices"
	"strconv"
)

// OCIImageConfig is what an image holds besides its layers' bytes: the
// fields of its config object (the OCI image spec's "config") that
// pve-container maps into a container, and the facts of its root file
// system that the create reads.
type OCIImageConfig struct {
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
	Env        []string `json:"env,omitempty"`
	User       string   `json:"user,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
	StopSignal string   `json:"stopSignal,omitempty"`
	// Volumes are the data-volume paths (the keys of the config's Volumes
	// object), in the order the create makes their directories.
	Volumes []string `json:"volumes,omitempty"`
	// OSType is what PVE's Setup detection finds in the rootfs: the
	// os-release ID ("alpine", "debian", an alias such as "rocky"), or
	// "unmanaged" for an image without /etc/os-release, where detection
	// falls back to unmanaged with a warning. An ID Setup has no plugin for
	// fails the create ("unable to detect OS distribution"): its fallback
	// file checks are not modelled. Empty: guessed from the repository name
	// as for a template (alpine, debian, ubuntu, …), else "unmanaged".
	OSType string `json:"osType,omitempty"`
	// Passwd and Group are the lines of the image's /etc/passwd and
	// /etc/group, read to resolve User; empty means root alone.
	Passwd []string `json:"passwd,omitempty"`
	Group  []string `json:"group,omitempty"`
}

// cloneOCIConfig is a deep copy.
func cloneOCIConfig(c OCIImageConfig) OCIImageConfig {
	out := c
	for _, f := range []*[]string{&out.Entrypoint, &out.Cmd, &out.Env, &out.Volumes, &out.Passwd, &out.Group} {
		*f = slices.Clone(*f)
	}
	return out
}

func (c *OCIImageConfig) passwdLines() []string {
	if len(c.Passwd) == 0 {
		return []string{"root:x:0:0:root:/root:/bin/sh"}
	}
	return c.Passwd
}

func (c *OCIImageConfig) groupLines() []string {
	if len(c.Group) == 0 {
		return []string{"root:x:0:"}
	}
	return c.Group
}

// ociArchive is what a pulled OCI archive holds: the image it was copied
// from, that image's config digest (the pull's "Copying config" line) and a
// copy of its config, so a later MoveOCITag or catalogue change leaves it as
// it was.
type ociArchive struct {
	repository string
	tag        string
	digest     string
	config     OCIImageConfig
}

// digest is the stand-in digest of a tag's config or layer blob. A tag
// never moved keeps the digest it always had; each move gives new ones.
// The caller holds s.mu.
func (img *OCIImageSpec) digest(tag, blob string) string {
	if n := img.moves[tag]; n > 0 {
		return ociDigest(img.Repository, tag, blob, strconv.Itoa(n))
	}
	return ociDigest(img.Repository, tag, blob)
}

// MoveOCITag makes a tag point at a new revision of its image, as a push
// to the registry does: a later pull of the tag copies a new config (and
// layer) digest, while archives pulled before keep theirs. The repository
// may be given as skopeo reads it ("alpine" is docker.io/library/alpine).
// It returns the tag's new config digest.
func (s *Server) MoveOCITag(repository, tag string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	img, full := s.ociRepo(repository)
	if img == nil {
		return "", fmt.Errorf("no OCI repository %s", full)
	}
	if !slices.Contains(img.Tags, tag) {
		return "", fmt.Errorf("OCI repository %s has no tag %q", full, tag)
	}
	if img.moves == nil {
		img.moves = map[string]int{}
	}
	img.moves[tag]++
	s.bumpVersion()
	return img.digest(tag, "config"), nil
}
