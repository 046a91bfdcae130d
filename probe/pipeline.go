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

// QueuedReader is a Source that can also take what it already holds
// without waiting (ReuseportSource is one). The drain at stop reads it
// with ReadQueued until it is empty, so the drain ends as soon as every
// socket is, and Config.DrainGrace only bounds it. A Source without it is
// drained by reading with a deadline until DrainGrace has passed.
type QueuedReader interface {
	Source
	// ReadQueued returns how many packets it took of those already
	// queued, up to a batch, without waiting: 0 and a nil error when none
	// is. It returns net.ErrClosed once closed, and an error wrapping
	// errors.ErrUnsupported when the source cannot read without waiting.
	ReadQueued() (int, error)
}

// DefaultDrainGrace is Config.DrainGrace's default. A drain ends as soon
// as the sockets are empty, usually within milliseconds; the bound only
// matters when packets keep arriving faster than a worker reads them.
const DefaultDrainGrace = time.Second

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
	// DrainGrace bounds the drain after cancellation (default 1 s), in
	// which the workers read what the sockets already hold, so that a
	// clean stop loses nothing that reached the host. A QueuedReader is
	// read until it is empty, which ends its drain early; under traffic
	// that never lets a socket empty, the drain ends at the bound and Run
	// logs a warning. Other sources are read for the whole of it.
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

	// For Health: Run began, Run was cancelled, the first worker error.
	started, stopping atomic.Bool
	failure           atomic.Pointer[error]
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
		cfg.DrainGrace = DefaultDrainGrace
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
// hold (until they are empty, at most Config.DrainGrace), reports the
// partial window, logs how the drain ended, and returns nil. A source's
// read error other than closing stops its worker and is returned.
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
	drains := make([]drain, len(sources))
	start := flow.WindowStart(time.Now(), p.cfg.Window)
	for i, src := range sources {
		w := p.workers[i]
		w.cur.start = start
		w.lastRead.Store(time.Now().UnixNano())
		w.reading.Store(true)
		wg.Go(func() { drains[i], errs[i] = p.runWorker(w, src, parts, free[i], &drainAt) })
	}
	p.started.Store(true)
	stop := make(chan struct{})
	cancelled := make(chan time.Time, 1)
	go p.drainOnCancel(ctx, stop, sources, &drainAt, cancelled)
	go func() { wg.Wait(); close(parts) }()
	newCoordinator(p, free).run(parts)
	close(stop)
	select {
	case at := <-cancelled:
		p.logDrain(drains, time.Since(at))
	default: // every source closed before any cancellation
	}
	return errors.Join(errs...)
}

// drain is what one worker read after cancellation, and whether its
// QueuedReader still returned packets when DrainGrace passed.
type drain struct {
	packets uint64
	bound   bool
}

// logDrain logs one line on how the drain at stop went: the packets read
// after cancellation, how long it took, and a warning when a socket still
// had packets at the bound (those are not in the last report).
func (p *Pipeline) logDrain(drains []drain, took time.Duration) {
	var packets uint64
	var bound []int
	for i, d := range drains {
		packets += d.packets
		if d.bound {
			bound = append(bound, p.workers[i].id)
		}
	}
	args := []any{"packets", packets, "took", took.Round(time.Microsecond).String()}
	if len(bound) > 0 {
		p.cfg.Log.Warn("stop: the drain reached its bound with packets still queued; they are not in the last report",
			append(args, "workers", bound, "drain_grace", p.cfg.DrainGrace.String())...)
		return
	}
	p.cfg.Log.Info("stop: drained the sockets", args...)
}

// drainOnCancel waits for ctx's cancellation (or stop), then sets drainAt
// to DrainGrace from now, sends the time of cancellation on cancelled, and
// wakes every read that waits by setting every source's read deadline to
// now. The workers then read what the sockets already hold (readLoop),
// and stop.
func (p *Pipeline) drainOnCancel(ctx context.Context, stop <-chan struct{}, sources []Source, drainAt *atomic.Int64, cancelled chan<- time.Time) {
	select {
	case <-ctx.Done():
	case <-stop:
		return
	}
	now := time.Now()
	p.stopping.Store(true)
	// Stored before the deadlines are set: a worker that sets its own
	// deadline after ours reads drainAt again and sees it (readLoop).
	drainAt.Store(now.Add(p.cfg.DrainGrace).UnixNano())
	cancelled <- now
	for _, s := range sources {
		_ = s.SetReadDeadline(now)
	}
}

// runWorker reads src into w until the source closes, fails, or the
// drain after cancellation ends, then hands over its last part.
func (p *Pipeline) runWorker(w *Worker, src Source, parts chan<- part, free chan *flow.Table, drainAt *atomic.Int64) (drain, error) {
	d, err := p.readLoop(w, src, parts, free, drainAt)
	if err != nil {
		err = fmt.Errorf("worker %d: %w", w.id, err)
		p.cfg.Log.Error("worker stopped; the others go on", "worker", w.id, "err", err)
	}
	// Unhealthy before the last part is handed over, so that a report
	// that holds it is never emitted while Health still says all is well.
	w.reading.Store(false)
	if err != nil {
		p.failure.CompareAndSwap(nil, &err)
	}
	w.publish()
	last := w.take(time.Time{}, nil)
	last.last = true
	parts <- last
	return d, err
}

// readLoop reads batches and counts them, handing each finished window's
// part to the coordinator. It returns nil when the source is closed or the
// drain is over, and the read error otherwise, with what it read in the
// drain.
//
// Until cancellation it reads with a deadline at the window's end. In the
// drain it takes what a QueuedReader holds until it is empty or
// DrainGrace has passed (it reads once at least, so a worker late to the
// drain still learns whether its socket is empty), and reads any other
// Source with a deadline at DrainGrace's end.
func (p *Pipeline) readLoop(w *Worker, src Source, parts chan<- part, free chan *flow.Table, drainAt *atomic.Int64) (drain, error) {
	q, _ := src.(QueuedReader)
	end := w.cur.start.Add(p.cfg.Window)
	var deadline time.Time
	var dr drain
	queued := false // a ReadQueued returned packets: the bound applies
	for {
		var n int
		var err error
		at := drainAt.Load()
		switch {
		case at != 0 && q != nil:
			if queued && time.Now().UnixNano() >= at {
				dr.bound = true // the last ReadQueued returned packets
				return dr, nil
			}
			n, err = q.ReadQueued()
			switch {
			case errors.Is(err, errors.ErrUnsupported):
				q = nil // drain it as a plain Source
				continue
			case err == nil && n == 0:
				return dr, nil // empty
			}
			queued = true
		default:
			// The read returns at the window's end, or at the drain's
			// if that comes first.
			d := end
			if at != 0 && at < d.UnixNano() {
				d = time.Unix(0, at)
			}
			if !d.Equal(deadline) {
				deadline = d
				_ = src.SetReadDeadline(d)
				if at == 0 && drainAt.Load() != 0 {
					// Cancelled while we set it: drainOnCancel's
					// deadline may have come first and been replaced.
					continue
				}
			}
			n, err = src.Read()
		}
		now := time.Now()
		w.lastRead.Store(now.UnixNano()) // for Health: one atomic store per batch
		switch {
		case err == nil:
		case errors.Is(err, net.ErrClosed):
			return dr, nil
		case !errors.Is(err, os.ErrDeadlineExceeded):
			return dr, err
		case at != 0 && now.UnixNano() >= at:
			return dr, nil // the drain is over
		}
		if !now.Before(end) {
			start := flow.WindowStart(now, p.cfg.Window)
			parts <- w.take(start, <-free)
			end = start.Add(p.cfg.Window)
		}
		if at != 0 {
			dr.packets += uint64(n)
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
