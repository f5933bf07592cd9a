package sshd

import (
	"fmt"
	"strings"
)

// syntaxError is a command line the simulated login shell cannot or will not
// interpret; it is reported like bash reports syntax errors (exit status 2).
type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return e.msg }

// unquotedSpecial are characters bash would give a meaning to (operators,
// expansions, globs, comments). A real node's login shell would interpret them;
// the simulator does not emulate bash, so it refuses them instead of silently
// treating them as literals. The operator single-quotes everything it sends.
const unquotedSpecial = "|&;<>()$`*?[]{}~#!\n"

// splitShellWords splits an SSH exec request into argv the way the node's login
// shell (bash -c) would for the subset of syntax the operator uses: blanks
// separate words, 'single quotes' are literal, "double quotes" allow \" \\ \$ \`
// escapes, and a backslash outside quotes escapes the next character.
func splitShellWords(line string) ([]string, error) {
	var (
		words   []string
		cur     strings.Builder
		inWord  bool
		quoting byte // 0, '\'' or '"'
	)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quoting == '\'':
			if c == '\'' {
				quoting = 0
			} else {
				cur.WriteByte(c)
			}
		case quoting == '"':
			switch {
			case c == '"':
				quoting = 0
			case c == '\\' && i+1 < len(line) && strings.IndexByte("\"\\$`\n", line[i+1]) >= 0:
				i++
				if line[i] != '\n' { // backslash-newline is a line continuation
					cur.WriteByte(line[i])
				}
			case c == '$' || c == '`':
				return nil, &syntaxError{fmt.Sprintf("pvesim: expansion %q inside double quotes is not simulated", c)}
			default:
				cur.WriteByte(c)
			}
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'' || c == '"':
			quoting, inWord = c, true
		case c == '\\':
			if i+1 == len(line) {
				return nil, &syntaxError{"pvesim: trailing backslash is not simulated"}
			}
			i++
			if line[i] != '\n' {
				cur.WriteByte(line[i])
				inWord = true
			}
		case strings.IndexByte(unquotedSpecial, c) >= 0:
			return nil, &syntaxError{fmt.Sprintf("pvesim: unquoted %q is not simulated; quote the argument", c)}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quoting != 0 {
		return nil, &syntaxError{fmt.Sprintf("bash: -c: line 1: unexpected EOF while looking for matching `%c'", quoting)}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
