package pveschema_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pve-operator/pve-operator/internal/pvesim"
	"github.com/pve-operator/pve-operator/internal/pvesim/pveschema"
)

// The conformance test walks every parameter of every method the
// simulator serves that the schema file describes. For each it builds a
// valid value from the spec and checks that the schema step accepts it,
// then builds invalid values (wrong type, one past a bound, an enum
// outsider, a pattern or format breaker, an unknown or broken
// property-string key, a repeated key for a scalar, a missing required
// key) and checks that the running simulator answers each with PVE's
// "400 Parameter verification failed." and an errors entry for that
// parameter. A parameter without any invalid value it can send counts as
// unchecked and fails the test.

type conformanceStats struct {
	params, checks, falseRejects, misses, unchecked, unconstrained int
}

func TestSimulatedEndpointsConformToTheSchema(t *testing.T) {
	srv, err := pvesim.New(pvesim.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	cl := &conformanceClient{srv: srv, http: srv.HTTPClient()}
	var st conformanceStats
	for _, route := range srv.Routes() {
		method, tmpl, _ := strings.Cut(route, " ")
		m, ok := pveschema.Lookup(method, tmpl)
		if !ok {
			continue
		}
		for _, name := range paramNames(m) {
			st.params++
			t.Run(route+" "+name, func(t *testing.T) { checkParameter(t, cl, m, name, &st) })
		}
	}
	t.Logf("parameters %d, checks %d, false rejects %d, missed invalid values %d, unchecked parameters %d, unconstrained path parameters %d",
		st.params, st.checks, st.falseRejects, st.misses, st.unchecked, st.unconstrained)
	if st.params == 0 || st.falseRejects+st.misses+st.unchecked > 0 {
		t.Errorf("conformance: %+v", st)
	}
}

// paramNames lists a method's parameters with the numbered families at
// their first and last index.
func paramNames(m *pveschema.Method) []string {
	names := make([]string, 0, len(m.Props)+2*len(m.Indexed))
	for n := range m.Props {
		names = append(names, n)
	}
	for _, ix := range m.Indexed {
		names = append(names, ix.Prefix+"0", ix.Prefix+strconv.Itoa(ix.Count-1))
	}
	sort.Strings(names)
	return names
}

func checkParameter(t *testing.T, cl *conformanceClient, m *pveschema.Method, name string, st *conformanceStats) {
	p := m.Lookup(name)
	valid, ok := validValue(p)
	if !ok {
		st.unchecked++
		t.Fatalf("no valid value can be built for %+v", *p)
	}
	base := baseParams(m, name)
	for _, v := range validVariants(p, valid) {
		st.checks++
		params := withParam(base, name, v)
		if _, errs := m.Validate(params); errs != nil {
			st.falseRejects++
			t.Errorf("valid %s=%v refused: %q", name, v, errs)
		}
	}
	inPath := strings.Contains(m.Path, "{"+name+"}")
	bad := invalidValues(p)
	if !inPath && p.Type != "array" && !strings.HasSuffix(p.Format, "-list") {
		bad = append(bad, pveschema.Value{Kind: pveschema.Array, Items: []string{valid, valid}})
	}
	if !p.Optional && !inPath {
		bad = append(bad, pveschema.Value{Text: "\x00absent"})
	}
	if p.Type == "array" && m.Method != http.MethodGet && m.Method != http.MethodDelete {
		// Only a JSON body can carry something that is not a list.
		bad = append(bad, pveschema.Value{Kind: pveschema.Object, Text: "HASH"})
	}
	if len(bad) == 0 && inPath {
		// A path parameter without any constraint (a UPID, a volume
		// name): PVE checks nothing here either.
		st.unconstrained++
		return
	}
	if len(bad) == 0 {
		st.unchecked++
		t.Fatalf("no invalid value for %+v", *p)
	}
	for _, v := range bad {
		st.checks++
		if !refused(t, cl, m, base, name, v, inPath) {
			st.misses++
		}
	}
}

// refused sends one invalid value (through the HTTP server, or through the
// schema for path parameters, which routing and the node proxy step see
// first) and reports whether it came back as a 400 naming the parameter.
func refused(t *testing.T, cl *conformanceClient, m *pveschema.Method, base map[string]pveschema.Value, name string, v pveschema.Value, inPath bool) bool {
	t.Helper()
	params := withParam(base, name, v)
	if v.Text == "\x00absent" {
		delete(params, name)
	}
	if inPath {
		if _, errs := m.Validate(params); errs[name] == "" {
			t.Errorf("invalid path value %s=%q accepted", name, v.Text)
			return false
		}
		return true
	}
	status, errs := cl.send(t, m, params)
	if status != "400 Parameter verification failed." || errs[name] == "" {
		t.Errorf("invalid %s=%q: got %q errors %q", name, describe(v), status, errs)
		return false
	}
	return true
}

func describe(v pveschema.Value) string {
	if v.Kind == pveschema.Array {
		return fmt.Sprintf("repeated %q", v.Items)
	}
	return v.Text
}

// baseParams is every required parameter and every parameter name
// requires, with valid values.
func baseParams(m *pveschema.Method, name string) map[string]pveschema.Value {
	out := map[string]pveschema.Value{}
	need := map[string]bool{}
	for n, p := range m.Props {
		if !p.Optional || strings.Contains(m.Path, "{"+n+"}") {
			need[n] = true
		}
	}
	if req := m.Lookup(name).Requires; req != "" {
		need[req] = true
	}
	for n := range need {
		if v, ok := validValue(m.Lookup(n)); ok {
			out[n] = pveschema.TextValue(v)
		}
	}
	return out
}

func withParam(base map[string]pveschema.Value, name string, v pveschema.Value) map[string]pveschema.Value {
	out := make(map[string]pveschema.Value, len(base)+1)
	for k, bv := range base {
		out[k] = bv
	}
	out[name] = v
	return out
}

// acceptable reports whether the schema takes v for a spec on its own.
func acceptable(p *pveschema.Prop, v string) bool {
	alone := *p
	alone.Requires = ""
	m := &pveschema.Method{Props: map[string]*pveschema.Prop{"x": &alone}}
	_, errs := m.Validate(map[string]pveschema.Value{"x": pveschema.TextValue(v)})
	return errs == nil
}

// stringCandidates are tried in order for strings that have only a
// pattern or a length to go by.
var stringCandidates = []string{
	"abc1", "a1", "vmbr0", "0755", "nfs;ext4", "1;2", "FOO=bar", "/sbin/init", "10:30", "8G", "+8G", "512M",
	"http://example.com/x.iso", "root@pam", "docker.io/library/alpine", "docker.io/library/alpine:latest",
	"deadbeef", "local:vztmpl/x.tar.zst",
}

// validValue builds a value the spec accepts.
func validValue(p *pveschema.Prop) (string, bool) {
	var cands []string
	switch {
	case len(p.Enum) > 0:
		cands = p.Enum
	case p.Type == "boolean":
		cands = []string{"1"}
	case p.Type == "integer" || p.Type == "number":
		cands = []string{p.Minimum, p.Maximum, "1", "100"}
	case p.Sub != nil:
		if s, ok := validPropertyString(p.Sub); ok {
			cands = []string{s}
		}
	case p.Format != "":
		cands = formatSamples(p.Format, true)
	default:
		cands = stringCandidates
	}
	for _, c := range cands {
		if c != "" && acceptable(p, c) {
			return c, true
		}
	}
	return "", false
}

// validVariants adds PVE's other spellings of a valid value: the list
// form of a "-list" format sent as a repeated key.
func validVariants(p *pveschema.Prop, v string) []pveschema.Value {
	out := []pveschema.Value{pveschema.TextValue(v)}
	if strings.HasSuffix(p.Format, "-list") {
		out = append(out, pveschema.Value{Kind: pveschema.Array, Items: []string{v, v}})
	}
	return out
}

// validPropertyString sets the required keys and the default key.
func validPropertyString(f pveschema.PropertyFormat) (string, bool) {
	keys := map[string]string{}
	for k, sub := range f {
		if sub.Optional && !sub.DefaultKey {
			continue
		}
		v, ok := validValue(sub)
		if !ok {
			return "", false
		}
		keys[k] = v
	}
	if len(keys) == 0 {
		// All keys optional and none bare: set the first one.
		for _, k := range sortedProps(f) {
			if v, ok := validValue(f[k]); ok {
				keys[k] = v
				break
			}
		}
	}
	return printKeys(keys), true
}

func sortedProps(f pveschema.PropertyFormat) []string {
	out := make([]string, 0, len(f))
	for k := range f {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func printKeys(keys map[string]string) string {
	parts := make([]string, 0, len(keys))
	for _, k := range sortedNames(keys) {
		parts = append(parts, k+"="+keys[k])
	}
	return strings.Join(parts, ",")
}

func sortedNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// formatSamples are the valid or invalid examples of a named format from
// the format tables, for a "-list" format those of its element format too.
func formatSamples(format string, valid bool) []string {
	var out []string
	for _, fc := range formatCases {
		if fc.format != format && fc.format != strings.TrimSuffix(format, "-list") && fc.format+"-list" != format {
			continue
		}
		if valid {
			out = append(out, fc.valid...)
			continue
		}
		var bad []string
		for v := range fc.invalid {
			bad = append(bad, v)
		}
		sort.Strings(bad)
		out = append(out, bad...)
	}
	return out
}

// invalidValues builds values the spec refuses, each checked against the
// schema first so the HTTP round trip tests the server, not the generator.
func invalidValues(p *pveschema.Prop) []pveschema.Value {
	var cands []string
	switch p.Type {
	case "boolean":
		cands = append(cands, "yes", "2")
	case "integer", "number":
		cands = append(cands, "abc", offBy(p.Minimum, -1), offBy(p.Maximum, +1))
	}
	if len(p.Enum) > 0 {
		cands = append(cands, "zz-not-in-enum")
	}
	if p.Format != "" {
		cands = append(cands, formatSamples(p.Format, false)...)
	}
	if p.Pattern != nil {
		cands = append(cands, "bad value!", "\x01")
	}
	if p.MaxLength >= 0 {
		cands = append(cands, strings.Repeat("a", p.MaxLength+1))
	}
	if p.MinLength > 1 {
		cands = append(cands, "a")
	}
	if p.Sub != nil {
		cands = append(cands, invalidPropertyStrings(p.Sub)...)
	}
	var out []pveschema.Value
	for _, c := range cands {
		if c != "" && !acceptable(p, c) {
			out = append(out, pveschema.TextValue(c))
		}
	}
	return out
}

func offBy(bound string, d float64) string {
	if bound == "" {
		return ""
	}
	f, _ := strconv.ParseFloat(bound, 64)
	return strconv.FormatFloat(f+d, 'f', -1, 64)
}

// invalidPropertyStrings breaks a valid property string: an unknown key,
// each key with an invalid value, each required key left out.
func invalidPropertyStrings(f pveschema.PropertyFormat) []string {
	base := map[string]string{}
	for k, sub := range f {
		if !sub.Optional || sub.DefaultKey {
			base[k], _ = validValue(sub)
		}
	}
	out := []string{printKeys(base) + ",zz-unknown=1"}
	for k, sub := range f {
		bad := invalidValues(sub)
		if sub.Type == "boolean" {
			// yes/no are booleans inside property strings.
			bad = []pveschema.Value{pveschema.TextValue("maybe")}
		}
		for _, b := range bad {
			if b.Kind != pveschema.Text || strings.ContainsAny(b.Text, ",\x00") {
				continue
			}
			keys := copyKeys(base)
			keys[k] = b.Text
			out = append(out, printKeys(keys))
		}
		if !sub.Optional {
			keys := copyKeys(base)
			delete(keys, k)
			out = append(out, printKeys(keys))
		}
	}
	return out
}

func copyKeys(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// conformanceClient sends requests to the simulator the way a client
// would: path parameters in the URL, the rest as a form or a query.
type conformanceClient struct {
	srv  *pvesim.Server
	http *http.Client
}

func (c *conformanceClient) send(t *testing.T, m *pveschema.Method, params map[string]pveschema.Value) (string, map[string]string) {
	t.Helper()
	path := m.Path
	form := url.Values{}
	for k, v := range params {
		if strings.Contains(path, "{"+k+"}") {
			path = strings.ReplaceAll(path, "{"+k+"}", url.PathEscape(v.Text))
			continue
		}
		if v.Kind == pveschema.Array {
			form[k] = v.Items
		} else {
			form.Set(k, v.Text)
		}
	}
	u := c.srv.URL() + path
	var body io.Reader
	contentType := "application/x-www-form-urlencoded"
	switch {
	case m.Method == http.MethodGet || m.Method == http.MethodDelete:
		u += "?" + form.Encode()
	case hasObject(params):
		body, contentType = strings.NewReader(jsonBody(params, path)), "application/json"
	default:
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(m.Method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "PVEAPIToken="+pvesim.DefaultTokenID+"="+pvesim.DefaultTokenSecret)
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", m.Method, u, err)
	}
	defer resp.Body.Close()
	var env struct {
		Errors map[string]string `json:"errors"`
	}
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &env)
	return resp.Status, env.Errors
}

func hasObject(params map[string]pveschema.Value) bool {
	for _, v := range params {
		if v.Kind == pveschema.Object {
			return true
		}
	}
	return false
}

// jsonBody encodes the non-path parameters as a JSON object, objects as
// {"a":1}.
func jsonBody(params map[string]pveschema.Value, path string) string {
	m := map[string]any{}
	for k, v := range params {
		switch {
		case strings.Contains(path, "{"+k+"}"):
		case v.Kind == pveschema.Object:
			m[k] = map[string]int{"a": 1}
		case v.Kind == pveschema.Array:
			m[k] = v.Items
		default:
			m[k] = v.Text
		}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// handWrittenSchemas are the methods the simulator serves that PVE's
// schema file does not describe, so their schemas are written by hand in
// the simulator; a new one must be added here on purpose.
var handWrittenSchemas = []string{
	"GET /cluster",
	"GET /cluster/ha",
	"GET /cluster/ha/rules/{rule}",
	"PUT /cluster/ha/rules/{rule}",
	"DELETE /cluster/ha/rules/{rule}",
	"GET /nodes/{node}",
	"GET /nodes/{node}/vzdump/extractconfig",
}

func TestRoutesWithoutAFileSchemaAreListed(t *testing.T) {
	srv, err := pvesim.New(pvesim.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	var got []string
	for _, route := range srv.Routes() {
		method, tmpl, _ := strings.Cut(route, " ")
		if _, ok := pveschema.Lookup(method, tmpl); !ok {
			got = append(got, route)
		}
	}
	sort.Strings(got)
	want := append([]string(nil), handWrittenSchemas...)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("routes without a schema in the file:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
