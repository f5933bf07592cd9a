package sshd

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// fakeVolumes is a MountedVolumes for tests: mount path → volume per VMID,
// and files per volume.
type fakeVolumes struct {
	mu     sync.Mutex
	mounts map[int]map[string]string
	files  map[string]map[string]string
}

func (f *fakeVolumes) ContainerMounts(vmid int) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.mounts[vmid])
}

func (f *fakeVolumes) VolumeFiles(volid string) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	files, ok := f.files[volid]
	if !ok {
		return nil, fmt.Errorf("volume %s does not exist", volid)
	}
	return maps.Clone(files), nil
}

func (f *fakeVolumes) ReplaceVolumeFiles(volid string, files map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.files[volid]; !ok {
		return fmt.Errorf("volume %s does not exist", volid)
	}
	f.files[volid] = maps.Clone(files)
	return nil
}

func (f *fakeVolumes) get(volid string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.files[volid])
}

func startVolumeNode(t *testing.T, vols *fakeVolumes) testNode {
	t.Helper()
	cts := containers{}
	for vmid := range vols.mounts {
		cts[vmid] = true
	}
	return startNode(t, Options{Containers: cts, Volumes: vols})
}

func TestMountedVolumes(t *testing.T) {
	vols := &fakeVolumes{
		mounts: map[int]map[string]string{
			100: {"/data": "outer", "/data/inner": "inner", "/": "root", "opt/rel": "rel"},
			102: {"/x": "missing"},
		},
		files: map[string]map[string]string{
			"outer": {"keep": "k", "inner/covered": "c"}, "inner": {"i": "i"}, "root": {"r": "r"}, "rel": {},
		},
	}
	n := startVolumeNode(t, vols)
	c := mustDial(t, n)
	outer := map[string]string{"keep": "k", "inner/covered": "c"}
	tests := []struct {
		execCase
		want map[string]map[string]string // volume → all its files afterwards
	}{
		{execCase{name: "a mount nested in another covers the outer volume's files, which it keeps",
			command: `pct exec 100 -- /bin/sh -c 'ls -A data data/inner'`,
			want:    execResult{stdout: "data:\ninner\nkeep\n\ndata/inner:\ni\n"}},
			map[string]map[string]string{"outer": outer, "inner": {"i": "i"}}},
		{execCase{name: "a file written in a nested mount is the inner volume's",
			command: `pct exec 100 -- /bin/sh -c 'echo n > data/inner/new'`},
			map[string]map[string]string{"outer": outer, "inner": {"i": "i", "new": "n\n"}}},
		{execCase{name: "a mount on the container's root is no volume of the scratch directory",
			command: `pct exec 100 -- /bin/sh -c 'test -e r || echo absent'`,
			want:    execResult{stdout: "absent\n"}},
			map[string]map[string]string{"root": {"r": "r"}}},
		{execCase{name: "a relative mount path is taken from the container's root",
			command: `pct exec 100 -- /bin/sh -c 'echo x > opt/rel/x'`},
			map[string]map[string]string{"rel": {"x": "x\n"}}},
		{execCase{name: "symlinks and empty directories are not a volume's content",
			command: `pct exec 100 -- /bin/sh -c 'ln -s keep data/link && mkdir data/empty'`},
			map[string]map[string]string{"outer": outer}},
		{execCase{name: "a file larger than a volume file may be is dropped",
			command: `pct exec 100 -- /bin/sh -c 'head -c ` + strconv.Itoa(MaxMountedFileSize+1) + ` /dev/zero > data/big'`},
			map[string]map[string]string{"outer": outer}},
		{execCase{name: "a mount path the command turned into a file leaves the volume empty",
			command: `pct exec 100 -- /bin/sh -c 'rm -r data/inner && echo f > data/inner'`},
			map[string]map[string]string{"inner": {}, "outer": outer}},
		{execCase{name: "a volume that cannot be read fails the command before it runs",
			command:          `pct exec 102 -- /bin/sh -c 'touch ran'`,
			want:             execResult{status: exitPctError},
			wantStderrPrefix: "pvesim: CT 102: mount its volumes: mount missing at /x: volume missing does not exist"},
			nil},
	}
	for _, tt := range tests {
		tt.run(t, c)
		for volid, want := range tt.want {
			if got := vols.get(volid); !maps.Equal(got, want) {
				t.Errorf("%s: volume %s holds %q, want %q", tt.name, volid, got, want)
			}
		}
	}
	for _, p := range []string{"100/data", "100/opt/rel", "102/ran"} {
		if _, err := os.Lstat(filepath.Join(n.srv.scratchRoot, p)); !os.IsNotExist(err) {
			t.Errorf("%s is in the scratch root after the commands (lstat: %v)", p, err)
		}
	}
}

// TestKilledCommandLeavesItsFilesOnTheVolume: however a client gives up on
// a command, what it wrote is read back once the process is dead.
func TestKilledCommandLeavesItsFilesOnTheVolume(t *testing.T) {
	vols := &fakeVolumes{
		mounts: map[int]map[string]string{200: {"/data": "v200"}, 201: {"/data": "v201"}, 202: {"/data": "v202"}},
		files:  map[string]map[string]string{"v200": {}, "v201": {}, "v202": {}},
	}
	n := startVolumeNode(t, vols)
	for i, tt := range clientStops {
		t.Run(tt.name, func(t *testing.T) {
			vmid := 200 + i
			volid := "v" + strconv.Itoa(vmid)
			c := mustDial(t, n)
			sess, err := c.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			if err := sess.Start("pct exec " + strconv.Itoa(vmid) + " -- /bin/sh -c 'echo partial > data/p; echo $$ > shell.pid; sleep 60'"); err != nil {
				t.Fatal(err)
			}
			waitForPIDFile(t, filepath.Join(n.srv.ScratchDir(vmid), "shell.pid"))
			tt.stop(c, sess)
			waitUntil(t, "the volume to get the killed command's file", func() bool {
				return vols.get(volid)["p"] == "partial\n"
			})
		})
	}
}

// TestConcurrentCommandsShareTheMountedVolumes: a second command in a
// running container sees the first one's files, and the first keeps its
// tree when the second ends.
func TestConcurrentCommandsShareTheMountedVolumes(t *testing.T) {
	vols := &fakeVolumes{
		mounts: map[int]map[string]string{100: {"/data": "v"}},
		files:  map[string]map[string]string{"v": {}},
	}
	n := startVolumeNode(t, vols)
	c := mustDial(t, n)
	first, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var firstOut bytes.Buffer
	first.Stdout = &firstOut
	// The first command waits for the second one's file, then shows its own.
	script := `echo a > data/a; touch started; while [ ! -e data/b ]; do sleep 0.01; done; cat data/a`
	if err := first.Start("pct exec 100 -- /bin/sh -c '" + script + "'"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the first command to start", func() bool {
		_, err := os.Stat(filepath.Join(n.srv.ScratchDir(100), "started"))
		return err == nil
	})
	execCase{name: "the second command sees the first one's file",
		command: `pct exec 100 -- /bin/sh -c 'cat data/a; echo b > data/b'`,
		want:    execResult{stdout: "a\n"}}.run(t, c)
	if err := first.Wait(); err != nil || firstOut.String() != "a\n" {
		t.Fatalf("first command: %v, stdout %q", err, firstOut.String())
	}
	if got, want := vols.get("v"), map[string]string{"a": "a\n", "b": "b\n"}; !maps.Equal(got, want) {
		t.Errorf("volume holds %q, want %q", got, want)
	}
}
