package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dxmon/dxmon/alert"
	"github.com/dxmon/dxmon/report"
)

// Defaults for Config's zero fields.
const (
	DefaultWait    = time.Second
	DefaultTimeout = 2 * time.Second
	DefaultQueue   = 4
)

// AlertKey is the claim key of the link's alert: "link" for the total
// (reports without directions), "link#to_aws" and "link#from_aws" for each
// direction.
const AlertKey = "link"

// ShareOnly is what a message sent from a probe's own window says.
const ShareOnly = "this probe's share only"

// Config configures a Fleet.
type Config struct {
	// Store is the fleet table.
	Store *Store
	// Probe identifies this probe in the table (ProbeID).
	Probe string
	// Wait is how long after a window's end the probe reads the other
	// probes' summaries (default DefaultWait).
	Wait time.Duration
	// Timeout bounds each request to the table (default DefaultTimeout).
	Timeout time.Duration
	// Top is the length of the printed rankings; K that of the summaries
	// (default DefaultK(Top)).
	Top, K int
	// Queue bounds the windows waiting for the table (default
	// DefaultQueue); a window that finds it full is dropped and counted.
	Queue int
	// Alert is the alerting policy, applied to the fleet's report, or to
	// this probe's own when the table cannot be reached.
	Alert alert.Config
	// Send delivers a message (alert.Dispatcher.Submit); nil sends none.
	Send func(alert.Message)
	// Lookup names addresses in the fleet's report (may be nil).
	Lookup report.Lookup
	// Emit receives each window's fleet report, from the Fleet's
	// goroutine, after the probe's own report of the same window.
	Emit func(*report.Report)
	// Log receives operational messages (default: discard).
	Log *slog.Logger
}

type job struct {
	own *report.Report
	sum *Summary
}

// Fleet writes this probe's summary of every window to the fleet table,
// reads the other probes' after Config.Wait, merges them into the fleet's
// report, and alerts from it once for the whole fleet. All of it runs on
// its own goroutine (Run), fed by Submit through a bounded queue: nothing
// a slow or absent table does delays a window.
type Fleet struct {
	cfg      Config
	q        chan job
	fleetPol *alert.Policy // on fleet reports
	ownPol   *alert.Policy // on this probe's own, while the table is unreachable
	fallback atomic.Bool

	windows                *prometheus.CounterVec
	dropped, fallbackTotal prometheus.Counter
	claims                 *prometheus.CounterVec
	probes                 prometheus.Gauge
	badItems               prometheus.Counter
}

// New checks cfg and registers the fleet's metrics on reg (nil: none).
func New(cfg Config, reg prometheus.Registerer) (*Fleet, error) {
	if cfg.Store == nil {
		return nil, errors.New("fleet: no table")
	}
	if cfg.Probe == "" {
		return nil, errors.New("fleet: empty probe id (-probe-id, PROBE_ID)")
	}
	if cfg.Wait == 0 {
		cfg.Wait = DefaultWait
	}
	if cfg.Wait < 0 || cfg.Wait > time.Minute {
		return nil, fmt.Errorf("fleet: wait %v: want 0 to 1m (-fleet-wait)", cfg.Wait)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Top <= 0 {
		cfg.Top = 10
	}
	if cfg.K == 0 {
		cfg.K = DefaultK(cfg.Top)
	}
	if cfg.K < cfg.Top || cfg.K > MaxK {
		return nil, fmt.Errorf("fleet: summary length %d: want %d (-top) to %d", cfg.K, cfg.Top, MaxK)
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Emit == nil {
		cfg.Emit = func(*report.Report) {}
	}
	fp, err := alert.NewPolicy(cfg.Alert)
	if err != nil {
		return nil, err
	}
	op, _ := alert.NewPolicy(cfg.Alert)
	f := &Fleet{cfg: cfg, q: make(chan job, cfg.Queue), fleetPol: fp, ownPol: op,
		windows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dxmon_fleet_windows_total",
			Help: "Windows by outcome: merged (the fleet's report was built), fallback (the table could not be reached: alerting on this probe's share only), dropped (the queue to the table was full)."},
			[]string{"outcome"}),
		claims: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dxmon_fleet_claims_total",
			Help: "Alert claims by kind (fire, resolve) and outcome (won: this probe sent it; lost: another probe did; error)."},
			[]string{"kind", "outcome"}),
		probes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "dxmon_fleet_probes",
			Help: "Probes whose windows the last fleet report merged."}),
		badItems: prometheus.NewCounter(prometheus.CounterOpts{Name: "dxmon_fleet_bad_items_total",
			Help: "Summary items read from the table that did not decode, or were of another window length."}),
	}
	f.dropped = f.windows.WithLabelValues("dropped")
	f.fallbackTotal = f.windows.WithLabelValues("fallback")
	f.windows.WithLabelValues("merged")
	for _, k := range []string{"fire", "resolve"} {
		for _, o := range []string{"won", "lost", "error"} {
			f.claims.WithLabelValues(k, o)
		}
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{f.windows, f.claims, f.probes, f.badItems} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("fleet: register metrics: %w", err)
			}
		}
	}
	return f, nil
}

// K is the ranking length the pipeline must build (probe.Config.Top) for
// the summaries; Take trims the probe's own report back to Top.
func (f *Fleet) K() int { return f.cfg.K }

// Fallback reports whether the last window could not reach the table.
func (f *Fleet) Fallback() bool { return f.fallback.Load() }

// Take is called by the coordinator with each window's report, built with
// K entries per ranking, before anything else reads it: it copies the
// summary, trims r to Top in place and marks it Scope "probe", then queues
// the window for the table without waiting (a full queue drops it and
// counts it). r must not be modified afterwards.
func (f *Fleet) Take(r *report.Report) {
	s := Summarize(r, f.cfg.Probe, f.cfg.K)
	Trim(r, f.cfg.Top)
	select {
	case f.q <- job{own: r, sum: s}:
	default:
		f.dropped.Inc()
		f.cfg.Log.Warn("fleet queue full; window not written to the fleet table", "window_start", s.WindowStart)
	}
}

// Run serves the queue until ctx ends; windows still queued are dropped.
func (f *Fleet) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case j := <-f.q:
			f.window(ctx, j)
		}
	}
}

// window handles one window: write, wait, read, merge, alert.
func (f *Fleet) window(ctx context.Context, j job) {
	if j.sum.Partial { // a stopping probe: its counts are real, but nobody waits for the merge
		f.put(ctx, j.sum)
		return
	}
	if err := f.put(ctx, j.sum); err != nil {
		f.fall(ctx, j.own, err)
		return
	}
	t := time.NewTimer(time.Until(j.sum.WindowEnd.Add(f.cfg.Wait)))
	select {
	case <-ctx.Done():
		t.Stop()
		return
	case <-t.C:
	}
	rctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	sums, bad, err := f.cfg.Store.Window(rctx, j.sum.WindowStart, j.sum.WindowEnd)
	cancel()
	if bad > 0 {
		f.badItems.Add(float64(bad))
		f.cfg.Log.Warn("fleet table holds summaries that do not decode or are of another window length; skipped", "window_start", j.sum.WindowStart, "items", bad)
	}
	if err != nil {
		f.fall(ctx, j.own, err)
		return
	}
	mine := false
	for _, s := range sums {
		mine = mine || s.Probe == f.cfg.Probe
	}
	if !mine { // read before our write was visible: cannot happen with consistent reads, but merge what we know
		sums = append(sums, j.sum)
	}
	fr := Merge(sums, f.cfg.Top, f.cfg.Lookup)
	f.probes.Set(float64(fr.Probes))
	f.windows.WithLabelValues("merged").Inc()
	if f.fallback.Swap(false) {
		f.cfg.Log.Info("fleet table answers again; alerting on the fleet's report", "table", f.cfg.Store.Table(), "probes", fr.Probes)
	}
	f.cfg.Emit(fr)
	f.alertFleet(ctx, fr, sums, j.own)
}

func (f *Fleet) put(ctx context.Context, s *Summary) error {
	c, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	return f.cfg.Store.Put(c, s)
}

// fall alerts on this probe's own window because the table failed.
func (f *Fleet) fall(ctx context.Context, own *report.Report, err error) {
	if ctx.Err() != nil {
		return // stopping, not an outage
	}
	f.fallbackTotal.Inc()
	if !f.fallback.Swap(true) {
		f.cfg.Log.Warn("fleet table unreachable; alerting on "+ShareOnly+" until it answers", "table", f.cfg.Store.Table(), "err", err)
	} else {
		f.cfg.Log.Debug("fleet table still unreachable", "err", err)
	}
	d := f.ownPol.Observe(own, own.WindowEnd)
	if d.Kind == alert.None || f.cfg.Send == nil {
		return
	}
	m := alert.NewMessage(own, d, f.cfg.Lookup.Info)
	m.Subject = strings.Replace(m.Subject, "dxmon ", "dxmon ("+ShareOnly+") ", 1)
	m.Body = fmt.Sprintf("The fleet table %s could not be reached: these figures are %s (probe %s's window), not the whole link's.\n"+
		"Other probes may alert on their own shares.\n(%v)\n\n", f.cfg.Store.Table(), ShareOnly, f.cfg.Probe, err) + m.Body
	f.cfg.Send(m)
}

// alertFleet evaluates the fleet's report and sends what it asks for:
// each acting direction (or the total, without directions) is claimed on
// its own, and the message covers the claims this probe won.
func (f *Fleet) alertFleet(ctx context.Context, fr *report.Report, sums []*Summary, own *report.Report) {
	d := f.fleetPol.Observe(fr, fr.WindowEnd)
	if d.Kind == alert.None {
		return
	}
	won := func(key string, k alert.Kind) (bool, error) {
		c, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
		defer cancel()
		var err error
		if k == alert.Fire {
			err = f.cfg.Store.ClaimFire(c, key, f.cfg.Probe, fr.WindowEnd, f.fleetPol.Config().Cooldown, fr.Probes)
		} else {
			err = f.cfg.Store.ClaimResolve(c, key, f.cfg.Probe, fr.WindowEnd, fr.Probes)
		}
		switch {
		case errors.Is(err, ErrClaimed):
			f.claims.WithLabelValues(k.String(), "lost").Inc()
			f.cfg.Log.Info("fleet alert sent by another probe", "key", key, "kind", k.String(), "window_start", fr.WindowStart)
			return false, nil
		case err != nil:
			f.claims.WithLabelValues(k.String(), "error").Inc()
			return false, err
		}
		f.claims.WithLabelValues(k.String(), "won").Inc()
		return true, nil
	}
	if d.Dirs == nil {
		ok, err := won(AlertKey, d.Kind)
		if err != nil {
			f.fall(ctx, own, err)
			return
		}
		if !ok {
			return
		}
	} else {
		d.Dirs = append([]alert.DirDecision(nil), d.Dirs...)
		d.Kind = alert.None
		for i := range d.Dirs {
			v := &d.Dirs[i]
			if v.Kind == alert.None {
				continue
			}
			ok, err := won(AlertKey+"#"+v.Dir, v.Kind)
			if err != nil {
				f.fall(ctx, own, err)
				return
			}
			switch {
			case !ok:
				v.Kind = alert.None
			case v.Kind == alert.Fire:
				d.Kind = alert.Fire
			case d.Kind == alert.None:
				d.Kind = alert.Resolve
			}
		}
		if d.Kind == alert.None {
			return
		}
	}
	if f.cfg.Send == nil {
		return
	}
	m := alert.NewMessage(fr, d, f.cfg.Lookup.Info)
	m.Body = FleetPreamble(fr, sums) + m.Body
	f.cfg.Send(m)
}

// FleetPreamble is the first line of a fleet alert: which probes' windows
// were merged (the message itself says how many).
func FleetPreamble(fr *report.Report, sums []*Summary) string {
	names := make([]string, 0, len(sums))
	for _, s := range sums {
		names = append(names, s.Probe)
	}
	slices.Sort(names)
	return fmt.Sprintf("Fleet view of %d probes: %s.\n", fr.Probes, strings.Join(names, ", "))
}
