package pveschema

import "strconv"

// Specs written by hand, for the few methods a caller serves that the
// schema file lacks. They are the file's own Prop and Method types, so
// Method.Validate checks them exactly like the file's methods.

// String is an optional string parameter.
func String() *Prop { return &Prop{Type: "string", Optional: true, MinLength: -1, MaxLength: -1} }

// Integer is an optional integer parameter from minimum to maximum.
func Integer(minimum, maximum int) *Prop {
	p := String()
	p.Type, p.Minimum, p.Maximum = "integer", strconv.Itoa(minimum), strconv.Itoa(maximum)
	return p
}

// Boolean is an optional boolean parameter.
func Boolean() *Prop {
	p := String()
	p.Type = "boolean"
	return p
}

// Enum is an optional string parameter that must be one of values.
func Enum(values ...string) *Prop {
	p := String()
	p.Enum = values
	return p
}

// Formatted is an optional string parameter in one of PVE's named formats
// ("pve-node", "pve-configid-list", ...).
func Formatted(format string) *Prop {
	p := String()
	p.Format = format
	return p
}

// Required is a copy of p that must be given.
func (p *Prop) Required() *Prop {
	c := *p
	c.Optional = false
	return &c
}

// WithMaxLength is a copy of p that allows at most n characters.
func (p *Prop) WithMaxLength(n int) *Prop {
	c := *p
	c.MaxLength = n
	return &c
}

// NewMethod is a hand-written method schema. Like every method of the file
// it allows no parameters besides props.
func NewMethod(method, path string, props map[string]*Prop) *Method {
	m := &Method{Method: method, Path: path, Props: map[string]*Prop{}}
	for name, p := range props {
		m.Props[name] = p
	}
	return m
}
