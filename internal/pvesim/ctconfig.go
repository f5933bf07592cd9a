package pvesim

import (
	"crypto/sha1" //nolint:gosec // PVE's config digest is SHA-1; this is fidelity, not security.
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pve-operator/pve-operator/internal/pvesim/pveschema"
)

// ctConf is one section of a container config file: raw string values keyed
// by option name, exactly as pmxcfs stores them. PVE writes the keys sorted,
// so the sorted order is the file order.
type ctConf map[string]string

func (c ctConf) clone() ctConf {
	out := make(ctConf, len(c))
	for k, v := range c {
		out[k] = v
	}
	return out
}

// sectionCopy copies a config section into a new one (a clone, a
// snapshot) without the given keys; unusedN volumes stay with their owner.
func sectionCopy(c ctConf, drop ...string) ctConf {
	out := ctConf{}
	for k, v := range c {
		if _, ok := indexOf(k, "unused"); ok || slices.Contains(drop, k) {
			continue
		}
		out[k] = v
	}
	return out
}

// encodeDescription mirrors PVE::Tools::encode_text for description comment
// lines: control and non-ASCII bytes, '%' and ':' are %-escaped.
func encodeDescription(line string) string {
	var b strings.Builder
	for _, r := range []byte(line) {
		if r >= ' ' && r <= '~' && r != '%' && r != ':' {
			b.WriteByte(r)
		} else {
			fmt.Fprintf(&b, "%%%02X", r)
		}
	}
	return b.String()
}

// writeSection serializes one section like pve-container's write_pct_config:
// description as leading '#' comments, then "key: value" lines sorted by
// key, then env as lxc.environment.runtime lines and the raw lxc.* lines.
func (c ctConf) writeSection(b *strings.Builder) {
	// Perl's split drops trailing empty fields, so a description read back
	// from comments (which ends in "\n") keeps its number of lines.
	if d := strings.TrimRight(c["description"], "\n"); d != "" {
		for _, line := range strings.Split(d, "\n") {
			b.WriteByte('#')
			b.WriteString(encodeDescription(line))
			b.WriteByte('\n')
		}
	}
	for _, k := range sortedKeys(c) {
		if k == "description" || k == "digest" || k == "env" || k == lxcConfKey {
			continue
		}
		b.WriteString(k)
		b.WriteString(": ")
		b.WriteString(c[k])
		b.WriteByte('\n')
	}
	for _, v := range envVariables(c["env"]) {
		b.WriteString(lxcRuntimeEnv + ": " + v + "\n")
	}
	if raw := c[lxcConfKey]; raw != "" {
		b.WriteString(raw)
		b.WriteByte('\n')
	}
}

// newlineOption is write_pct_config's refusal ("detected invalid newline
// inside property"): the first option, in the file's sorted order, whose
// value holds a newline, or "". The description is written as comments and
// env and the raw lxc lines apart, unchecked.
func newlineOption(c map[string]string) string {
	for _, k := range sortedKeys(c) {
		switch k {
		case "description", "digest", "env", lxcConfKey:
			continue
		}
		if strings.Contains(c[k], "\n") {
			return k
		}
	}
	return ""
}

// snapshot is one "[name]" section of the config file.
type snapshot struct {
	name string
	conf ctConf // copied config plus snaptime, description, parent, snapstate
}

// configFile renders the whole file: current section, [pve:pending] and the
// snapshot sections sorted by name, or the bytes last written to the file
// over SSH until PVE rewrites it. The digest is the SHA-1 of this text, so
// any change anywhere in the file (including snapshots) changes it.
func (ct *container) configFile() string {
	if ct.written != "" {
		return ct.written
	}
	var b strings.Builder
	ct.conf.writeSection(&b)
	if len(ct.pending) > 0 || len(ct.pendingDel) > 0 {
		b.WriteString("\n[pve:pending]\n")
		p := ct.pending.clone()
		if len(ct.pendingDel) > 0 {
			p["delete"] = strings.Join(ct.pendingDel, ",")
		}
		p.writeSection(&b)
	}
	names := make([]string, 0, len(ct.snaps))
	for n := range ct.snaps {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b.WriteString("\n[" + n + "]\n")
		ct.snaps[n].conf.writeSection(&b)
	}
	return b.String()
}

// fileText is the file as pmxcfs holds it. digestSalt models an edit by
// someone else that changes the file without changing any value we render:
// blank lines, which PVE's parser skips, so a client that reads the file and
// writes it back changes nothing else.
func (ct *container) fileText() string {
	return ct.configFile() + strings.Repeat("\n", ct.digestSalt)
}

// digest is sha1_hex of the config file.
func (ct *container) digest() string {
	if ct.digestCache != "" {
		return ct.digestCache
	}
	sum := sha1.Sum([]byte(ct.fileText())) //nolint:gosec
	ct.digestCache = hex.EncodeToString(sum[:])
	return ct.digestCache
}

// touch invalidates cached derived data after any change to the file. A
// change made by PVE rewrites the whole file, so bytes written over SSH are
// rendered anew from then on.
func (ct *container) touch() { ct.digestCache, ct.written = "", "" }

// ---- option types ---------------------------------------------------------

// ctOptionTypes is the JSON type of every container option, as PVE renders it:
// integer and boolean options come out as JSON numbers (booleans 0/1), number
// options (cpulimit) as the raw string, everything else as strings.
var ctOptionTypes = map[string]string{
	"arch": "string", "cmode": "string", "console": "boolean", "cores": "integer",
	"cpulimit": "number", "cpuunits": "integer", "debug": "boolean", "description": "string",
	"features": "string", "hookscript": "string", "hostname": "string", "lock": "string",
	"memory": "integer", "nameserver": "string", "onboot": "boolean", "ostype": "string",
	"protection": "boolean", "rootfs": "string", "searchdomain": "string", "startup": "string",
	"swap": "integer", "tags": "string", "template": "boolean", "timezone": "string",
	"tty": "integer", "unprivileged": "boolean", "entrypoint": "string", "env": "string",
	"parent": "string", "snaptime": "integer", "snapstate": "string", "digest": "string",
}

// indexedOptions are the numbered container options and their highest index.
var indexedOptions = []struct {
	prefix string
	max    int
}{{"net", 31}, {"mp", 255}, {"dev", 255}, {"unused", 255}}

func isIndexedOption(k string) (string, bool) {
	for _, ix := range indexedOptions {
		if n, ok := indexOf(k, ix.prefix); ok && n <= ix.max {
			return ix.prefix, true
		}
	}
	return "", false
}

func optionExists(k string) bool {
	if _, ok := ctOptionTypes[k]; ok {
		return true
	}
	_, ok := isIndexedOption(k)
	return ok
}

// typedValue converts a raw config value to its JSON rendering; the raw
// lxc.* lines become PVE's [[key, value], …] list.
func typedValue(key, val string) any {
	if key == lxcConfKey {
		pairs := [][]string{}
		for _, line := range strings.Split(val, "\n") {
			k, v, _ := strings.Cut(line, ": ")
			pairs = append(pairs, []string{k, v})
		}
		return pairs
	}
	switch ctOptionTypes[key] {
	case "integer", "boolean":
		if n, err := strconv.ParseInt(val, 10, 64); err == nil {
			return n
		}
	}
	return val
}

// typedConf renders a config section for the API.
func typedConf(c ctConf) map[string]any {
	out := make(map[string]any, len(c)+1)
	for k, v := range c {
		out[k] = typedValue(k, v)
	}
	return out
}

// ---- property strings -----------------------------------------------------

// propString is a parsed PVE property string ("local-lvm:vm-100-disk-0,size=8G"
// or "name=eth0,bridge=vmbr0,ip=dhcp").
type propString struct {
	def  string // value of the default key (volume), if any
	keys map[string]string
}

// propFormat describes one property-string format.
type propFormat struct {
	defaultKey string
	required   []string
	keys       map[string]*regexp.Regexp // allowed keys; nil regexp = any value
	// checks are validators for keys a regexp cannot express.
	checks map[string]func(string) error
}

var (
	reBool01  = regexp.MustCompile(`^[01]$`)
	reSize    = regexp.MustCompile(`^\d+(\.\d+)?[KMGT]?$`)
	reMAC     = regexp.MustCompile(`^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$`)
	reIfName  = regexp.MustCompile(`^[-_.\w\d]+$`)
	reBridge  = regexp.MustCompile(`^[-_.\w\d]+$`)
	reIPv4    = regexp.MustCompile(`^(dhcp|manual|\d{1,3}(\.\d{1,3}){3}/\d{1,2})$`)
	reIPv6    = regexp.MustCompile(`^(auto|dhcp|manual|[0-9a-fA-F:]+/\d{1,3})$`)
	reGW4     = regexp.MustCompile(`^\d{1,3}(\.\d{1,3}){3}$`)
	reGW6     = regexp.MustCompile(`^[0-9a-fA-F:]+$`)
	reNum     = regexp.MustCompile(`^\d+$`)
	reVolume  = regexp.MustCompile(`^\S+$`)
	reMountOp = regexp.MustCompile(`^[a-z_]+(;[a-z_]+)*$`)

	reParseSize = regexp.MustCompile(`^(\d+(?:\.\d+)?)([KMGT])?$`)
)

var netFormat = &propFormat{
	required: []string{"name"},
	keys: map[string]*regexp.Regexp{
		"name": reIfName, "bridge": reBridge, "firewall": reBool01, "gw": reGW4, "gw6": reGW6,
		"hwaddr": reMAC, "ip": reIPv4, "ip6": reIPv6, "mtu": reNum, "rate": nil, "tag": reNum,
		"trunks": nil, "type": regexp.MustCompile(`^veth$`), "link_down": reBool01, "host-managed": reBool01,
	},
}

var rootfsFormat = &propFormat{
	defaultKey: "volume",
	required:   []string{"volume"},
	keys: map[string]*regexp.Regexp{
		"volume": reVolume, "size": reSize, "acl": reBool01, "mountoptions": reMountOp, "quota": reBool01,
		"replicate": reBool01, "ro": reBool01, "shared": reBool01,
	},
}

var mpFormat = &propFormat{
	defaultKey: "volume",
	required:   []string{"mp", "volume"},
	keys: map[string]*regexp.Regexp{
		"volume": reVolume, "mp": nil, "size": reSize, "acl": reBool01, "backup": reBool01,
		"mountoptions": reMountOp, "quota": reBool01, "replicate": reBool01, "ro": reBool01, "shared": reBool01,
		// PVE 9.1's mp format has keepattrs (the rootfs format has not).
		"keepattrs": reBool01,
	},
	checks: map[string]func(string) error{"mp": verifyMPPath},
}

// reMPBadSegment matches what PVE's pve-container (verify_lxc_mp_string)
// refuses in a mount point path: a "." or ".." segment after a slash, or
// "../" at the start. Nothing else is checked at config time, so relative
// paths, a lone "..", or "./x" pass; PVE resolves the path when mounting.
var reMPBadSegment = regexp.MustCompile(`/\.\.?(/|$)|^\.\./`)

func verifyMPPath(mp string) error {
	if reMPBadSegment.MatchString(mp) {
		return fmt.Errorf("%s contains illegal character sequences", mp)
	}
	return nil
}

var featuresFormat = &propFormat{
	keys: map[string]*regexp.Regexp{
		"nesting": reBool01, "keyctl": reBool01, "fuse": reBool01, "mknod": reBool01, "force_rw_sys": reBool01,
		"mount": regexp.MustCompile(`^[a-z0-9]+(;[a-z0-9]+)*$`),
	},
}

// parseProp parses and validates a property string against f.
func parseProp(s string, f *propFormat) (*propString, error) {
	ps := &propString{keys: map[string]string{}}
	if s == "" {
		return nil, fmt.Errorf("empty property string")
	}
	for i, part := range strings.Split(s, ",") {
		k, v, hasEq := strings.Cut(part, "=")
		if !hasEq {
			if i == 0 && f.defaultKey != "" {
				ps.def = part
				continue
			}
			return nil, fmt.Errorf("value without key, but schema does not define a default key")
		}
		re, ok := f.keys[k]
		if !ok {
			return nil, fmt.Errorf("property '%s' is not defined in schema and the schema does not allow additional properties", k)
		}
		if _, dup := ps.keys[k]; dup {
			return nil, fmt.Errorf("duplicate key in comma-separated list property: %s", k)
		}
		if re == reBool01 {
			// PVE stores a boolean key in the spelling parse_boolean
			// reads it (yes/on/true, no/off/false) as 1 or 0.
			v, _ = pveschema.ParseBoolean(v)
		}
		if re != nil && !re.MatchString(v) {
			return nil, fmt.Errorf("%s: value '%s' does not match the expected format", k, v)
		}
		if check := f.checks[k]; check != nil {
			if err := check(v); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
		}
		ps.keys[k] = v
	}
	if f.defaultKey != "" {
		if v, ok := ps.keys[f.defaultKey]; ok && ps.def == "" {
			ps.def = v
			delete(ps.keys, f.defaultKey)
		}
	}
	for _, r := range f.required {
		if r == f.defaultKey {
			if ps.def == "" {
				return nil, fmt.Errorf("%s: property is missing and it is not optional", r)
			}
			continue
		}
		if _, ok := ps.keys[r]; !ok {
			return nil, fmt.Errorf("%s: property is missing and it is not optional", r)
		}
	}
	return ps, nil
}

// print renders like PVE::JSONSchema::print_property_string: the default
// key's bare value, then the required keys sorted, then the rest sorted.
func (ps *propString) print(f *propFormat) string {
	var parts []string
	if f.defaultKey != "" && ps.def != "" {
		parts = append(parts, ps.def)
	}
	done := map[string]bool{}
	req := append([]string(nil), f.required...)
	sort.Strings(req)
	for _, k := range req {
		if k == f.defaultKey {
			continue
		}
		if v, ok := ps.keys[k]; ok {
			parts = append(parts, k+"="+v)
			done[k] = true
		}
	}
	for _, k := range sortedKeys(ps.keys) {
		if !done[k] {
			parts = append(parts, k+"="+ps.keys[k])
		}
	}
	return strings.Join(parts, ",")
}

// ---- sizes ----------------------------------------------------------------

// parseSize implements PVE::JSONSchema::parse_size ("8G", "512M", "1024").
func parseSize(s string) (uint64, bool) {
	m := reParseSize.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false
	}
	mult := map[string]float64{"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}[m[2]]
	return uint64(math.Round(f * mult)), true
}

// formatSize implements PVE::JSONSchema::format_size: the largest unit that
// divides the byte count exactly.
func formatSize(size uint64) string {
	kb := size / 1024
	if kb*1024 != size {
		return strconv.FormatUint(size, 10)
	}
	mb := kb / 1024
	if mb*1024 != kb {
		return fmt.Sprintf("%dK", kb)
	}
	gb := mb / 1024
	if gb*1024 != mb {
		return fmt.Sprintf("%dM", mb)
	}
	tb := gb / 1024
	if tb*1024 != gb {
		return fmt.Sprintf("%dG", gb)
	}
	return fmt.Sprintf("%dT", tb)
}

// ---- tags -----------------------------------------------------------------

// splitTags splits on PVE's tag separators (';', ',' and whitespace).
func splitTags(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' || r == ' ' || r == '\t' })
}

// normalizeTags mirrors PVE::GuestHelpers::get_unique_tags with the default
// datacenter tag-style (not case-sensitive, alphabetical ordering): tags are
// lowercased, sorted and deduplicated, joined with ';'. Operators that
// compare tags must expect this rewrite.
func normalizeTags(s string) string {
	seen := map[string]bool{}
	var out []string
	for _, t := range splitTags(s) {
		t = strings.ToLower(t)
		if seen[t] {
			continue
		}
		seen[t] = true
		out = append(out, t)
	}
	sort.Strings(out)
	return strings.Join(out, ";")
}
