package pvesim

import (
	"reflect"
	"testing"
)

// parsedWant is what a parse must give; nil maps and lists mean empty.
type parsedWant struct {
	conf       ctConf
	pending    ctConf
	pendingDel []string
	snaps      map[string]ctConf
	warnings   []string
}

func (w parsedWant) matches(p *parsedConfig) bool {
	snaps := map[string]ctConf{}
	for name, sn := range p.snaps {
		snaps[name] = sn.conf
	}
	return reflect.DeepEqual(orEmpty(w.conf), p.conf) && reflect.DeepEqual(orEmpty(w.pending), p.pending) &&
		len(w.pendingDel) == len(p.pendingDel) && (len(w.pendingDel) == 0 || reflect.DeepEqual(w.pendingDel, p.pendingDel)) &&
		len(w.snaps) == len(snaps) && (len(snaps) == 0 || reflect.DeepEqual(w.snaps, snaps)) &&
		len(w.warnings) == len(p.warnings) && (len(w.warnings) == 0 || reflect.DeepEqual(w.warnings, p.warnings))
}

func orEmpty(c ctConf) ctConf {
	if c == nil {
		return ctConf{}
	}
	return c
}

var parseConfigTests = []struct {
	name string
	text string
	want parsedWant
}{
	{name: "booleans and integers come back as check_type normalizes them",
		text: "onboot: yes\ncores: 04\ncpulimit: 1.50\nprotection: Off\n",
		want: parsedWant{conf: ctConf{"onboot": "1", "cores": "4", "cpulimit": "1.50", "protection": "0"}}},
	{name: "comment lines and a description line build the description",
		text: "#web%3A front\n#second line\ndescription: more\ncores: 1\n",
		want: parsedWant{conf: ctConf{"description": "web: front\nsecond line\nmore", "cores": "1"}}},
	{name: "blank lines are skipped anywhere",
		text: "\n  \ncores: 1\n\n\t\n",
		want: parsedWant{conf: ctConf{"cores": "1"}}},
	{name: "lxc lines keep their order, and '=' separates too",
		text: "lxc.idmap = u 0 100000 65536\nlxc.mount.entry: /a a none bind 0 0\nlxc.cgroup2.devices.allow: c 10:200 rwm\n",
		want: parsedWant{conf: ctConf{lxcConfKey: "lxc.idmap: u 0 100000 65536\nlxc.mount.entry: /a a none bind 0 0\nlxc.cgroup2.devices.allow: c 10:200 rwm"}}},
	{name: "an lxc key PVE generates itself is dropped with PVE's reason",
		text: "lxc.rootfs.path: /x\n",
		want: parsedWant{warnings: []string{"vm 100 - lxc.rootfs.path: lxc.rootfs.path is auto generated from rootfs"}}},
	{name: "an unknown lxc key makes the line unparsable",
		text: "lxc.bogus: 1\n",
		want: parsedWant{warnings: []string{"vm 100 - unable to parse config: lxc.bogus: 1"}}},
	{name: "a pre-3.0 lxc key is kept with a warning naming its successor",
		text: "lxc.id_map: u 0 100000 65536\n",
		want: parsedWant{conf: ctConf{lxcConfKey: "lxc.id_map: u 0 100000 65536"},
			warnings: []string{"vm 100 - lxc.id_map is deprecated and was renamed to lxc.idmap"}}},
	{name: "runtime environment lines become the env option",
		text: "lxc.environment.runtime: A=1\nlxc.environment.runtime: B=2\n",
		want: parsedWant{conf: ctConf{"env": "A=1\x00B=2"}}},
	{name: "an unknown option and a badly typed value are kept, with warnings",
		text: "foo: bar\nmemory: lots\n",
		want: parsedWant{conf: ctConf{"foo": "bar", "memory": "lots"}, warnings: []string{
			"vm 100 - unable to parse value of 'foo' - unknown setting 'foo'",
			"vm 100 - unable to parse value of 'memory' - type check ('integer') failed - got 'lots'"}}},
	{name: "indented and malformed lines are skipped with a warning",
		text: "  cores: 2\nCores: 2\njust words\n",
		want: parsedWant{warnings: []string{
			"vm 100 - unable to parse config:   cores: 2",
			"vm 100 - unable to parse config: Cores: 2",
			"vm 100 - unable to parse config: just words"}}},
	{name: "a digest line sets nothing: the digest is computed from the file",
		text: "digest: 0123\n",
		want: parsedWant{warnings: []string{"vm 100 - unable to parse value of 'digest' - unknown setting 'digest'"}}},
	{name: "delete is only read in [pve:pending]",
		text: "delete: swap\n[pve:pending]\ncores: 8\ndelete: onboot,!swap;onboot\n",
		want: parsedWant{pending: ctConf{"cores": "8"}, pendingDel: []string{"onboot", "swap"},
			warnings: []string{"vm 100 - property 'delete' is only allowed in [pve:pending]"}}},
	{name: "snapshot sections are read, and the current section's snapstate is dropped",
		text: "snapstate: prepare\ncores: 2\n\n[before]\n#snap note\ncores: 1\nsnapstate: delete\n",
		want: parsedWant{conf: ctConf{"cores": "2"},
			snaps: map[string]ctConf{"before": {"cores": "1", "description": "snap note\n", "snapstate": "delete"}}}},
	{name: "a repeated section starts over",
		text: "[before]\ncores: 1\n[before]\nmemory: 256\n",
		want: parsedWant{snaps: map[string]ctConf{"before": {"memory": "256"}}}},
}

func TestParseConfigText(t *testing.T) {
	for _, tt := range parseConfigTests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseConfigText(100, tt.text)
			if !tt.want.matches(got) {
				t.Errorf("parse %q =\n conf %q pending %q delete %q snaps %v warnings %q\nwant %+v",
					tt.text, got.conf, got.pending, got.pendingDel, got.snaps, got.warnings, tt.want)
			}
		})
	}
}

// TestConfigFileRoundTrip proves a file the simulator renders parses back to
// the same config, so reading it and writing it back changes nothing.
func TestConfigFileRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		ct   *container
	}{
		{name: "options, description, env and lxc lines survive", ct: &container{
			conf: ctConf{"cores": "2", "description": "web: front\n100% sure\n", "env": "A=1\x00B=2",
				lxcConfKey: "lxc.idmap: u 0 100000 65536\nlxc.mount.entry: /a a none bind 0 0"},
		}},
		{name: "pending changes and snapshots survive", ct: &container{
			conf: ctConf{"cores": "2", "parent": "before"}, pending: ctConf{"cores": "4"}, pendingDel: []string{"onboot"},
			snaps: map[string]*snapshot{"before": {name: "before", conf: ctConf{"cores": "1", "snaptime": "1700000000"}}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := tt.ct.configFile()
			p := parseConfigText(100, text)
			back := &container{conf: p.conf, pending: p.pending, pendingDel: p.pendingDel, snaps: p.snaps}
			if len(p.warnings) > 0 || back.configFile() != text || !reflect.DeepEqual(p.conf, tt.ct.conf) {
				t.Errorf("rendered %q, read back %q (conf %q, warnings %q)", text, back.configFile(), p.conf, p.warnings)
			}
		})
	}
}
