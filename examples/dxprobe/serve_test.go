package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dxmon/dxmon/alert"
	"github.com/dxmon/dxmon/page"
	"github.com/dxmon/dxmon/report"
)

// TestEmitterPrintsAlertsAndShows: without a fleet, each report is printed,
// kept for the page, and alerted on; with no channel the page shows the
// alert as not sent. A fleet's message is shown at once.
func TestEmitterPrintsAlertsAndShows(t *testing.T) {
	o := options{alertBPS: 1e3, alertPPS: 1e3, format: report.FormatJSON, window: 5 * time.Second}
	log := slog.New(slog.DiscardHandler)
	al, err := newAlerting(o, nil, nil, log, &background{})
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	out, err := newOutput(o, &stdout, al.page, log)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	r := &report.Report{WindowStart: start, WindowEnd: start.Add(5 * time.Second), BPS: 2e3, Skipped: map[string]uint64{}}
	emitter(nil, al, out, nil)(r)

	var printed report.Report
	if err := json.Unmarshal(stdout.Bytes(), &printed); err != nil || printed.BPS != r.BPS {
		t.Errorf("stdout %q: %v; want the report's JSON line", stdout.String(), err)
	}
	if w := out.history.Windows(""); len(w) != 1 || w[0] != r {
		t.Errorf("page history %v, want the report", w)
	}
	al.send(alert.Message{Kind: alert.Resolve, Subject: "fleet"})
	got := al.page.Since(start)
	if len(got) != 2 || got[0].Kind != page.AlertFired || got[0].Sent || got[0].BPS != r.BPS ||
		got[1].Kind != page.AlertResolved || got[1].Subject != "fleet" || got[1].Sent {
		t.Errorf("page alerts %+v; want the window's alert and the fleet's, neither sent", got)
	}
}

// TestBackgroundStopWaits: the loops outlive the context serve was given
// and stop returns only after every loop has returned.
func TestBackgroundStopWaits(t *testing.T) {
	var returned atomic.Int32
	loop := func(ctx context.Context) error {
		<-ctx.Done()
		returned.Add(1)
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	stop := background{loop, loop}.start(ctx)
	cancel() // serve's context ends: the loops run on
	if n := returned.Load(); n != 0 {
		t.Errorf("%d loops returned when serve's context ended", n)
	}
	stop()
	if n := returned.Load(); n != 2 {
		t.Errorf("stop returned before the loops: %d of 2 done", n)
	}
}
