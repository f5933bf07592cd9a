package redact

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

const testKey = `-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACBx2vJ8c5M4UOCGZ7aGZ2ZQ1O3R3kI3O0wYQ0s6QbH1AAAAmF3Q8IBd0PCA
-----END OPENSSH PRIVATE KEY-----
`

func TestString(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		in      string
		want    string
	}{
		{"a registered password is replaced wherever it appears", []string{"Sup3r-s3cret-pw"},
			"unable to set password 'Sup3r-s3cret-pw' (Sup3r-s3cret-pw)", "unable to set password '[redacted]' ([redacted])"},
		{"text without a secret is returned unchanged", []string{"Sup3r-s3cret-pw"},
			"creating the container failed", "creating the container failed"},
		{"an empty registry changes nothing", nil, "password hunter2x", "password hunter2x"},
		{"values shorter than four characters are not registered", []string{"", "abc"},
			"abc abcd", "abc abcd"},
		{"a four-character value is registered", []string{"abcd"}, "xabcdx", "x[redacted]x"},
		{"the longer of two overlapping secrets wins", []string{"s3cret", "s3cret-token-value"},
			"got s3cret-token-value and s3cret", "got [redacted] and [redacted]"},
		{"a whole private key is one redaction", []string{testKey},
			"key: " + testKey, "key: [redacted]"},
		{"one line of a private key is caught on its own", []string{testKey},
			"bad line QyNTUxOQAAACBx2vJ8c5M4UOCGZ7aGZ2ZQ1O3R3kI3O0wYQ0s6QbH1AAAAmF3Q8IBd0PCA here",
			"bad line [redacted] here"},
		{"the PEM armor of a key is not a secret", []string{testKey},
			"want -----BEGIN OPENSSH PRIVATE KEY-----", "want -----BEGIN OPENSSH PRIVATE KEY-----"},
		{"a key escaped as in a JSON log line is caught", []string{testKey},
			`"key":"` + strings.ReplaceAll(testKey, "\n", `\n`) + `"`, `"key":"[redacted]"`},
		{"a password with a quote is caught raw and JSON-escaped", []string{`pa"ss\word`},
			`raw pa"ss\word json "pa\"ss\\word"`, `raw [redacted] json "[redacted]"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Registry{}
			r.Add(tt.secrets...)
			if got := r.String(tt.in); got != tt.want {
				t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRegistryLifecycle(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, r *Registry)
	}{
		{"a value added after a String call is caught by the next call", func(t *testing.T, r *Registry) {
			r.Add("first-secret")
			_ = r.String("warm the replacer")
			r.Add("second-secret")
			if got := r.String("second-secret"); got != Placeholder {
				t.Errorf("got %q", got)
			}
		}},
		{"adding a known value keeps the compiled replacer", func(t *testing.T, r *Registry) {
			r.Add("known-secret")
			_ = r.String("warm the replacer")
			before := r.compiled.Load()
			r.Add("known-secret")
			if r.compiled.Load() != before {
				t.Error("re-adding a known value invalidated the replacer")
			}
		}},
		{"the registry stays bounded and keeps the most recently read values", func(t *testing.T, r *Registry) {
			r.Add("kept-secret-value")
			for i := 0; i < 2*maxValues; i++ {
				r.Add(fmt.Sprintf("secret-%06d", i))
				if i%100 == 0 {
					r.Add("kept-secret-value")
				}
			}
			if n := r.Len(); n > maxValues {
				t.Errorf("Len() = %d, want at most %d", n, maxValues)
			}
			if got := r.String("kept-secret-value"); got != Placeholder {
				t.Errorf("a value re-read all along was evicted: %q", got)
			}
			if got := r.String("secret-000001"); got != "secret-000001" {
				t.Errorf("the oldest value was kept: %q", got)
			}
		}},
		{"concurrent adds and reads are safe", func(t *testing.T, r *Registry) {
			var wg sync.WaitGroup
			for g := 0; g < 8; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 200; i++ {
						v := fmt.Sprintf("goroutine-%d-secret-%d", g, i)
						r.Add(v)
						if got := r.String("x " + v); got != "x "+Placeholder {
							t.Errorf("String right after Add(%q) = %q", v, got)
							return
						}
					}
				}()
			}
			wg.Wait()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, &Registry{}) })
	}
}

func TestLogger(t *testing.T) {
	const pw = "Sup3r-s3cret-pw"
	Add(pw, testKey)
	var buf bytes.Buffer
	log := Logger(zap.WriteTo(&buf), zap.UseDevMode(true))
	tests := []struct {
		name string
		log  func()
	}{
		{"the message is scrubbed", func() { log.Info("password " + pw) }},
		{"a string value is scrubbed", func() { log.Info("create", "params", "password="+pw) }},
		{"an error is scrubbed", func() { log.Error(fmt.Errorf("unable to set password '%s'", pw), "create failed") }},
		{"a reflected struct is scrubbed", func() {
			log.Info("spec", "spec", struct{ Password string }{pw})
		}},
		{"a multi-line key is scrubbed as the encoder escapes it", func() { log.Info("ssh", "key", testKey) }},
		{"a debug line is scrubbed", func() { log.V(1).Info("debug " + pw) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf.Reset()
			tt.log()
			out := buf.String()
			if !strings.Contains(out, Placeholder) {
				t.Fatalf("no %s in %q", Placeholder, out)
			}
			for _, leak := range []string{pw, "QyNTUxOQAAACBx2vJ8c5M4UOCGZ7aGZ2ZQ1O3R3kI3O0wYQ0s6QbH1AAAAmF3Q8IBd0PCA"} {
				if strings.Contains(out, leak) {
					t.Errorf("log line leaks %q: %s", leak, out)
				}
			}
		})
	}
}

func TestLoggerVerbosity(t *testing.T) {
	var buf bytes.Buffer
	log := Logger(zap.WriteTo(&buf), zap.Level(zapcore.Level(-10)))
	tests := []struct {
		name    string
		v       int
		written bool
	}{
		{"V(1) is written at the level asked for", 1, true},
		{"V(7) is the highest level written", MaxVerbosity, true},
		{"V(8), where client-go dumps Secret bodies, is never written", 8, false},
		{"V(10) is never written", 10, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf.Reset()
			log.V(tt.v).Info("line")
			if got := buf.Len() > 0; got != tt.written || log.V(tt.v).Enabled() != tt.written {
				t.Errorf("V(%d) written = %v, enabled = %v; want %v", tt.v, got, log.V(tt.v).Enabled(), tt.written)
			}
		})
	}
}

type fakeRecorder struct{ notes []string }

func (f *fakeRecorder) Eventf(_, _ runtime.Object, _, _, _, note string, args ...any) {
	f.notes = append(f.notes, fmt.Sprintf(note, args...))
}

func TestRecorder(t *testing.T) {
	Add("event-s3cret-pw")
	tests := []struct {
		name string
		note string
		args []any
		want string
	}{
		{"a secret in the arguments is scrubbed", "creating failed: %s", []any{"bad event-s3cret-pw"}, "creating failed: bad [redacted]"},
		{"a secret in the format is scrubbed", "bad event-s3cret-pw", nil, "bad [redacted]"},
		{"a note without a secret is kept", "started %d", []any{3}, "started 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeRecorder{}
			Recorder(f).Eventf(nil, nil, "Warning", "CreateFailed", "Create", tt.note, tt.args...)
			if len(f.notes) != 1 || f.notes[0] != tt.want {
				t.Errorf("notes = %q, want [%q]", f.notes, tt.want)
			}
		})
	}
}

func BenchmarkString(b *testing.B) {
	r := &Registry{}
	for i := 0; i < 1000; i++ {
		r.Add(fmt.Sprintf("secret-value-%04d", i))
	}
	line := `{"level":"info","msg":"creating container 104 on pve1","controller":"application","reconcileID":"6f1c"}`
	b.ReportAllocs()
	for b.Loop() {
		_ = r.String(line)
	}
}

func BenchmarkRebuild(b *testing.B) {
	r := &Registry{}
	for i := 0; i < maxValues-1; i++ {
		r.Add(fmt.Sprintf("secret-value-%04d", i))
	}
	for i := 0; b.Loop(); i++ {
		r.Add(fmt.Sprintf("fresh-secret-%d", i))
		_ = r.String("x")
		_ = r.String("some text")
	}
}
