package redact

import (
	"io"
	"os"

	"github.com/go-logr/logr"
	uberzap "go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// Writer returns w with r's secrets removed from everything written. It
// works on the encoded bytes, after the encoder has turned the message,
// the logger name, every key/value (strings, errors, reflected structs),
// the caller and the stack trace into text, so no field type escapes it.
// zap writes one whole entry per Write, so a secret is never split across
// two calls.
func (r *Registry) Writer(w io.Writer) io.Writer { return &writer{r: r, w: w} }

// Writer is Default.Writer.
func Writer(w io.Writer) io.Writer { return Default.Writer(w) }

type writer struct {
	r *Registry
	w io.Writer
}

func (w *writer) Write(p []byte) (int, error) {
	s := string(p)
	if out := w.r.String(s); out != s {
		if _, err := io.WriteString(w.w, out); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return w.w.Write(p)
}

// Sync flushes the underlying writer when it can (os.Stderr can).
func (w *writer) Sync() error {
	if s, ok := w.w.(interface{ Sync() error }); ok {
		return s.Sync()
	}
	return nil
}

// MaxVerbosity is the highest V level Logger writes. From V(8) on,
// client-go logs the bodies of its requests and responses, Secrets
// included, base64-encoded or as a hex dump of protobuf that splits a value
// across lines, forms no substring redaction catches.
const MaxVerbosity = 7

// Logger is controller-runtime's zap logger built from opts, writing
// through Writer and never above MaxVerbosity, whatever level opts ask for.
// It is the logger of the manager (cmd/manager, make dev) and of the
// controllers test suite, so the suite's log scans test what ships.
func Logger(opts ...zap.Opts) logr.Logger {
	// Last, so it wraps whatever destination opts chose (UseFlagOptions
	// replaces the whole Options).
	return zap.New(append(opts, func(o *zap.Options) {
		if o.DestWriter == nil {
			o.DestWriter = os.Stderr
		}
		o.DestWriter = Writer(o.DestWriter)
		o.ZapOpts = append(o.ZapOpts, uberzap.WrapCore(func(c zapcore.Core) zapcore.Core { return verbosityCap{c} }))
	})...)
}

// verbosityCap disables the zap levels below -MaxVerbosity (logr's V(n) is
// zap level -n).
type verbosityCap struct{ zapcore.Core }

func (c verbosityCap) Enabled(l zapcore.Level) bool {
	return l >= -MaxVerbosity && c.Core.Enabled(l)
}

func (c verbosityCap) With(fields []zapcore.Field) zapcore.Core {
	return verbosityCap{c.Core.With(fields)}
}

func (c verbosityCap) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if e.Level < -MaxVerbosity {
		return ce
	}
	return c.Core.Check(e, ce)
}
