package pvesim

import (
	"slices"
	"strings"
	"testing"
)

const turnkeyTemplate = "debian-12-turnkey-nginx-php-fastcgi_18.0-1_amd64.tar.gz"

// aplSim adds to the default index an appliance of an unknown type, one
// without checksum and one whose file no server has.
func aplSim(t *testing.T) *Server {
	t.Helper()
	return newSim(t, func(o *Options) {
		o.Appliances = append(DefaultAppliances(),
			ApplianceSpec{Template: "vm-image_1.0_amd64.tar.gz", Package: "vm-image", Version: "1.0", Type: "kvm", OS: "debian",
				Section: "system", Infopage: "https://example.com", Location: "http://download.proxmox.com/images/x/vm-image_1.0_amd64.tar.gz", Source: aplSourceProxmox},
			ApplianceSpec{Template: "nosum_1.0_amd64.tar.gz", Package: "nosum", Version: "1.0", Type: "lxc", OS: "debian",
				Section: "system", Infopage: "https://example.com", Location: "http://download.proxmox.com/images/x/nosum_1.0_amd64.tar.gz", Source: aplSourceProxmox},
			ApplianceSpec{Template: "gone_1.0_amd64.tar.gz", Package: "gone", Version: "1.0", Type: "lxc", OS: "debian", Section: "system",
				Infopage: "https://example.com", Location: "http://gone.example/gone_1.0_amd64.tar.gz", Source: "http://gone.example", SHA512Sum: "ab"},
		)
		o.Tokens = []TokenSpec{{ID: DefaultTokenID, Secret: DefaultTokenSecret}, {ID: "nobody@pve!t", Secret: "s", Privileges: []string{}}}
	})
}

func TestAplinfoListsTheIndex(t *testing.T) {
	t.Parallel()
	srv := newSim(t, func(o *Options) {
		o.Tokens = []TokenSpec{{ID: DefaultTokenID, Secret: DefaultTokenSecret}, {ID: "nobody@pve!t", Secret: "s", Privileges: []string{}}}
	})
	t.Run("any user may read it", func(t *testing.T) {
		var list []map[string]string
		mustOK(t, raw(t, srv, "GET", "/nodes/pve1/aplinfo", "", asToken("nobody@pve!t", "s"))).data(t, &list)
		if len(list) != 3 || list[0]["template"] != AlpineTemplate[len("local:vztmpl/"):] {
			t.Fatalf("%v", list)
		}
	})
	t.Run("go-proxmox decodes the appliances", func(t *testing.T) {
		n := pveNode(t, srv, "pve1")
		apps, err := n.Appliances(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		want := findDownload(DefaultDownloads(), debianTmplURL).checksum("sha512")
		for _, a := range apps {
			if a.Template == "debian-12-standard_12.7-1_amd64.tar.zst" {
				if a.Os != "debian-12" || a.SHA512Sum != want || a.Section != "system" || a.InfoPage == "" || a.Source != aplSourceProxmox {
					t.Fatalf("%+v", a)
				}
				return
			}
		}
		t.Fatalf("debian missing from %v", apps)
	})
}

func TestAplinfoDownload(t *testing.T) {
	t.Parallel()
	srv := aplSim(t)
	turnkey := aplSourceTurnkey + "/" + turnkeyTemplate
	t.Run("an appliance is downloaded as a task named after the template", func(t *testing.T) {
		v := taskOf(t, srv, "POST", "/nodes/pve1/aplinfo", form("storage", "local", "template", turnkeyTemplate))
		if v.ExitStatus != "OK" || v.Type != TaskDownload || v.ID != turnkeyTemplate {
			t.Fatalf("%+v", v)
		}
		for _, l := range []string{
			"downloading " + turnkey + " to /var/lib/vz/template/cache/" + turnkeyTemplate,
			"calculating checksum...OK, checksum verified",
		} {
			if !slices.Contains(v.Log, l) {
				t.Fatalf("log lacks %q:\n%s", l, strings.Join(v.Log, "\n"))
			}
		}
		r := mustOK(t, raw(t, srv, "GET", "/nodes/pve1/storage/local/content?content=vztmpl", ""))
		if !strings.Contains(string(r.Body), `"volid":"local:vztmpl/`+turnkeyTemplate+`"`) || !strings.Contains(string(r.Body), `"format":"tgz"`) {
			t.Fatalf("%s", r.Body)
		}
	})
	t.Run("a template already there with the right checksum is kept", func(t *testing.T) {
		v := taskOf(t, srv, "POST", "/nodes/pve1/aplinfo", form("storage", "local", "template", "debian-12-standard_12.7-1_amd64.tar.zst"))
		if v.ExitStatus != "OK" || !slices.Contains(v.Log, "calculating checksum of existing file...OK, got correct file already, no need to download") {
			t.Fatalf("%q:\n%s", v.ExitStatus, strings.Join(v.Log, "\n"))
		}
	})
	t.Run("go-proxmox's DownloadAppliance gets the UPID", func(t *testing.T) {
		n := pveNode(t, srv, "pve2")
		upid, err := n.DownloadAppliance(ctx(t), turnkeyTemplate, "local")
		if err != nil {
			t.Fatal(err)
		}
		if v := waitTask(t, srv, upid); v.ExitStatus != "OK" {
			t.Fatalf("%+v", v)
		}
	})
}

func TestAplinfoDownloadRefusals(t *testing.T) {
	t.Parallel()
	srv := aplSim(t)
	tests := []struct{ name, body, status, errors string }{
		{"an unknown template is a parameter error", form("storage", "local", "template", "nosuch.tar.gz"),
			"400 Parameter verification failed.", `"template":"no such template"`},
		{"an unknown storage does not exist", form("storage", "nosuch", "template", turnkeyTemplate),
			"500 storage 'nosuch' does not exist", ""},
		{"a storage without templates refuses", form("storage", "local-lvm", "template", turnkeyTemplate),
			"500 storage 'local-lvm' does not support templates", ""},
		{"only container appliances can be downloaded", form("storage", "local", "template", "vm-image_1.0_amd64.tar.gz"),
			"500 unknown template type 'kvm'", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			replyIs(t, raw(t, srv, "POST", "/nodes/pve1/aplinfo", tc.body), tc.status, tc.errors)
		})
	}
	t.Run("a user without Datastore.AllocateTemplate is refused", func(t *testing.T) {
		r := raw(t, srv, "POST", "/nodes/pve1/aplinfo", form("storage", "local", "template", turnkeyTemplate),
			asToken("nobody@pve!t", "s"))
		if r.Status != "403 Permission check failed (/storage/local, Datastore.AllocateTemplate)" {
			t.Fatalf("%q", r.Status)
		}
	})
	taskTests := []struct{ name, template, exit string }{
		{"an appliance without checksum is not downloaded", "nosum_1.0_amd64.tar.gz", "checksum required but not specified"},
		{"an appliance whose server is gone fails the download", "gone_1.0_amd64.tar.gz", "download failed: wget: unable to resolve host address 'gone.example'"},
	}
	for _, tc := range taskTests {
		t.Run(tc.name, func(t *testing.T) {
			v := taskOf(t, srv, "POST", "/nodes/pve1/aplinfo", form("storage", "local", "template", tc.template))
			if v.ExitStatus != tc.exit {
				t.Fatalf("%q:\n%s", v.ExitStatus, strings.Join(v.Log, "\n"))
			}
		})
	}
}
