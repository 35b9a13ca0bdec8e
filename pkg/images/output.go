package images

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// lineWriter forwards complete lines to out with a prefix, masking secret values. It is safe for
// the concurrent writes of a command's stdout and stderr.
type lineWriter struct {
	mu      sync.Mutex
	out     io.Writer
	prefix  string
	secrets []string
	buf     bytes.Buffer
}

func newLineWriter(out io.Writer, prefix string, secrets []string) *lineWriter {
	return &lineWriter{out: out, prefix: prefix, secrets: secrets}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		i := bytes.IndexByte(w.buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		line := string(w.buf.Next(i + 1))
		w.emit(strings.TrimRight(line, "\r\n"))
	}
	return len(p), nil
}

// Flush emits a last line that had no newline.
func (w *lineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() > 0 {
		w.emit(strings.TrimRight(w.buf.String(), "\r\n"))
		w.buf.Reset()
	}
}

func (w *lineWriter) emit(line string) {
	for _, s := range w.secrets {
		line = strings.ReplaceAll(line, s, mask)
	}
	_, _ = io.WriteString(w.out, w.prefix+line+"\n")
}
