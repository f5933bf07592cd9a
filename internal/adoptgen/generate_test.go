package adoptgen

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/proxmox"
)

// fakeSource serves a listing and configs from memory.
type fakeSource struct {
	cts  []proxmox.ContainerSummary
	cfgs map[int]map[string]string
}

func (f fakeSource) Containers(context.Context) ([]proxmox.ContainerSummary, error) {
	return f.cts, nil
}

func (f fakeSource) ContainerConfig(_ context.Context, _ string, vmid int, _ bool) (proxmox.ContainerConfig, error) {
	cfg, ok := f.cfgs[vmid]
	if !ok {
		return nil, fmt.Errorf("no container %d", vmid)
	}
	out := proxmox.ContainerConfig{"digest": "abc"}
	for k, v := range cfg {
		out[k] = v
	}
	return out, nil
}

func newFakeSource() fakeSource {
	f := fakeSource{cfgs: map[int]map[string]string{}}
	add := func(vmid int, node, hostname, tags, pool string, template bool) {
		f.cts = append(f.cts, proxmox.ContainerSummary{VMID: vmid, Node: node, Name: hostname, Status: "running", Tags: lxcconfig.SplitTags(tags), Pool: pool, Template: template})
		f.cfgs[vmid] = map[string]string{"hostname": hostname, "memory": "512", "unprivileged": "1", "tags": tags, "rootfs": fmt.Sprintf("local-lvm:vm-%d-disk-0,size=8G", vmid)}
	}
	add(120, "pve1", "web", "prod", "", false)
	add(110, "pve2", "web", "", "team", false)
	add(130, "pve1", "tpl", "", "", true)
	add(140, "pve1", "owned", "pve-operator;"+lxcconfig.OwnerTag(testUID), "", false)
	add(250, "pve2", "DB.local", "prod", "team", false)
	return f
}

func TestGenerateSelectsUnmanagedContainersByFilter(t *testing.T) {
	cases := []struct {
		name   string
		filter Filter
		want   []int
	}{
		{"no filter takes every unmanaged container", Filter{}, []int{110, 120, 250}},
		{"a node filter takes that node's", Filter{Node: "pve2"}, []int{110, 250}},
		{"a pool filter takes the pool's members", Filter{Pool: "team"}, []int{110, 250}},
		{"a tag filter matches in any case", Filter{Tag: "PROD"}, []int{120, 250}},
		{"a VMID range is inclusive", Filter{VMIDFrom: 110, VMIDTo: 120}, []int{110, 120}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := Generate(context.Background(), newFakeSource(), Options{Host: "pve", Namespace: "team", Filter: tc.filter})
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, r := range rs {
				got = append(got, int(*r.App.Spec.VMID))
				if !r.Plan.Empty() {
					t.Errorf("%d: plan %v", *r.App.Spec.VMID, r.Plan.Lines(r.Config))
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestGenerateNamesApplicationsUniquely(t *testing.T) {
	rs, err := Generate(context.Background(), newFakeSource(), Options{Host: "pve", Namespace: "team", Taken: map[string]bool{"db-local": true}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rs {
		names = append(names, r.App.Name)
	}
	if want := []string{"web", "web-120", "db-local-250"}; !slices.Equal(names, want) {
		t.Errorf("names %v, want %v", names, want)
	}
	for i, other := range []string{"[120]", "[110]"} {
		if !slices.ContainsFunc(rs[i].Notes, func(n string) bool { return strings.Contains(n, "is also that of container "+other) }) {
			t.Errorf("%s has no shared-hostname note: %v", rs[i].App.Name, rs[i].Notes)
		}
	}
}

func TestManifestsReadBackToTheSameSpec(t *testing.T) {
	rs, err := Generate(context.Background(), newFakeSource(), Options{Host: "pve", Namespace: "team"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteStream(&buf, rs); err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(buf.String(), "\n---\n")
	if len(docs) != len(rs) {
		t.Fatalf("%d documents for %d Applications", len(docs), len(rs))
	}
	for i, doc := range docs {
		app, err := Decode([]byte(doc))
		if err != nil {
			t.Fatalf("document %d: %v\n%s", i, err, doc)
		}
		if strings.Contains(doc, "status:") || strings.Contains(doc, "creationTimestamp") {
			t.Errorf("document %d carries empty status or metadata:\n%s", i, doc)
		}
		if plan := PlanFor(app, rs[i].Config, testUID); !plan.Empty() {
			t.Errorf("document %d read back plans %v", i, plan.Lines(rs[i].Config))
		}
	}
}

func TestParseVMIDRangeReadsRangesAndSingleVMIDs(t *testing.T) {
	cases := []struct {
		name     string
		in       string
		from, to int
		bad      bool
	}{
		{"a range", "100-199", 100, 199, false},
		{"one VMID", "150", 150, 150, false},
		{"a reversed range is refused", "199-100", 0, 0, true},
		{"junk is refused", "abc", 0, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			from, to, err := ParseVMIDRange(tc.in)
			if (err != nil) != tc.bad || from != tc.from || to != tc.to {
				t.Errorf("ParseVMIDRange(%q) = %d, %d, %v", tc.in, from, to, err)
			}
		})
	}
}
