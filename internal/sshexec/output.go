package sshexec

// tailBuffer keeps the last limit bytes written to it. A script that fails
// explains itself at the end, and a chatty one must not grow the operator's
// memory without bound.
//
// It is not safe for concurrent use: each stream has its own buffer, written
// by one goroutine and read only after the session's Wait has returned.
type tailBuffer struct {
	limit     int
	buf       []byte
	truncated bool
}

func newTailBuffer(limit int) *tailBuffer { return &tailBuffer{limit: limit} }

func (b *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= b.limit {
		b.truncated = b.truncated || len(p) > b.limit || len(b.buf) > 0
		b.buf = append(b.buf[:0], p[len(p)-b.limit:]...)
		return n, nil
	}
	if over := len(b.buf) + len(p) - b.limit; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
		b.truncated = true
	}
	b.buf = append(b.buf, p...)
	return n, nil
}

// Bytes returns the kept tail; nil when nothing was written.
func (b *tailBuffer) Bytes() []byte { return b.buf }
