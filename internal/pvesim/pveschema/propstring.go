package pveschema

import (
	"maps"
	"regexp"
	"slices"
	"strings"
)

// formatError is the exception parse_property_string raises when keys fail
// their checks; its text is how PVE::Exception stringifies it: the message,
// then one "path: message" line per failed key.
type formatError struct{ errs errorSet }

func (e *formatError) Error() string {
	var b strings.Builder
	b.WriteString("format error\n")
	for _, k := range slices.Sorted(maps.Keys(e.errs)) {
		b.WriteString(k + ": " + e.errs[k] + "\n")
	}
	return b.String()
}

var (
	reKeyValue  = regexp.MustCompile(`^([^=]+)=(.+)\n?$`)
	reBlankPart = regexp.MustCompile(`^\s*$`)
	reBoolTrue  = mustPerlAnchored(`(?i)1|on|yes|true`)
	reBoolFalse = mustPerlAnchored(`(?i)0|off|no|false`)
)

// ParseBoolean is PVE::JSONSchema::parse_boolean: the spellings PVE accepts
// for booleans inside property strings, normalized to "1"/"0".
func ParseBoolean(s string) (string, bool) {
	switch {
	case reBoolTrue.MatchString(s):
		return "1", true
	case reBoolFalse.MatchString(s):
		return "0", true
	}
	return s, false
}

// DefaultKey is the key a bare value (one without "key=") belongs to, or "".
func (f PropertyFormat) DefaultKey() string {
	for _, k := range slices.Sorted(maps.Keys(f)) {
		if f[k].DefaultKey {
			return k
		}
	}
	return ""
}

// Required lists the keys that are not optional, sorted.
func (f PropertyFormat) Required() []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(f)) {
		if !f[k].Optional {
			out = append(out, k)
		}
	}
	return out
}

// Parse is parse_property_string: it splits data into keys, normalizes
// boolean spellings and checks every key against its spec. path prefixes
// the per-key messages ("net0.ip: …").
func (f PropertyFormat) Parse(path, data string) (map[string]string, error) {
	return f.parse(path, data, nil)
}

// Split is the first half of Parse only: the key/value split with PVE's
// structural errors, without checking values. It reads values that were
// verified when they were written.
func (f PropertyFormat) Split(data string) (map[string]string, error) {
	return f.split(data)
}

func (f PropertyFormat) parse(path, data string, validator func(map[string]string) error) (map[string]string, error) {
	res, err := f.split(data)
	if err != nil {
		return nil, err
	}
	errs := errorSet{}
	for _, k := range slices.Sorted(maps.Keys(f)) {
		var v *Value
		if s, ok := res[k]; ok {
			v = &Value{Text: s}
		}
		checkProp(joinPath(path, k), f[k], v, "", errs)
	}
	for _, k := range slices.Sorted(maps.Keys(res)) {
		if req := f[k].Requires; req != "" {
			if _, ok := res[req]; !ok {
				errs.add(joinPath(path, req), "missing property required by '"+joinPath(path, k)+"'")
			}
		}
	}
	if len(errs) > 0 {
		return nil, &formatError{errs}
	}
	if validator != nil {
		if err := validator(res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func (f PropertyFormat) split(data string) (map[string]string, error) {
	res := map[string]string{}
	defaultKey := ""
	for _, part := range strings.Split(data, ",") {
		if reBlankPart.MatchString(part) {
			continue
		}
		if m := reKeyValue.FindStringSubmatch(part); m != nil {
			k, v := m[1], m[2]
			if _, dup := res[k]; dup {
				return nil, dief("duplicate key in comma-separated list property: %s", k)
			}
			spec := f[k]
			if spec == nil {
				return nil, dief("invalid key in comma-separated list property: %s", k)
			}
			res[k] = boolSpelling(spec, v)
			continue
		}
		if strings.Contains(part, "=") {
			return nil, dief("missing key in comma-separated list property")
		}
		if defaultKey != "" {
			return nil, dief("duplicate key in comma-separated list property: %s", defaultKey)
		}
		defaultKey = f.DefaultKey()
		if defaultKey == "" {
			return nil, dief("value without key, but schema does not define a default key")
		}
		if old := res[defaultKey]; old != "" && old != "0" {
			return nil, dief("duplicate key in comma-separated list property: %s", defaultKey)
		}
		res[defaultKey] = boolSpelling(f[defaultKey], part)
	}
	return res, nil
}

// boolSpelling applies parse_boolean to boolean keys, keeping values it
// cannot read so the type check reports them.
func boolSpelling(spec *Prop, v string) string {
	if spec.Type != "boolean" {
		return v
	}
	b, _ := ParseBoolean(v)
	return b
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
