package fleet

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dxmon/dxmon/alert"
	"github.com/dxmon/dxmon/report"
)

// outage wraps a table client; while down, every call fails as an
// unreachable endpoint does.
type outage struct {
	API
	down atomic.Bool
}

var errDown = errors.New("dial tcp 127.0.0.1:1: connect: connection refused")

func (o *outage) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if o.down.Load() {
		return nil, errDown
	}
	return o.API.PutItem(ctx, in, opts...)
}

func (o *outage) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if o.down.Load() {
		return nil, errDown
	}
	return o.API.Query(ctx, in, opts...)
}

// ownReport is a probe's window ending a minute ago (so the fleet does not
// wait for it) with bytes in 5 s, from one on-premises source.
func ownReport(i int, bytes uint64) *report.Report {
	start := time.Now().Add(-time.Minute).Truncate(5 * time.Second).Add(time.Duration(i) * 5 * time.Second)
	src := netip.MustParseAddr("198.18.0.10")
	r := &report.Report{WindowStart: start, WindowEnd: start.Add(5 * time.Second), SampleRate: 1, Packets: bytes / 1000, Bytes: bytes,
		Skipped: map[string]uint64{}, TopSrc: []report.Host{{IP: src, Packets: bytes / 1000, Bytes: bytes}}}
	r.PPS, r.BPS = float64(r.Packets)/5, float64(bytes)*8/5
	return r
}

// TestFleetRunFallbackAndReturn: a window above the threshold is merged and
// alerted once from the fleet; with the table down, the next is alerted on
// this probe's share, saying so, and counted; when the table answers, the
// probe returns to the fleet.
func TestFleetRunFallbackAndReturn(t *testing.T) {
	_, st := newTestTable(t)
	o := &outage{API: st.api}
	st.api = o
	reg := prometheus.NewPedanticRegistry()
	fleets := make(chan *report.Report, 8)
	msgs := make(chan alert.Message, 8)
	f, err := New(Config{Store: st, Probe: "probe-a", Wait: time.Millisecond, Top: 10,
		Alert: alert.Config{BPS: 1e6, PPS: 1e9, Cooldown: time.Hour},
		Send:  func(m alert.Message) { msgs <- m }, Emit: func(r *report.Report) { fleets <- r }}, reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = f.Run(ctx) }()
	wait := func(what string, ch any) any {
		t.Helper()
		timeout := time.After(30 * time.Second)
		switch c := ch.(type) {
		case chan *report.Report:
			select {
			case v := <-c:
				return v
			case <-timeout:
			}
		case chan alert.Message:
			select {
			case v := <-c:
				return v
			case <-timeout:
			}
		}
		t.Fatalf("no %s within 30s", what)
		return nil
	}

	f.Take(ownReport(0, 2_000_000)) // 3.2 Mbps
	fr := wait("fleet report", fleets).(*report.Report)
	if fr.Scope != report.ScopeFleet || fr.Probes != 1 || fr.Bytes != 2_000_000 {
		t.Fatalf("fleet report: scope %q probes %d bytes %d", fr.Scope, fr.Probes, fr.Bytes)
	}
	m := wait("fleet alert", msgs).(alert.Message)
	if m.Kind != alert.Fire || !strings.Contains(m.Body, "Fleet view of 1 probes: probe-a") || strings.Contains(m.Subject, ShareOnly) {
		t.Fatalf("fleet alert: %+v", m)
	}

	o.down.Store(true)
	f.Take(ownReport(1, 2_000_000))
	m = wait("fallback alert", msgs).(alert.Message)
	if !strings.Contains(m.Subject, ShareOnly) || !strings.Contains(m.Body, "probe probe-a's window") || !strings.Contains(m.Body, "connection refused") {
		t.Fatalf("fallback alert does not say it is this probe's share: %+v", m)
	}
	if got := testutil.ToFloat64(f.windows.WithLabelValues("fallback")); got != 1 || !f.Fallback() {
		t.Fatalf("fallback windows %v, Fallback() %v", got, f.Fallback())
	}

	o.down.Store(false)
	f.Take(ownReport(2, 2_000_000))
	if fr := wait("fleet report after the outage", fleets).(*report.Report); fr.Probes != 1 || f.Fallback() {
		t.Fatalf("after the outage: probes %d, fallback %v", fr.Probes, f.Fallback())
	}
	select {
	case m := <-msgs:
		t.Fatalf("a third alert inside the fleet's cooldown: %+v", m)
	default:
	}
	if n, err := testutil.GatherAndLint(reg); err != nil || len(n) != 0 {
		t.Errorf("metrics lint: %v %v", n, err)
	}
}

// TestTakeNeverWaits: with nobody serving the queue (a table that hangs),
// Take returns at once, drops what does not fit and counts it, and trims
// the report it was given to -top.
func TestTakeNeverWaits(t *testing.T) {
	st, _ := NewStore(nopAPI{}, "dxmon-fleet")
	f, err := New(Config{Store: st, Probe: "p", Top: 2, Queue: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := ownReport(0, 1000)
	for i := range 5 {
		r.TopSrc = append(r.TopSrc, report.Host{IP: netip.AddrFrom4([4]byte{198, 18, 1, byte(i)}), Packets: 1, Bytes: 1})
	}
	f.Take(r)
	f.Take(ownReport(1, 1000))
	f.Take(ownReport(2, 1000))
	if got := testutil.ToFloat64(f.dropped); got != 2 {
		t.Errorf("dropped windows %v, want 2", got)
	}
	if len(r.TopSrc) != 2 || r.Scope != report.ScopeProbe {
		t.Errorf("own report after Take: %d sources, scope %q; want 2 and probe", len(r.TopSrc), r.Scope)
	}
	if j := <-f.q; len(j.sum.All.Src) != 6 {
		t.Errorf("queued summary keeps %d sources, want all 6 (K = 100)", len(j.sum.All.Src))
	}
}
