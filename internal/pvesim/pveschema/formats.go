package pveschema

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// A named format is either a validator of one string (a code format in
// PVE's register_format) or a property-string format with an optional
// validator of the parsed keys (a hash format).
type (
	codeFormat func(string) error
	hashFormat struct {
		keys      PropertyFormat
		validator func(map[string]string) error
	}
)

var (
	codeFormats = map[string]codeFormat{}
	hashFormats = map[string]*hashFormat{}
)

func registerCode(name string, f codeFormat) { codeFormats[name] = f }

func registerHash(name string, keys PropertyFormat, validator func(map[string]string) error) {
	hashFormats[name] = &hashFormat{keys: keys, validator: validator}
}

// Registered reports whether check_format knows the named format, with or
// without a "-list"/"-opt" suffix.
func Registered(format string) bool {
	name, _ := splitFormatName(format)
	_, code := codeFormats[name]
	_, hash := hashFormats[name]
	return code || hash
}

// dief is a Perl die with a message ending in a newline; PVE's messages
// carry that newline into the errors of a 400 response.
func dief(format string, args ...any) error {
	return errors.New(fmt.Sprintf(format, args...) + "\n")
}

func splitFormatName(format string) (name, suffix string) {
	m := reFormatName.FindStringSubmatch(format)
	return m[1], m[2]
}

// CheckFormat is PVE::JSONSchema::check_format for a named format: a
// "-list" format splits the value with split_list and checks each element
// (an empty list passes), "-opt" checks only a true value, a hash format
// parses the value as a property string. The error text is the die message
// that check_prop prefixes with "invalid format - ".
func CheckFormat(format, value, path string) error {
	if format == "regex" {
		return nil
	}
	name, suffix := splitFormatName(format)
	code, isCode := codeFormats[name]
	hash, isHash := hashFormats[name]
	switch {
	case !isCode && !isHash:
		return dief("undefined format '%s'", format)
	case suffix != "" && !isCode:
		return dief("'-%s' format must have code ref, not hash", suffix)
	case suffix == "list":
		for _, v := range SplitList(value) {
			if err := code(v); err != nil {
				return err
			}
		}
		return nil
	case suffix == "opt":
		if value == "" || value == "0" {
			return nil
		}
		return code(value)
	case isHash:
		_, err := hash.keys.parse(path, value, hash.validator)
		return err
	}
	return code(value)
}

var (
	reListSeparators = regexp.MustCompile(`[,;]`)
	reLeadingSpace   = regexp.MustCompile(`^\s+`)
	reSpaces         = regexp.MustCompile(`\s+`)
)

// SplitList is PVE::ParseUtils::split_list: NUL-separated when the text
// holds a NUL, else split on commas, semicolons and whitespace. Like Perl's
// split it drops trailing empty fields.
func SplitList(s string) []string {
	var parts []string
	if strings.Contains(s, "\x00") {
		parts = strings.Split(s, "\x00")
	} else {
		s = reLeadingSpace.ReplaceAllString(reListSeparators.ReplaceAllString(s, " "), "")
		parts = reSpaces.Split(s, -1)
	}
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

// matchOr returns a code format that dies with msg (a fmt string taking the
// value) unless the value matches re in full.
func matchOr(re *regexp.Regexp, msg string) codeFormat {
	return func(v string) error {
		if re.MatchString(v) {
			return nil
		}
		if strings.Contains(msg, "%s") {
			return dief(msg, v)
		}
		return dief("%s", msg)
	}
}
