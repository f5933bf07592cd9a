package pvesim

import (
	"strconv"
	"testing"
)

// TestCloneConfigBeforeTheCopy: clone_vm writes the target's config before
// it answers, so while the copy runs the clone already carries the
// source's keys (tags included), the given hostname and description and
// lock "create"; an empty description leaves the source's.
func TestCloneConfigBeforeTheCopy(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100, "description", "golden", "tags", "pve-operator;web", "memory", "768")
	for _, c := range []struct {
		name, description, want string
		newid                   int
	}{
		{"a given description replaces the source's", "mine", "mine", 150},
		{"an empty description keeps the source's", "", "golden", 151},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv.StallTasks(TaskClone, "100", 1)
			upid := upidOf(t, raw(t, srv, "POST", "/nodes/pve1/lxc/100/clone", form("newid", strconv.Itoa(c.newid), "hostname", "copy", "description", c.description)))
			dst, _ := srv.Container(c.newid)
			if dst.Lock != "create" || dst.Config["tags"] != "pve-operator;web" || dst.Config["memory"] != "768" ||
				dst.Config["hostname"] != "copy" || dst.Config["description"] != c.want {
				t.Fatalf("target while copying: %+v", dst)
			}
			srv.ReleaseTask(upid)
			if v := waitTask(t, srv, upid); v.ExitStatus != "OK" {
				t.Fatal(v.ExitStatus)
			}
			if dst, _ = srv.Container(c.newid); dst.Lock != "" || dst.Config["rootfs"] == "" {
				t.Fatalf("target after the copy: %+v", dst)
			}
		})
	}
}
