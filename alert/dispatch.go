package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dxmon/dxmon/internal/backoff"
)

// Message is one notification, before a sink adapts it to its channel.
type Message struct {
	Kind    Kind
	Subject string // one line
	Body    string // plain text, columns aligned with spaces
}

// Sink delivers messages to one channel. Send must honour ctx's deadline and
// cancellation, and return a *RetryableError for failures worth retrying
// (throttling, 5xx, timeouts, refused connections).
type Sink interface {
	// Name labels the sink's metrics and logs ("sns", "slack"); unique
	// within a Dispatcher.
	Name() string
	Send(ctx context.Context, m Message) error
}

// RetryableError marks a failed delivery that may succeed if tried again.
type RetryableError struct {
	Err error
	// After is the wait the service asked for (Retry-After), or 0.
	After time.Duration
}

// Error returns the underlying error's message.
func (e *RetryableError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *RetryableError) Unwrap() error { return e.Err }

// Defaults for DispatcherConfig's zero fields.
const (
	DefaultQueueSize      = 16
	DefaultRequestTimeout = 10 * time.Second
	DefaultMaxAttempts    = 4
	DefaultRetryMin       = time.Second
	DefaultRetryMax       = 30 * time.Second
)

// DispatcherConfig configures a Dispatcher. Zero fields take the defaults.
type DispatcherConfig struct {
	// QueueSize bounds each sink's queue; Submit drops (and counts) a
	// message for a sink whose queue is full.
	QueueSize int
	// RequestTimeout bounds each attempt to send.
	RequestTimeout time.Duration
	// MaxAttempts bounds the attempts per message and sink, the first
	// included.
	MaxAttempts int
	// RetryMin is the wait before the first retry; it doubles with each
	// further retry up to RetryMax, with ±20% jitter. A service's own
	// Retry-After is honoured up to RetryMax.
	RetryMin, RetryMax time.Duration
	// Wait is the clock seam for retry waits: it returns after d, or with
	// ctx's error when ctx ends first. Nil means the real clock.
	Wait func(ctx context.Context, d time.Duration) error
	// OnOutcome, if set, is called after each outcome is counted, with the
	// sink's name and "sent", "retried", "dropped" or "failed": for tests
	// and callers that wait for deliveries. It must not block.
	OnOutcome func(sink, outcome string)
}

// Dispatcher delivers messages to its sinks in the background: Submit never
// blocks, each sink has its own bounded queue and goroutine, and every
// outcome is counted in dxmon_alert_deliveries_total{sink, outcome}:
// "sent", "retried" (per retry), "dropped" (queue full, or still queued at
// shutdown) and "failed" (permanent error, attempts exhausted, or cut short
// by shutdown).
type Dispatcher struct {
	cfg   DispatcherConfig
	log   *slog.Logger
	sinks []*lane
}

type lane struct {
	sink                           Sink
	q                              chan Message
	sent, retried, dropped, failed prometheus.Counter
}

// NewDispatcher checks cfg and sinks and registers the metrics on reg (nil:
// none). Nothing is delivered until Run is called.
func NewDispatcher(cfg DispatcherConfig, reg prometheus.Registerer, log *slog.Logger, sinks ...Sink) (*Dispatcher, error) {
	if cfg.QueueSize < 0 || cfg.MaxAttempts < 0 || cfg.RequestTimeout < 0 || cfg.RetryMin < 0 || cfg.RetryMax < 0 {
		return nil, fmt.Errorf("alert: negative dispatcher setting in %+v", cfg)
	}
	if cfg.QueueSize == 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.RetryMin == 0 {
		cfg.RetryMin = DefaultRetryMin
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = DefaultRetryMax
	}
	if cfg.RetryMin > cfg.RetryMax {
		cfg.RetryMin = cfg.RetryMax
	}
	if cfg.Wait == nil {
		cfg.Wait = backoff.Wait
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Dispatcher{cfg: cfg, log: log.With("component", "alert")}
	deliveries := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dxmon_alert_deliveries_total",
		Help: "Alert deliveries by sink and outcome (sent, retried, dropped, failed).",
	}, []string{"sink", "outcome"})
	collectors := []prometheus.Collector{deliveries}
	seen := map[string]bool{}
	for _, s := range sinks {
		if s == nil {
			return nil, errors.New("alert: nil sink")
		}
		n := s.Name()
		if seen[n] {
			return nil, fmt.Errorf("alert: two sinks named %q", n)
		}
		seen[n] = true
		d.sinks = append(d.sinks, &lane{
			sink:    s,
			q:       make(chan Message, cfg.QueueSize),
			sent:    deliveries.WithLabelValues(n, "sent"),
			retried: deliveries.WithLabelValues(n, "retried"),
			dropped: deliveries.WithLabelValues(n, "dropped"),
			failed:  deliveries.WithLabelValues(n, "failed"),
		})
		q := d.sinks[len(d.sinks)-1].q
		collectors = append(collectors, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "dxmon_alert_queued_messages",
			Help:        "Messages waiting in a sink's queue.",
			ConstLabels: prometheus.Labels{"sink": n},
		}, func() float64 { return float64(len(q)) }))
	}
	if reg != nil {
		for _, c := range collectors {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("alert: register metrics: %w", err)
			}
		}
	}
	return d, nil
}

// Submit queues m for every sink and returns at once. A sink whose queue is
// full drops m and counts it. Safe for concurrent use.
func (d *Dispatcher) Submit(m Message) {
	for _, l := range d.sinks {
		select {
		case l.q <- m:
		default:
			d.count(l, "dropped")
			d.log.Warn("alert queue full; message dropped", "sink", l.sink.Name(), "kind", m.Kind.String())
		}
	}
}

// Run delivers queued messages until ctx ends, then abandons any attempt in
// flight, counts what is still queued as dropped and returns nil. Call it
// once.
func (d *Dispatcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, l := range d.sinks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.drain(ctx, l)
		}()
	}
	wg.Wait()
	return nil
}

func (d *Dispatcher) drain(ctx context.Context, l *lane) {
	for {
		select {
		case <-ctx.Done():
			for {
				select {
				case <-l.q:
					d.count(l, "dropped")
				default:
					return
				}
			}
		case m := <-l.q:
			if ctx.Err() != nil {
				d.count(l, "dropped") // select chose the queue over shutdown
				continue
			}
			d.deliver(ctx, l, m)
		}
	}
}

func (d *Dispatcher) deliver(ctx context.Context, l *lane, m Message) {
	name := l.sink.Name()
	for attempt := 1; ; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, d.cfg.RequestTimeout)
		err := l.sink.Send(rctx, m)
		cancel()
		if err == nil {
			d.count(l, "sent")
			if attempt > 1 {
				d.log.Info("alert delivered after retries", "sink", name, "attempts", attempt)
			}
			return
		}
		if ctx.Err() != nil {
			d.count(l, "failed")
			d.log.Warn("alert delivery abandoned at shutdown", "sink", name, "attempts", attempt, "err", err)
			return
		}
		var re *RetryableError
		if !errors.As(err, &re) || attempt >= d.cfg.MaxAttempts {
			d.count(l, "failed")
			d.log.Warn("alert delivery failed", "sink", name, "attempts", attempt, "err", err)
			return
		}
		d.count(l, "retried")
		w := jittered(attempt, d.cfg.RetryMin, d.cfg.RetryMax)
		if re.After > w {
			w = min(re.After, d.cfg.RetryMax)
		}
		if d.cfg.Wait(ctx, w) != nil {
			d.count(l, "failed")
			d.log.Warn("alert delivery abandoned at shutdown", "sink", name, "attempts", attempt, "err", err)
			return
		}
	}
}

// backoff is the wait before retry n (n ≥ 1): lo doubling up to hi, ±20%.
// jittered is backoff.Delay spread over ±20 %, so that probes retrying
// together do not stay in step.
func jittered(n int, lo, hi time.Duration) time.Duration {
	return time.Duration(float64(backoff.Delay(n, lo, hi)) * (0.8 + 0.4*rand.Float64()))
}

func (d *Dispatcher) count(l *lane, outcome string) {
	switch outcome {
	case "sent":
		l.sent.Inc()
	case "retried":
		l.retried.Inc()
	case "dropped":
		l.dropped.Inc()
	case "failed":
		l.failed.Inc()
	}
	if d.cfg.OnOutcome != nil {
		d.cfg.OnOutcome(l.sink.Name(), outcome)
	}
}
