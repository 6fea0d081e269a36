package testenv

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// tailBuffer keeps the last max bytes written to it. It is safe for
// concurrent use: the process's output copier writes while error paths read.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

// Write implements io.Writer; it never fails.
func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// lastLines returns at most n of the last complete or partial lines.
func (t *tailBuffer) lastLines(n int) string {
	t.mu.Lock()
	s := string(t.buf)
	t.mu.Unlock()
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// describe formats the last lines for an error message.
func (t *tailBuffer) describe() string {
	tail := t.lastLines(40)
	if tail == "" {
		return "server output: none at level WARN (set CONSUMERGROUP_ZK_LOG=1 for its whole log)"
	}
	return "server output (last lines):\n" + tail
}

// prefixWriter writes each complete line to w with prefix in front. A
// partial last line waits for its end. It is safe for concurrent use.
type prefixWriter struct {
	mu      sync.Mutex
	w       io.Writer
	prefix  string
	pending []byte
}

// Write implements io.Writer. It reports len(p) even when w fails, so that
// a broken stderr never stops the process whose output is copied.
func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending = append(p.pending, b...)
	for {
		i := bytes.IndexByte(p.pending, '\n')
		if i < 0 {
			break
		}
		line := make([]byte, 0, len(p.prefix)+i+1)
		line = append(line, p.prefix...)
		line = append(line, p.pending[:i+1]...)
		_, _ = p.w.Write(line)
		p.pending = p.pending[i+1:]
	}
	return len(b), nil
}
