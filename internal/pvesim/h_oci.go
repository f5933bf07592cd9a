package pvesim

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// TaskOCIRegistryPull is the worker type of oci-registry-pull (pve-storage
// API2/Storage/Status.pm oci_registry_pull).
const TaskOCIRegistryPull = "ociregistrypull"

// addOCIRoutes: the skopeo-backed endpoints, served from OCIImages.
func addOCIRoutes(rt *router) {
	rt.add("GET", "/nodes/{node}/query-oci-repo-tags", nil, nodePerm("Sys.AccessNetwork"), hQueryOCIRepoTags)
	rt.add("POST", "/nodes/{node}/storage/{storage}/oci-registry-pull", nil, ociPullPerm, hOCIRegistryPull)
}

// hQueryOCIRepoTags is query_oci_repo_tags: `skopeo list-tags` answers the
// repository's tags; for a repository it cannot list, run_command's error
// is all the caller gets (skopeo's own words go to the daemon's stderr).
func hQueryOCIRepoTags(s *Server, rq *request) (any, *apiError) {
	ref := rq.params["reference"]
	img, _ := s.ociRepo(ref)
	if img == nil {
		return nil, errf("command 'skopeo list-tags docker://%s' failed: exit code 1", ref)
	}
	return append([]string{}, img.Tags...), nil
}

// ociPullPerm: Datastore.AllocateTemplate on the storage and
// Sys.AccessNetwork on the node.
func ociPullPerm(s *Server, rq *request) *apiError {
	if e := storagePerm("Datastore.AllocateTemplate")(s, rq); e != nil {
		return e
	}
	return nodePerm("Sys.AccessNetwork")(s, rq)
}

// hOCIRegistryPull checks the storage and the target file synchronously,
// then forks the skopeo copy into an OCI archive, a vztmpl volume
// "<name>.tar".
func hOCIRegistryPull(s *Server, rq *request) (any, *apiError) {
	p := rq.params
	s.mu.Lock()
	defer s.mu.Unlock()
	st, e := s.storageCheckEnabled(rq.node(), p["storage"])
	if e == nil {
		e = checkFileStorage(st.def)
	}
	if e != nil {
		return nil, e
	}
	if !st.def.content["vztmpl"] {
		return nil, errf("storage '%s' is not configured for content-type 'vztmpl'", st.def.spec.ID)
	}
	name, ok := p["filename"]
	if !ok {
		name = p["reference"]
	}
	name = normalizeContentFilename(name) + ".tar"
	j := &ociPullJob{s: s, st: st, ref: p["reference"], name: name}
	if st.byID[j.volid()] != nil {
		return nil, errf("refusing to override existing file '%s'", name)
	}
	t := s.newTask(rq.node(), TaskOCIRegistryPull, encodeText(name), rq.authID())
	j.tmp = fmt.Sprintf("%s.tmp.%d", name, t.pid)
	s.runTask(t, j.run)
	return t.upid, nil
}

// ociPullJob is one oci-registry-pull worker.
type ociPullJob struct {
	s    *Server
	st   *storeInst
	ref  string
	name string
	tmp  string
	// image is what the archive will hold, once the manifest is read.
	image *ociArchive
}

func (j *ociPullJob) volid() string { return j.st.def.spec.ID + ":vztmpl/" + j.name }

// run is `skopeo copy docker://<ref> oci-archive:<dir>/<tmp>` and the
// rename. skopeo's messages go to the task log; a failure is run_command's
// "command '…' failed: exit code 1".
func (j *ociPullJob) run(tr *taskRun) error {
	dir := contentDir(j.st.def, "vztmpl")
	cmd := fmt.Sprintf("skopeo copy docker://%s oci-archive:%s/%s", j.ref, dir, j.tmp)
	img, tag, msg := j.resolve()
	if msg != "" {
		tr.log(`time="%s" level=fatal msg="initializing source docker://%s: %s"`,
			j.s.now().In(j.s.opts.Location).Format(time.RFC3339), j.ref, msg)
		return fmt.Errorf("command '%s' failed: exit code 1", cmd)
	}
	// skopeo reads the manifest once, at the start: a tag moved during
	// the copy does not change what this pull stores.
	var layer string
	tr.locked(func() {
		layer = img.digest(tag, "layer")
		j.image = &ociArchive{repository: img.Repository, tag: tag, digest: img.digest(tag, "config"), config: cloneOCIConfig(img.OCIImageConfig)}
	})
	tr.log("Getting image source signatures")
	tr.log("Copying blob %s", layer)
	if err := tr.work(); err != nil {
		return err
	}
	var full bool
	tr.locked(func() { full = j.st.avail() < img.archiveSize() })
	if full {
		// skopeo's wording for a full disk is shortened here (approx.).
		tr.log(`time="%s" level=fatal msg="writing blob: no space left on device"`, j.s.now().In(j.s.opts.Location).Format(time.RFC3339))
		return fmt.Errorf("command '%s' failed: exit code 1", cmd)
	}
	tr.log("Copying config %s", j.image.digest)
	tr.log("Writing manifest to image destination")
	tr.locked(func() { j.store(tr, img.archiveSize()) })
	return nil
}

// resolve finds the image and tag, or skopeo's reason it cannot: an
// unknown registry does not resolve, Docker Hub denies an unknown
// repository, and an unknown tag has no manifest.
func (j *ociPullJob) resolve() (*OCIImageSpec, string, string) {
	i := strings.LastIndexByte(j.ref, ':')
	repo, tag := j.ref[:i], j.ref[i+1:]
	img, full := j.s.ociRepo(repo)
	if img == nil && !j.s.ociHostKnown(full) {
		host, _, _ := strings.Cut(full, "/")
		return nil, "", fmt.Sprintf(`pinging container registry %s: Get \"https://%s/v2/\": dial tcp: lookup %s: no such host`, host, host, host)
	}
	if img == nil {
		return nil, "", fmt.Sprintf("reading manifest %s in %s: requested access to the resource is denied", tag, full)
	}
	if !slices.Contains(img.Tags, tag) {
		return nil, "", fmt.Sprintf("reading manifest %s in %s: manifest unknown", tag, full)
	}
	return img, tag, ""
}

// store renames the archive into place, over a file a concurrent pull may
// have left. The caller holds s.mu.
func (j *ociPullJob) store(tr *taskRun, size uint64) {
	if tr.ghost {
		return
	}
	if j.st.byID[j.volid()] != nil {
		j.st.remove(j.volid())
	}
	j.st.add(&volume{volid: j.volid(), content: "vztmpl", format: "tar", size: size, ctime: j.s.now().Unix(), oci: j.image})
}
