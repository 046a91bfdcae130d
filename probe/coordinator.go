package probe

import (
	"slices"
	"time"

	"github.com/dxmon/dxmon/flow"
)

// window accumulates the parts of one window.
type window struct {
	start     time.Time
	merged    *flow.Merged
	tally               // the parts' counters, summed
	parts     []part    // merged at once when the window is complete
	lastParts int       // parts from workers that stopped after them
	partial   bool      // a worker stopped during the window
	firstPart time.Time // when the first worker handed its part over
}

// coordinator collects the workers' parts by window, and when every
// running worker has handed over its part of the oldest window, merges
// them, reports and gives the tables back. It runs on one goroutine.
type coordinator struct {
	p       *Pipeline
	free    []chan *flow.Table // per worker: its tables to fill next
	pending map[time.Time]*window
	spare   []*flow.Merged // merged tables of flushed windows, for reuse
	alive   int            // workers still running
}

func newCoordinator(p *Pipeline, free []chan *flow.Table) *coordinator {
	return &coordinator{p: p, free: free, pending: map[time.Time]*window{}, alive: len(p.workers)}
}

// run takes parts until the channel closes (every worker has stopped),
// reporting each window as soon as it is complete, in window order.
func (c *coordinator) run(parts <-chan part) {
	for pt := range parts {
		c.add(pt)
		c.flushReady(c.alive == 0)
	}
	c.flushReady(true)
}

// add files a part under its window.
func (c *coordinator) add(pt part) {
	w := c.pending[pt.start]
	if w == nil {
		w = &window{start: pt.start, firstPart: time.Now()}
		if n := len(c.spare); n > 0 {
			w.merged, c.spare = c.spare[n-1], c.spare[:n-1]
		} else {
			w.merged = flow.NewMerged()
		}
		c.pending[pt.start] = w
	}
	w.parts = append(w.parts, pt)
	w.tally.add(&pt.tally)
	if pt.last {
		w.partial = true
		w.lastParts++
		c.alive--
	}
}

// flushReady reports the complete windows, oldest first, stopping at the
// first incomplete one to keep window order; force reports them all. A
// window is complete when every worker still running has handed over its
// part: a worker that stopped (an error) holds the others back no longer.
func (c *coordinator) flushReady(force bool) {
	starts := make([]time.Time, 0, len(c.pending))
	for s := range c.pending {
		starts = append(starts, s)
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	for _, s := range starts {
		w := c.pending[s]
		if !force && len(w.parts)-w.lastParts < c.alive {
			return
		}
		c.flush(w)
	}
}

// flush merges a window's parts, reports and exports it, and recycles its
// tables.
func (c *coordinator) flush(w *window) {
	p := c.p
	// Every part at once: the merged tables grow at most once, not once
	// per part.
	tables := make([]*flow.Table, len(w.parts))
	for i := range w.parts {
		tables[i] = w.parts[i].table
	}
	w.merged.AddTables(tables...)
	end := w.start.Add(p.cfg.Window)
	if w.partial {
		if now := time.Now(); !now.Before(w.start) && !now.After(end) {
			end = now
		}
	}
	r := p.buildReport(w.start, end, w.partial, w.merged, &w.tally)
	p.cfg.Emit(r)
	if p.cfg.Export != nil {
		p.cfg.Export.ExportWindow(w.start, end, w.merged)
	}
	p.last.Store(r)
	d := time.Since(w.firstPart) // merging every part and reporting
	if p.onDone != nil {
		p.onDone(d, r, w.merged.Len(flow.DimFlow), w.merged.Overflow.Packets)
	}
	w.merged.Reset()
	c.spare = append(c.spare, w.merged)
	// Back to the workers, which meanwhile fill their other table.
	for _, pt := range w.parts {
		pt.table.Reset()
		if !pt.last {
			c.free[pt.worker] <- pt.table
		}
	}
	delete(c.pending, w.start)
}
