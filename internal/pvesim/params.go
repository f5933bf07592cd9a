package pvesim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// rawValue is one request parameter before schema validation. Form and query
// values are always strings; JSON keeps its types, because PVE accepts JSON
// true/false for booleans but only "0"/"1" in forms.
type rawValue struct {
	s    string
	kind byte // 's' string, 'n' JSON number, 'b' JSON bool, 'x' JSON array/object
}

// readParams merges body and query parameters the way pveproxy's
// extract_params does: body first, query parameters win.
func readParams(r *http.Request) (map[string]rawValue, *apiError) {
	params := map[string]rawValue{}
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err != nil {
			return nil, errf("unable to read request body: %v", err)
		}
		if len(bytes.TrimSpace(body)) > 0 {
			ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if ct == "application/json" {
				if e := readJSONParams(body, params); e != nil {
					return nil, e
				}
			} else {
				vals, err := url.ParseQuery(string(body))
				if err != nil {
					return nil, &apiError{status: 400, msg: "unable to parse form data: " + err.Error(), emptyBody: true}
				}
				for k, v := range vals {
					params[k] = rawValue{s: v[0], kind: 's'}
				}
			}
		}
	}
	for k, v := range r.URL.Query() {
		params[k] = rawValue{s: v[0], kind: 's'}
	}
	return params, nil
}

func readJSONParams(body []byte, params map[string]rawValue) *apiError {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return &apiError{status: 400, msg: "malformed JSON string: " + err.Error(), emptyBody: true}
	}
	for k, v := range m {
		switch t := v.(type) {
		case nil:
			// JSON null is undef in Perl: the parameter is simply absent.
		case string:
			params[k] = rawValue{s: t, kind: 's'}
		case json.Number:
			params[k] = rawValue{s: t.String(), kind: 'n'}
		case bool:
			s := "0"
			if t {
				s = "1"
			}
			params[k] = rawValue{s: s, kind: 'b'}
		case []any:
			params[k] = rawValue{s: "ARRAY", kind: 'x'}
		default:
			params[k] = rawValue{s: "HASH", kind: 'x'}
		}
	}
	return nil
}

// pspec is one parameter of a PVE JSON schema.
type pspec struct {
	typ      string // string, integer, number, boolean
	optional bool
	enum     []string
	min, max *float64
	minLen   int
	maxLen   int
	pattern  *regexp.Regexp
	// format validates the value; its error becomes "invalid format - …".
	format func(string) error
}

// schema is an endpoint's parameter schema; additionalProperties is always
// false, as on every endpoint the operator touches.
type schema struct {
	props   map[string]*pspec
	indexed []indexedSpec
}

// indexedSpec matches keys such as net0…net31.
type indexedSpec struct {
	prefix string
	max    int
	spec   *pspec
}

func (sc *schema) lookup(name string) *pspec {
	if p, ok := sc.props[name]; ok {
		return p
	}
	for _, ix := range sc.indexed {
		if n, ok := indexOf(name, ix.prefix); ok && n <= ix.max {
			return ix.spec
		}
	}
	return nil
}

// indexOf parses "<prefix><digits>" without leading zeros.
func indexOf(name, prefix string) (int, bool) {
	if !strings.HasPrefix(name, prefix) || len(name) == len(prefix) {
		return 0, false
	}
	digits := name[len(prefix):]
	if len(digits) > 1 && digits[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

var (
	reInteger = regexp.MustCompile(`^[+-]?\d+$`)
	reNumber  = regexp.MustCompile(`^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$`)
)

// validate checks params against the schema like PVE::JSONSchema::validate
// and returns the normalized string values (booleans as "0"/"1").
func (sc *schema) validate(params map[string]rawValue) (map[string]string, *apiError) {
	out := make(map[string]string, len(params))
	errs := map[string]string{}
	for name, v := range params {
		p := sc.lookup(name)
		if p == nil {
			errs[name] = "property is not defined in schema and the schema does not allow additional properties"
			continue
		}
		val, msg := p.check(v)
		if msg != "" {
			errs[name] = msg
			continue
		}
		out[name] = val
	}
	for name, p := range sc.props {
		if _, ok := params[name]; !ok && !p.optional {
			if _, bad := errs[name]; !bad {
				errs[name] = "property is missing and it is not optional"
			}
		}
	}
	if len(errs) > 0 {
		return nil, paramErr(errs)
	}
	return out, nil
}

func (p *pspec) check(v rawValue) (string, string) {
	if v.kind == 'x' {
		return "", fmt.Sprintf("type check ('%s') failed - got %s", p.typ, v.s)
	}
	if v.kind == 'b' && p.typ != "boolean" {
		return "", fmt.Sprintf("type check ('%s') failed - got JSON::PP::Boolean", p.typ)
	}
	s := v.s
	switch p.typ {
	case "boolean":
		if s != "0" && s != "1" {
			return "", fmt.Sprintf("type check ('boolean') failed - got '%s'", s)
		}
	case "integer":
		if !reInteger.MatchString(s) {
			return "", fmt.Sprintf("type check ('integer') failed - got '%s'", s)
		}
	case "number":
		if !reNumber.MatchString(s) {
			return "", fmt.Sprintf("type check ('number') failed - got '%s'", s)
		}
	}
	if p.typ == "integer" || p.typ == "number" {
		f, _ := strconv.ParseFloat(s, 64)
		if p.min != nil && f < *p.min {
			return "", "value must have a minimum value of " + fmtNum(*p.min)
		}
		if p.max != nil && f > *p.max {
			return "", "value must have a maximum value of " + fmtNum(*p.max)
		}
	}
	if p.typ == "string" {
		if p.maxLen > 0 && len(s) > p.maxLen {
			return "", fmt.Sprintf("value may only be %d characters long", p.maxLen)
		}
		if p.minLen > 0 && len(s) < p.minLen {
			return "", fmt.Sprintf("value must be at least %d characters long", p.minLen)
		}
	}
	if len(p.enum) > 0 {
		found := false
		for _, e := range p.enum {
			if e == s {
				found = true
				break
			}
		}
		if !found {
			return "", fmt.Sprintf("value '%s' does not have a value in the enumeration '%s'", s, strings.Join(p.enum, ", "))
		}
	}
	if p.pattern != nil && !p.pattern.MatchString(s) {
		return "", "value does not match the regex pattern"
	}
	if p.format != nil {
		if err := p.format(s); err != nil {
			return "", "invalid format - " + err.Error()
		}
	}
	return s, ""
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// Schema building helpers.

func fptr(f float64) *float64 { return &f }

func pStr() *pspec { return &pspec{typ: "string", optional: true} }
func pInt(min, max float64) *pspec {
	return &pspec{typ: "integer", optional: true, min: fptr(min), max: fptr(max)}
}
func pIntMin(min float64) *pspec { return &pspec{typ: "integer", optional: true, min: fptr(min)} }
func pNum(min, max float64) *pspec {
	return &pspec{typ: "number", optional: true, min: fptr(min), max: fptr(max)}
}
func pBool() *pspec               { return &pspec{typ: "boolean", optional: true} }
func pEnum(vals ...string) *pspec { return &pspec{typ: "string", optional: true, enum: vals} }
func pFmt(f func(string) error) *pspec {
	return &pspec{typ: "string", optional: true, format: f}
}

func (p *pspec) req() *pspec {
	c := *p
	c.optional = false
	return &c
}

func (p *pspec) maxLength(n int) *pspec {
	c := *p
	c.maxLen = n
	return &c
}

// newSchema builds a schema from name/spec pairs plus optional base schemas.
func newSchema(props map[string]*pspec, bases ...*schema) *schema {
	sc := &schema{props: map[string]*pspec{}}
	for _, b := range bases {
		for k, v := range b.props {
			sc.props[k] = v
		}
		sc.indexed = append(sc.indexed, b.indexed...)
	}
	for k, v := range props {
		sc.props[k] = v
	}
	return sc
}

// sortedKeys is a small helper for deterministic output.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// boolParam reads a validated boolean parameter.
func boolParam(p map[string]string, name string) bool { return p[name] == "1" }

// intParam reads a validated integer parameter, def when absent.
func intParam(p map[string]string, name string, def int) int {
	v, ok := p[name]
	if !ok {
		return def
	}
	n, err := strconv.Atoi(strings.TrimPrefix(v, "+"))
	if err != nil {
		return def
	}
	return n
}
