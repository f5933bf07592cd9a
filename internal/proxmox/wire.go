package proxmox

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// PVE's output typing is loose: booleans are 0/1, values of
// schema type "number" come out as strings (cpulimit, and therefore cpus and
// maxcpu), nextid is a string. These decoders accept every form PVE uses, so
// one odd field never fails a whole listing.

// num decodes a JSON number, a numeric string, or null.
type num float64

func (n *num) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			*n = 0
			return nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return err
		}
		*n = num(f)
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = num(f)
	return nil
}

func (n num) int() int       { return int(n) }
func (n num) int64() int64   { return int64(n) }
func (n num) uint64() uint64 { return uint64(max(float64(n), 0)) }

// flag decodes 0/1, "0"/"1", true/false, or null.
type flag bool

func (f *flag) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch string(b) {
	case "null", "", "0", `"0"`, "false", `""`:
		*f = false
	default:
		*f = true
	}
	return nil
}

// text decodes a JSON string, or the literal text of a number or boolean, so
// raw config maps keep "2048" as it appeared.
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*t = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = text(s)
	default:
		*t = text(b)
	}
	return nil
}

// splitList splits PVE's comma, semicolon or space separated lists (tags use
// ";", content types ",").
func splitList(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' })
	if len(f) == 0 {
		return nil
	}
	return f
}

func b01(b bool) int {
	if b {
		return 1
	}
	return 0
}
