package pvesim

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// pullOCI pulls ref onto local and returns the archive's volid.
func pullOCI(t *testing.T, srv *Server, ref string) string {
	t.Helper()
	v := taskOf(t, srv, "POST", "/nodes/pve1/storage/local/oci-registry-pull", form("reference", ref))
	if v.ExitStatus != "OK" {
		t.Fatalf("pull %s: %q", ref, v.ExitStatus)
	}
	return "local:vztmpl/" + v.ID
}

// createFrom creates CT vmid from a template with one DHCP network and
// returns the create's task.
func createFrom(t *testing.T, srv *Server, vmid int, template string, extra ...string) TaskView {
	t.Helper()
	kv := append([]string{"vmid", fmt.Sprint(vmid), "ostemplate", template, "rootfs", "local-lvm:4",
		"hostname", fmt.Sprintf("app%d", vmid), "net0", "name=eth0,bridge=vmbr0,ip=dhcp"}, extra...)
	return taskOf(t, srv, "POST", "/nodes/pve1/lxc", form(kv...))
}

// configFileOf is the CT's config file as pmxcfs holds it.
func configFileOf(srv *Server, vmid int) string {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.cts[vmid].configFile()
}

func hasLine(log []string, line string) bool { return slices.Contains(log, line) }

// ociImageSim serves one extra image, "docker.io/library/app" with tag
// "1", carrying cfg.
func ociImageSim(t *testing.T, cfg OCIImageConfig) *Server {
	t.Helper()
	return newSim(t, func(o *Options) {
		o.OCIImages = append(DefaultOCIImages(), OCIImageSpec{Repository: "docker.io/library/app", Tags: []string{"1"}, OCIImageConfig: cfg})
	})
}

func TestCreateFromOCIArchiveMapsTheImageConfig(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	path := "PATH=" + ociDefaultPath
	tests := []struct {
		name, ref  string
		want       map[string]any
		lxc        [][]string
		logs       []string
		absentLogs []string
	}{
		{
			name: "alpine runs its shell as the entrypoint on a console", ref: "alpine:3.21",
			want: map[string]any{"entrypoint": "/bin/sh", "cmode": "console", "env": path, "ostype": "alpine", "arch": "amd64"},
			lxc:  [][]string{{"lxc.init.cwd", "/"}, {"lxc.signal.halt", "SIGTERM"}},
			logs: []string{"Detected OCI archive", "Auto-Enabling host-managed network for network device net0.", "Detected container architecture: amd64"},
		},
		{
			name: "nginx quotes its command line and stops on SIGQUIT", ref: "nginx:1.27",
			want: map[string]any{
				"entrypoint": "/docker-entrypoint.sh nginx -g 'daemon off;'", "cmode": "console", "ostype": "debian",
				"env": strings.Join([]string{path, "NGINX_VERSION=1.27.5", "NJS_VERSION=0.8.10", "NJS_RELEASE=1~bookworm",
					"PKG_RELEASE=1~bookworm", "DYNPKG_RELEASE=1~bookworm"}, "\x00"),
			},
			lxc:  [][]string{{"lxc.signal.halt", "SIGQUIT"}},
			logs: []string{"Detected OCI archive", "Detected container architecture: amd64"},
		},
		{
			name: "busybox has no os-release and is left unmanaged", ref: "busybox:1.37",
			want: map[string]any{"entrypoint": "sh", "cmode": "console", "env": path, "ostype": "unmanaged", "arch": "amd64"},
			lxc:  [][]string{{"lxc.signal.halt", "SIGTERM"}},
			logs: []string{"/etc/os-release file not found and autodetection failed, falling back to 'unmanaged'",
				"Falling back to amd64.", "Use `pct set VMID --arch ARCH` to change."},
			absentLogs: []string{"Detected container architecture: amd64"},
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vmid := 200 + i
			v := createFrom(t, srv, vmid, pullOCI(t, srv, tc.ref))
			if v.ExitStatus != "OK" {
				t.Fatalf("create: %q\n%s", v.ExitStatus, strings.Join(v.Log, "\n"))
			}
			conf := apiConfig(t, srv, "pve1", vmid)
			for k, want := range tc.want {
				if conf[k] != want {
					t.Errorf("%s = %q, want %q", k, conf[k], want)
				}
			}
			if net0, _ := conf["net0"].(string); !strings.Contains(net0, ",host-managed=1,") {
				t.Errorf("net0 = %q, want host-managed=1", net0)
			}
			if got := mustJSON(conf["lxc"]); got != mustJSON(tc.lxc) {
				t.Errorf("lxc = %s, want %s", got, mustJSON(tc.lxc))
			}
			for _, l := range tc.logs {
				if !hasLine(v.Log, l) {
					t.Errorf("log lacks %q:\n%s", l, strings.Join(v.Log, "\n"))
				}
			}
			for _, l := range append(tc.absentLogs, "Creating SSH host key 'ssh_host_ed25519_key' - this may take some time ...") {
				if hasLine(v.Log, l) {
					t.Errorf("log has %q", l)
				}
			}
			if strings.Contains(strings.Join(v.Log, "\n"), "extracting archive") {
				t.Errorf("an OCI archive is not extracted by tar:\n%s", strings.Join(v.Log, "\n"))
			}
			back := parseConfigText(vmid, configFileOf(srv, vmid))
			srv.mu.Lock()
			same := reflect.DeepEqual(back.conf, srv.cts[vmid].conf)
			srv.mu.Unlock()
			if !same || len(back.warnings) > 0 {
				t.Errorf("the file reads back as %q (warnings %q)", back.conf, back.warnings)
			}
		})
	}
}

func TestCreateFromOCIArchiveOverridesTheCall(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	nginx := pullOCI(t, srv, "nginx:stable")
	v := createFrom(t, srv, 300, nginx, "entrypoint", "/bin/true", "env", "FOO=bar", "cmode", "tty",
		"net1", "name=eth1,bridge=vmbr0,ip=manual,host-managed=0", "ostype", "ubuntu")
	if v.ExitStatus != "OK" {
		t.Fatalf("%q", v.ExitStatus)
	}
	conf := apiConfig(t, srv, "pve1", 300)
	checks := []struct{ name, key, want string }{
		{"the image's command replaces the given entrypoint", "entrypoint", "/docker-entrypoint.sh nginx -g 'daemon off;'"},
		{"the console mode follows the entrypoint", "cmode", "console"},
		{"the image's environment replaces the given one", "env", strings.Join(DefaultOCIImages()[1].Env, "\x00")},
		{"the detected distribution replaces the given ostype", "ostype", "debian"},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if conf[c.key] != c.want {
				t.Fatalf("%s = %q, want %q", c.key, conf[c.key], c.want)
			}
		})
	}
	t.Run("a network that says host-managed=0 keeps it", func(t *testing.T) {
		if net1, _ := conf["net1"].(string); !strings.Contains(net1, "host-managed=0") || hasLine(v.Log, "Auto-Enabling host-managed network for network device net1.") {
			t.Fatalf("net1 = %q; log:\n%s", net1, strings.Join(v.Log, "\n"))
		}
	})
	t.Run("the given ostype earns Setup's warning", func(t *testing.T) {
		if !hasLine(v.Log, "got unexpected ostype (debian != ubuntu)") {
			t.Fatalf("%s", strings.Join(v.Log, "\n"))
		}
	})
	t.Run("ostype=unmanaged skips the detection", func(t *testing.T) {
		v := createFrom(t, srv, 301, nginx, "ostype", "unmanaged")
		if conf := apiConfig(t, srv, "pve1", 301); v.ExitStatus != "OK" || conf["ostype"] != "unmanaged" || !hasLine(v.Log, "Falling back to amd64.") {
			t.Fatalf("%q %v\n%s", v.ExitStatus, conf["ostype"], strings.Join(v.Log, "\n"))
		}
	})
}

func TestCreateFromTemplatesThatAreNoOCIArchive(t *testing.T) {
	t.Parallel()
	srv := newSim(t, func(o *Options) { o.Templates = append(DefaultTemplates(), "local:vztmpl/rootfs.tar") })
	for i, tmpl := range []string{DebianTemplate, "local:vztmpl/rootfs.tar"} {
		t.Run(tmpl+" is extracted and keeps the call's options", func(t *testing.T) {
			vmid := 400 + i
			v := createFrom(t, srv, vmid, tmpl, "entrypoint", "/usr/bin/app --serve", "env", "A=1\x00B=2")
			log := strings.Join(v.Log, "\n")
			if v.ExitStatus != "OK" || strings.Contains(log, "Detected OCI archive") || !strings.Contains(log, "extracting archive") {
				t.Fatalf("%q\n%s", v.ExitStatus, log)
			}
			conf := apiConfig(t, srv, "pve1", vmid)
			net0, _ := conf["net0"].(string)
			if conf["entrypoint"] != "/usr/bin/app --serve" || conf["env"] != "A=1\x00B=2" || conf["cmode"] != nil ||
				conf["lxc"] != nil || strings.Contains(net0, "host-managed") {
				t.Fatalf("%v", conf)
			}
		})
	}
}

func TestCreateFromOCIArchiveRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  OCIImageConfig
		exit string
		log  string
	}{
		{"a control character in a scalar value", OCIImageConfig{User: "ro\x1bot"},
			"unable to create CT 100 - OCI config value for 'User' contains forbidden control characters!", ""},
		{"a control character in an array value", OCIImageConfig{Env: []string{"A=\x01"}},
			"unable to create CT 100 - OCI config array-value for 'Env' contains forbidden control characters!", ""},
		{"a control character in a data-volume path", OCIImageConfig{Volumes: []string{"/data\x7f"}},
			"unable to create CT 100 - OCI config data-volumes path contains forbidden control characters!", ""},
		{"a User with two colons", OCIImageConfig{User: "a:b:c"},
			"unable to create CT 100 - OCI config value for 'User' has an invalid format", ""},
		{"an os-release ID Setup does not know", OCIImageConfig{OSType: "wolfi"},
			"unable to create CT 100 - unable to detect OS distribution", "unknown ID 'wolfi' in /etc/os-release file, trying fallback detection"},
		// The control-character class leaves \x09-\x0f out, so a newline
		// reaches the command line and write_config refuses it.
		{"a newline in the command", OCIImageConfig{Cmd: []string{"echo", "a\nb"}},
			"unable to create CT 100 - detected invalid newline inside property 'entrypoint'", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := ociImageSim(t, tc.cfg)
			v := createFrom(t, srv, 100, pullOCI(t, srv, "app:1"))
			if v.ExitStatus != tc.exit || !hasLine(v.Log, "Detected OCI archive") {
				t.Fatalf("exit %q, want %q\n%s", v.ExitStatus, tc.exit, strings.Join(v.Log, "\n"))
			}
			if tc.log != "" && !hasLine(v.Log, tc.log) {
				t.Fatalf("log lacks %q:\n%s", tc.log, strings.Join(v.Log, "\n"))
			}
			if _, ok := srv.Container(100); ok {
				t.Fatal("the failed create left the CT behind")
			}
		})
	}
}

func TestCreateFromOCIArchiveImageDetails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cfg   OCIImageConfig
		want  map[string]any
		lxc   [][]string
		logs  []string
		extra []string
	}{
		{"an image without Env keeps the call's env", OCIImageConfig{Cmd: []string{"/app"}},
			map[string]any{"env": "FOO=bar", "entrypoint": "/app"}, [][]string{{"lxc.signal.halt", "SIGTERM"}}, nil, []string{"env", "FOO=bar"}},
		{"a named user is looked up in the image's passwd and group",
			OCIImageConfig{Cmd: []string{"/app"}, User: "app", WorkingDir: "/srv", Passwd: []string{"root:x:0:0::/root:/bin/sh", "app:x:1000:1000::/srv:/bin/sh"},
				Group: []string{"root:x:0:", "app:x:1000:", "video:x:44:app,root"}},
			map[string]any{"entrypoint": "/app"},
			[][]string{{"lxc.init.uid", "1000"}, {"lxc.init.gid", "1000"}, {"lxc.init.groups", "44"}, {"lxc.init.cwd", "/srv"}, {"lxc.signal.halt", "SIGTERM"}}, nil, nil},
		{"the data volumes get their directories", OCIImageConfig{Cmd: []string{"/app"}, Volumes: []string{"/data", "/cache"}},
			nil, [][]string{{"lxc.signal.halt", "SIGTERM"}},
			[]string{"creating base directory for volume at /data", "creating base directory for volume at /cache"}, nil},
		{"/sbin/init keeps the system container's init and console", OCIImageConfig{Entrypoint: []string{"/sbin/init"}, Env: []string{"container=lxc"}},
			map[string]any{"entrypoint": nil, "cmode": nil, "env": "container=lxc"}, [][]string{{"lxc.signal.halt", "SIGTERM"}}, nil, nil},
		{"a tab is no forbidden character", OCIImageConfig{Cmd: []string{"/app"}, Env: []string{"LIST=a\tb"}},
			map[string]any{"env": "LIST=a\tb"}, [][]string{{"lxc.signal.halt", "SIGTERM"}}, nil, nil},
		{"the file trims what ends a variable in blanks", OCIImageConfig{Cmd: []string{"/app"}, Env: []string{"A=1 ", "B=2"}},
			map[string]any{"env": "A=1\x00B=2"}, [][]string{{"lxc.signal.halt", "SIGTERM"}}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := ociImageSim(t, tc.cfg)
			v := createFrom(t, srv, 100, pullOCI(t, srv, "app:1"), tc.extra...)
			if v.ExitStatus != "OK" {
				t.Fatalf("%q\n%s", v.ExitStatus, strings.Join(v.Log, "\n"))
			}
			conf := apiConfig(t, srv, "pve1", 100)
			for k, want := range tc.want {
				if conf[k] != want {
					t.Errorf("%s = %q, want %v", k, conf[k], want)
				}
			}
			if got := mustJSON(conf["lxc"]); got != mustJSON(tc.lxc) {
				t.Errorf("lxc = %s, want %s", got, mustJSON(tc.lxc))
			}
			for _, l := range tc.logs {
				if !hasLine(v.Log, l) {
					t.Errorf("log lacks %q:\n%s", l, strings.Join(v.Log, "\n"))
				}
			}
		})
	}
}

func TestGetConfigShowsEnvAsPVEDoes(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	if v := createFrom(t, srv, 100, pullOCI(t, srv, "alpine:latest")); v.ExitStatus != "OK" {
		t.Fatal(v.ExitStatus)
	}
	mustOK(t, raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", form("env", "A=1\x00B=two words")))
	t.Run("the API gives one string with NUL between the variables", func(t *testing.T) {
		r := mustOK(t, raw(t, srv, "GET", "/nodes/pve1/lxc/100/config", ""))
		if !strings.Contains(string(r.Body), `"env":"A=1\u0000B=two words"`) {
			t.Fatalf("%s", r.Body)
		}
	})
	t.Run("the file holds one lxc.environment.runtime line per variable", func(t *testing.T) {
		file := configFileOf(srv, 100)
		want := "lxc.environment.runtime: A=1\nlxc.environment.runtime: B=two words\nlxc.init.cwd: /\nlxc.signal.halt: SIGTERM\n"
		if !strings.HasSuffix(file, want) {
			t.Fatalf("%s", file)
		}
	})
}

func TestResolveOCIUserLikePVE(t *testing.T) {
	t.Parallel()
	img := &OCIImageConfig{
		Passwd: []string{"root:x:0:0:root:/root:/bin/sh", "nginx:x:101:101:nginx user:/nonexistent:/bin/false", "odd:x:7"},
		Group:  []string{"root:x:0:root", "wheel:x:10:root,nginx", "nginx:x:101:", "www:x:33:nginx"},
	}
	tests := []struct {
		name, user string
		want       []string
	}{
		{"a name takes uid and gid from passwd and the groups listing it", "nginx",
			[]string{"lxc.init.uid: 101", "lxc.init.gid: 101", "lxc.init.groups: 10,33"}},
		{"root is in its own group and wheel", "root", []string{"lxc.init.uid: 0", "lxc.init.gid: 0", "lxc.init.groups: 0,10"}},
		{"a number is found in passwd by uid", "101", []string{"lxc.init.uid: 101", "lxc.init.gid: 101", "lxc.init.groups: 10,33"}},
		{"an unknown number sets the uid alone", "1000", []string{"lxc.init.uid: 1000"}},
		{"numbers for both are taken as they are", "1000:1000", []string{"lxc.init.uid: 1000", "lxc.init.gid: 1000"}},
		{"a group name is looked up and drops the supplementary groups", "nginx:www", []string{"lxc.init.uid: 101", "lxc.init.gid: 33"}},
		{"an unknown name sets only the (empty) groups", "ghost", []string{"lxc.init.groups: "}},
		{"a passwd line without a gid field gives no gid", "odd", []string{"lxc.init.uid: 7", "lxc.init.groups: "}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resolveOCIUser(img, tc.user)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("%q %v, want %q", got, err, tc.want)
			}
		})
	}
	t.Run("more than one colon is an invalid format", func(t *testing.T) {
		if _, err := resolveOCIUser(img, "a:b:c"); err == nil || err.Error() != "OCI config value for 'User' has an invalid format" {
			t.Fatal(err)
		}
	})
}
