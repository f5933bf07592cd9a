package redact

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Placeholder replaces every registered secret.
const Placeholder = "[redacted]"

const (
	// MinLen is the shortest value registered. Proxmox' root password
	// minimum is 5 characters; anything shorter would mostly hit ordinary
	// words.
	MinLen = 4
	// MinLineLen is the shortest line of a multi-line value (a PEM or
	// OpenSSH private key) registered on its own, so an echo of part of the
	// key is caught too.
	MinLineLen = 16
	// maxValues bounds the registry. Secrets of deleted objects and rotated
	// credentials stay until the bound is reached; then the values read
	// least recently go first. A value is re-read (and so kept) on every
	// reconcile that uses it, so what goes is what no object needs any more.
	maxValues = 4096
)

// Registry is a set of secret values. It is safe for concurrent use; the
// zero value is ready.
type Registry struct {
	mu sync.Mutex
	// seen maps each value to the sequence number of its last Add.
	seen map[string]uint64
	seq  uint64
	// compiled is nil after a change: the replacer is rebuilt on the next
	// String, not on every Add, so a burst of new secrets costs one build.
	compiled atomic.Pointer[compiled]
}

type compiled struct {
	// rep is nil when there are no values.
	rep *strings.Replacer
}

// Default is the process-wide registry behind Add, String, Writer and
// Recorder.
var Default = &Registry{}

// Add registers secret values with Default.
func Add(values ...string) { Default.Add(values...) }

// String removes Default's secrets from s.
func String(s string) string { return Default.String(s) }

// Add registers values. Empty and shorter-than-MinLen values are ignored.
// A value already registered costs a map lookup and no rebuild.
func (r *Registry) Add(values ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]uint64{}
	}
	changed := false
	for _, v := range values {
		for _, f := range forms(v) {
			r.seq++
			if _, ok := r.seen[f]; !ok {
				changed = true
			}
			r.seen[f] = r.seq
		}
	}
	if !changed {
		return
	}
	if len(r.seen) > maxValues {
		r.evict()
	}
	r.compiled.Store(nil)
}

// evict drops the least recently added values down to 7/8 of the bound, so
// the sort is not paid again on the very next Add.
func (r *Registry) evict() {
	vals := make([]string, 0, len(r.seen))
	for v := range r.seen {
		vals = append(vals, v)
	}
	sort.Slice(vals, func(i, j int) bool { return r.seen[vals[i]] < r.seen[vals[j]] })
	for _, v := range vals[:len(vals)-maxValues*7/8] {
		delete(r.seen, v)
	}
}

// Len reports how many distinct texts (values, lines and escaped forms)
// are registered.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

// String returns s with every registered value replaced by Placeholder.
func (r *Registry) String(s string) string {
	if len(s) < MinLen {
		return s
	}
	rep := r.replacer()
	if rep == nil {
		return s
	}
	return rep.Replace(s)
}

func (r *Registry) replacer() *strings.Replacer {
	if c := r.compiled.Load(); c != nil {
		return c.rep
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.compiled.Load(); c != nil {
		return c.rep
	}
	c := &compiled{}
	if len(r.seen) > 0 {
		vals := make([]string, 0, len(r.seen))
		for v := range r.seen {
			vals = append(vals, v)
		}
		// The replacer prefers earlier arguments: the whole key must win
		// over one of its lines, or the rest of the key would show.
		slices.SortFunc(vals, func(a, b string) int {
			if len(a) != len(b) {
				return len(b) - len(a)
			}
			return strings.Compare(a, b)
		})
		pairs := make([]string, 0, 2*len(vals))
		for _, v := range vals {
			pairs = append(pairs, v, Placeholder)
		}
		c.rep = strings.NewReplacer(pairs...)
	}
	r.compiled.Store(c)
	return c.rep
}

// forms are the texts registered for one value: the value, each long line
// of a multi-line value, and the JSON-escaped form of each (the log
// encoder escapes quotes, backslashes and control characters, so a
// multi-line key appears in a log line with "\n" in place of its newlines).
func forms(v string) []string {
	if len(v) < MinLen {
		return nil
	}
	out := []string{v}
	if strings.ContainsAny(v, "\r\n") {
		for _, line := range strings.FieldsFunc(v, func(c rune) bool { return c == '\n' || c == '\r' }) {
			line = strings.TrimSpace(line)
			// PEM armor ("-----BEGIN OPENSSH PRIVATE KEY-----") is not secret.
			if len(line) >= MinLineLen && !strings.HasPrefix(line, "-----") {
				out = append(out, line)
			}
		}
	}
	for _, f := range out {
		if e := jsonEscape(f); e != f {
			out = append(out, e)
		}
	}
	return out
}

// jsonEscape escapes s as zap's JSON and console encoders do inside a
// string: backslash, double quote and control characters; invalid UTF-8
// becomes U+FFFD.
func jsonEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b.WriteString(`\ufffd`)
			} else {
				b.WriteString(s[i : i+n])
			}
			i += n
			continue
		}
		switch c {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 {
				b.WriteString(`\u00`)
				if c < 0x10 {
					b.WriteByte('0')
				}
				b.WriteString(strconv.FormatInt(int64(c), 16))
			} else {
				b.WriteByte(c)
			}
		}
		i++
	}
	return b.String()
}
