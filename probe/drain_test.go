package probe_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dxmon/dxmon/internal/syncbuf"
	"github.com/dxmon/dxmon/probe"
)

// queuedSource is a QueuedReader whose ReadQueued serves its packets a batch
// at a time and then reports the queue empty (or, with flood set, never
// does). Its Read never delivers: it waits for the read deadline, as a
// socket does when its worker is not fast enough to see what is queued, so
// every packet counted comes from the drain.
type queuedSource struct {
	pkts     [][]byte
	batch    int
	flood    bool
	next     int
	batchLen int
	served   int

	mu       sync.Mutex
	deadline time.Time
	wake     chan struct{} // poked by SetReadDeadline
}

func newQueuedSource(pkts [][]byte, batch int, flood bool) *queuedSource {
	return &queuedSource{pkts: pkts, batch: batch, flood: flood, wake: make(chan struct{}, 1)}
}

func (s *queuedSource) Read() (int, error) {
	for {
		s.mu.Lock()
		d := s.deadline
		s.mu.Unlock()
		if !d.IsZero() && !time.Now().Before(d) {
			return 0, os.ErrDeadlineExceeded
		}
		var expire <-chan time.Time
		if !d.IsZero() {
			t := time.NewTimer(time.Until(d))
			defer t.Stop()
			expire = t.C
		}
		select {
		case <-s.wake:
		case <-expire:
		}
	}
}

func (s *queuedSource) ReadQueued() (int, error) {
	if s.flood {
		s.next = (s.next + s.batchLen) % len(s.pkts)
		s.batchLen = min(s.batch, len(s.pkts)-s.next)
		s.served += s.batchLen
		return s.batchLen, nil
	}
	s.next += s.batchLen
	s.batchLen = min(s.batch, len(s.pkts)-s.next)
	s.served += s.batchLen
	return s.batchLen, nil
}

func (s *queuedSource) Packet(i int) []byte { return s.pkts[s.next+i] }

func (s *queuedSource) SetReadDeadline(t time.Time) error {
	s.mu.Lock()
	s.deadline = t
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// unsupportedSource cannot read without waiting: its ReadQueued says so.
type unsupportedSource struct{ *queuedSource }

func (s unsupportedSource) ReadQueued() (int, error) {
	return 0, errors.ErrUnsupported
}

// logLines collects a pipeline's log as JSON lines.
type logLines struct{ syncbuf.Buffer }

// find returns the first line whose msg starts with prefix, decoded.
func (l *logLines) find(t *testing.T, prefix string) map[string]any {
	t.Helper()
	all := l.String()
	for _, line := range strings.Split(strings.TrimSpace(all), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if msg, _ := m["msg"].(string); strings.HasPrefix(msg, prefix) {
			return m
		}
	}
	t.Fatalf("no log line starting %q in:\n%s", prefix, all)
	return nil
}

// runStopped runs pl over srcs with its context already cancelled and
// returns Run's error; a Run that does not return within a minute fails
// the test.
func runStopped(t *testing.T, pl *probe.Pipeline, srcs []probe.Source) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan error, 1)
	go func() { done <- pl.Run(ctx, srcs) }()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatal("Run did not return within a minute of its cancellation")
		return nil
	}
}

// TestDrainTakesWhatIsQueued: at stop, the workers take everything their
// sources hold (several batches each) and the drain ends when they are
// empty, long before its bound (an hour here: a drain that waited for it
// would fail runStopped's minute). Every packet is in the last report and
// the log line says how many were drained.
func TestDrainTakesWhatIsQueued(t *testing.T) {
	var log logLines
	var c collector
	pl, err := probe.New(probe.Config{Top: 50, Emit: c.emit, DrainGrace: time.Hour,
		Log: slog.New(slog.NewJSONHandler(&log, nil))}, 2)
	if err != nil {
		t.Fatal(err)
	}
	pkts, want := traffic(t, 40, 25)
	half := len(pkts) / 2
	srcs := []probe.Source{newQueuedSource(pkts[:half], 64, false), newQueuedSource(pkts[half:], 64, false)}
	if err := runStopped(t, pl, srcs); err != nil {
		t.Fatalf("Run: %v", err)
	}
	c.requireTotals(t, len(pkts), want)
	if last := c.reports[len(c.reports)-1]; !last.Partial {
		t.Errorf("last report not marked partial")
	}
	line := log.find(t, "stop:")
	if line["level"] != "INFO" || line["msg"] != "stop: drained the sockets" || line["packets"] != float64(len(pkts)) {
		t.Errorf("drain log line = %v, want INFO \"stop: drained the sockets\" with packets %d", line, len(pkts))
	}
}

// TestDrainBoundUnderFlood: a source that never empties stops at the
// drain's bound; the packets read until then are counted, and the log
// warns, naming the worker, that packets were still queued.
func TestDrainBoundUnderFlood(t *testing.T) {
	var log logLines
	var c collector
	pl, err := probe.New(probe.Config{Emit: c.emit, DrainGrace: 20 * time.Millisecond,
		Log: slog.New(slog.NewJSONHandler(&log, nil))}, 2)
	if err != nil {
		t.Fatal(err)
	}
	pkts, _ := traffic(t, 10, 10)
	flood := newQueuedSource(pkts, 16, true)
	srcs := []probe.Source{newQueuedSource(pkts[:30], 16, false), flood}
	if err := runStopped(t, pl, srcs); err != nil {
		t.Fatalf("Run: %v", err)
	}
	pk, _, _ := c.totals()
	if pk != uint64(30+flood.served) {
		t.Errorf("counted %d packets, the sources served %d", pk, 30+flood.served)
	}
	line := log.find(t, "stop:")
	workers, _ := line["workers"].([]any)
	if line["level"] != "WARN" || len(workers) != 1 || workers[0] != float64(1) ||
		line["packets"] != float64(30+flood.served) || line["drain_grace"] != "20ms" {
		t.Errorf("drain log line = %v, want WARN naming worker 1, %d packets, drain_grace 20ms", line, 30+flood.served)
	}
}

// TestDrainWithoutQueuedReads: a source whose ReadQueued is unsupported is
// drained like any Source, reading with a deadline until the bound, and
// the stop is clean.
func TestDrainWithoutQueuedReads(t *testing.T) {
	var log logLines
	pl, err := probe.New(probe.Config{DrainGrace: 10 * time.Millisecond,
		Log: slog.New(slog.NewJSONHandler(&log, nil))}, 1)
	if err != nil {
		t.Fatal(err)
	}
	pkts, _ := traffic(t, 2, 2)
	if err := runStopped(t, pl, []probe.Source{unsupportedSource{newQueuedSource(pkts, 4, false)}}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if line := log.find(t, "stop:"); line["level"] != "INFO" || line["packets"] != float64(0) {
		t.Errorf("drain log line = %v, want INFO with 0 packets", line)
	}
}
