package pvesim

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	proxmox "github.com/luthermonson/go-proxmox"
)

const (
	testISOURL    = "https://cdimage.debian.org/debian-cd/current/amd64/iso-cd/debian-12.8.0-amd64-netinst.iso"
	selfSignedURL = "https://self.example/tools.iso"
	debianTmplURL = aplSourceProxmox + "/system/debian-12-standard_12.7-1_amd64.tar.zst"
)

// downloadSim has the default catalogue plus a server with a self-signed
// certificate, and a 1 MiB ISO storage.
func downloadSim(t *testing.T, mods ...func(*Options)) *Server {
	t.Helper()
	return newSim(t, append([]func(*Options){func(o *Options) {
		o.Downloads = append(DefaultDownloads(), DownloadSource{URL: selfSignedURL, Content: []byte("tools"), SelfSigned: true})
		o.Storages = append(DefaultStorages(),
			StorageSpec{ID: "tiny", Type: "dir", Content: []string{"iso"}, Total: mib, Path: "/mnt/tiny"},
			StorageSpec{ID: "imports", Type: "nfs", Content: []string{"import"}})
	}}, mods...)...)
}

// storedFormat is the format pve1's content list gives a volume, which
// must be listed.
func storedFormat(t *testing.T, srv *Server, storage, volid string) any {
	t.Helper()
	var items []map[string]any
	mustOK(t, raw(t, srv, "GET", "/nodes/pve1/storage/"+storage+"/content", "")).data(t, &items)
	for _, it := range items {
		if it["volid"] == volid {
			return it["format"]
		}
	}
	t.Fatalf("%s not listed: %v", volid, items)
	return nil
}

func TestDownloadURLStoresTheFileAsATask(t *testing.T) {
	t.Parallel()
	srv := downloadSim(t)
	iso := findDownload(DefaultDownloads(), testISOURL)
	tests := []struct {
		name, body, volid, format string
		log                       []string
	}{
		{
			name:  "an ISO from the catalogue is downloaded into the ISO directory",
			body:  form("content", "iso", "filename", "netinst.iso", "url", testISOURL),
			volid: "local:iso/netinst.iso", format: "iso",
			log: []string{
				"downloading " + testISOURL + " to /var/lib/vz/template/iso/netinst.iso",
				"download of '" + testISOURL + "' to '/var/lib/vz/template/iso/netinst.iso' finished",
			},
		},
		{
			name:  "a matching checksum is verified, whatever its case",
			body:  form("content", "iso", "filename", "sum.iso", "url", testISOURL, "checksum", strings.ToUpper(iso.checksum("sha256")), "checksum-algorithm", "sha256"),
			volid: "local:iso/sum.iso", format: "iso",
			log: []string{"calculating checksum...OK, checksum verified"},
		},
		{
			name:  "the file name is normalized and a template gets its compression as format",
			body:  form("content", "vztmpl", "filename", "dir/my tmpl:v1.tar.zst", "url", debianTmplURL),
			volid: "local:vztmpl/my_tmpl_v1.tar.zst", format: "tzst",
		},
		{
			name:  "an ISO is decompressed when asked",
			body:  form("content", "iso", "filename", "gz.iso", "url", testISOURL, "compression", "gz"),
			volid: "local:iso/gz.iso", format: "iso",
		},
		{
			name:  "a self-signed server is accepted without certificate verification",
			body:  form("content", "iso", "filename", "tools.iso", "url", selfSignedURL, "verify-certificates", "0"),
			volid: "local:iso/tools.iso", format: "iso",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := taskOf(t, srv, "POST", "/nodes/pve1/storage/local/download-url", tc.body)
			if v.ExitStatus != "OK" || v.Type != TaskDownload {
				t.Fatalf("task %s %q; log:\n%s", v.Type, v.ExitStatus, strings.Join(v.Log, "\n"))
			}
			for _, l := range tc.log {
				if !slices.Contains(v.Log, l) {
					t.Errorf("log lacks %q:\n%s", l, strings.Join(v.Log, "\n"))
				}
			}
			if got := storedFormat(t, srv, "local", tc.volid); got != tc.format {
				t.Fatalf("format %v, want %s", got, tc.format)
			}
		})
	}
	t.Run("a disk image goes to the import directory of a network storage", func(t *testing.T) {
		v := taskOf(t, srv, "POST", "/nodes/pve1/storage/imports/download-url", form("content", "import", "filename", "disk.qcow2", "url", testISOURL))
		if v.ExitStatus != "OK" || !slices.Contains(v.Log, "downloading "+testISOURL+" to /mnt/pve/imports/import/disk.qcow2") {
			t.Fatalf("%q:\n%s", v.ExitStatus, strings.Join(v.Log, "\n"))
		}
		r := mustOK(t, raw(t, srv, "GET", "/nodes/pve1/storage/imports/content", ""))
		if !strings.Contains(string(r.Body), `"format":"qcow2"`) || !strings.Contains(string(r.Body), `"volid":"imports:import/disk.qcow2"`) {
			t.Fatalf("%s", r.Body)
		}
	})
	t.Run("the task id is the file name and the volume is on that node only", func(t *testing.T) {
		if v := srv.Tasks(TaskDownload, "netinst.iso"); len(v) != 1 {
			t.Fatalf("tasks %v", v)
		}
		r := mustOK(t, raw(t, srv, "GET", "/nodes/pve2/storage/local/content?content=iso", ""))
		if strings.Contains(string(r.Body), "netinst.iso") {
			t.Fatalf("pve2 has it: %s", r.Body)
		}
	})
}

func TestDownloadURLRefusals(t *testing.T) {
	t.Parallel()
	srv := downloadSim(t)
	tests := []struct {
		name, storage, body, status, errors string
	}{
		{"an ISO needs .iso or .img", "local", form("content", "iso", "filename", "x.qcow2", "url", testISOURL),
			"400 Parameter verification failed.", `"filename":"wrong file extension"`},
		{"a template needs a tar archive", "local", form("content", "vztmpl", "filename", "x.tar.lz4", "url", testISOURL),
			"400 Parameter verification failed.", `"filename":"wrong file extension"`},
		{"an import needs a safe name and a lower-case image extension", "imports", form("content", "import", "filename", "disk.QCOW2", "url", testISOURL),
			"400 Parameter verification failed.", `"filename":"invalid filename or wrong extension"`},
		{"a storage without the content type refuses", "local", form("content", "import", "filename", "x.qcow2", "url", testISOURL),
			"500 storage 'local' is not configured for content-type 'import'", ""},
		{"a block storage takes no files", "local-lvm", form("content", "iso", "filename", "x.iso", "url", testISOURL),
			"500 can't upload to storage type 'lvmthin', not a file based storage!", ""},
		{"an unknown storage does not exist", "nosuch", form("content", "iso", "filename", "x.iso", "url", testISOURL),
			"500 storage 'nosuch' does not exist", ""},
		{"a checksum needs its algorithm", "local", form("content", "iso", "filename", "x.iso", "url", testISOURL, "checksum", "ab"),
			"400 Parameter verification failed.", `"checksum-algorithm":"missing property required by 'checksum'"`},
		{"only http and https URLs are accepted", "local", form("content", "iso", "filename", "x.iso", "url", "ftp://h/x.iso"),
			"400 Parameter verification failed.", `"url":"value does not match the regex pattern"`},
		{"only iso, vztmpl and import can be downloaded", "local", form("content", "backup", "filename", "x.iso", "url", testISOURL),
			"400 Parameter verification failed.", `"content":`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			replyIs(t, raw(t, srv, "POST", "/nodes/pve1/storage/"+tc.storage+"/download-url", tc.body), tc.status, tc.errors)
		})
	}
}

func TestDownloadURLTaskFailures(t *testing.T) {
	t.Parallel()
	srv := downloadSim(t)
	iso := findDownload(DefaultDownloads(), testISOURL)
	debian := findDownload(DefaultDownloads(), debianTmplURL)
	tests := []struct {
		name, storage, body string
		exit                func(string) bool
		want                string
	}{
		{"an unknown host does not resolve", "local", form("content", "iso", "filename", "a.iso", "url", "http://nosuch.example/a.iso"),
			nil, "download failed: wget: unable to resolve host address 'nosuch.example'"},
		{"an unknown file on a known host is a 404", "local", form("content", "iso", "filename", "b.iso", "url", "https://cdimage.debian.org/none.iso"),
			func(s string) bool {
				return strings.HasPrefix(s, "download failed: ") && strings.HasSuffix(s, " ERROR 404: Not Found.")
			}, ""},
		{"a wrong checksum fails after the download", "local", form("content", "iso", "filename", "c.iso", "url", testISOURL, "checksum", "00", "checksum-algorithm", "md5"),
			nil, fmt.Sprintf("checksum mismatch: got '%s' != expect '00'", iso.checksum("md5"))},
		{"an existing file is not overwritten", "local", form("content", "vztmpl", "filename", "debian-12-standard_12.7-1_amd64.tar.zst", "url", debianTmplURL),
			nil, "refusing to override existing file '/var/lib/vz/template/cache/debian-12-standard_12.7-1_amd64.tar.zst'"},
		{"an existing file with another checksum aborts", "local", form("content", "vztmpl", "filename", "debian-12-standard_12.7-1_amd64.tar.zst", "url", debianTmplURL, "checksum", "ff", "checksum-algorithm", "sha1"),
			nil, fmt.Sprintf("checksum mismatch: got '%s' != expect 'ff', aborting", debian.checksum("sha1"))},
		{"a self-signed server fails certificate verification", "local", form("content", "iso", "filename", "d.iso", "url", selfSignedURL),
			nil, "download failed: To connect to self.example insecurely, use `--no-check-certificate'."},
		{"only ISOs are decompressed", "local", form("content", "vztmpl", "filename", "e.tar.gz", "url", testISOURL, "compression", "gz"),
			nil, "decompression not supported for vztmpl"},
		{"an unknown compression has no decompressor", "local", form("content", "iso", "filename", "f.iso", "url", testISOURL, "compression", "xz"),
			nil, "no decompression method found"},
		{"a full storage cannot take the file", "tiny", form("content", "iso", "filename", "g.iso", "url", testISOURL),
			func(s string) bool {
				return strings.HasPrefix(s, "download failed: Cannot write to '/mnt/tiny/template/iso/g.iso.tmp_dwnl.") &&
					strings.HasSuffix(s, "' (No space left on device).")
			}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := taskOf(t, srv, "POST", "/nodes/pve1/storage/"+tc.storage+"/download-url", tc.body)
			ok := v.ExitStatus == tc.want
			if tc.exit != nil {
				ok = tc.exit(v.ExitStatus)
			}
			if !ok {
				t.Fatalf("exit status %q; log:\n%s", v.ExitStatus, strings.Join(v.Log, "\n"))
			}
		})
	}
	t.Run("an existing file with the right checksum needs no download", func(t *testing.T) {
		v := taskOf(t, srv, "POST", "/nodes/pve1/storage/local/download-url", form("content", "vztmpl",
			"filename", "debian-12-standard_12.7-1_amd64.tar.zst", "url", debianTmplURL, "checksum", debian.checksum("sha512"), "checksum-algorithm", "sha512"))
		if v.ExitStatus != "OK" || !slices.Contains(v.Log, "calculating checksum of existing file...OK, got correct file already, no need to download") {
			t.Fatalf("%q:\n%s", v.ExitStatus, strings.Join(v.Log, "\n"))
		}
	})
}

func TestDownloadURLPermissions(t *testing.T) {
	t.Parallel()
	tokens := map[string][]string{
		"template@pve!only":    {"Datastore.AllocateTemplate"},
		"template@pve!audit":   {"Datastore.AllocateTemplate", "Sys.Audit"},
		"template@pve!network": {"Datastore.AllocateTemplate", "Sys.AccessNetwork"},
		"template@pve!modify":  {"Datastore.AllocateTemplate", "Sys.Audit", "Sys.Modify"},
		"sys@pve!nostore":      {"Sys.Audit", "Sys.Modify"},
	}
	srv := downloadSim(t, func(o *Options) {
		o.Tokens = []TokenSpec{{ID: DefaultTokenID, Secret: DefaultTokenSecret}}
		for id, privs := range tokens {
			o.Tokens = append(o.Tokens, TokenSpec{ID: id, Secret: "s", Privileges: privs})
		}
	})
	tests := []struct{ name, token, status string }{
		{"allocation on the storage alone is not enough", "template@pve!only", "403 Permission check failed"},
		{"Sys.Audit without Sys.Modify is not enough", "template@pve!audit", "403 Permission check failed"},
		{"Sys.AccessNetwork on the node suffices", "template@pve!network", "200 OK"},
		{"Sys.Audit and Sys.Modify on / suffice", "template@pve!modify", "200 OK"},
		{"the storage privilege is checked first", "sys@pve!nostore", "403 Permission check failed (/storage/local, Datastore.AllocateTemplate)"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := form("content", "iso", "filename", fmt.Sprintf("p%d.iso", i), "url", testISOURL)
			statusIs(t, raw(t, srv, "POST", "/nodes/pve1/storage/local/download-url", body, asToken(tc.token, "s")), tc.status)
		})
	}
}

func TestDownloadURLWithGoProxmox(t *testing.T) {
	t.Parallel()
	srv := downloadSim(t)
	iso := findDownload(DefaultDownloads(), testISOURL)
	n, st := pveNode(t, srv, "pve1"), pveStorage(t, srv, "local")
	tests := []struct {
		name  string
		start func() (*proxmox.Task, error)
	}{
		{"Storage.DownloadURL", func() (*proxmox.Task, error) {
			return st.DownloadURL(ctx(t), "iso", "gp1.iso", testISOURL)
		}},
		{"Storage.DownloadURLWithHash", func() (*proxmox.Task, error) {
			return st.DownloadURLWithHash(ctx(t), "iso", "gp2.iso", testISOURL, iso.checksum("sha512"), "sha512")
		}},
		{"Node.StorageDownloadURL, which repeats node and storage in the body", func() (*proxmox.Task, error) {
			upid, err := n.StorageDownloadURL(ctx(t), &proxmox.StorageDownloadURLOptions{
				Node: "pve1", Storage: "local", Content: "iso", Filename: "gp3.iso", URL: testISOURL,
			})
			return proxmox.NewTask(proxmox.UPID(upid), pve(t, srv)), err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			task, err := tc.start()
			if err != nil {
				t.Fatal(err)
			}
			if err := task.Wait(ctx(t), 20*time.Millisecond, 20*time.Second); err != nil {
				t.Fatal(err)
			}
			if !task.IsSuccessful || task.Type != TaskDownload {
				t.Fatalf("task %+v", task)
			}
		})
	}
}
