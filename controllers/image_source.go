package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// An image source is what a StagedImage puts on a storage. The operator
// names the file itself, from the whole source, so that two registries'
// "alpine:3.20" never meet in one file; PVE would name both alpine_3.20.tar.

// ociRef is an OCI reference as skopeo's docker transport reads it.
type ociRef struct {
	// repository is fully qualified: docker.io/library/nginx.
	repository, tag, digest string
}

// parseOCIRef splits [registry/]repository:tag[@sha256:...]. A first
// component without a dot or a port (and not localhost) is a Docker Hub
// name; a single component lives under library/ (skopeo's rule, which
// PVE's pull inherits).
func parseOCIRef(ref string) ociRef {
	var r ociRef
	ref, r.digest, _ = strings.Cut(ref, "@")
	i := strings.LastIndexByte(ref, ':')
	repo := ref
	if i > strings.LastIndexByte(ref, '/') {
		repo, r.tag = ref[:i], ref[i+1:]
	}
	first, rest, found := strings.Cut(repo, "/")
	switch {
	case !found:
		repo = "docker.io/library/" + repo
	case !strings.ContainsAny(first, ".:") && first != "localhost":
		repo = "docker.io/" + first + "/" + rest
	}
	r.repository = repo
	return r
}

// pull is the reference as PVE's oci-registry-pull takes it: by tag only.
func (r ociRef) pull() string { return r.repository + ":" + r.tag }

var unsafeFileChar = regexp.MustCompile(`[^a-zA-Z0-9_.-]`)

// ociFilename is the archive's name without PVE's ".tar" suffix.
func (r ociRef) filename() string {
	return unsafeFileChar.ReplaceAllString(strings.ReplaceAll(r.repository, "/", "_")+"_"+r.tag, "_")
}

// stagedFile is the file name a source is stored under in vztmpl.
func stagedFile(src v1alpha1.StagedImageSource) string {
	switch {
	case src.OCI != "":
		return parseOCIRef(src.OCI).filename() + ".tar"
	case src.Appliance != "":
		return src.Appliance
	case src.Filename != "":
		return src.Filename
	case src.URL != nil:
		return unsafeFileChar.ReplaceAllString(path.Base(src.URL.URL), "_")
	}
	return ""
}

// stagedVolume is the volume ID of a source staged on storage.
func stagedVolume(storage string, src v1alpha1.StagedImageSource) string {
	return storage + ":vztmpl/" + stagedFile(src)
}

// stagedImageName is the name of the StagedImage the operator creates for
// a source on a host's storage: the same for every Application asking, so
// that concurrent asks meet in one object (the apiserver lets one create
// win) and the image is pulled once.
func stagedImageName(host, storage string, src v1alpha1.StagedImageSource) string {
	h := sha256.New()
	for _, part := range []string{host, storage, src.OCI, src.Appliance, stagedFile(src)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	if src.URL != nil {
		h.Write([]byte(src.URL.URL + "\x00" + src.URL.Checksum))
	}
	kind := "tmpl"
	if src.OCI != "" {
		kind = "oci"
	}
	return fmt.Sprintf("%s-%s-%s", kind, dnsLabelPart(host, 30), hex.EncodeToString(h.Sum(nil))[:12])
}

var nonLabelChars = regexp.MustCompile(`[^a-z0-9-]+`)

// dnsLabelPart shortens s to at most n characters of a DNS label.
func dnsLabelPart(s string, n int) string {
	s = strings.Trim(nonLabelChars.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if len(s) > n {
		s = strings.TrimRight(s[:n], "-")
	}
	return s
}

// sourceOf is what an Application needs staged, if anything: its image,
// or its template when that comes from a URL or, with the appliance
// grant, may come from the appliance index.
func sourceOf(app *v1alpha1.Application, t tenancy) (v1alpha1.StagedImageSource, string, bool) {
	if img := app.Spec.Image; img != nil {
		r := parseOCIRef(img.Reference)
		return v1alpha1.StagedImageSource{OCI: r.pull()}, img.Storage, true
	}
	if app.Spec.Template == "" {
		return v1alpha1.StagedImageSource{}, "", false
	}
	storage, file, _ := strings.Cut(app.Spec.Template, ":vztmpl/")
	if d := app.Spec.TemplateDownload; d != nil {
		return v1alpha1.StagedImageSource{URL: d, Filename: file}, storage, true
	}
	if t.imageGrant(func(g *v1alpha1.ImageGrant) bool { return g.Appliances && slices.Contains(g.Storages, storage) }) {
		return v1alpha1.StagedImageSource{Appliance: file}, storage, true
	}
	return v1alpha1.StagedImageSource{}, "", false
}

// imageGrant reports whether any of the namespace's image grants passes ok.
func (t tenancy) imageGrant(ok func(*v1alpha1.ImageGrant) bool) bool {
	for _, g := range t.grants {
		if g.Images != nil && ok(g.Images) {
			return true
		}
	}
	return false
}

// imageAllowed checks a source and its storage against the namespace's
// grants, before anything is asked of Proxmox.
func (t tenancy) imageAllowed(src v1alpha1.StagedImageSource, storage string) (outcome, bool) {
	var what, allows string
	var grants []string
	switch {
	case src.OCI != "":
		repo := parseOCIRef(src.OCI).repository
		what = "image " + src.OCI
		allows = "registries"
		if t.imageGrant(func(g *v1alpha1.ImageGrant) bool {
			return slices.Contains(g.Storages, storage) && slices.ContainsFunc(g.Registries, func(a string) bool { return registryWithin(repo, a) })
		}) {
			return outcome{}, true
		}
		grants = t.grantLists(func(g *v1alpha1.ImageGrant) []string { return g.Registries })
	case src.URL != nil:
		what = "template download " + src.URL.URL
		allows = "urls"
		if t.imageGrant(func(g *v1alpha1.ImageGrant) bool {
			return slices.Contains(g.Storages, storage) && slices.ContainsFunc(g.URLs, func(a string) bool { return strings.HasPrefix(src.URL.URL, a) })
		}) {
			return outcome{}, true
		}
		grants = t.grantLists(func(g *v1alpha1.ImageGrant) []string { return g.URLs })
	default:
		// Appliance staging is only ever chosen under its grant.
		return outcome{}, true
	}
	storages := t.grantLists(func(g *v1alpha1.ImageGrant) []string { return g.Storages })
	return stalled(v1alpha1.ReasonImageNotAllowed, fmt.Sprintf(
		"%s onto storage %q is not allowed for namespace %q by ProxmoxHost %q (spec.grants[].images.%s allows %s; storages %s); nothing was pulled",
		what, storage, t.namespace, t.host.Name, allows, listOrNone(grants), listOrNone(storages))), false
}

func (t tenancy) grantLists(list func(*v1alpha1.ImageGrant) []string) []string {
	var out []string
	for _, g := range t.grants {
		if g.Images != nil {
			out = append(out, list(g.Images)...)
		}
	}
	return out
}

// registryWithin reports whether a fully qualified repository is allowed
// by a: a registry host, or a repository prefix, compared by whole path
// components (docker.io/library allows docker.io/library/nginx, not
// docker.io/library2/x). An allowed entry is qualified like a reference.
func registryWithin(repo, a string) bool {
	if !strings.Contains(a, "/") && (strings.ContainsAny(a, ".:") || a == "localhost") {
		return repo == a || strings.HasPrefix(repo, a+"/")
	}
	q := parseOCIRef(a + ":x").repository
	return repo == q || strings.HasPrefix(repo, q+"/")
}
