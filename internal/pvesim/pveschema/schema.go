package pveschema

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// schemaJSON holds, per path template and HTTP method, the parameter
// definitions PVE 9.1 publishes for its API methods.
//
//go:embed pve-9.1.json
var schemaJSON []byte

// Prop is one parameter, or one key of a property string.
type Prop struct {
	Type     string
	Optional bool
	// Format is a named format such as "pve-node" or "pve-configid-list".
	Format string
	// Sub is an inline property-string format: its keys and their specs.
	Sub PropertyFormat
	// Minimum and Maximum are kept as PVE prints them in its messages.
	Minimum, Maximum string
	// MinLength and MaxLength are -1 when unset.
	MinLength, MaxLength int
	Enum                 []string
	Pattern              *regexp.Regexp
	Requires             string
	DefaultKey           bool
	Items                *Prop
	// InstanceTypes and TypeProperty tie a property to the values of a
	// type parameter (section-config style schemas such as HA rules).
	InstanceTypes []string
	TypeProperty  string
}

// PropertyFormat is the key set of a property string.
type PropertyFormat map[string]*Prop

// Indexed is a family of numbered keys such as net0 … net31.
type Indexed struct {
	Prefix string
	Count  int
	Prop   *Prop
}

// Method is the parameter schema of one API method. Every method in the
// file has additionalProperties 0, so unknown keys are always errors.
type Method struct {
	Method, Path string
	Props        map[string]*Prop
	Indexed      []Indexed
}

// indexedCounts are the sizes of the numbered key families. The schema
// file writes them as "net[n]"; the counts are PVE::LXC::Config's
// MAX_LXC_NETWORKS (32), MAX_MOUNT_POINTS (256), MAX_UNUSED_DISKS (equal to
// MAX_MOUNT_POINTS) and MAX_DEVICES (256).
var indexedCounts = map[string]int{"net": 32, "mp": 256, "unused": 256, "dev": 256}

var methods = mustLoad(schemaJSON)

// strippedDescriptions puts back the parameters named "description": the
// schema file was written without any key called "description" (the help
// texts), and that took these parameters with it. Their specs are
// pve-container's: the config option (maxLength 8 KiB) for create and
// update, a plain optional string for clone and the snapshot calls.
var strippedDescriptions = map[string]*Prop{
	"POST /nodes/{node}/lxc":                                  {Type: "string", Optional: true, MinLength: -1, MaxLength: 8192},
	"PUT /nodes/{node}/lxc/{vmid}/config":                     {Type: "string", Optional: true, MinLength: -1, MaxLength: 8192},
	"POST /nodes/{node}/lxc/{vmid}/clone":                     {Type: "string", Optional: true, MinLength: -1, MaxLength: -1},
	"POST /nodes/{node}/lxc/{vmid}/snapshot":                  {Type: "string", Optional: true, MinLength: -1, MaxLength: -1},
	"PUT /nodes/{node}/lxc/{vmid}/snapshot/{snapname}/config": {Type: "string", Optional: true, MinLength: -1, MaxLength: -1},
}

func init() {
	for key, p := range strippedDescriptions {
		methods[key].Props["description"] = p
	}
}

// Lookup returns the schema of method on a path template written the PVE
// way ("/nodes/{node}/lxc/{vmid}/config").
func Lookup(method, template string) (*Method, bool) {
	m, ok := methods[method+" "+template]
	return m, ok
}

// Methods lists every method of the file, sorted by path then method.
func Methods() []*Method {
	out := make([]*Method, 0, len(methods))
	for _, m := range methods {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out
}

// Lookup finds the spec of a parameter name, numbered keys included.
func (m *Method) Lookup(name string) *Prop {
	if p, ok := m.Props[name]; ok {
		return p
	}
	for _, ix := range m.Indexed {
		if n, ok := IndexOf(name, ix.Prefix); ok && n < ix.Count {
			return ix.Prop
		}
	}
	return nil
}

// IndexOf parses "<prefix><digits>" the way PVE names numbered keys: no
// sign, no leading zeros.
func IndexOf(name, prefix string) (int, bool) {
	digits, ok := strings.CutPrefix(name, prefix)
	if !ok || digits == "" || len(digits) > 4 || (len(digits) > 1 && digits[0] == '0') {
		return 0, false
	}
	n := 0
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// rawProp is a property spec as the file stores it.
type rawProp struct {
	Type          string          `json:"type"`
	Optional      json.RawMessage `json:"optional"`
	Format        json.RawMessage `json:"format"`
	Minimum       json.RawMessage `json:"minimum"`
	Maximum       json.RawMessage `json:"maximum"`
	MinLength     *int            `json:"minLength"`
	MaxLength     *int            `json:"maxLength"`
	Enum          []any           `json:"enum"`
	Pattern       string          `json:"pattern"`
	Requires      string          `json:"requires"`
	DefaultKey    json.RawMessage `json:"default_key"`
	Items         *rawProp        `json:"items"`
	InstanceTypes []string        `json:"instance-types"`
	TypeProperty  string          `json:"type-property"`
}

type rawMethod struct {
	Parameters struct {
		Properties map[string]*rawProp `json:"properties"`
	} `json:"parameters"`
}

func mustLoad(data []byte) map[string]*Method {
	var file map[string]map[string]rawMethod
	if err := json.Unmarshal(data, &file); err != nil {
		panic("pveschema: decode embedded schema: " + err.Error())
	}
	out := map[string]*Method{}
	for path, byMethod := range file {
		for method, rm := range byMethod {
			m, err := buildMethod(method, path, rm)
			if err != nil {
				panic(fmt.Sprintf("pveschema: %s %s: %v", method, path, err))
			}
			out[method+" "+path] = m
		}
	}
	return out
}

func buildMethod(method, path string, rm rawMethod) (*Method, error) {
	m := &Method{Method: method, Path: path, Props: map[string]*Prop{}}
	for name, rp := range rm.Parameters.Properties {
		p, err := buildProp(rp)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if prefix, ok := strings.CutSuffix(name, "[n]"); ok {
			count, known := indexedCounts[prefix]
			if !known {
				return nil, fmt.Errorf("no index range known for %s", name)
			}
			m.Indexed = append(m.Indexed, Indexed{Prefix: prefix, Count: count, Prop: p})
			continue
		}
		m.Props[name] = p
	}
	sort.Slice(m.Indexed, func(i, j int) bool { return m.Indexed[i].Prefix < m.Indexed[j].Prefix })
	return m, nil
}

func buildProp(rp *rawProp) (*Prop, error) {
	p := &Prop{
		Type: rp.Type, Optional: perlTrue(rp.Optional), Requires: rp.Requires,
		DefaultKey: perlTrue(rp.DefaultKey), MinLength: -1, MaxLength: -1,
		InstanceTypes: rp.InstanceTypes, TypeProperty: rp.TypeProperty,
		Minimum: numberText(rp.Minimum), Maximum: numberText(rp.Maximum),
	}
	if rp.MinLength != nil {
		p.MinLength = *rp.MinLength
	}
	if rp.MaxLength != nil {
		p.MaxLength = *rp.MaxLength
	}
	for _, e := range rp.Enum {
		p.Enum = append(p.Enum, fmt.Sprint(e))
	}
	if rp.Pattern != "" {
		re, err := compilePattern(rp.Pattern)
		if err != nil {
			return nil, err
		}
		p.Pattern = re
	}
	if err := p.setFormat(rp.Format); err != nil {
		return nil, err
	}
	if rp.Items != nil {
		items, err := buildProp(rp.Items)
		if err != nil {
			return nil, fmt.Errorf("items: %w", err)
		}
		p.Items = items
	}
	return p, nil
}

// setFormat takes a named format (a JSON string) or an inline
// property-string format (a JSON object of key specs).
func (p *Prop) setFormat(raw json.RawMessage) error {
	if len(raw) == 0 {
		return nil
	}
	if raw[0] == '"' {
		return json.Unmarshal(raw, &p.Format)
	}
	var keys map[string]*rawProp
	if err := json.Unmarshal(raw, &keys); err != nil {
		return fmt.Errorf("format: %w", err)
	}
	p.Sub = PropertyFormat{}
	for k, rk := range keys {
		sub, err := buildProp(rk)
		if err != nil {
			return fmt.Errorf("format key %s: %w", k, err)
		}
		p.Sub[k] = sub
	}
	return nil
}

// perlTrue is Perl truthiness of a JSON scalar: absent, 0, "" and "0" are
// false.
func perlTrue(raw json.RawMessage) bool {
	s := strings.Trim(string(raw), `"`)
	return s != "" && s != "0" && s != "null"
}

// numberText is a JSON number or numeric string as Perl prints it.
func numberText(raw json.RawMessage) string {
	return strings.Trim(string(raw), `"`)
}

// compilePattern turns a schema pattern into Go syntax, anchored the way
// PVE::JSONSchema::check_prop matches it (m/^$pattern$/). Perl writes a
// compiled qr// as "(?^:…)" (default flags); Go spells that "(?:…)". Perl's
// "\0" is NUL, which Go wants as \x00. Perl's "$" also matches before a
// final newline, which perlAnchored reproduces.
func compilePattern(pat string) (*regexp.Regexp, error) {
	pat = strings.ReplaceAll(pat, "(?^:", "(?:")
	pat = strings.ReplaceAll(pat, `\0`, `\x00`)
	return perlAnchored(pat)
}

// perlAnchored compiles m/^(?:re)$/ with Perl's "$", which also matches
// before one trailing newline.
func perlAnchored(re string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + re + `)\n?$`)
}

func mustPerlAnchored(re string) *regexp.Regexp {
	r, err := perlAnchored(re)
	if err != nil {
		panic(err)
	}
	return r
}
