package probe

import (
	"time"

	"github.com/dxmon/dxmon/reuseport"
)

// ReuseportSource adapts a reuseport.Reader and its Batch to Source.
type ReuseportSource struct {
	r *reuseport.Reader
	b *reuseport.Batch
}

var _ QueuedReader = (*ReuseportSource)(nil)

// NewReuseportSource returns a Source reading r into a batch of its own.
func NewReuseportSource(r *reuseport.Reader) *ReuseportSource {
	return &ReuseportSource{r: r, b: r.NewBatch()}
}

// Read reads one batch.
func (s *ReuseportSource) Read() (int, error) { return s.r.Read(s.b) }

// ReadQueued reads one batch of what the socket already holds, without
// waiting (reuseport.Reader.ReadQueued).
func (s *ReuseportSource) ReadQueued() (int, error) { return s.r.ReadQueued(s.b) }

// Packet returns the i-th packet of the last batch.
func (s *ReuseportSource) Packet(i int) []byte { return s.b.Packet(i) }

// SetReadDeadline sets the reader's deadline.
func (s *ReuseportSource) SetReadDeadline(t time.Time) error { return s.r.SetReadDeadline(t) }

// Sources opens one Source per reader of g.
func Sources(g *reuseport.Group) []Source {
	var out []Source
	for _, r := range g.Readers() {
		out = append(out, NewReuseportSource(r))
	}
	return out
}

// DropCounters returns g's readers as the DropCounters NewMetrics takes,
// in worker order.
func DropCounters(g *reuseport.Group) []DropCounter {
	var out []DropCounter
	for _, r := range g.Readers() {
		out = append(out, r)
	}
	return out
}
