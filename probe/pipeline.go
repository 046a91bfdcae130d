package probe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dxmon/dxmon/flow"
	"github.com/dxmon/dxmon/report"
	"github.com/dxmon/dxmon/sample"
	"github.com/dxmon/dxmon/vxlan"
)

// Source is one socket's batches: reuseport.Reader with its Batch
// satisfies it through ReuseportSource.
type Source interface {
	// Read waits for a batch and returns how many packets it holds. It
	// returns an error wrapping os.ErrDeadlineExceeded at the read
	// deadline and net.ErrClosed once closed.
	Read() (int, error)
	// Packet is the i-th packet of the last batch, valid until Read.
	Packet(i int) []byte
	// SetReadDeadline bounds the current and later Reads; it may be called
	// from another goroutine.
	SetReadDeadline(t time.Time) error
}

// Config is the pipeline's behaviour.
type Config struct {
	// Window is the aggregation window (default 5 s).
	Window time.Duration
	// VNI keeps only mirror packets of this VNI; 0 keeps every VNI.
	VNI uint32
	// SampleRate is the fraction of flows counted, in (0, 1] (default 1).
	SampleRate float64
	// MaxFlows is each worker's flow-table capacity (default
	// flow.DefaultMaxFlows).
	MaxFlows int
	// Top is the length of each ranking (default 10).
	Top int
	// Lookup names addresses in reports; nil names none.
	Lookup report.Lookup
	// Emit receives every window's report, in window order, from one
	// goroutine. It must not keep the pipeline waiting long: a slow Emit
	// delays the next window's merge, not the packet path.
	Emit func(*report.Report)
	// Export, when not nil, receives every window's merged flows after
	// Emit (see WindowExporter).
	Export WindowExporter
	// DrainGrace is how long, after cancellation, workers keep reading
	// what the sockets already hold (default 50 ms), so that a clean stop
	// loses nothing that reached the host.
	DrainGrace time.Duration
	// Log receives operational messages (default: discard).
	Log *slog.Logger
	// OnPrem, when not empty, restricts counting to on-premises ↔ VPC
	// traffic: a packet with neither end in OnPrem, or, when VPC is not
	// empty, whose other end is not in VPC, is skipped with reason
	// not_onprem. Empty OnPrem counts everything; VPC needs OnPrem. At
	// most 64 prefixes each, IPv4 or IPv6.
	OnPrem, VPC []netip.Prefix
	// LinkBPS is the capacity of each direction of the link in bits per
	// second (-link-bps), for the reports' link_bps and utilization; 0 is
	// unknown.
	LinkBPS float64
}

// Pipeline is workers plus a coordinator: each worker owns a socket and a
// flow table; at each window's end it hands the table to the coordinator,
// which merges all workers' tables, builds the report and calls Emit.
type Pipeline struct {
	cfg     Config
	sampler sample.Sampler // from cfg.SampleRate
	scope   *scope         // from cfg.OnPrem and cfg.VPC; nil counts everything
	eps     *endpoints
	workers []*Worker
	last    atomic.Pointer[report.Report]
	onDone  func(d time.Duration, r *report.Report, activeFlows int, overflowPackets uint64)
}

// New returns a pipeline of n workers (n ≥ 1), after checking the
// configuration: an error names the setting and its value.
func New(cfg Config, n int) (*Pipeline, error) {
	if cfg.Window == 0 {
		cfg.Window = 5 * time.Second
	}
	if cfg.Window < 10*time.Millisecond {
		return nil, fmt.Errorf("window %v: must be at least 10ms", cfg.Window)
	}
	if cfg.SampleRate == 0 {
		cfg.SampleRate = 1
	}
	s, err := sample.New(cfg.SampleRate)
	if err != nil {
		return nil, err
	}
	if cfg.MaxFlows == 0 {
		cfg.MaxFlows = flow.DefaultMaxFlows
	}
	if cfg.Top == 0 {
		cfg.Top = 10
	}
	if cfg.Top < 0 || cfg.Top > 1000 {
		return nil, fmt.Errorf("top %d: must be in [1, 1000]", cfg.Top)
	}
	if cfg.VNI > 1<<24-1 {
		return nil, fmt.Errorf("vni %d: exceeds 24 bits", cfg.VNI)
	}
	if cfg.DrainGrace == 0 {
		cfg.DrainGrace = 50 * time.Millisecond
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Emit == nil {
		cfg.Emit = func(*report.Report) {}
	}
	if n < 1 {
		return nil, fmt.Errorf("workers %d: need at least 1", n)
	}
	if cfg.LinkBPS < 0 || math.IsNaN(cfg.LinkBPS) || math.IsInf(cfg.LinkBPS, 0) {
		return nil, fmt.Errorf("link bps %v: must be a finite number ≥ 0", cfg.LinkBPS)
	}
	sc, err := newScope(cfg.OnPrem, cfg.VPC)
	if err != nil {
		return nil, err
	}
	p := &Pipeline{cfg: cfg, sampler: s, scope: sc, eps: &endpoints{}}
	for i := range n {
		t, err := flow.NewTable(cfg.MaxFlows)
		if err != nil {
			return nil, err
		}
		p.workers = append(p.workers, newWorker(i, &p.cfg, s, t, sc, p.eps))
	}
	return p, nil
}

// Classifier tells a flow's direction from its key with the pipeline's
// on-premises (and VPC) prefixes, as the workers count it; nil without
// Config.OnPrem. An IPFIX exporter uses it for flowDirection.
func (p *Pipeline) Classifier() flow.Classifier {
	if p.scope == nil {
		return nil
	}
	return p.scope.direction
}

// buildReport makes the report of one window from its merged flows and
// its counters.
func (p *Pipeline) buildReport(start, end time.Time, partial bool, m *flow.Merged, t *tally) *report.Report {
	w := report.Window{Start: start, End: end, Partial: partial, Merged: m,
		SampleRate: p.cfg.SampleRate, Skipped: skippedByLabel(&t.skipped), SampledOut: t.sampledOut,
		PortsCut: t.portsCut, Top: p.cfg.Top, Tag: p.eps.name, LinkBPS: p.cfg.LinkBPS, Scope: report.ScopeProbe}
	if p.scope != nil {
		w.Classify = p.scope.direction
		w.DirTotals = t.dirs
	}
	return report.Build(w, p.cfg.Lookup)
}

// Workers returns the workers, for their Stats.
func (p *Pipeline) Workers() []*Worker { return p.workers }

// Config returns the configuration in force, defaults filled in.
func (p *Pipeline) Config() Config { return p.cfg }

// LastReport returns the last window's report, or nil before the first.
func (p *Pipeline) LastReport() *report.Report { return p.last.Load() }

// OnReport registers a hook called after each report with the time from
// the first worker's hand-over of the window to the report's emission, which
// covers merging every worker's table (for metrics). Call before Run.
func (p *Pipeline) OnReport(fn func(d time.Duration, r *report.Report, activeFlows int, overflowPackets uint64)) {
	p.onDone = fn
}

// Run reads every source with its own worker (len(sources) must equal the
// number of workers) until ctx is cancelled, then drains what the sockets
// hold for DrainGrace, reports the partial window, and returns nil. A
// source's read error other than closing stops its worker and is returned.
func (p *Pipeline) Run(ctx context.Context, sources []Source) error {
	if len(sources) != len(p.workers) {
		return fmt.Errorf("probe: %d sources for %d workers", len(sources), len(p.workers))
	}
	parts := make(chan part, 4*len(p.workers))
	free := make([]chan *flow.Table, len(p.workers))
	for i := range free {
		free[i] = make(chan *flow.Table, 2)
		t, err := flow.NewTable(p.cfg.MaxFlows)
		if err != nil {
			return err
		}
		free[i] <- t
	}
	var drainAt atomic.Int64 // unix nanoseconds; 0 until cancelled
	var wg sync.WaitGroup
	errs := make([]error, len(sources))
	start := flow.WindowStart(time.Now(), p.cfg.Window)
	for i, src := range sources {
		w := p.workers[i]
		w.cur.start = start
		wg.Go(func() { errs[i] = p.runWorker(w, src, parts, free[i], &drainAt) })
	}
	stop := make(chan struct{})
	go p.drainOnCancel(ctx, stop, sources, &drainAt)
	go func() { wg.Wait(); close(parts) }()
	newCoordinator(p, free).run(parts)
	close(stop)
	return errors.Join(errs...)
}

// drainOnCancel waits for ctx's cancellation (or stop), then sets drainAt
// to DrainGrace from now and makes every source's read return by then:
// the workers read what the sockets already hold, then stop.
func (p *Pipeline) drainOnCancel(ctx context.Context, stop <-chan struct{}, sources []Source, drainAt *atomic.Int64) {
	select {
	case <-ctx.Done():
	case <-stop:
		return
	}
	at := time.Now().Add(p.cfg.DrainGrace)
	drainAt.Store(at.UnixNano())
	for {
		for _, s := range sources {
			_ = s.SetReadDeadline(at)
		}
		// Set again until the workers are gone: a worker may have set its
		// window deadline just after we set ours.
		select {
		case <-stop:
			return
		case <-time.After(p.cfg.DrainGrace):
		}
	}
}

// runWorker reads src into w until the source closes, fails, or the
// drain after cancellation ends, then hands over its last part.
func (p *Pipeline) runWorker(w *Worker, src Source, parts chan<- part, free chan *flow.Table, drainAt *atomic.Int64) error {
	err := p.readLoop(w, src, parts, free, drainAt)
	if err != nil {
		err = fmt.Errorf("worker %d: %w", w.id, err)
		p.cfg.Log.Error("worker stopped; the others go on", "worker", w.id, "err", err)
	}
	w.publish()
	last := w.take(time.Time{}, nil)
	last.last = true
	parts <- last
	return err
}

// readLoop reads batches and counts them, handing each finished window's
// part to the coordinator. It returns nil when the source is closed or the
// drain is over, and the read error otherwise.
func (p *Pipeline) readLoop(w *Worker, src Source, parts chan<- part, free chan *flow.Table, drainAt *atomic.Int64) error {
	end := w.cur.start.Add(p.cfg.Window)
	var deadline time.Time
	for {
		// The read returns at the window's end, or at the drain's if
		// that comes first.
		d := end
		if n := drainAt.Load(); n != 0 && n < d.UnixNano() {
			d = time.Unix(0, n)
		}
		if !d.Equal(deadline) {
			deadline = d
			_ = src.SetReadDeadline(d)
		}
		n, err := src.Read()
		now := time.Now()
		switch {
		case err == nil:
		case errors.Is(err, net.ErrClosed):
			return nil
		case !errors.Is(err, os.ErrDeadlineExceeded):
			return err
		case drainAt.Load() != 0 && now.UnixNano() >= drainAt.Load():
			return nil // the drain is over
		}
		if !now.Before(end) {
			start := flow.WindowStart(now, p.cfg.Window)
			parts <- w.take(start, <-free)
			end = start.Add(p.cfg.Window)
		}
		w.HandleBatch(src, n)
		w.publish()
	}
}

// skippedByLabel turns per-reason counts into the report's map, leaving out
// reasons that did not occur.
func skippedByLabel(counts *[vxlan.NumReasons]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for r, c := range counts {
		if c != 0 {
			out[vxlan.Reason(r).String()] = c
		}
	}
	return out
}
