package pvesim

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"net/url"
	"strings"
)

// The simulated nodes have no internet. What they can fetch is configured
// here: files by URL (download-url, the aplinfo download), the appliance
// index that `pveam update` would have stored, and the images of the OCI
// registries skopeo would reach.

// DownloadSource is one file a node can fetch by URL.
type DownloadSource struct {
	URL string `json:"url"`
	// Content is the file; its checksums are computed from it.
	Content []byte `json:"content,omitempty"`
	// Size is the size the stored volume reports; default len(Content).
	Size uint64 `json:"size,omitempty"`
	// Checksums by algorithm (md5, sha1, sha224, sha256, sha384, sha512)
	// describe a file given without Content.
	Checksums map[string]string `json:"checksums,omitempty"`
	// SelfSigned makes the server's certificate fail verification, so a
	// download needs verify-certificates=0.
	SelfSigned bool `json:"selfSigned,omitempty"`
}

// ApplianceSpec is one entry of the aplinfo index, with the fields PVE's
// APLInfo parser keeps from an aplinfo.dat record (keys lower-cased).
type ApplianceSpec struct {
	Template     string `json:"template"`
	Package      string `json:"package"`
	Version      string `json:"version"`
	Type         string `json:"type"`
	OS           string `json:"os"`
	Section      string `json:"section"`
	Architecture string `json:"architecture,omitempty"`
	Headline     string `json:"headline,omitempty"`
	Description  string `json:"description,omitempty"`
	Maintainer   string `json:"maintainer,omitempty"`
	Infopage     string `json:"infopage"`
	ManageURL    string `json:"manageurl,omitempty"`
	// Location is the URL apl_download fetches; it must be in Downloads.
	Location string `json:"location"`
	Source   string `json:"source"`
	// SHA512Sum defaults to the checksum of the Downloads entry at Location.
	SHA512Sum string `json:"sha512sum,omitempty"`
	MD5Sum    string `json:"md5sum,omitempty"`
}

// OCIImageSpec is one repository of the simulated registries. Every tag
// carries the same image config (see oci_images.go); MoveOCITag gives a tag
// a new revision with a new config digest.
type OCIImageSpec struct {
	// Repository is fully qualified, "docker.io/library/alpine".
	Repository string   `json:"repository"`
	Tags       []string `json:"tags"`
	// Size is the size of a pulled OCI archive; default 8 MiB.
	Size uint64 `json:"size,omitempty"`
	OCIImageConfig

	// moves counts MoveOCITag calls per tag; it is the server's state, not
	// configuration, and only read or written under s.mu.
	moves map[string]int
}

const (
	aplSourceProxmox  = "http://download.proxmox.com/images"
	aplSourceTurnkey  = "https://releases.turnkeylinux.org/pve"
	defaultOCIArchive = 8 * mib
)

// DefaultAppliances is a small aplinfo index: the two templates the dev
// setup seeds (so a download of them finds the file already there) and one
// TurnKey appliance that is not seeded.
func DefaultAppliances() []ApplianceSpec {
	return []ApplianceSpec{
		proxmoxSystemAppliance("debian-12-standard", "12.7-1", "debian-12", ".tar.zst",
			"Debian 12 Bookworm (standard)", "Debian 12 base system for containers."),
		proxmoxSystemAppliance("alpine-3.20-default", "20240908", "alpine", ".tar.xz",
			"Alpine Linux 3.20", "Alpine Linux 3.20 base system for containers."),
		{
			Template: "debian-12-turnkey-nginx-php-fastcgi_18.0-1_amd64.tar.gz", Package: "turnkey-nginx-php-fastcgi",
			Version: "18.0-1", Type: "lxc", OS: "debian-12", Section: "turnkeylinux", Architecture: "amd64",
			Headline: "TurnKey Nginx PHP FastCGI", Description: "A web server stack appliance.",
			Maintainer: "TurnKey Linux",
			Infopage:   "https://www.turnkeylinux.org/nginx-php-fastcgi",
			ManageURL:  "https://__IPADDRESS__/",
			Location:   aplSourceTurnkey + "/debian-12-turnkey-nginx-php-fastcgi_18.0-1_amd64.tar.gz", Source: aplSourceTurnkey,
		},
	}
}

// proxmoxSystemAppliance is an amd64 template of the Proxmox repository's
// "system" section, which all share a maintainer, an info page and a
// location scheme: <source>/system/<package>_<version>_amd64<ext>.
func proxmoxSystemAppliance(pkg, version, os, ext, headline, description string) ApplianceSpec {
	template := pkg + "_" + version + "_amd64" + ext
	return ApplianceSpec{
		Template: template, Package: pkg, Version: version,
		Type: "lxc", OS: os, Section: "system", Architecture: "amd64",
		Headline: headline, Description: description,
		Maintainer: "Proxmox Support Team <support@proxmox.com>",
		Infopage:   "https://pve.proxmox.com/wiki/Linux_Container#pct_supported_distributions",
		Location:   aplSourceProxmox + "/system/" + template, Source: aplSourceProxmox,
	}
}

// DefaultDownloads holds the files of DefaultAppliances (their sizes are
// those of the seeded templates) and one ISO.
func DefaultDownloads() []DownloadSource {
	var out []DownloadSource
	for _, a := range DefaultAppliances() {
		out = append(out, DownloadSource{URL: a.Location, Content: simulatedFile(a.Location), Size: templateSize(a.Template)})
	}
	iso := "https://cdimage.debian.org/debian-cd/current/amd64/iso-cd/debian-12.8.0-amd64-netinst.iso"
	return append(out, DownloadSource{URL: iso, Content: simulatedFile(iso), Size: 662 * mib})
}

// DefaultOCIImages are three Docker Hub repositories with the configs their
// images carry: alpine (a shell as Cmd), nginx (Debian-based, an entrypoint
// script, an nginx account in /etc/passwd and SIGQUIT to stop) and busybox
// (no os-release, so PVE manages nothing inside it). Image configs set no
// User. Every tag shares its repository's config, so NGINX_VERSION is that
// of 1.27 for "stable" and "latest" too.
func DefaultOCIImages() []OCIImageSpec {
	return []OCIImageSpec{
		{Repository: "docker.io/library/alpine", Tags: []string{"3.20", "3.21", "latest"}, Size: 8 * mib, OCIImageConfig: OCIImageConfig{
			Cmd: []string{"/bin/sh"}, Env: []string{"PATH=" + ociDefaultPath}, WorkingDir: "/", OSType: "alpine",
			Passwd: []string{"root:x:0:0:root:/root:/bin/sh", "nobody:x:65534:65534:nobody:/:/sbin/nologin"},
			Group:  []string{"root:x:0:root", "wheel:x:10:root", "nogroup:x:65533:"},
		}},
		{Repository: "docker.io/library/nginx", Tags: []string{"1.27", "stable", "latest"}, Size: 70 * mib, OCIImageConfig: OCIImageConfig{
			Entrypoint: []string{"/docker-entrypoint.sh"}, Cmd: []string{"nginx", "-g", "daemon off;"},
			Env: []string{
				"PATH=" + ociDefaultPath, "NGINX_VERSION=1.27.5", "NJS_VERSION=0.8.10", "NJS_RELEASE=1~bookworm",
				"PKG_RELEASE=1~bookworm", "DYNPKG_RELEASE=1~bookworm",
			},
			StopSignal: "SIGQUIT", OSType: "debian",
			Passwd: []string{"root:x:0:0:root:/root:/bin/bash", "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin", "nginx:x:101:101:nginx user:/nonexistent:/bin/false"},
			Group:  []string{"root:x:0:", "nogroup:x:65534:", "nginx:x:101:"},
		}},
		{Repository: "docker.io/library/busybox", Tags: []string{"1.36", "1.37", "latest"}, Size: 4 * mib, OCIImageConfig: OCIImageConfig{
			Cmd: []string{"sh"}, Env: []string{"PATH=" + ociDefaultPath}, OSType: "unmanaged",
			Passwd: []string{"root:x:0:0:root:/root:/bin/sh", "www-data:x:33:33:www-data:/var/www:/bin/false", "nobody:x:65534:65534:nobody:/home:/bin/false"},
			Group:  []string{"root:x:0:", "www-data:x:33:", "nogroup:x:65534:"},
		}},
	}
}

// ociDefaultPath is the PATH Docker's official images set.
const ociDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// simulatedFile stands in for a file's bytes: what matters is that its
// checksums are stable.
func simulatedFile(u string) []byte { return []byte("pvesim simulated file " + u + "\n") }

// catalogueDefaults fills the catalogues and each appliance's checksum.
func (o *Options) catalogueDefaults() {
	if o.Downloads == nil {
		o.Downloads = DefaultDownloads()
	}
	if o.Appliances == nil {
		o.Appliances = DefaultAppliances()
	} else {
		// The checksums are filled in below: never in the caller's slice.
		o.Appliances = append([]ApplianceSpec(nil), o.Appliances...)
	}
	if o.OCIImages == nil {
		o.OCIImages = DefaultOCIImages()
	} else {
		// MoveOCITag records its moves here: never in the caller's slice.
		o.OCIImages = append([]OCIImageSpec(nil), o.OCIImages...)
		for i := range o.OCIImages {
			o.OCIImages[i].moves = nil
		}
	}
	for i, a := range o.Appliances {
		if a.SHA512Sum != "" || a.MD5Sum != "" {
			continue
		}
		if src := findDownload(o.Downloads, a.Location); src != nil {
			o.Appliances[i].SHA512Sum = src.checksum("sha512")
		}
	}
}

func findDownload(list []DownloadSource, u string) *DownloadSource {
	for i := range list {
		if list[i].URL == u {
			return &list[i]
		}
	}
	return nil
}

// knownHost reports whether any file is served from host: a URL on a known
// host that is not in the catalogue answers 404, one on an unknown host
// does not resolve.
func knownHost(list []DownloadSource, host string) bool {
	for _, d := range list {
		if u, err := url.Parse(d.URL); err == nil && u.Hostname() == host {
			return true
		}
	}
	return false
}

func (d *DownloadSource) size() uint64 {
	if d.Size > 0 {
		return d.Size
	}
	return uint64(len(d.Content))
}

// checksum is PVE::Tools::get_file_hash of the file: lower-case hex.
func (d *DownloadSource) checksum(algo string) string {
	if d.Content == nil {
		return strings.ToLower(d.Checksums[algo])
	}
	return hexDigest(algo, d.Content)
}

func hexDigest(algo string, b []byte) string {
	var h hash.Hash
	switch algo {
	// md5 and sha1 are weak, but they are among the algorithms PVE accepts.
	case "md5":
		h = md5.New() //nolint:gosec
	case "sha1":
		h = sha1.New() //nolint:gosec
	case "sha224":
		h = sha256.New224()
	case "sha256":
		h = sha256.New()
	case "sha384":
		h = sha512.New384()
	default:
		h = sha512.New()
	}
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// ociRepo finds a repository by a reference as skopeo's docker transport
// reads it: a first component without a dot or port (and not "localhost")
// is a Docker Hub name, and a single component lives under "library/".
func (s *Server) ociRepo(repo string) (*OCIImageSpec, string) {
	full := normalizeOCIRepo(repo)
	for i := range s.opts.OCIImages {
		if s.opts.OCIImages[i].Repository == full {
			return &s.opts.OCIImages[i], full
		}
	}
	return nil, full
}

func normalizeOCIRepo(repo string) string {
	first, rest, found := strings.Cut(repo, "/")
	if found && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return repo
	}
	if !found {
		return "docker.io/library/" + repo
	}
	return "docker.io/" + first + "/" + rest
}

// ociHostKnown reports whether a registry host has any repository.
func (s *Server) ociHostKnown(full string) bool {
	host, _, _ := strings.Cut(full, "/")
	for _, img := range s.opts.OCIImages {
		if strings.HasPrefix(img.Repository, host+"/") {
			return true
		}
	}
	return false
}

// archiveSize is the size of a pulled archive.
func (img *OCIImageSpec) archiveSize() uint64 {
	if img.Size > 0 {
		return img.Size
	}
	return defaultOCIArchive
}

// ociDigest is a stable stand-in for a blob or config digest (see
// OCIImageSpec.digest for how a moved tag changes it).
func ociDigest(parts ...string) string {
	return fmt.Sprintf("sha256:%s", hexDigest("sha256", []byte(strings.Join(parts, "\x00"))))
}
