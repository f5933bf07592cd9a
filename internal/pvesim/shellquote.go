package pvesim

import (
	"strings"
	"unicode"
)

// cmd2string is PVE::Tools::cmd2string (pve-common src/PVE/Cmd.pm
// to_string): each argument shell-quoted on its own by
// String::ShellQuote::shell_quote, joined with single blanks.
func cmd2string(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = shellQuote(a)
	}
	return strings.Join(quoted, " ")
}

// shellQuote is String::ShellQuote's shell_quote of one argument. An
// argument holding anything but word characters and !%+,-./:=@^ goes in
// single quotes, as does one with '=' (a lone argument is in command
// position, where NAME=value would set a variable). Inside, a single quote
// becomes quote-backslash-quote-quote and a run of several is put in double
// quotes; empty quote pairs left at either end are dropped:
//
//	daemon off;  ->  'daemon off;'
//	it's         ->  'it'\''s'
//	'x           ->  \''x'
//	(empty)      ->  ''
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	escape := strings.Contains(s, "=")
	for _, r := range s {
		if !isPerlWord(r) && !strings.ContainsRune("!%+,-./:=@^", r) {
			escape = true
			break
		}
	}
	if !escape {
		return s
	}
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(s); {
		n := 0
		for i+n < len(s) && s[i+n] == '\'' {
			n++
		}
		switch {
		case n == 1:
			b.WriteString(`'\''`)
		case n > 1:
			b.WriteString(`'"` + strings.Repeat("'", n) + `"'`)
		default:
			b.WriteByte(s[i])
			n = 1
		}
		i += n
	}
	b.WriteByte('\'')
	out := strings.TrimPrefix(b.String(), "''")
	return strings.TrimSuffix(out, "''")
}

// isPerlWord is Perl's \w on a character string. The image config reaches
// Perl through perlmod, which hands any string with a non-ASCII byte over
// as UTF-8 (perlmod-rs scalar.rs new_string), so \w is Unicode's word
// class there, not ASCII's.
func isPerlWord(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.In(r, unicode.Nd, unicode.Nl, unicode.Pc, unicode.Join_Control)
}
