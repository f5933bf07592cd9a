package pvesim

import (
	"crypto/sha1" //nolint:gosec // PVE's digest is SHA-1
	"encoding/hex"
	"strings"
	"testing"
)

// sshResult is how one command over SSH ended.
type sshResult struct {
	stdout, stderr string
	status         int
}

// hostnameIs checks the hostname the API reports for a container.
func hostnameIs(node string, vmid int, want string) func(*testing.T, *Server, sshResult, string) {
	return func(t *testing.T, srv *Server, _ sshResult, _ string) {
		if got := apiConfig(t, srv, node, vmid)["hostname"]; got != want {
			t.Errorf("API hostname of CT %d = %v, want %s", vmid, got, want)
		}
	}
}

// withCores4 is CT 100's file with cores 4 in place of 2.
func withCores4(file string) string { return strings.Replace(file, "cores: 2\n", "cores: 4\n", 1) }

func sha1Hex(s string) string {
	sum := sha1.Sum([]byte(s)) //nolint:gosec // PVE's digest is SHA-1
	return hex.EncodeToString(sum[:])
}

// mustWriteFile writes a config file as a client over SSH would have.
func mustWriteFile(t *testing.T, srv *Server, node string, vmid int, text string) {
	t.Helper()
	if err := srv.WriteConfigFile(node, vmid, text); err != nil {
		t.Fatalf("write %s/lxc/%d.conf: %v", node, vmid, err)
	}
}

func fileOf(t *testing.T, srv *Server, node string, vmid int) string {
	t.Helper()
	text, err := srv.ReadConfigFile(node, vmid)
	if err != nil {
		t.Fatalf("read %s/lxc/%d.conf: %v", node, vmid, err)
	}
	return text
}

const mountEntry = "lxc.mount.entry: /srv/data srv/data none bind,create=dir 0 0\n"

// configFileTest is one command against a simulator with CT 100 (cores 2)
// on pve1, the node the daemon serves, and CT 200 on pve2.
type configFileTest struct {
	name    string
	setup   func(t *testing.T, srv *Server)
	command string
	// stdin builds the input from CT 100's file as it is before the command.
	stdin func(file string) string
	want  sshResult
	// check runs after the command; before is CT 100's digest before it.
	check func(t *testing.T, srv *Server, got sshResult, before string)
}

// configFileTests are the config file commands real clients send to a node:
// cat, cat >, tee, echo >>, pct config and pct list.
var configFileTests = []configFileTest{
	{
		name:    "cat prints the file whose SHA-1 is the digest the API reports",
		command: "cat /etc/pve/lxc/100.conf",
		check: func(t *testing.T, srv *Server, got sshResult, before string) {
			if !strings.Contains(got.stdout, "\ncores: 2\n") || sha1Hex(got.stdout) != before {
				t.Errorf("cat printed %q (sha1 %s), want the file with cores: 2 and digest %s", got.stdout, sha1Hex(got.stdout), before)
			}
		},
	},
	{
		name:    "a config written back with cat > is what the API then answers, with a new digest",
		command: "cat > /etc/pve/lxc/100.conf",
		stdin:   withCores4,
		check: func(t *testing.T, srv *Server, _ sshResult, before string) {
			conf := apiConfig(t, srv, "pve1", 100)
			written := fileOf(t, srv, "pve1", 100)
			if conf["cores"] != float64(4) || conf["digest"] == before || conf["digest"] != sha1Hex(written) {
				t.Errorf("API config cores=%v digest=%v, want 4 and the SHA-1 of the new file (not %s)", conf["cores"], conf["digest"], before)
			}
		},
	},
	{
		name:    "tee -a appends an lxc.mount.entry line, which the API lists under lxc",
		command: "tee -a /etc/pve/lxc/100.conf",
		stdin:   func(string) string { return mountEntry },
		want:    sshResult{stdout: mountEntry},
		check: func(t *testing.T, srv *Server, _ sshResult, _ string) {
			got := mustJSON(apiConfig(t, srv, "pve1", 100)["lxc"])
			if want := `[["lxc.mount.entry","/srv/data srv/data none bind,create=dir 0 0"]]`; got != want {
				t.Errorf("API lxc = %s, want %s", got, want)
			}
		},
	},
	{
		name:    "echo >> appends an option line",
		command: "echo 'dev0: /dev/net/tun' >> /etc/pve/lxc/100.conf",
		check: func(t *testing.T, srv *Server, _ sshResult, _ string) {
			if got := apiConfig(t, srv, "pve1", 100)["dev0"]; got != "/dev/net/tun" {
				t.Errorf("API dev0 = %v, want /dev/net/tun", got)
			}
		},
	},
	{
		name:    "a missing config file is reported the way cat reports it",
		command: "cat /etc/pve/lxc/999.conf",
		want:    sshResult{stderr: "cat: /etc/pve/lxc/999.conf: No such file or directory\n", status: 1},
	},
	{
		name:    "another node's container is not in /etc/pve/lxc, which is this node's directory",
		command: "cat /etc/pve/lxc/200.conf",
		want:    sshResult{stderr: "cat: /etc/pve/lxc/200.conf: No such file or directory\n", status: 1},
	},
	{
		name:    "another node's container is read through /etc/pve/nodes/<node>/lxc",
		command: "cat /etc/pve/nodes/pve2/lxc/200.conf",
		check: func(t *testing.T, srv *Server, got sshResult, _ string) {
			if got.stdout != fileOf(t, srv, "pve2", 200) || !strings.Contains(got.stdout, "hostname: ct200\n") {
				t.Errorf("cat printed %q, want CT 200's file", got.stdout)
			}
		},
	},
	{
		name:    "another node's container is written through /etc/pve/nodes/<node>/lxc",
		command: "tee /etc/pve/nodes/pve2/lxc/200.conf > /dev/null",
		stdin: func(string) string {
			return "arch: amd64\nhostname: renamed\nmemory: 512\nrootfs: local-lvm:vm-200-disk-0,size=8G\n"
		},
		check: hostnameIs("pve2", 200, "renamed"),
	},
	{
		name:    "pmxcfs refuses a VMID that belongs to another node",
		command: "cat > /etc/pve/lxc/200.conf",
		stdin:   func(string) string { return "hostname: stolen\n" },
		want:    sshResult{stderr: "bash: /etc/pve/lxc/200.conf: File exists\n", status: 1},
		check:   hostnameIs("pve2", 200, "ct200"),
	},
	{
		name:    "lines the parser cannot read are stored but set no option",
		command: "cat >> /etc/pve/lxc/100.conf",
		stdin:   func(string) string { return "this is no config line\nlxc.rootfs.path: /tmp/x\nfoo: bar\n" },
		check: func(t *testing.T, srv *Server, _ sshResult, _ string) {
			conf := apiConfig(t, srv, "pve1", 100)
			if !strings.HasSuffix(fileOf(t, srv, "pve1", 100), "this is no config line\nlxc.rootfs.path: /tmp/x\nfoo: bar\n") {
				t.Errorf("the file lost the appended lines")
			}
			// PVE keeps an unknown option's value, only warning about it.
			if conf["lxc"] != nil || conf["foo"] != "bar" {
				t.Errorf("API lxc=%v foo=%v, want no lxc list and foo=bar", conf["lxc"], conf["foo"])
			}
		},
	},
	{
		name: "pct config prints what the parser warned about on stderr",
		setup: func(t *testing.T, srv *Server) {
			mustWriteFile(t, srv, "pve1", 100, fileOf(t, srv, "pve1", 100)+"garbage\nfoo: bar\ncores: many\n")
		},
		command: "pct config 100",
		check: func(t *testing.T, _ *Server, got sshResult, _ string) {
			want := "vm 100 - unable to parse config: garbage\n" +
				"vm 100 - unable to parse value of 'foo' - unknown setting 'foo'\n" +
				"vm 100 - unable to parse value of 'cores' - type check ('integer') failed - got 'many'\n"
			if got.stderr != want || !strings.Contains(got.stdout, "\ncores: many\n") || got.status != 0 {
				t.Errorf("pct config = %+v, want stderr %q and cores: many", got, want)
			}
		},
	},
	{
		name:    "a write to a locked container is stored: pmxcfs checks no lock",
		setup:   func(t *testing.T, srv *Server) { setLock(t, srv, 100, "backup") },
		command: "cat > /etc/pve/lxc/100.conf",
		stdin:   withCores4,
		check: func(t *testing.T, srv *Server, _ sshResult, _ string) {
			conf := apiConfig(t, srv, "pve1", 100)
			if conf["cores"] != float64(4) || conf["lock"] != "backup" {
				t.Errorf("API cores=%v lock=%v, want 4 and still backup", conf["cores"], conf["lock"])
			}
		},
	},
	{
		name:    "a config for a VMID no container has creates nothing",
		command: "cat > /etc/pve/lxc/555.conf",
		stdin:   func(string) string { return "hostname: ghost\n" },
		want: sshResult{status: 1, stderr: "pvesim: /etc/pve/lxc/555.conf: the simulator does not create guests " +
			"by writing a config file; create the container through the API\n"},
		check: func(t *testing.T, srv *Server, _ sshResult, _ string) {
			if _, ok := srv.Container(555); ok {
				t.Error("CT 555 exists")
			}
		},
	},
	{
		name:    "a file over pmxcfs's 1 MiB limit is refused and the old one stays",
		command: "cat > /etc/pve/lxc/100.conf",
		stdin:   func(file string) string { return file + strings.Repeat("#padding\n", 1<<17) },
		want:    sshResult{stderr: "cat: write error: File too large\n", status: 1},
		check: func(t *testing.T, srv *Server, _ sshResult, before string) {
			if got := apiConfig(t, srv, "pve1", 100)["digest"]; got != before {
				t.Errorf("digest = %v, want it unchanged (%s)", got, before)
			}
		},
	},
	{
		name:    "pct config prints the options sorted, the description encoded, the lxc lines last",
		setup:   func(t *testing.T, srv *Server) { mustWriteFile(t, srv, "pve1", 100, sortedConfigFile) },
		command: "pct config 100",
		want:    sshResult{stdout: sortedConfigPrinted},
	},
	{
		name:    "pct config folds pending values and deletions in",
		setup:   func(t *testing.T, srv *Server) { mustWriteFile(t, srv, "pve1", 100, pendingConfigFile) },
		command: "pct config 100",
		want: sshResult{stdout: "arch: amd64\ncores: 8\ndescription: web%3A front%0A\nhostname: web\nmemory: 512\n" +
			"rootfs: local-lvm:vm-100-disk-0,size=8G\n" + mountEntry},
	},
	{
		name:    "pct config --current leaves pending values out",
		setup:   func(t *testing.T, srv *Server) { mustWriteFile(t, srv, "pve1", 100, pendingConfigFile) },
		command: "pct config 100 --current",
		want:    sshResult{stdout: sortedConfigPrinted},
	},
	{
		name:    "pct config --snapshot prints a snapshot section",
		setup:   func(t *testing.T, srv *Server) { mustWriteFile(t, srv, "pve1", 100, snapshotConfigFile) },
		command: "pct config 100 --snapshot before",
		want:    sshResult{stdout: "cores: 1\nhostname: old\nsnaptime: 1700000000\n"},
	},
	{
		name:    "pct config of another node's container fails like pct",
		command: "pct config 200",
		want:    sshResult{stderr: "Configuration file 'nodes/pve1/lxc/200.conf' does not exist\n", status: 255},
	},
	{
		name:    "pct list shows this node's containers in pct's columns",
		command: "pct list",
		want: sshResult{stdout: "VMID       Status     Lock         Name                \n" +
			"100        stopped                 ct100               \n"},
	},
}

func TestConfigFilesOverSSH(t *testing.T) {
	t.Parallel()
	for _, tt := range configFileTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c := newSSHSim(t)
			createCT(t, srv, "pve1", 100, "cores", "2")
			createCT(t, srv, "pve2", 200)
			if tt.setup != nil {
				tt.setup(t, srv)
			}
			before := apiConfig(t, srv, "pve1", 100)["digest"].(string)
			stdin := ""
			if tt.stdin != nil {
				stdin = tt.stdin(fileOf(t, srv, "pve1", 100))
			}
			var got sshResult
			got.stdout, got.stderr, got.status = sshRun(t, c, tt.command, stdin)
			if tt.check == nil || tt.want != (sshResult{}) {
				if got != tt.want {
					t.Errorf("%q = %+v, want %+v", tt.command, got, tt.want)
				}
			}
			if tt.check != nil {
				tt.check(t, srv, got, before)
			}
		})
	}
}

// sortedConfigFile is a config file as PVE writes one.
const sortedConfigFile = "#web%3A front\narch: amd64\ncores: 2\nhostname: web\nmemory: 512\nonboot: 1\n" +
	"rootfs: local-lvm:vm-100-disk-0,size=8G\n" + mountEntry

// sortedConfigPrinted is sortedConfigFile as pct config prints it.
const sortedConfigPrinted = "arch: amd64\ncores: 2\ndescription: web%3A front%0A\nhostname: web\nmemory: 512\nonboot: 1\n" +
	"rootfs: local-lvm:vm-100-disk-0,size=8G\n" + mountEntry

const pendingConfigFile = sortedConfigFile + "\n[pve:pending]\ncores: 8\ndelete: onboot\n"

const snapshotConfigFile = sortedConfigFile + "\n[before]\ncores: 1\nhostname: old\nsnaptime: 1700000000\n"
