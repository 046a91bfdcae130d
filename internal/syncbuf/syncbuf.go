// Package syncbuf is a bytes.Buffer that one goroutine (a process's
// output, a logger) writes while another reads: for tests.
package syncbuf

import (
	"bytes"
	"sync"
)

// Buffer is safe for concurrent use. The zero value is empty and ready.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Lines returns a copy of what was written so far up to its last newline:
// whole lines only, none that a writer is still in the middle of.
func (b *Buffer) Lines() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.buf.Bytes()
	i := bytes.LastIndexByte(out, '\n')
	return append([]byte(nil), out[:i+1]...)
}
