package pvesim

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/pve-operator/pve-operator/internal/pvesim/pveschema"
)

// readParams merges body and query parameters the way pveproxy's
// extract_params does: body first, query parameters win, and the
// cache-busting "_dc" is dropped. Form values stay strings; JSON keeps its
// types, because PVE's type check tells a JSON true from the string "1".
func readParams(r *http.Request) (map[string]pveschema.Value, *apiError) {
	params := map[string]*pveschema.Value{}
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err != nil {
			return nil, errf("unable to read request body: %v", err)
		}
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		switch {
		case len(bytes.TrimSpace(body)) == 0:
		case ct == "application/json":
			if e := readJSONParams(body, params); e != nil {
				return nil, e
			}
		default:
			params = decodeURLEncoded(string(body))
		}
	}
	for k, v := range decodeURLEncoded(r.URL.RawQuery) {
		params[k] = v
	}
	delete(params, "_dc")
	out := make(map[string]pveschema.Value, len(params))
	for k, v := range params {
		if v != nil {
			out[k] = *v
		}
	}
	return out, nil
}

// decodeURLEncoded is pve-http-server's decode_urlencoded. Pairs are split
// on '&' and ';'; a key given twice becomes an array (which the schema step
// joins for "-list" formats and refuses for scalars). Perl's split(/=/)
// keeps only the text up to a second '=', and a pair without a value ("k"
// or "k=") is undef, which removes the key: nil here.
func decodeURLEncoded(data string) map[string]*pveschema.Value {
	res := map[string]*pveschema.Value{}
	for _, kv := range strings.FieldsFunc(data, func(r rune) bool { return r == '&' || r == ';' }) {
		fields := strings.Split(kv, "=")
		for len(fields) > 0 && fields[len(fields)-1] == "" {
			fields = fields[:len(fields)-1]
		}
		if len(fields) == 0 {
			continue
		}
		k := percentDecode(fields[0])
		if len(fields) < 2 {
			res[k] = nil
			continue
		}
		v := strings.ToValidUTF8(percentDecode(fields[1]), "\uFFFD")
		switch old := res[k]; {
		case old == nil:
			res[k] = &pveschema.Value{Text: v}
		case old.Kind == pveschema.Array:
			old.Items = append(old.Items, v)
		default:
			res[k] = &pveschema.Value{Kind: pveschema.Array, Items: []string{old.Text, v}}
		}
	}
	return res
}

// percentDecode turns '+' into a space and %XX into its byte; a '%' not
// followed by two hex digits stays as it is.
func percentDecode(s string) string {
	s = strings.ReplaceAll(s, "+", " ")
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			n, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(n))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func readJSONParams(body []byte, params map[string]*pveschema.Value) *apiError {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return &apiError{status: 400, msg: "malformed JSON string: " + err.Error(), emptyBody: true}
	}
	for k, v := range m {
		if v == nil {
			// JSON null is undef in Perl: the parameter is simply absent.
			continue
		}
		jv := jsonValue(v)
		params[k] = &jv
	}
	return nil
}

// jsonValue is a decoded JSON value as Perl sees it: numbers in Perl's
// text form, true/false as booleans, arrays with their elements as text.
func jsonValue(v any) pveschema.Value {
	switch t := v.(type) {
	case string:
		return pveschema.Value{Text: t}
	case json.Number:
		return pveschema.Value{Text: perlNumberText(t), Kind: pveschema.Number}
	case bool:
		if t {
			return pveschema.Value{Text: "1", Kind: pveschema.Bool}
		}
		return pveschema.Value{Text: "0", Kind: pveschema.Bool}
	case []any:
		items := make([]string, 0, len(t))
		for _, e := range t {
			items = append(items, jsonValue(e).Text)
		}
		return pveschema.Value{Kind: pveschema.Array, Items: items}
	case nil:
		return pveschema.Value{}
	}
	return pveschema.Value{Text: "HASH", Kind: pveschema.Object}
}

// perlNumberText is how Perl prints a decoded JSON number: integers as
// written, others as a double with 15 significant digits.
func perlNumberText(n json.Number) string {
	s := n.String()
	if !strings.ContainsAny(s, ".eE") {
		return s
	}
	f, err := n.Float64()
	if err != nil {
		return s
	}
	return strconv.FormatFloat(f, 'g', 15, 64)
}

// reInteger is PVE's is_integer, for handlers that read numbers out of
// property strings.
var reInteger = regexp.MustCompile(`^[+-]?\d+$`)

// sortedKeys is a map's keys in order, for deterministic output.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

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

// indexOf parses "<prefix><digits>" without leading zeros.
func indexOf(name, prefix string) (int, bool) { return pveschema.IndexOf(name, prefix) }
