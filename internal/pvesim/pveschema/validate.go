package pveschema

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind is the shape a parameter arrived in, which decides PVE's type check.
type Kind uint8

// The kinds of a decoded parameter.
const (
	// Text is a form or query value or a JSON string.
	Text Kind = iota
	// Number is a JSON number, already in Perl's text form.
	Number
	// Bool is a JSON true/false, as "1"/"0".
	Bool
	// Array is a repeated form key or a JSON array; Items holds the values.
	Array
	// Object is a JSON object.
	Object
)

// Value is one decoded request parameter.
type Value struct {
	Text  string
	Items []string
	Kind  Kind
}

// TextValue is a plain string parameter.
func TextValue(s string) Value { return Value{Text: s} }

// Message texts PVE::JSONSchema uses in more than one place.
const (
	msgUnknown = "property is not defined in schema and the schema does not allow additional properties"
	msgMissing = "property is missing and it is not optional"
)

// Validate checks params against the method like PVE::RESTHandler::handle
// does: the legacy normalization (arrays joined for "-list" formats, scalars
// wrapped for array parameters), then PVE::JSONSchema::validate. It returns
// the values as handlers read them (booleans "0"/"1", arrays joined with
// NUL like PVE's split_list expects) or, when anything fails, PVE's
// per-parameter messages.
func (m *Method) Validate(params map[string]Value) (map[string]string, map[string]string) {
	vals := make(map[string]*Value, len(params))
	for name, v := range params {
		v := v
		if p := m.Lookup(name); p != nil {
			v = normalizeLegacy(p, v)
		}
		vals[name] = &v
	}
	errs := errorSet{}
	out := map[string]string{}
	check := func(name string, p *Prop) {
		if s, ok := checkProp(name, p, vals[name], instanceType(p, vals), errs); ok && vals[name] != nil {
			out[name] = s
		}
	}
	for _, name := range slices.Sorted(maps.Keys(m.Props)) {
		check(name, m.Props[name])
	}
	for _, name := range slices.Sorted(maps.Keys(vals)) {
		if _, plain := m.Props[name]; plain {
			continue
		}
		if p := m.Lookup(name); p != nil {
			check(name, p)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(vals)) {
		p := m.Lookup(name)
		if p == nil {
			errs.add(name, msgUnknown)
			continue
		}
		if p.Requires != "" && vals[p.Requires] == nil {
			errs.add(p.Requires, fmt.Sprintf("missing property required by '%s'", name))
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// normalizeLegacy is RESTHandler's normalize_legacy_param_formats: a
// repeated key (an array) becomes one comma-joined string where the schema
// wants a "-list" string, and a single value becomes a one-element array
// where the schema wants an array. Perl skips false values ("" and "0").
func normalizeLegacy(p *Prop, v Value) Value {
	if v.Kind == Array && p.Type == "string" && strings.HasSuffix(p.Format, "-list") {
		return Value{Text: strings.Join(v.Items, ",")}
	}
	if v.Kind != Array && v.Kind != Object && p.Type == "array" && v.Text != "" && v.Text != "0" {
		return Value{Kind: Array, Items: []string{v.Text}}
	}
	return v
}

// instanceType is get_instance_type: the value of the property's type
// parameter, when it has one.
func instanceType(p *Prop, vals map[string]*Value) string {
	if p.TypeProperty == "" || vals[p.TypeProperty] == nil {
		return ""
	}
	return vals[p.TypeProperty].Text
}

// errorSet collects messages per parameter path like add_error, which
// joins a second message for the same path with a literal backslash-n
// (single-quoted '\n' in Perl).
type errorSet map[string]string

func (e errorSet) add(path, msg string) {
	if path == "" {
		path = "_root"
	}
	if old, ok := e[path]; ok {
		e[path] = old + `\n` + msg
		return
	}
	e[path] = msg
}

// checkProp is check_prop for one value (nil when absent); it returns the
// normalized value when the value passed.
func checkProp(path string, p *Prop, v *Value, instance string, errs errorSet) (string, bool) {
	if v == nil {
		optionalForType := instance != "" && len(p.InstanceTypes) > 0 && !slices.Contains(p.InstanceTypes, instance)
		if !p.Optional && !optionalForType {
			errs.add(path, msgMissing)
			return "", false
		}
		return "", true
	}
	if msg := checkType(p.Type, v); msg != "" {
		errs.add(path, msg)
		return "", false
	}
	if v.Kind == Array {
		return checkItems(path, p, v, errs)
	}
	if v.Kind == Object {
		return "", true
	}
	if msg := checkScalar(path, p, v.Text); msg != "" {
		errs.add(path, msg)
		return "", false
	}
	return v.Text, true
}

func checkItems(path string, p *Prop, v *Value, errs errorSet) (string, bool) {
	ok := true
	if p.Items != nil {
		for i, it := range v.Items {
			item := TextValue(it)
			if _, good := checkProp(fmt.Sprintf("%s[%d]", path, i), p.Items, &item, "", errs); !good {
				ok = false
			}
		}
	}
	return strings.Join(v.Items, "\x00"), ok
}

// checkType is check_type; it returns the error message or "".
func checkType(typ string, v *Value) string {
	switch {
	case typ == "" || typ == "any":
		return ""
	case typ == "array":
		if v.Kind != Array {
			return "type check ('array') failed"
		}
		return ""
	case typ == "object":
		if v.Kind != Object {
			return "type check ('object') failed"
		}
		return ""
	case v.Kind == Array:
		return fmt.Sprintf("type check ('%s') failed - got ARRAY", typ)
	case v.Kind == Object:
		return fmt.Sprintf("type check ('%s') failed - got HASH", typ)
	case v.Kind == Bool:
		if typ == "boolean" {
			return ""
		}
		return fmt.Sprintf("type check ('%s') failed - got JSON::PP::Boolean", typ)
	}
	ok := true
	switch typ {
	case "boolean":
		// PVE's check_type accepts exactly "1" and "0" here; the
		// yes/on/true spellings are only for property strings.
		ok = v.Text == "1" || v.Text == "0"
	case "integer":
		ok = reInteger.MatchString(v.Text)
	case "number":
		ok = reNumber.MatchString(v.Text)
	}
	if !ok {
		return fmt.Sprintf("type check ('%s') failed - got '%s'", typ, v.Text)
	}
	return ""
}

// is_integer and is_number of PVE::JSONSchema.
var (
	reInteger = mustPerlAnchored(`[+-]?\d+`)
	reNumber  = mustPerlAnchored(`[+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?`)
)

// checkScalar runs check_prop's scalar checks in PVE's order: format,
// pattern, maxLength, minLength, maximum, minimum, enum. The first
// failure is the message.
func checkScalar(path string, p *Prop, s string) string {
	if p.Sub != nil || p.Format != "" {
		if err := p.checkFormat(path, s); err != nil {
			return "invalid format - " + err.Error()
		}
	}
	if p.Pattern != nil && !p.Pattern.MatchString(s) {
		return "value does not match the regex pattern"
	}
	n := utf8.RuneCountInString(s)
	if p.MaxLength >= 0 && n > p.MaxLength {
		return fmt.Sprintf("value may only be %d characters long", p.MaxLength)
	}
	if p.MinLength >= 0 && n < p.MinLength {
		return fmt.Sprintf("value must be at least %d characters long", p.MinLength)
	}
	if reNumber.MatchString(s) {
		f := perlNumber(s)
		if p.Maximum != "" && f > perlNumber(p.Maximum) {
			return "value must have a maximum value of " + p.Maximum
		}
		if p.Minimum != "" && f < perlNumber(p.Minimum) {
			return "value must have a minimum value of " + p.Minimum
		}
	}
	if len(p.Enum) > 0 && !slices.Contains(p.Enum, s) {
		return fmt.Sprintf("value '%s' does not have a value in the enumeration '%s'", s, strings.Join(p.Enum, ", "))
	}
	return ""
}

// perlNumber is the numeric value Perl gives a numeric string.
func perlNumber(s string) float64 {
	f, _ := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f
}

func (p *Prop) checkFormat(path, s string) error {
	if p.Sub != nil {
		_, err := p.Sub.parse(path, s, nil)
		return err
	}
	return CheckFormat(p.Format, s, path)
}

// reFormatName splits "pve-configid-list" into name and list/opt suffix as
// check_format does (the name part is non-greedy).
var reFormatName = regexp.MustCompile(`^(.*?)(?:-(list|opt))?$`)
