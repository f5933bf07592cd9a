package sshd

import (
	"fmt"
	"strconv"
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
// '>' is missing here: output redirection is parsed.
const unquotedSpecial = "|&;<()$`*?[]{}~#!\n"

// redirect is an output redirection: "> target", ">> target" or "2> target".
type redirect struct {
	fd     int
	append bool
	target string
}

// commandLine is one simple command: its words and its output redirections,
// in the order bash would apply them.
type commandLine struct {
	words     []string
	redirects []redirect
}

// splitShellWords splits an SSH exec request into argv the way the node's login
// shell (bash -c) would, for a line without redirections.
func splitShellWords(line string) ([]string, error) {
	cl, err := parseCommandLine(line)
	if err != nil {
		return nil, err
	}
	if len(cl.redirects) > 0 {
		return nil, errUnquotedRedirect
	}
	return cl.words, nil
}

// errUnquotedRedirect refuses a redirection where the simulator cannot honour
// one (around pct exec, whose output would land on the node).
var errUnquotedRedirect = &syntaxError{"pvesim: unquoted '>' is not simulated; quote the argument"}

// parseCommandLine splits an SSH exec request the way the node's login shell
// (bash -c) would, for the subset of syntax real clients use: blanks separate
// words, 'single quotes' are literal, "double quotes" allow \" \\ \$ \`
// escapes, a backslash outside quotes escapes the next character, and
// [n]>word or [n]>>word redirects output. Everything else bash would
// interpret is refused.
func parseCommandLine(line string) (commandLine, error) {
	lx := &lexer{line: line}
	for lx.i = 0; lx.i < len(line); lx.i++ {
		if err := lx.step(); err != nil {
			return commandLine{}, err
		}
	}
	if lx.quoting != 0 {
		return commandLine{}, &syntaxError{fmt.Sprintf("bash: -c: line 1: unexpected EOF while looking for matching `%c'", lx.quoting)}
	}
	lx.endWord()
	if lx.pending != nil {
		return commandLine{}, lx.unexpected("newline")
	}
	return lx.out, nil
}

// lexer is parseCommandLine's state while it walks the line.
type lexer struct {
	line    string
	i       int
	out     commandLine
	cur     strings.Builder
	inWord  bool
	quoted  bool      // the current word has a quoted or escaped part
	quoting byte      // 0, '\'' or '"'
	pending *redirect // an operator waiting for its target word
}

func (lx *lexer) step() error {
	c := lx.line[lx.i]
	switch {
	case lx.quoting == '\'':
		if c == '\'' {
			lx.quoting = 0
		} else {
			lx.cur.WriteByte(c)
		}
	case lx.quoting == '"':
		return lx.doubleQuoted(c)
	case c == ' ' || c == '\t':
		lx.endWord()
	case c == '\'' || c == '"':
		lx.quoting, lx.inWord, lx.quoted = c, true, true
	case c == '\\':
		if lx.i+1 == len(lx.line) {
			return &syntaxError{"pvesim: trailing backslash is not simulated"}
		}
		lx.i++
		if lx.line[lx.i] != '\n' {
			lx.cur.WriteByte(lx.line[lx.i])
			lx.inWord, lx.quoted = true, true
		}
	case c == '>':
		return lx.redirection()
	case strings.IndexByte(unquotedSpecial, c) >= 0:
		return &syntaxError{fmt.Sprintf("pvesim: unquoted %q is not simulated; quote the argument", c)}
	default:
		lx.cur.WriteByte(c)
		lx.inWord = true
	}
	return nil
}

func (lx *lexer) doubleQuoted(c byte) error {
	switch {
	case c == '"':
		lx.quoting = 0
	case c == '\\' && lx.i+1 < len(lx.line) && strings.IndexByte("\"\\$`\n", lx.line[lx.i+1]) >= 0:
		lx.i++
		if lx.line[lx.i] != '\n' { // backslash-newline is a line continuation
			lx.cur.WriteByte(lx.line[lx.i])
		}
	case c == '$' || c == '`':
		return &syntaxError{fmt.Sprintf("pvesim: expansion %q inside double quotes is not simulated", c)}
	default:
		lx.cur.WriteByte(c)
	}
	return nil
}

// redirection reads ">" or ">>". Digits written right before it, unquoted,
// name the file descriptor instead of forming a word.
func (lx *lexer) redirection() error {
	r := &redirect{fd: 1}
	if w := lx.cur.String(); lx.inWord && !lx.quoted && w != "" && strings.Trim(w, "0123456789") == "" {
		fd, err := strconv.Atoi(w)
		if err != nil {
			return &syntaxError{fmt.Sprintf("bash: %s: ambiguous redirect", w)}
		}
		r.fd = fd
		lx.cur.Reset()
		lx.inWord = false
	} else {
		lx.endWord()
	}
	if lx.pending != nil {
		return lx.unexpected(">")
	}
	if lx.i+1 < len(lx.line) && lx.line[lx.i+1] == '>' {
		r.append = true
		lx.i++
	}
	lx.pending = r
	return nil
}

func (lx *lexer) endWord() {
	if !lx.inWord {
		return
	}
	w := lx.cur.String()
	lx.cur.Reset()
	lx.inWord, lx.quoted = false, false
	if lx.pending != nil {
		lx.pending.target = w
		lx.out.redirects = append(lx.out.redirects, *lx.pending)
		lx.pending = nil
		return
	}
	lx.out.words = append(lx.out.words, w)
}

// unexpected is bash's report of an operator where a word must be.
func (lx *lexer) unexpected(token string) error {
	return &syntaxError{fmt.Sprintf("bash: -c: line 1: syntax error near unexpected token `%s'\nbash: -c: line 1: `%s'", token, lx.line)}
}
