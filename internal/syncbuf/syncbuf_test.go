package syncbuf

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentWrites: writers and a reader at once (run with -race);
// every line arrives whole, and Lines leaves out an unfinished one.
func TestConcurrentWrites(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 100 {
				fmt.Fprintf(&b, "writer %d line %d\n", w, i)
				_ = b.Lines()
			}
		})
	}
	wg.Wait()
	if n := strings.Count(b.String(), "\n"); n != 400 {
		t.Fatalf("%d lines, want 400", n)
	}
	b.Write([]byte("half a line"))
	if got := string(b.Lines()); strings.Contains(got, "half") || strings.Count(got, "\n") != 400 {
		t.Fatalf("Lines kept an unfinished line or lost whole ones: %d lines", strings.Count(got, "\n"))
	}
	var empty Buffer
	if got := empty.Lines(); len(got) != 0 {
		t.Fatalf("Lines of an empty buffer = %q", got)
	}
}
