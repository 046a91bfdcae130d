package probe_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dxmon/dxmon/probe"
	"github.com/dxmon/dxmon/report"
	"github.com/dxmon/dxmon/reuseport"
)

// healthz GETs the pipeline's health handler: status and body.
func healthz(t *testing.T, pl *probe.Pipeline) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	pl.HealthHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

// runPipeline runs a two-worker pipeline on sources until stop or the
// test's end and returns it with a channel of its reports; stop returns
// Run's error.
func runPipeline(t *testing.T, sources func(g *reuseport.Group) []probe.Source) (pl *probe.Pipeline, reports <-chan *report.Report, stop func() error) {
	t.Helper()
	g, err := reuseport.Listen(reuseport.Config{Addr: "127.0.0.1:0", Sockets: 2, Wait: reuseport.WaitNetpoll})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	rc := make(chan *report.Report, 64)
	reports = rc
	pl, err = probe.New(probe.Config{Window: 20 * time.Millisecond, MaxFlows: 1024, Emit: func(r *report.Report) {
		select {
		case rc <- r:
		default:
		}
	}}, 2)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var runErr error
	done := make(chan struct{})
	go func() { runErr = pl.Run(ctx, sources(g)); close(done) }()
	stop = func() error { cancel(); <-done; return runErr }
	t.Cleanup(func() { _ = stop() })
	return pl, reports, stop
}

func nextReport(t *testing.T, reports <-chan *report.Report) {
	t.Helper()
	select {
	case <-reports:
	case <-time.After(30 * time.Second):
		t.Fatal("no report within 30s")
	}
}

// 503 before Run, 200 while every worker reads, 503 once cancelled.
func TestHealthFollowsPipeline(t *testing.T) {
	g, err := reuseport.Listen(reuseport.Config{Addr: "127.0.0.1:0", Sockets: 2, Wait: reuseport.WaitNetpoll})
	if err != nil {
		t.Fatal(err)
	}
	g.Close()
	idle, err := probe.New(probe.Config{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := healthz(t, idle); code != http.StatusServiceUnavailable || !strings.Contains(body, "not started") {
		t.Errorf("before Run: %d %q, want 503 not started", code, body)
	}

	pl, reports, stop := runPipeline(t, probe.Sources)
	nextReport(t, reports) // both workers handed a window over: both read
	if code, body := healthz(t, pl); code != http.StatusOK || body != "ok: 2 workers reading\n" {
		t.Errorf("running: %d %q, want 200 ok", code, body)
	}
	if err := pl.Health(); err != nil {
		t.Errorf("Health while running: %v", err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if code, body := healthz(t, pl); code != http.StatusServiceUnavailable || !strings.Contains(body, "stopping") {
		t.Errorf("after Run: %d %q, want 503 stopping", code, body)
	}
}

// A worker whose socket failed makes the probe unhealthy, saying which and
// why, while the other worker still reports.
func TestHealthWorkerFailed(t *testing.T) {
	pl, reports, _ := runPipeline(t, func(g *reuseport.Group) []probe.Source {
		return []probe.Source{probe.Sources(g)[0], failingSource{}}
	})
	nextReport(t, reports) // holds the failed worker's last part
	code, body := healthz(t, pl)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "1 of 2 workers reading") || !strings.Contains(body, "worker 1: boom") {
		t.Errorf("one worker failed: %d %q, want 503 naming worker 1 and its error", code, body)
	}
}
