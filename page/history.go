package page

import (
	"slices"
	"sync/atomic"
	"time"

	"github.com/dxmon/dxmon/report"
)

// DefaultSpan is how much of the past a History keeps: the page's hour.
const DefaultSpan = time.Hour

// History keeps the reports of the last span of windows, one ring per scope
// (a probe with -fleet emits its own report and then the fleet's). It has
// one writer per scope (the coordinator for the probe's reports, the fleet's
// goroutine for the fleet's), which calls Add once per window, and any
// number of readers (the HTTP handlers). Add takes no lock and allocates
// nothing: it stores one pointer and bumps a counter, so readers, however
// slow, never hold the coordinator up. Reports are shared, not copied:
// once added, a report must not be changed.
type History struct {
	span  time.Duration
	probe ring
	fleet ring
}

// ring is a single-writer, many-reader ring of report pointers.
type ring struct {
	slots []atomic.Pointer[report.Report]
	n     atomic.Uint64 // reports ever added
}

// NewHistory returns a History that keeps span's worth of windows of the
// given length (span/window slots per scope, at least 1). span 0 means
// DefaultSpan.
func NewHistory(window, span time.Duration) *History {
	if span <= 0 {
		span = DefaultSpan
	}
	if window <= 0 {
		window = 5 * time.Second
	}
	n := int((span + window - 1) / window)
	n = max(n, 1)
	return &History{span: span,
		probe: ring{slots: make([]atomic.Pointer[report.Report], n)},
		fleet: ring{slots: make([]atomic.Pointer[report.Report], n)}}
}

// Add records one window's report; the coordinator calls it after Emit.
// Reports of one scope must be added from one goroutine at a time (each
// scope has its own ring). A nil report is ignored.
func (h *History) Add(r *report.Report) {
	if r == nil {
		return
	}
	rg := &h.probe
	if r.Scope == report.ScopeFleet {
		rg = &h.fleet
	}
	i := rg.n.Load()
	rg.slots[i%uint64(len(rg.slots))].Store(r)
	rg.n.Store(i + 1)
}

// Windows returns the reports of the last span, oldest first, probe and
// fleet reports of one window in that order; scope filters to one scope
// when it is report.ScopeProbe or report.ScopeFleet. The slice is the
// caller's; the reports it points to are shared and must not be changed.
func (h *History) Windows(scope string) []*report.Report {
	var out []*report.Report
	if scope != report.ScopeFleet {
		out = h.probe.appendTo(out)
	}
	if scope != report.ScopeProbe {
		out = h.fleet.appendTo(out)
	}
	if len(out) == 0 {
		return out
	}
	slices.SortStableFunc(out, func(a, b *report.Report) int {
		if c := a.WindowStart.Compare(b.WindowStart); c != 0 {
			return c
		}
		return rank(a.Scope) - rank(b.Scope)
	})
	// A reader that raced the writer may hold one report twice.
	out = slices.CompactFunc(out, func(a, b *report.Report) bool { return a == b })
	// Only the last span before the newest window's end.
	last := out[len(out)-1].WindowEnd
	for i, r := range out {
		if last.Sub(r.WindowEnd) < h.span {
			return out[i:]
		}
	}
	return out[:0]
}

// Latest returns the newest report of the scope ("" for either, the fleet's
// when both end together), or nil when there is none.
func (h *History) Latest(scope string) *report.Report {
	var p, f *report.Report
	if scope != report.ScopeFleet {
		p = h.probe.latest()
	}
	if scope != report.ScopeProbe {
		f = h.fleet.latest()
	}
	switch {
	case p == nil:
		return f
	case f == nil:
		return p
	case f.WindowEnd.Before(p.WindowEnd):
		return p
	}
	return f
}

func rank(scope string) int {
	if scope == report.ScopeFleet {
		return 1
	}
	return 0
}

func (rg *ring) latest() *report.Report {
	n := rg.n.Load()
	if n == 0 {
		return nil
	}
	return rg.slots[(n-1)%uint64(len(rg.slots))].Load()
}

func (rg *ring) appendTo(out []*report.Report) []*report.Report {
	n := rg.n.Load()
	size := uint64(len(rg.slots))
	from := uint64(0)
	if n > size {
		from = n - size
	}
	for i := from; i < n; i++ {
		if r := rg.slots[i%size].Load(); r != nil {
			out = append(out, r)
		}
	}
	return out
}
