package pvesim

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
)

// TaskDownload is the worker type of download-url and of the aplinfo
// download (pve-storage API2/Storage/Status.pm download_url, pve-manager
// API2/Nodes.pm apl_download).
const TaskDownload = "download"

// addDownloadRoutes: POST /nodes/{node}/storage/{storage}/download-url.
func addDownloadRoutes(rt *router) {
	rt.add("POST", "/nodes/{node}/storage/{storage}/download-url", nil, downloadURLPerm, hDownloadURL)
}

// downloadURLPerm is download_url's check: Datastore.AllocateTemplate on the
// storage, and either both Sys.Audit and Sys.Modify on / or
// Sys.AccessNetwork on the node. A failed "or" names no path.
func downloadURLPerm(s *Server, rq *request) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.checkPerm(rq.auth, "/storage/"+rq.path["storage"], "Datastore.AllocateTemplate"); e != nil {
		return e
	}
	if s.checkAllPrivs(rq.auth, "/", "Sys.Audit", "Sys.Modify") == nil ||
		s.hasPriv(rq.auth, "/nodes/"+rq.path["node"], "Sys.AccessNetwork") {
		return nil
	}
	return &apiError{status: 403, msg: "Permission check failed"}
}

// checkAllPrivs is RPCEnvironment::check: every privilege is needed, and
// the first one missing is named. The caller holds s.mu.
func (s *Server) checkAllPrivs(p *principal, path string, privs ...string) *apiError {
	for _, pr := range privs {
		if !s.hasPriv(p, path, pr) {
			return permErr(path + ", " + pr)
		}
	}
	return nil
}

func hDownloadURL(s *Server, rq *request) (any, *apiError) {
	p := rq.params
	s.mu.Lock()
	defer s.mu.Unlock()
	node, content := rq.node(), p["content"]
	st, e := s.storageCheckEnabled(node, p["storage"])
	if e == nil {
		e = checkFileStorage(st.def)
	}
	if e != nil {
		return nil, e
	}
	if !st.def.content[content] {
		return nil, errf("storage '%s' is not configured for content-type '%s'", st.def.spec.ID, content)
	}
	name := normalizeContentFilename(p["filename"])
	format, e := uploadFormat(content, name)
	if e != nil {
		return nil, e
	}
	j := &fetchJob{
		s: s, st: st, content: content, format: format, name: name, url: p["url"],
		algo: p["checksum-algorithm"], want: p["checksum"], hashRequired: p["checksum"] != "",
		verifyCerts: p["verify-certificates"] != "0", compression: p["compression"],
	}
	t := s.newTask(node, TaskDownload, encodeText(name), rq.authID())
	s.runTask(t, j.run)
	return t.upid, nil
}

// storageCheckEnabled is PVE::Storage::storage_check_enabled. The caller
// holds s.mu.
func (s *Server) storageCheckEnabled(node, id string) (*storeInst, *apiError) {
	def := s.storageByID[id]
	switch {
	case def == nil:
		return nil, errf("storage '%s' does not exist", id)
	case def.spec.Disabled:
		return nil, errf("storage '%s' is disabled", id)
	case !def.availableOn(node):
		return nil, errf("storage '%s' is not available on node '%s'", id, node)
	}
	return s.storeFor(id, node), nil
}

// checkFileStorage: the upload endpoints write files, so the storage needs
// a path.
func checkFileStorage(def *storageDef) *apiError {
	if storageDir(def) == "" {
		return errf("can't upload to storage type '%s', not a file based storage!", def.spec.Type)
	}
	return nil
}

// storageDir is the storage's path: configured for dir, /mnt/pve/<id> for
// the network file systems PVE mounts itself, none for block storages.
func storageDir(def *storageDef) string {
	if def.spec.Path != "" {
		return def.spec.Path
	}
	switch def.spec.Type {
	case "nfs", "cifs", "cephfs", "glusterfs":
		return "/mnt/pve/" + def.spec.ID
	}
	return ""
}

// contentDir is the subdirectory of a content type (Plugin.pm's
// vtype_subdirs).
func contentDir(def *storageDef, content string) string {
	sub := map[string]string{"vztmpl": "template/cache", "iso": "template/iso", "import": "import"}[content]
	return storageDir(def) + "/" + sub
}

// normalizeContentFilename is PVE::Storage::normalize_content_filename:
// the trailing newline and everything up to the last (back)slash go, and
// every character outside [a-zA-Z0-9_.-] becomes "_".
func normalizeContentFilename(name string) string {
	name = strings.TrimSuffix(name, "\n")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	return reUnsafeFileChar.ReplaceAllString(name, "_")
}

var (
	reUnsafeFileChar = regexp.MustCompile(`[^a-zA-Z0-9_.-]`)
	// The extension rules of PVE::Storage: $ISO_EXT_RE_0 and
	// $VZTMPL_EXT_RE_1 ignore case, $UPLOAD_IMPORT_EXT_RE_1 does not.
	reISOFile    = regexp.MustCompile(`(?i)^[^/]+\.(?:iso|img)$`)
	reVztmplFile = regexp.MustCompile(`(?i)^[^/]+\.tar(?:\.(gz|xz|zst|bz2))?$`)
	reImportFile = regexp.MustCompile(`^[a-zA-Z0-9\-.+=_]+\.(ova|qcow2|raw|vmdk)$`)
)

// uploadFormat checks a filename against its content type like
// download_url and returns the format the content listing will show
// (Plugin.pm get_subdir_files: "tar" or "t<compression>", "iso", the
// import extension).
func uploadFormat(content, name string) (string, *apiError) {
	switch content {
	case "iso":
		if reISOFile.MatchString(name) {
			return "iso", nil
		}
	case "vztmpl":
		if m := reVztmplFile.FindStringSubmatch(name); m != nil {
			return vztmplFormat(m[1]), nil
		}
	case "import":
		if m := reImportFile.FindStringSubmatch(name); m != nil {
			return m[1], nil
		}
		return "", paramErr1("filename", "invalid filename or wrong extension")
	default:
		return "", paramErr1("content", fmt.Sprintf("upload content-type '%s' is not allowed", content))
	}
	return "", paramErr1("filename", "wrong file extension")
}

func vztmplFormat(compression string) string {
	if compression == "" {
		return "tar"
	}
	return "t" + strings.ToLower(compression)
}

// encodeText is PVE::Tools::encode_text, which download_url applies to the
// file name to make it a task id: control and non-ASCII bytes, ':' and '%'
// are percent-encoded.
func encodeText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == ':' || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// fetchJob is PVE::Tools::download_file_from_url against the download
// catalogue: the one worker behind download-url and the aplinfo download.
type fetchJob struct {
	s       *Server
	st      *storeInst
	content string
	format  string
	name    string // file name in the content directory
	url     string
	// algo and want are the expected checksum; hashRequired fails the task
	// when none is given (apl_download always requires one).
	algo, want   string
	hashRequired bool
	verifyCerts  bool
	// compression decompresses the download (download-url, ISO only).
	compression string
	// size is the stored volume's size when the source does not say.
	size uint64
}

func (j *fetchJob) volid() string { return j.st.def.spec.ID + ":" + j.content + "/" + j.name }

func (j *fetchJob) dest() string { return contentDir(j.st.def, j.content) + "/" + j.name }

func (j *fetchJob) run(tr *taskRun) error {
	decompress, err := j.decompressor()
	if err != nil {
		return err
	}
	if j.hashRequired && j.algo == "" {
		return errors.New("checksum required but not specified")
	}
	dest := j.dest()
	tr.log("downloading %s to %s", j.url, dest)
	if done, err := j.checkExisting(tr, dest); done || err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.tmp_dwnl.%d", dest, tr.t.pid)
	src, err := j.wget(tr, tmp)
	if err != nil {
		return err
	}
	if err := j.verify(tr, src); err != nil {
		return err
	}
	if decompress {
		tr.log("decompressing %s to %s", tmp, fmt.Sprintf("%s.tmp_dcom.%d", dest, tr.t.pid))
	}
	tr.locked(func() { j.store(tr, src) })
	tr.log("download of '%s' to '%s' finished", j.url, dest)
	return nil
}

// decompressor is download_url's worker prologue: only ISOs are
// decompressed, with the compressions decompressor_info knows. PVE 9.1
// declares the compression enum from a variable that does not exist, so
// the schema carries enum null and any string passes validation: this is
// where an unknown compression is refused.
func (j *fetchJob) decompressor() (bool, error) {
	if j.compression == "" {
		return false, nil
	}
	if j.content != "iso" {
		return false, fmt.Errorf("decompression not supported for %s", j.content)
	}
	switch j.compression {
	case "gz", "lzo", "zst", "bz2":
		return true, nil
	}
	return false, errors.New("no decompression method found")
}

// checkExisting handles a file that is already there: with a checksum, a
// matching file ends the task successfully and another one fails it;
// without, the download refuses to overwrite.
func (j *fetchJob) checkExisting(tr *taskRun, dest string) (bool, error) {
	var existing *volume
	tr.locked(func() { existing = j.st.byID[j.volid()] })
	if existing == nil {
		return false, nil
	}
	if j.algo == "" {
		return false, fmt.Errorf("refusing to override existing file '%s'", dest)
	}
	got := j.s.fileChecksum(existing, j.algo)
	if strings.EqualFold(got, j.want) {
		tr.log("calculating checksum of existing file...OK, got correct file already, no need to download")
		return true, nil
	}
	tr.log("calculating checksum of existing file...")
	return false, fmt.Errorf("checksum mismatch: got '%s' != expect '%s', aborting", got, strings.ToLower(j.want))
}

// fileChecksum is what an existing file hashes to: the source it was
// downloaded from, else the catalogue file of the same name (seeded
// templates stand for earlier pveam downloads), else bytes nobody knows.
func (s *Server) fileChecksum(v *volume, algo string) string {
	if src := findDownload(s.opts.Downloads, v.origin); src != nil {
		return src.checksum(algo)
	}
	name := v.volName()
	name = name[strings.LastIndexByte(name, '/')+1:]
	for i := range s.opts.Downloads {
		if strings.HasSuffix(s.opts.Downloads[i].URL, "/"+name) {
			return s.opts.Downloads[i].checksum(algo)
		}
	}
	return hexDigest(algo, []byte(v.volid))
}

// verify is the checksum step after the download.
func (j *fetchJob) verify(tr *taskRun, src *DownloadSource) error {
	if j.algo == "" {
		return nil
	}
	got := src.checksum(j.algo)
	if strings.EqualFold(got, j.want) {
		tr.log("calculating checksum...OK, checksum verified")
		return nil
	}
	// PVE ends the line first: the GUI expects the error alone on the last.
	tr.log("calculating checksum...")
	return fmt.Errorf("checksum mismatch: got '%s' != expect '%s'", got, strings.ToLower(j.want))
}

// store renames the download into place, over a file a concurrent
// download may have left. The caller holds s.mu.
func (j *fetchJob) store(tr *taskRun, src *DownloadSource) {
	if tr.ghost {
		return
	}
	size := j.storedSize(src)
	volid := j.volid()
	if old := j.st.byID[volid]; old != nil {
		j.st.remove(volid)
	}
	j.st.add(&volume{
		volid: volid, content: j.content, format: j.format, size: size,
		ctime: j.s.now().Unix(), origin: src.URL,
	})
}

// wget runs the download: wget's messages go to the task log (run_command
// with errmsg logs each stderr line but the last, which becomes the error
// "download failed: <line>"). The messages are wget's own in the C locale.
func (j *fetchJob) wget(tr *taskRun, tmp string) (*DownloadSource, error) {
	u, err := url.Parse(j.url)
	if err != nil || u.Hostname() == "" {
		return nil, pveTextf("download failed: %s: Invalid host name.", j.url)
	}
	host := u.Hostname()
	stamp := func() string { return j.s.now().In(j.s.opts.Location).Format("2006-01-02 15:04:05") }
	tr.log("--%s--  %s", stamp(), j.url)
	s := j.s
	src := findDownload(s.opts.Downloads, j.url)
	if src == nil && !knownHost(s.opts.Downloads, host) {
		tr.log("Resolving %s (%s)... failed: Name or service not known.", host, host)
		return nil, fmt.Errorf("download failed: wget: unable to resolve host address '%s'", host)
	}
	ip := simulatedIP(host)
	tr.log("Resolving %s (%s)... %s", host, host, ip)
	tr.log("Connecting to %s (%s)|%s|:%s... connected.", host, host, ip, urlPort(u))
	if err := j.checkCertificate(tr, u, src); err != nil {
		return nil, err
	}
	if src == nil {
		tr.log("HTTP request sent, awaiting response... 404 Not Found")
		return nil, pveTextf("download failed: %s ERROR 404: Not Found.", stamp())
	}
	tr.log("HTTP request sent, awaiting response... 200 OK")
	tr.log("Length: %d (%s) [application/octet-stream]", src.size(), wgetSize(src.size()))
	tr.log("Saving to: '%s'", tmp)
	if err := tr.work(); err != nil {
		return nil, err
	}
	var full bool
	tr.locked(func() { full = j.st.avail() < j.storedSize(src) })
	if full {
		return nil, pveTextf("download failed: Cannot write to '%s' (No space left on device).", tmp)
	}
	tr.log("%s (105 MB/s) - '%s' saved [%d/%d]", stamp(), tmp, src.size(), src.size())
	return src, nil
}

// storedSize is the size of the stored file: the source's, else the
// caller's estimate.
func (j *fetchJob) storedSize(src *DownloadSource) uint64 {
	if n := src.size(); n > 0 {
		return n
	}
	return j.size
}

// checkCertificate fails an HTTPS download from a server whose certificate
// does not verify unless verify-certificates=0 (wget --no-check-certificate).
// With the check off, wget warns with "WARNING: …" lines that PVE does not
// count as task warnings; the simulator counts such lines, so they are left
// out.
func (j *fetchJob) checkCertificate(tr *taskRun, u *url.URL, src *DownloadSource) error {
	if u.Scheme != "https" || src == nil || !src.SelfSigned || !j.verifyCerts {
		return nil
	}
	host := u.Hostname()
	tr.log("ERROR: cannot verify %s's certificate, issued by 'CN=%s':", host, host)
	tr.log("  Self-signed certificate encountered.")
	return pveTextf("download failed: To connect to %s insecurely, use `--no-check-certificate'.", host)
}

// pveText is an error whose text is PVE's (or a tool's) verbatim, final
// punctuation and capitals included.
type pveText string

func (e pveText) Error() string { return string(e) }

func pveTextf(format string, args ...any) error { return pveText(fmt.Sprintf(format, args...)) }

// simulatedIP gives each host a stable address in TEST-NET-2.
func simulatedIP(host string) string {
	sum := hexDigest("sha256", []byte(host))
	return net.IPv4(198, 51, 100, byte(1+int(sum[0])%250)).String()
}

func urlPort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

// wgetSize is wget's human size: 1024-based, one decimal under 10.
func wgetSize(n uint64) string {
	units := []string{"", "K", "M", "G", "T"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d", n)
	}
	if f < 10 {
		return fmt.Sprintf("%.1f%s", f, units[i])
	}
	return fmt.Sprintf("%.0f%s", f, units[i])
}
