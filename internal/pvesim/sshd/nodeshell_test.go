package sshd

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// fakeConfigs is a ConfigFiles over a map "node/vmid" -> file, on the nodes
// pve-test (the daemon's) and pve2. It creates no files.
type fakeConfigs struct {
	mu    sync.Mutex
	files map[string]string
}

func fileKey(node string, vmid int) string { return fmt.Sprintf("%s/%d", node, vmid) }

func (f *fakeConfigs) HasNode(node string) bool { return node == "pve-test" || node == "pve2" }

func (f *fakeConfigs) ReadConfigFile(node string, vmid int) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	text, ok := f.files[fileKey(node, vmid)]
	if !ok {
		return "", syscall.ENOENT
	}
	return text, nil
}

func (f *fakeConfigs) ConfigWritable(node string, vmid int) error {
	if !f.HasNode(node) {
		return syscall.ENOENT
	}
	if _, err := f.ReadConfigFile(node, vmid); err != nil {
		return errors.New("no such guest")
	}
	return nil
}

func (f *fakeConfigs) WriteConfigFile(node string, vmid int, text string) error {
	if err := f.ConfigWritable(node, vmid); err != nil {
		return err
	}
	if len(text) > MaxConfigFileSize {
		return syscall.EFBIG
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files[fileKey(node, vmid)] = text
	return nil
}

func (f *fakeConfigs) ContainerConfig(node string, vmid int, q ConfigQuery) (ConfigView, error) {
	if _, err := f.ReadConfigFile(node, vmid); err != nil {
		return ConfigView{}, fmt.Errorf("Configuration file 'nodes/%s/lxc/%d.conf' does not exist", node, vmid)
	}
	return ConfigView{Options: map[string]string{"memory": "512", "cores": "1"}, LXC: [][2]string{{"lxc.idmap", "u 0 100000 65536"}}}, nil
}

func (f *fakeConfigs) ListContainers(string) []ContainerSummary { return nil }

const (
	conf100 = "/etc/pve/lxc/100.conf"
	file100 = "cores: 1\n"
)

// nodeShellTests exercise the shell and coreutils behaviour around config
// files; CT 100's file starts as file100. wantFile, when set, is the file
// afterwards.
var nodeShellTests = []struct {
	name     string
	command  string
	stdin    string
	want     execResult
	wantFile *string
}{
	{name: "cat -n is refused rather than ignored", command: "cat -n " + conf100,
		want: execResult{stderr: "pvesim: cat -n is not simulated\n", status: 1}},
	{name: "an unknown cat option is getopt's error", command: "cat -z " + conf100,
		want: execResult{stderr: "cat: invalid option -- 'z'\nTry 'cat --help' for more information.\n", status: 1}},
	{name: "cat of the lxc directory fails with EISDIR", command: "cat /etc/pve/lxc/",
		want: execResult{stderr: "cat: /etc/pve/lxc/: Is a directory\n", status: 1}},
	{name: "cat of a file outside the container configs is refused", command: "cat /etc/hosts",
		want: execResult{stderr: "pvesim: /etc/hosts: " + errReadUnsimulated.Error() + "\n", status: 1}},
	{name: "cat prints what it can and reports every missing file", command: "cat " + conf100 + " /etc/pve/lxc/999.conf -",
		stdin: "tail\n", want: execResult{stdout: file100 + "tail\n", stderr: "cat: /etc/pve/lxc/999.conf: No such file or directory\n", status: 1}},
	{name: "a path under an unknown node does not exist", command: "cat /etc/pve/nodes/nope/lxc/100.conf",
		want: execResult{stderr: "cat: /etc/pve/nodes/nope/lxc/100.conf: No such file or directory\n", status: 1}},
	{name: "cat f > f empties f, as bash truncates it before cat reads", command: "cat " + conf100 + " > " + conf100,
		wantFile: ptr("")},
	{name: "cat f >> f is refused by cat", command: "cat " + conf100 + " >> " + conf100,
		want: execResult{stderr: "cat: " + conf100 + ": input file is output file\n", status: 1}, wantFile: ptr(file100)},
	{name: "a bare '>' truncates the file", command: "> " + conf100, wantFile: ptr("")},
	{name: "the last stdout redirection gets the output, earlier ones are only truncated",
		command: "echo 'cores: 3' > " + conf100 + " > /dev/null", wantFile: ptr("")},
	{name: "tee reports a file it cannot open and still writes the others",
		command: "tee /etc/pve/nodes/nope/lxc/100.conf " + conf100, stdin: "cores: 2\n",
		want:     execResult{stdout: "cores: 2\n", stderr: "tee: /etc/pve/nodes/nope/lxc/100.conf: No such file or directory\n", status: 1},
		wantFile: ptr("cores: 2\n")},
	{name: "an unknown tee option is getopt's error", command: "tee -x " + conf100,
		want: execResult{stderr: "tee: invalid option -- 'x'\nTry 'tee --help' for more information.\n", status: 1}, wantFile: ptr(file100)},
	{name: "echo -n writes no newline", command: "echo -n 'memory: 512' >> " + conf100, wantFile: ptr(file100 + "memory: 512")},
	{name: "echo -e with a backslash is refused", command: `echo -e 'a\tb'`,
		want: execResult{stderr: "pvesim: echo -e with backslash escapes is not simulated\n", status: 1}},
	{name: "a redirection to a file outside pmxcfs is refused before the command runs", command: "echo hi > /tmp/x",
		want: execResult{stderr: "pvesim: /tmp/x: " + errWriteUnsimulated.Error() + "\n", status: 1}},
	{name: "a config the fake does not have is refused with its reason", command: "echo 'cores: 1' > /etc/pve/lxc/555.conf",
		want: execResult{stderr: "pvesim: /etc/pve/lxc/555.conf: no such guest\n", status: 1}},
	{name: "stderr can be sent to /dev/null", command: "cat /etc/pve/lxc/999.conf 2>/dev/null",
		want: execResult{status: 1}},
	{name: "a file over the size limit is a write error and the file stays", command: "cat > " + conf100,
		stdin: strings.Repeat("x", MaxConfigFileSize+1), want: execResult{stderr: "cat: write error: File too large\n", status: 1},
		wantFile: ptr(file100)},
	{name: "pct exec's output cannot be redirected on the node", command: "pct exec 100 -- true > /tmp/x",
		want: execResult{stderr: errUnquotedRedirect.Error() + "\n", status: 2}},
	{name: "pct subcommands other than exec, config and list are refused", command: "pct start 100",
		want: execResult{stderr: "pvesim: 'pct start' is not simulated; only 'pct exec', 'pct config' and 'pct list' are\n", status: 255}},
	{name: "pct config prints options sorted and lxc lines last", command: "pct config 100",
		want: execResult{stdout: "cores: 1\nmemory: 512\nlxc.idmap: u 0 100000 65536\n"}},
	{name: "pct config checks the VMID format", command: "pct config abc",
		want: execResult{stderr: "400 Parameter verification failed.\nvmid: invalid format - value does not look like a valid VM ID\n\n" + pctConfigUsage, status: 255}},
	{name: "pct config refuses --current with --snapshot", command: "pct config 100 --current --snapshot s1",
		want: execResult{stderr: "400 Parameter verification failed.\ncurrent: cannot use 'snapshot' parameter with 'current'\n" +
			"snapshot: cannot use 'snapshot' parameter with 'current'\n\n" + pctConfigUsage, status: 255}},
	{name: "pct config without a VMID is a usage error", command: "pct config",
		want: execResult{stderr: "400 not enough arguments\n" + pctConfigUsage, status: 255}},
	{name: "pct list prints nothing, not even a header, without containers", command: "pct list"},
}

func ptr(s string) *string { return &s }

func TestNodeShell(t *testing.T) {
	for _, tt := range nodeShellTests {
		t.Run(tt.name, func(t *testing.T) {
			configs := &fakeConfigs{files: map[string]string{"pve-test/100": file100}}
			n := startNode(t, Options{NodeName: "pve-test", Configs: configs})
			got := runCommand(t, mustDial(t, n), tt.command, tt.stdin)
			if got != tt.want {
				t.Errorf("%q = %+v, want %+v", tt.command, got, tt.want)
			}
			if tt.wantFile != nil {
				if file, _ := configs.ReadConfigFile("pve-test", 100); file != *tt.wantFile {
					t.Errorf("file = %q, want %q", file, *tt.wantFile)
				}
			}
		})
	}
}

func TestResolvePath(t *testing.T) {
	srv := &Server{nodeName: "pve-test", configs: &fakeConfigs{}}
	tests := []struct {
		path string
		want nodePath
	}{
		{path: "/etc/pve/lxc/100.conf", want: nodePath{kind: pathConfig, node: "pve-test", vmid: 100}},
		{path: "/etc/pve/nodes/pve2/lxc/100.conf", want: nodePath{kind: pathConfig, node: "pve2", vmid: 100}},
		{path: "/etc/pve//lxc/./100.conf", want: nodePath{kind: pathConfig, node: "pve-test", vmid: 100}},
		{path: "/etc/pve/lxc", want: nodePath{kind: pathLXCDir, node: "pve-test"}},
		{path: "/etc/pve/nodes/pve2/lxc/", want: nodePath{kind: pathLXCDir, node: "pve2"}},
		{path: "/etc/pve/lxc/0100.conf", want: nodePath{kind: pathOtherFile, node: "pve-test"}},
		{path: "/etc/pve/lxc/notes.txt", want: nodePath{kind: pathOtherFile, node: "pve-test"}},
		{path: "/etc/pve/lxc/4294967296.conf", want: nodePath{kind: pathOtherFile, node: "pve-test"}},
		{path: "/etc/pve/nodes/nope/lxc/100.conf", want: nodePath{kind: pathMissing}},
		{path: "/etc/pve/nodes/pve2/qemu-server/100.conf", want: nodePath{kind: pathUnsimulated}},
		{path: "/etc/pve/storage.cfg", want: nodePath{kind: pathUnsimulated}},
		{path: "lxc/100.conf", want: nodePath{kind: pathUnsimulated}},
		{path: "/dev/null", want: nodePath{kind: pathDevNull}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if got := srv.resolvePath(tt.path); got != tt.want {
				t.Errorf("resolvePath(%q) = %+v, want %+v", tt.path, got, tt.want)
			}
		})
	}
}
