package probe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sort"
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

	// Sampler is derived from SampleRate by New.
	Sampler sample.Sampler
}

// Pipeline is workers plus a coordinator: each worker owns a socket and a
// flow table; at each window's end it hands the table to the coordinator,
// which merges all workers' tables, builds the report and calls Emit.
type Pipeline struct {
	cfg     Config
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
	cfg.Sampler = s
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
	sc, err := newScope(cfg.OnPrem, cfg.VPC)
	if err != nil {
		return nil, err
	}
	p := &Pipeline{cfg: cfg, eps: &endpoints{}}
	for i := range n {
		t, err := flow.NewTable(cfg.MaxFlows)
		if err != nil {
			return nil, err
		}
		p.workers = append(p.workers, newWorker(i, &p.cfg, t, sc, p.eps))
	}
	return p, nil
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
		w.lastRead.Store(time.Now().UnixNano())
		w.reading.Store(true)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.runWorker(w, src, parts, free[i], &drainAt)
		}()
	}
	p.started.Store(true)
	stop := make(chan struct{})
	go func() { // on cancellation: drain, then make every blocked read return
		select {
		case <-ctx.Done():
		case <-stop:
			return
		}
		p.stopping.Store(true)
		at := time.Now().Add(p.cfg.DrainGrace)
		drainAt.Store(at.UnixNano())
		for {
			for _, s := range sources {
				_ = s.SetReadDeadline(at)
			}
			// Set again until the workers are gone: a worker may have set
			// its window deadline just after we set ours.
			select {
			case <-stop:
				return
			case <-time.After(p.cfg.DrainGrace):
			}
		}
	}()
	go func() { wg.Wait(); close(parts) }()
	p.coordinate(parts, free, len(p.workers))
	close(stop)
	return errors.Join(errs...)
}

func (p *Pipeline) runWorker(w *Worker, src Source, parts chan<- part, free chan *flow.Table, drainAt *atomic.Int64) error {
	end := w.cur.start.Add(p.cfg.Window)
	deadline := time.Time{}
	setDeadline := func() {
		d := end
		if n := drainAt.Load(); n != 0 && n < d.UnixNano() {
			d = time.Unix(0, n)
		}
		if !d.Equal(deadline) {
			deadline = d
			_ = src.SetReadDeadline(d)
		}
	}
	var runErr error
	for {
		setDeadline()
		n, err := src.Read()
		now := time.Now()
		w.lastRead.Store(now.UnixNano()) // for Health: one atomic store per batch
		if err != nil {
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				if n := drainAt.Load(); n != 0 && now.UnixNano() >= n {
					goto done
				}
			case errors.Is(err, net.ErrClosed):
				goto done
			default:
				runErr = fmt.Errorf("worker %d: %w", w.id, err)
				p.cfg.Log.Error("worker stopped; the others go on", "worker", w.id, "err", err)
				goto done
			}
		}
		if !now.Before(end) {
			start := flow.WindowStart(now, p.cfg.Window)
			parts <- w.take(start, <-free)
			end = start.Add(p.cfg.Window)
		}
		w.HandleBatch(src, n)
		w.publish()
	}
done:
	// Unhealthy before the last part is handed over, so that a report
	// that holds it is never emitted while Health still says all is well.
	w.reading.Store(false)
	if runErr != nil {
		p.failure.CompareAndSwap(nil, &runErr)
	}
	w.publish()
	last := w.take(time.Time{}, nil)
	last.last = true
	parts <- last
	return runErr
}

// window accumulates the parts of one window.
type window struct {
	start      time.Time
	merged     *flow.Merged
	skipped    [vxlan.NumReasons]uint64
	sampledOut uint64
	portsCut   uint64
	parts      []part // merged at once when the window is complete
	lastParts  int    // parts from workers that stopped after them
	partial    bool
	firstPart  time.Time // when the first worker handed its part over
}

func (p *Pipeline) coordinate(parts <-chan part, free []chan *flow.Table, n int) {
	pending := map[time.Time]*window{}
	var spare []*flow.Merged
	alive := n
	flush := func(w *window) {
		// Every part at once: the merged tables grow at most once, not
		// once per part.
		tables := make([]*flow.Table, len(w.parts))
		for i := range w.parts {
			tables[i] = w.parts[i].table
		}
		w.merged.AddTables(tables...)
		skipped := skippedByLabel(&w.skipped)
		end := w.start.Add(p.cfg.Window)
		if w.partial {
			end = time.Now()
			if end.Before(w.start) || end.After(w.start.Add(p.cfg.Window)) {
				end = w.start.Add(p.cfg.Window)
			}
		}
		r := report.Build(report.Window{Start: w.start, End: end, Partial: w.partial, Merged: w.merged,
			SampleRate: p.cfg.SampleRate, Skipped: skipped, PortsCut: w.portsCut, Top: p.cfg.Top, Tag: p.eps.name}, p.cfg.Lookup)
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
		spare = append(spare, w.merged)
		// Back to the workers, which meanwhile fill their other table.
		for _, pt := range w.parts {
			pt.table.Reset()
			if !pt.last {
				free[pt.worker] <- pt.table
			}
		}
		delete(pending, w.start)
	}
	flushReady := func(force bool) {
		starts := make([]time.Time, 0, len(pending))
		for s := range pending {
			starts = append(starts, s)
		}
		sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
		for _, s := range starts {
			w := pending[s]
			// Complete when every worker still running has handed over
			// its part: a worker that stopped (an error) no longer holds
			// the others' reports back.
			if force || len(w.parts)-w.lastParts >= alive {
				flush(w)
			} else {
				return // keep window order
			}
		}
	}
	for pt := range parts {
		w := pending[pt.start]
		if w == nil {
			w = &window{start: pt.start, firstPart: time.Now()}
			if len(spare) > 0 {
				w.merged, spare = spare[len(spare)-1], spare[:len(spare)-1]
			} else {
				w.merged = flow.NewMerged()
			}
			pending[pt.start] = w
		}
		w.parts = append(w.parts, pt)
		for r, c := range pt.skipped {
			w.skipped[r] += c
		}
		w.sampledOut += pt.sampledOut
		w.portsCut += pt.portsCut
		if pt.last {
			w.partial = true
			w.lastParts++
			alive--
		}
		flushReady(alive == 0)
	}
	flushReady(true)
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
