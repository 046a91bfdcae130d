package alert_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dxmon/dxmon/alert"
	"github.com/dxmon/dxmon/internal/syncbuf"
)

// secret is the part of a webhook URL that must never be logged.
const secret = "T0000/B0000/XyZsecretTOKEN42"

// rig runs a Dispatcher over some sinks and records every outcome, retry
// wait and log line.
type rig struct {
	t        *testing.T
	d        *alert.Dispatcher
	reg      *prometheus.Registry
	logs     *syncbuf.Buffer
	outcomes chan string // "sink/outcome"
	waits    chan time.Duration
	cancel   context.CancelFunc
	done     chan struct{} // closed when Run has returned
}

func newRig(t *testing.T, cfg alert.DispatcherConfig, start bool, sinks ...alert.Sink) *rig {
	t.Helper()
	r := &rig{t: t, reg: prometheus.NewPedanticRegistry(), logs: &syncbuf.Buffer{},
		outcomes: make(chan string, 100), waits: make(chan time.Duration, 100), done: make(chan struct{})}
	cfg.OnOutcome = func(sink, outcome string) { r.outcomes <- sink + "/" + outcome }
	if cfg.Wait == nil {
		cfg.Wait = func(ctx context.Context, d time.Duration) error { r.waits <- d; return ctx.Err() }
	}
	d, err := alert.NewDispatcher(cfg, r.reg, slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})), sinks...)
	if err != nil {
		t.Fatalf("NewDispatcher: %v", err)
	}
	r.d = d
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	if start {
		go func() {
			if err := d.Run(ctx); err != nil {
				t.Errorf("Run = %v, want nil", err)
			}
			close(r.done)
		}()
	} else {
		close(r.done)
	}
	t.Cleanup(func() { r.stop() })
	return r
}

// stop cancels Run and waits for it to return.
func (r *rig) stop() {
	r.t.Helper()
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		r.t.Fatal("Dispatcher.Run did not return within 30s of cancel")
	}
}

// expect waits for the next outcomes, in order.
func (r *rig) expect(want ...string) {
	r.t.Helper()
	var got []string
	for range want {
		select {
		case o := <-r.outcomes:
			got = append(got, o)
		case <-time.After(30 * time.Second):
			r.t.Fatalf("outcomes so far %v, want %v: none for 30s", got, want)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		r.t.Errorf("outcomes (-want +got):\n%s", diff)
	}
}

func (r *rig) noSecrets() {
	r.t.Helper()
	if strings.Contains(r.logs.String(), secret) || strings.Contains(r.logs.String(), "/services/") {
		r.t.Errorf("logs reveal the webhook URL:\n%s", r.logs.String())
	}
}

func (r *rig) lint() {
	r.t.Helper()
	if problems, err := testutil.GatherAndLint(r.reg); err != nil || len(problems) > 0 {
		r.t.Errorf("metrics lint: %v %+v", err, problems)
	}
}

func slackSink(t *testing.T, base string) *alert.Slack {
	t.Helper()
	s, err := alert.NewSlack(base+"/services/"+secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var msg = alert.Message{Kind: alert.Fire, Subject: "dxmon ALERT: 2.40 Gbps > 1.00 Gbps", Body: "#  IP\n1  10.0.1.10  web-01 <prod>"}

func TestSlackSuccess(t *testing.T) {
	got := make(chan map[string]string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var p map[string]string
		if req.URL.Path != "/services/"+secret || req.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "wrong path or type", http.StatusBadRequest)
			return
		}
		if err := json.NewDecoder(req.Body).Decode(&p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got <- p
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	r := newRig(t, alert.DispatcherConfig{}, true, slackSink(t, srv.URL))
	r.d.Submit(msg)
	r.expect("slack/sent")
	want := map[string]string{"text": "*dxmon ALERT: 2.40 Gbps &gt; 1.00 Gbps*\n```\n#  IP\n1  10.0.1.10  web-01 &lt;prod&gt;\n```"}
	if diff := cmp.Diff(want, <-got); diff != "" {
		t.Errorf("webhook payload (-want +got):\n%s", diff)
	}
	r.stop()
	r.noSecrets()
	r.lint()
	if err := testutil.GatherAndCompare(r.reg, strings.NewReader(`
# HELP dxmon_alert_deliveries_total Alert deliveries by sink and outcome (sent, retried, dropped, failed).
# TYPE dxmon_alert_deliveries_total counter
dxmon_alert_deliveries_total{outcome="dropped",sink="slack"} 0
dxmon_alert_deliveries_total{outcome="failed",sink="slack"} 0
dxmon_alert_deliveries_total{outcome="retried",sink="slack"} 0
dxmon_alert_deliveries_total{outcome="sent",sink="slack"} 1
`), "dxmon_alert_deliveries_total"); err != nil {
		t.Error(err)
	}
}

func TestSlack500ThenSuccessAnd429RetryAfter(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch n.Add(1) {
		case 1:
			http.Error(w, "internal_error", http.StatusInternalServerError)
		case 2:
			w.Header().Set("Retry-After", "7")
			http.Error(w, "rate_limited", http.StatusTooManyRequests)
		default:
			w.Write([]byte("ok"))
		}
	}))
	defer srv.Close()
	r := newRig(t, alert.DispatcherConfig{RetryMin: time.Second, RetryMax: 30 * time.Second}, true, slackSink(t, srv.URL))
	r.d.Submit(msg)
	r.expect("slack/retried", "slack/retried", "slack/sent")
	if w := <-r.waits; w < 800*time.Millisecond || w > 1200*time.Millisecond {
		t.Errorf("first retry wait %v, want 1s ± 20%%", w)
	}
	if w := <-r.waits; w != 7*time.Second {
		t.Errorf("wait after 429 with Retry-After: 7 = %v, want 7s", w)
	}
	if got := n.Load(); got != 3 {
		t.Errorf("server saw %d requests, want 3", got)
	}
	r.stop()
	r.noSecrets()
	if !strings.Contains(r.logs.String(), "delivered after retries") {
		t.Errorf("recovery not logged:\n%s", r.logs.String())
	}
}

func TestSlackClientErrorIsNotRetried(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n.Add(1)
		http.Error(w, "invalid_token", http.StatusForbidden)
	}))
	defer srv.Close()
	r := newRig(t, alert.DispatcherConfig{}, true, slackSink(t, srv.URL))
	r.d.Submit(msg)
	r.expect("slack/failed")
	r.stop()
	if n.Load() != 1 {
		t.Errorf("server saw %d requests, want 1", n.Load())
	}
	if !strings.Contains(r.logs.String(), "invalid_token") {
		t.Errorf("failure reason not logged:\n%s", r.logs.String())
	}
	r.noSecrets()
}

// A server slower than the request timeout: every attempt times out, is
// retried, and the message finally fails.
func TestSlackTimeout(t *testing.T) {
	var n atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n.Add(1)
		io.Copy(io.Discard, req.Body) // then the server notices the client hanging up
		select {                      // answers only after the client gave up
		case <-req.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	r := newRig(t, alert.DispatcherConfig{RequestTimeout: 50 * time.Millisecond, MaxAttempts: 3}, true, slackSink(t, srv.URL))
	r.d.Submit(msg)
	r.expect("slack/retried", "slack/retried", "slack/failed")
	r.stop()
	if n.Load() != 3 {
		t.Errorf("server saw %d requests, want 3", n.Load())
	}
	if !strings.Contains(r.logs.String(), "deadline exceeded") {
		t.Errorf("timeout not logged:\n%s", r.logs.String())
	}
	r.noSecrets()
}

// A peer that accepts the connection and never answers: with a long request
// timeout, shutdown must still end the attempt and Run; what is still queued
// is dropped.
func TestSlackNeverAnsweringBoundedByShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c // held open, never read from or written to
		}
	}()
	defer func() {
		for {
			select {
			case c := <-accepted:
				c.Close()
			default:
				return
			}
		}
	}()
	r := newRig(t, alert.DispatcherConfig{RequestTimeout: time.Hour}, true, slackSink(t, "http://"+ln.Addr().String()))
	r.d.Submit(msg)
	r.d.Submit(msg)
	select {
	case c := <-accepted:
		defer c.Close()
	case <-time.After(30 * time.Second):
		t.Fatal("the sink never connected")
	}
	r.stop() // bounded: returns although the peer never answers
	r.expect("slack/failed", "slack/dropped")
	r.noSecrets()
}

// The request timeout alone also bounds a never-answering peer.
func TestSlackNeverAnsweringBoundedByTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	r := newRig(t, alert.DispatcherConfig{RequestTimeout: 20 * time.Millisecond, MaxAttempts: 1}, true, slackSink(t, "http://"+ln.Addr().String()))
	r.d.Submit(msg)
	r.expect("slack/failed")
	r.noSecrets()
}

func TestSlackConnectionRefusedIsRetriedAndURLNotLogged(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	s := slackSink(t, "http://"+addr)
	err = s.Send(context.Background(), msg)
	var re *alert.RetryableError
	if !errors.As(err, &re) {
		t.Fatalf("Send to a closed port = %v, want a RetryableError", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error reveals the webhook URL: %v", err)
	}
	r := newRig(t, alert.DispatcherConfig{MaxAttempts: 2}, true, s)
	r.d.Submit(msg)
	r.expect("slack/retried", "slack/failed")
	r.noSecrets()
}

func TestNewSlackRejectsBadURLWithoutRepeatingIt(t *testing.T) {
	for _, u := range []string{"", "hooks.slack.com/services/" + secret, "ftp://x/services/" + secret, "https:///services/" + secret} {
		_, err := alert.NewSlack(u, nil)
		if err == nil {
			t.Errorf("NewSlack(%q) accepted a bad URL", u)
			continue
		}
		if strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "-slack-webhook-url") {
			t.Errorf("NewSlack error %q: want the flag named and the URL withheld", err)
		}
	}
	s := slackSink(t, "https://hooks.slack.com")
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("sink", "slack", s)
	if strings.Contains(logs.String(), secret) {
		t.Errorf("logging the sink reveals its URL: %s", logs.String())
	}
}

// fakeSink fails with errs in turn, then succeeds.
type fakeSink struct {
	name string
	mu   sync.Mutex
	errs []error
	got  []alert.Message
}

func (f *fakeSink) Name() string { return f.name }
func (f *fakeSink) Send(ctx context.Context, m alert.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, m)
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return err
	}
	return nil
}

func TestSubmitNeverBlocksAndDropsWhenFull(t *testing.T) {
	a, b := &fakeSink{name: "a"}, &fakeSink{name: "b"}
	r := newRig(t, alert.DispatcherConfig{QueueSize: 2}, false, a, b)
	for range 5 {
		r.d.Submit(msg) // nothing drains: the queues fill
	}
	r.expect("a/dropped", "b/dropped", "a/dropped", "b/dropped", "a/dropped", "b/dropped")
	if err := testutil.GatherAndCompare(r.reg, strings.NewReader(`
# HELP dxmon_alert_queued_messages Messages waiting in a sink's queue.
# TYPE dxmon_alert_queued_messages gauge
dxmon_alert_queued_messages{sink="a"} 2
dxmon_alert_queued_messages{sink="b"} 2
`), "dxmon_alert_queued_messages"); err != nil {
		t.Error(err)
	}
	r.lint()
}

func TestDispatcherRetriesOnlyRetryable(t *testing.T) {
	perm := &fakeSink{name: "perm", errs: []error{errors.New("bad request")}}
	flaky := &fakeSink{name: "flaky", errs: []error{
		&alert.RetryableError{Err: errors.New("throttled")},
		&alert.RetryableError{Err: errors.New("throttled")},
		&alert.RetryableError{Err: errors.New("throttled")},
	}}
	r := newRig(t, alert.DispatcherConfig{MaxAttempts: 3, RetryMin: time.Second, RetryMax: 3 * time.Second}, true, perm)
	r.d.Submit(msg)
	r.expect("perm/failed")
	r2 := newRig(t, alert.DispatcherConfig{MaxAttempts: 3, RetryMin: time.Second, RetryMax: 3 * time.Second}, true, flaky)
	r2.d.Submit(msg)
	r2.expect("flaky/retried", "flaky/retried", "flaky/failed")
	for i, want := range []time.Duration{time.Second, 2 * time.Second} {
		if w := <-r2.waits; w < want*8/10 || w > want*12/10 {
			t.Errorf("wait before retry %d = %v, want %v ± 20%%", i+1, w, want)
		}
	}
	if len(flaky.got) != 3 || len(perm.got) != 1 {
		t.Errorf("attempts: flaky %d (want 3), perm %d (want 1)", len(flaky.got), len(perm.got))
	}
}

func TestNewDispatcherRejectsDuplicateSinks(t *testing.T) {
	_, err := alert.NewDispatcher(alert.DispatcherConfig{}, nil, nil, &fakeSink{name: "x"}, &fakeSink{name: "x"})
	if err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("NewDispatcher with two sinks named x = %v, want an error naming x", err)
	}
}
