package proxmox_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/pve-operator/pve-operator/internal/proxmox"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

// The image calls against a real simulator: what lands on the storage,
// what the tasks report, and how PVE's refusals are typed.

const (
	turnkeyTemplate = "debian-12-turnkey-nginx-php-fastcgi_18.0-1_amd64.tar.gz"
	// selfSignedURL is served with a certificate wget does not trust.
	selfSignedURL = "https://files.example.internal/templates/custom_1.0_amd64.tar.gz"
)

// imageSim is a simulator with, besides the defaults, a dir storage for
// container volumes only ("data"), a disabled template storage ("off") and
// a file served with a self-signed certificate.
func imageSim(t *testing.T) (*pvesim.Server, *proxmox.APIClient) {
	t.Helper()
	srv := newSim(t, func(o *pvesim.Options) {
		o.Storages = append(pvesim.DefaultStorages(),
			pvesim.StorageSpec{ID: "data", Type: "dir", Content: []string{"rootdir", "images"}, Total: 50 * pvesim.GiB, Path: "/mnt/data"},
			pvesim.StorageSpec{ID: "off", Type: "dir", Content: []string{"vztmpl"}, Total: 50 * pvesim.GiB, Path: "/mnt/off", Disabled: true},
		)
		o.Downloads = append(pvesim.DefaultDownloads(),
			pvesim.DownloadSource{URL: selfSignedURL, Content: []byte("custom template\n"), SelfSigned: true})
	})
	return srv, newClient(t, srv)
}

// templates lists local's vztmpl volumes on node1.
func templates(ctx context.Context, t *testing.T, c proxmox.Client) []proxmox.StoredVolume {
	t.Helper()
	vols, err := c.StorageContent(ctx, node1, "local", "vztmpl")
	if err != nil {
		t.Fatal(err)
	}
	return vols
}

func findVolume(vols []proxmox.StoredVolume, volid string) (proxmox.StoredVolume, bool) {
	i := slices.IndexFunc(vols, func(v proxmox.StoredVolume) bool { return v.Volid == volid })
	if i < 0 {
		return proxmox.StoredVolume{}, false
	}
	return vols[i], true
}

func TestPullOCIImage(t *testing.T) {
	srv, c := imageSim(t)
	ctx := testCtx(t)
	// A moved tag has a config digest the test knows.
	want, err := srv.MoveOCITag("docker.io/library/alpine", "3.20")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, filename, volid string
	}{
		{"a pull stores <filename>.tar", "alpine-test", "local:vztmpl/alpine-test.tar"},
		{"a pull without a filename is named after the reference as PVE normalises it", "", "local:vztmpl/alpine_3.20.tar"},
	} {
		t.Run(tc.name+" and its log names the image's config digest", func(t *testing.T) {
			upid, err := c.PullOCIImage(ctx, node1, "local", "docker.io/library/alpine:3.20", tc.filename)
			mustSucceed(ctx, t, srv, c, upid, err)
			if v, ok := findVolume(templates(ctx, t, c), tc.volid); !ok || v.Format != "tar" || v.Size == 0 || v.CTime.IsZero() {
				t.Errorf("%s listed as %+v (found %v)", tc.volid, v, ok)
			}
			if d, err := c.PulledImageDigest(ctx, upid.String()); err != nil || d != want {
				t.Errorf("digest = %q, %v; want %s", d, err, want)
			}
		})
	}
	t.Run("a second pull onto the same file is already-exists, not a refusal", func(t *testing.T) {
		_, err := c.PullOCIImage(ctx, node1, "local", "docker.io/library/alpine:3.21", "alpine-test")
		if !proxmox.IsAlreadyExists(err) || proxmox.IsRefused(err) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("DeleteVolume removes a staged archive, and the name is free again", func(t *testing.T) {
		upid, err := c.DeleteVolume(ctx, node1, "local", "local:vztmpl/alpine-test.tar")
		if err != nil {
			t.Fatal(err)
		}
		if !upid.IsZero() {
			mustSucceed(ctx, t, srv, c, upid, nil)
		}
		if _, ok := findVolume(templates(ctx, t, c), "local:vztmpl/alpine-test.tar"); ok {
			t.Fatal("the archive is still listed")
		}
		upid, err = c.PullOCIImage(ctx, node1, "local", "docker.io/library/alpine:3.21", "alpine-test")
		mustSucceed(ctx, t, srv, c, upid, err)
	})
}

func TestImageTasksThatFail(t *testing.T) {
	srv, c := imageSim(t)
	ctx := testCtx(t)
	for _, tc := range []struct {
		name  string
		start func() (proxmox.UPID, error)
		// exit is in the task's exit status, inLog in its log.
		exit, inLog string
		is          func(error) bool
	}{
		{"a pull of an unknown tag fails with run_command's exit status and skopeo's words in the log",
			func() (proxmox.UPID, error) {
				return c.PullOCIImage(ctx, node1, "local", "docker.io/library/alpine:0.0-none", "")
			}, "command 'skopeo copy docker://docker.io/library/alpine:0.0-none", "manifest unknown", nil},
		{"a download with a wrong checksum fails with the mismatch", func() (proxmox.UPID, error) {
			return c.DownloadURL(ctx, node1, "local", proxmox.DownloadRequest{
				URL:      "https://releases.turnkeylinux.org/pve/" + turnkeyTemplate,
				Filename: "turnkey.tar.gz", Checksum: strings.Repeat("0", 64), ChecksumAlgorithm: "sha256",
			})
		}, "checksum mismatch: got '", "calculating checksum...", nil},
		{"a download from a server with a self-signed certificate fails while certificates are verified",
			func() (proxmox.UPID, error) {
				return c.DownloadURL(ctx, node1, "local", proxmox.DownloadRequest{URL: selfSignedURL, Filename: "custom.tar.gz"})
			}, "download failed: To connect to files.example.internal insecurely", "Self-signed certificate", nil},
		{"a download onto a file already there without a checksum fails as already-exists",
			func() (proxmox.UPID, error) {
				debian := pvesim.DefaultAppliances()[0]
				return c.DownloadURL(ctx, node1, "local", proxmox.DownloadRequest{URL: debian.Location, Filename: debian.Template})
			}, "refusing to override existing file", "", proxmox.IsAlreadyExists},
	} {
		t.Run(tc.name, func(t *testing.T) {
			upid, err := tc.start()
			if err != nil {
				t.Fatal(err)
			}
			st := finish(ctx, t, srv, c, upid)
			if st.State != proxmox.TaskFailed || !proxmox.IsTaskFailed(st.Err) || !strings.Contains(st.ExitStatus, tc.exit) {
				t.Fatalf("task ended %s, %q: %v", st.State, st.ExitStatus, st.Err)
			}
			if tc.is != nil && !tc.is(st.Err) {
				t.Errorf("task error %v is not typed", st.Err)
			}
			if log := srv.TaskLog(upid.String()); !strings.Contains(log, tc.inLog) {
				t.Errorf("log lacks %q:\n%s", tc.inLog, log)
			}
			if d, err := c.PulledImageDigest(ctx, upid.String()); d != "" || err != nil {
				t.Errorf("a failed task's digest = %q, %v", d, err)
			}
		})
	}
}

func TestTemplateDownloads(t *testing.T) {
	srv, c := imageSim(t)
	ctx := testCtx(t)
	apls, err := c.Appliances(ctx, node1)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(apls, func(a proxmox.Appliance) bool { return a.Template == turnkeyTemplate })
	if i < 0 {
		t.Fatalf("%s is not in the index: %+v", turnkeyTemplate, apls)
	}
	turnkey := apls[i]
	for _, tc := range []struct {
		name   string
		start  func() (proxmox.UPID, error)
		volid  string
		format string
		inLog  string
	}{
		{"an appliance download stores the template under its index name", func() (proxmox.UPID, error) {
			return c.DownloadAppliance(ctx, node1, "local", turnkeyTemplate)
		}, "local:vztmpl/" + turnkeyTemplate, "tgz", "checksum verified"},
		{"an appliance already on the storage is success without a download", func() (proxmox.UPID, error) {
			return c.DownloadAppliance(ctx, node1, "local", strings.TrimPrefix(pvesim.DebianTemplate, "local:vztmpl/"))
		}, pvesim.DebianTemplate, "tzst", "no need to download"},
		{"a URL download checked against the index's sha512 stores the file under the given name", func() (proxmox.UPID, error) {
			return c.DownloadURL(ctx, node1, "local", proxmox.DownloadRequest{
				URL: turnkey.Location, Filename: "nginx-php.tar.gz", Checksum: turnkey.SHA512Sum, ChecksumAlgorithm: "sha512",
			})
		}, "local:vztmpl/nginx-php.tar.gz", "tgz", "checksum verified"},
		{"a download from a self-signed server succeeds when certificates are not verified", func() (proxmox.UPID, error) {
			return c.DownloadURL(ctx, node1, "local", proxmox.DownloadRequest{URL: selfSignedURL, Filename: "custom.tar.gz", InsecureSkipVerify: true})
		}, "local:vztmpl/custom.tar.gz", "tgz", "saved"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			upid, err := tc.start()
			mustSucceed(ctx, t, srv, c, upid, err)
			if v, ok := findVolume(templates(ctx, t, c), tc.volid); !ok || v.Format != tc.format {
				t.Errorf("%s listed as %+v (found %v)", tc.volid, v, ok)
			}
			if log := srv.TaskLog(upid.String()); !strings.Contains(log, tc.inLog) {
				t.Errorf("log lacks %q:\n%s", tc.inLog, log)
			}
		})
	}
}

func TestImageIndexes(t *testing.T) {
	_, c := imageSim(t)
	ctx := testCtx(t)
	t.Run("the tags of a repository are skopeo's list", func(t *testing.T) {
		tags, err := c.OCITags(ctx, node1, "docker.io/library/alpine")
		if err != nil || !slices.Equal(tags, []string{"3.20", "3.21", "latest"}) {
			t.Fatalf("tags = %v, %v", tags, err)
		}
	})
	t.Run("a repository skopeo cannot list is PVE's plain error, neither refused nor not-found", func(t *testing.T) {
		_, err := c.OCITags(ctx, node1, "docker.io/library/no-such-image")
		if err == nil || proxmox.IsRefused(err) || proxmox.IsNotFound(err) || proxmox.StatusCode(err) != 500 ||
			!strings.Contains(err.Error(), "skopeo list-tags") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("the appliance index lists the simulator's appliances by template, with what a download needs", func(t *testing.T) {
		apls, err := c.Appliances(ctx, node1)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, a := range pvesim.DefaultAppliances() {
			want = append(want, a.Template)
		}
		slices.Sort(want)
		got := make([]string, 0, len(apls))
		for _, a := range apls {
			got = append(got, a.Template)
			if a.Location == "" || a.SHA512Sum == "" || a.Type != "lxc" || a.OS == "" || a.Headline == "" {
				t.Errorf("appliance %+v lacks fields", a)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("templates = %v, want %v", got, want)
		}
	})
}

func TestStorageContent(t *testing.T) {
	srv, c := imageSim(t)
	ctx := testCtx(t)
	backup, err := srv.AddBackup(pvesim.BackupSpec{VMID: 101, Node: node1})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, content string
		want, absent  []string
	}{
		{"templates lists the templates and no backup", "vztmpl", []string{pvesim.DebianTemplate, pvesim.AlpineTemplate}, []string{backup}},
		{"backups lists the backup and no template", "backup", []string{backup}, []string{pvesim.DebianTemplate}},
		{"no content type lists both", "", []string{backup, pvesim.DebianTemplate}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vols, err := c.StorageContent(ctx, node1, "local", tc.content)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range tc.want {
				if got, ok := findVolume(vols, v); !ok || got.Size == 0 || got.Format == "" {
					t.Errorf("%s listed as %+v (found %v)", v, got, ok)
				}
			}
			for _, v := range tc.absent {
				if _, ok := findVolume(vols, v); ok {
					t.Errorf("%s is listed", v)
				}
			}
		})
	}
}

// both is true when every predicate holds.
func both(preds ...func(error) bool) func(error) bool {
	return func(err error) bool {
		for _, p := range preds {
			if !p(err) {
				return false
			}
		}
		return true
	}
}

func not(p func(error) bool) func(error) bool { return func(err error) bool { return !p(err) } }

func TestImageRequestRefusals(t *testing.T) {
	srv, c := imageSim(t)
	ctx := testCtx(t)
	const alpine = "docker.io/library/alpine:3.20"
	pull := func(storage, ref, name string) func() error {
		return func() error { _, err := c.PullOCIImage(ctx, node1, storage, ref, name); return err }
	}
	download := func(storage, name string) func() error {
		return func() error {
			_, err := c.DownloadURL(ctx, node1, storage, proxmox.DownloadRequest{URL: selfSignedURL, Filename: name})
			return err
		}
	}
	appliance := func(storage, template string) func() error {
		return func() error { _, err := c.DownloadAppliance(ctx, node1, storage, template); return err }
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T)
		call  func() error
		is    func(error) bool
	}{
		{"a pull onto a block storage is refused", nil, pull("local-lvm", alpine, ""), proxmox.IsRefused},
		{"a pull onto a storage without template content is refused", nil, pull("data", alpine, ""), proxmox.IsRefused},
		{"a pull onto a disabled storage is refused", nil, pull("off", alpine, ""), proxmox.IsRefused},
		{"a reference without a tag is refused as a bad request", nil, pull("local", "docker.io/library/alpine", ""),
			both(proxmox.IsRefused, proxmox.IsBadRequest)},
		{"a pull onto a storage that does not exist is not-found, not a refusal", nil, pull("nowhere", alpine, ""),
			both(proxmox.IsNotFound, not(proxmox.IsRefused))},
		{"a download onto a storage without template content is refused", nil, download("data", "x.tar.gz"), proxmox.IsRefused},
		{"a download whose file name is no template is refused as a bad request", nil, download("local", "x.iso"),
			both(proxmox.IsRefused, proxmox.IsBadRequest)},
		{"an appliance download onto a storage without template content is refused", nil, appliance("data", turnkeyTemplate), proxmox.IsRefused},
		{"an appliance the index lacks is refused as a bad request", nil, appliance("local", "no-such_1.0_amd64.tar.gz"),
			both(proxmox.IsRefused, proxmox.IsBadRequest)},
		{"a tag list of a reference with a tag is refused", nil,
			func() error { _, err := c.OCITags(ctx, node1, alpine); return err }, proxmox.IsRefused},
		{"a pull without Datastore.AllocateTemplate is forbidden, not a refusal", func(t *testing.T) {
			if err := srv.DropPrivilege(pvesim.DefaultTokenID, "/storage/local", "Datastore.AllocateTemplate"); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = srv.RestorePrivileges(pvesim.DefaultTokenID) })
		}, pull("local", alpine, ""), both(proxmox.IsForbidden, not(proxmox.IsRefused))},
		{"a pull whose answer is lost is transient with its outcome unknown", func(t *testing.T) {
			injectFault(t, srv, pvesim.RequestFault{Method: "POST", Path: "/nodes/{node}/storage/{storage}/oci-registry-pull", Action: pvesim.FaultDropAfterCommit})
		}, pull("local", alpine, "lost-answer"), both(proxmox.IsTransient, proxmox.IsOutcomeUnknown, not(proxmox.IsRefused))},
		{"a node without skopeo refuses pulls", func(t *testing.T) {
			injectFault(t, srv, pvesim.RequestFault{Method: "POST", Path: "/nodes/{node}/storage/{storage}/oci-registry-pull",
				Action: pvesim.FaultError, Message: "Install 'skopeo' to pull OCI images from registries."})
		}, pull("local", alpine, ""), proxmox.IsRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup(t)
			}
			if err := tc.call(); !tc.is(err) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// injectFault arms f (a single use) until the test ends.
func injectFault(t *testing.T, srv *pvesim.Server, f pvesim.RequestFault) {
	t.Helper()
	if _, err := srv.InjectFault(f); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.ClearFaults)
}

// createCT creates a container from the Debian template with extra
// parameters through the client, and starts it when running is set.
func createCT(ctx context.Context, t *testing.T, srv *pvesim.Server, c proxmox.Client, node string, vmid int, running bool, kv ...string) {
	t.Helper()
	p := debianCT()
	for i := 0; i+1 < len(kv); i += 2 {
		p.Add(kv[i], kv[i+1])
	}
	upid, err := c.CreateContainer(ctx, node, vmid, proxmox.CreateRequest{Params: p})
	mustSucceed(ctx, t, srv, c, upid, err)
	if running {
		upid, err := c.StartContainer(ctx, node, vmid)
		mustSucceed(ctx, t, srv, c, upid, err)
	}
}

func TestMoveVolumeToContainer(t *testing.T) {
	srv, c := imageSim(t)
	ctx := testCtx(t)
	createCT(ctx, t, srv, c, node1, 301, false, "mp0", "local-lvm:1,mp=/data", "mp1", "local-lvm:1,mp=/logs")
	createCT(ctx, t, srv, c, node1, 302, false)
	createCT(ctx, t, srv, c, node1, 303, true, "mp0", "local-lvm:1,mp=/srv")
	createCT(ctx, t, srv, c, node2, 304, false)
	t.Run("an mp0 becomes mp0 of another container, renamed to its new owner", func(t *testing.T) {
		upid, err := c.MoveVolumeToContainer(ctx, node1, 301, "mp0", 302, "mp0")
		mustSucceed(ctx, t, srv, c, upid, err)
		src, err := c.ContainerConfig(ctx, node1, 301, false)
		if err != nil {
			t.Fatal(err)
		}
		dst, err := c.ContainerConfig(ctx, node1, 302, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := src["mp0"]; ok || !strings.HasPrefix(dst["mp0"], "local-lvm:vm-302-") || !strings.Contains(dst["mp0"], "mp=/data") {
			t.Errorf("after the move: source mp0 %q, target mp0 %q", src["mp0"], dst["mp0"])
		}
	})
	for _, tc := range []struct {
		name         string
		vmid, target int
		key, tkey    string
		is           func(error) bool
	}{
		{"a target key already in use is already-exists", 301, 302, "mp1", "mp0", proxmox.IsAlreadyExists},
		{"a mount point of a running container is already-running", 303, 302, "mp0", "mp1", proxmox.IsAlreadyRunning},
		{"a container on another node is refused", 301, 304, "mp1", "mp0", proxmox.IsRefused},
		{"rootfs is refused", 301, 302, "rootfs", "mp5", proxmox.IsRefused},
		{"a target container that does not exist is not-found", 301, 999, "mp1", "mp0", proxmox.IsNotFound},
		{"a key the source does not have is not-found", 301, 302, "mp7", "mp7", proxmox.IsNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.MoveVolumeToContainer(ctx, node1, tc.vmid, tc.key, tc.target, tc.tkey)
			if !tc.is(err) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}
