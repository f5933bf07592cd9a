package pvesim

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// lxcConfKey holds a section's raw lxc.* lines ("key: value", one per line,
// in file order) inside a ctConf. PVE keeps them as an ordered list beside
// the options; "lxc" itself is no option, so the name cannot collide.
const lxcConfKey = "lxc"

// lxcRuntimeEnv is the lxc.* key pve-container folds into the env option.
const lxcRuntimeEnv = "lxc.environment.runtime"

// The line patterns of pve-container's parse_pct_config, tried in this order.
var (
	rePendingHeader  = regexp.MustCompile(`^(?i)\[pve:pending\]\s*$`)
	reSnapshotHeader = regexp.MustCompile(`^(?i)\[([a-z][a-z0-9_\-]+)\]\s*$`)
	reLXCLine        = regexp.MustCompile(`^(lxc\.[a-z0-9_\-.]+)(?::|\s*=)\s*(.*?)\s*$`)
	reDescription    = regexp.MustCompile(`^description:\s*(.*\S)\s*$`)
	// Unanchored on the left, as in PVE: only the end of the line counts.
	reSnapstate     = regexp.MustCompile(`snapstate:\s*(prepare|delete)\s*$`)
	rePendingDelete = regexp.MustCompile(`^delete:\s*(.*\S)\s*$`)
	reOptionLine    = regexp.MustCompile(`^([a-z][a-z_]*\d*):\s*(.+?)\s*$`)

	reConfInteger = regexp.MustCompile(`^\d+$`)
	reConfNumber  = regexp.MustCompile(`^\d+(\.\d+)?$`)
)

// parsedConfig is a container config file as PVE reads it back.
type parsedConfig struct {
	conf       ctConf
	pending    ctConf
	pendingDel []string
	snaps      map[string]*snapshot
	// warnings are what the parser prints to stderr; PVE reads files
	// leniently (pmxcfs has already stored them), so nothing is fatal.
	warnings []string
}

// configSection collects one section while it is being read.
type configSection struct {
	conf  ctConf
	descr strings.Builder
	lxc   []string
}

func (sec *configSection) finish() {
	if d := sec.descr.String(); d != "" {
		sec.conf["description"] = d
	}
	if len(sec.lxc) > 0 {
		sec.conf[lxcConfKey] = strings.Join(sec.lxc, "\n")
	}
}

// configParser is one run of parse_pct_config over a file.
type configParser struct {
	vmid    int
	out     *parsedConfig
	sec     *configSection
	pending bool // sec is [pve:pending]
}

// parseConfigText reads a container config file the way pve-container does
// when PVE loads it (non-strict): a line it cannot use is skipped with a
// warning, and an option with an unknown name or a badly typed value is
// kept as written, also with a warning.
func parseConfigText(vmid int, text string) *parsedConfig {
	p := &configParser{vmid: vmid, out: &parsedConfig{pending: ctConf{}, snaps: map[string]*snapshot{}}}
	main := &configSection{conf: ctConf{}}
	p.sec = main
	for _, line := range strings.Split(text, "\n") {
		if strings.Trim(line, " \t\r\f\v") == "" {
			continue
		}
		p.line(line)
	}
	p.sec.finish()
	delete(main.conf, "snapstate")
	p.out.conf = main.conf
	return p.out
}

func (p *configParser) warn(format string, args ...any) {
	p.out.warnings = append(p.out.warnings, fmt.Sprintf(format, args...))
}

func (p *configParser) line(line string) {
	if p.header(line) {
		return
	}
	c := p.sec.conf
	if strings.HasPrefix(line, "#") {
		p.sec.descr.WriteString(decodeText(line[1:]) + "\n")
		return
	}
	if m := reLXCLine.FindStringSubmatch(line); m != nil {
		p.lxcLine(line, m[1], m[2])
		return
	}
	if m := reDescription.FindStringSubmatch(line); m != nil {
		p.sec.descr.WriteString(decodeText(m[1]))
		return
	}
	if m := reSnapstate.FindStringSubmatch(line); m != nil {
		c["snapstate"] = m[1]
		return
	}
	if m := rePendingDelete.FindStringSubmatch(line); m != nil {
		if !p.pending {
			p.warn("vm %d - property 'delete' is only allowed in [pve:pending]", p.vmid)
			return
		}
		p.out.pendingDel = parsePendingDelete(m[1])
		return
	}
	if m := reOptionLine.FindStringSubmatch(line); m != nil {
		p.option(m[1], m[2])
		return
	}
	p.warn("vm %d - unable to parse config: %s", p.vmid, line)
}

// header switches sections at "[pve:pending]" and "[snapname]"; a repeated
// section starts over, as in PVE.
func (p *configParser) header(line string) bool {
	pending := rePendingHeader.MatchString(line)
	var m []string
	if !pending {
		if m = reSnapshotHeader.FindStringSubmatch(line); m == nil {
			return false
		}
	}
	p.sec.finish()
	p.sec = &configSection{conf: ctConf{}}
	p.pending = pending
	if pending {
		p.out.pending = p.sec.conf
		p.out.pendingDel = nil
	} else {
		p.out.snaps[m[1]] = &snapshot{name: m[1], conf: p.sec.conf}
	}
	return true
}

func (p *configParser) lxcLine(line, key, value string) {
	keep, warning := lxcKeyVerdict(p.vmid, key, line)
	if warning != "" {
		p.warn("%s", warning)
	}
	switch {
	case key == lxcRuntimeEnv:
		// An "env:" line replaces what came before; later lines append.
		if env, ok := p.sec.conf["env"]; ok {
			value = env + "\x00" + value
		}
		p.sec.conf["env"] = value
	case keep:
		p.sec.lxc = append(p.sec.lxc, key+": "+value)
	}
}

// option is a "key: value" line. PVE keeps the value even when check_type
// fails; only the names the simulator keeps elsewhere are dropped (the
// digest is computed, never read; "lxc" is the raw-line list).
func (p *configParser) option(key, value string) {
	v, err := checkConfigType(key, value)
	if err != nil {
		p.warn("vm %d - unable to parse value of '%s' - %v", p.vmid, key, err)
	}
	if key == "digest" || key == lxcConfKey {
		return
	}
	p.sec.conf[key] = v
}

// checkConfigType is check_type: booleans and integers are normalized,
// anything else is returned as written. String formats are not checked.
func checkConfigType(key, value string) (string, error) {
	if !optionExists(key) || key == "digest" || key == "snapstate" {
		return value, fmt.Errorf("unknown setting '%s'", key)
	}
	if strings.ContainsAny(value, "\r\n") {
		return value, fmt.Errorf("property contains a line feed")
	}
	switch ctOptionTypes[key] {
	case "boolean":
		switch strings.ToLower(value) {
		case "1", "on", "yes", "true":
			return "1", nil
		case "0", "off", "no", "false":
			return "0", nil
		}
		return value, fmt.Errorf("type check ('boolean') failed - got '%s'", value)
	case "integer":
		if !reConfInteger.MatchString(value) {
			return value, fmt.Errorf("type check ('integer') failed - got '%s'", value)
		}
		if n, err := strconv.ParseUint(value, 10, 64); err == nil {
			return strconv.FormatUint(n, 10), nil
		}
	case "number":
		if !reConfNumber.MatchString(value) {
			return value, fmt.Errorf("type check ('number') failed - got '%s'", value)
		}
	}
	return value, nil
}

// parsePendingDelete is parse_pending_delete: a list separated by commas,
// semicolons or blanks. The '!' force marker is not modelled and dropped.
func parsePendingDelete(s string) []string {
	var out []string
	for _, k := range splitList(s) {
		k = strings.TrimPrefix(k, "!")
		if k != "" && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// decodeText is PVE::Tools::decode_text: %XX escapes become bytes, which are
// read as UTF-8; a '%' not followed by two hex digits stays as it is.
func decodeText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(n))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return strings.ToValidUTF8(b.String(), "\uFFFD")
}

// PVE answers GET config from the file it wrote, so a value comes back as
// parse_pct_config reads the line write_pct_config made of it: blanks
// after the colon and at the end are gone. Only the text before a newline
// stays on the line (write_pct_config refuses a newline in options, not in
// env or raw lxc values); what follows is a line of its own, which the
// parser warns about and drops unless it happens to form a valid line —
// that case is not modelled.

// rereadLXCValue is a raw lxc.* value as read back.
func rereadLXCValue(key, value string) string {
	line, _, _ := strings.Cut(value, "\n")
	if m := reLXCLine.FindStringSubmatch(key + ": " + line); m != nil {
		return m[2]
	}
	return line
}

// rereadOption is an option's value as read back.
func rereadOption(key, value string) string {
	if m := reOptionLine.FindStringSubmatch(key + ": " + value); m != nil {
		return m[2]
	}
	return value
}

// fileEnv is env as read back: write_pct_config writes one
// lxc.environment.runtime line per variable, the parser joins them with
// single NULs. An env Perl reads as false ("" or "0") writes no line at
// all, so ok is false: the option is gone.
func fileEnv(env string) (string, bool) {
	if env == "" || env == "0" {
		return "", false
	}
	vars := envVariables(env)
	for i, v := range vars {
		vars[i] = rereadLXCValue(lxcRuntimeEnv, v)
	}
	return strings.Join(vars, "\x00"), true
}

var reNULRun = regexp.MustCompile("\x00+")

// envVariables is write_pct_config's split(/\0+/, $env): a leading empty
// variable is kept, trailing empty ones are dropped.
func envVariables(env string) []string {
	vars := reNULRun.Split(env, -1)
	for len(vars) > 0 && vars[len(vars)-1] == "" {
		vars = vars[:len(vars)-1]
	}
	return vars
}
