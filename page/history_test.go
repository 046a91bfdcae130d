package page

import (
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/dxmon/dxmon/report"
)

var t0 = time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)

func rep(i int, scope string) *report.Report {
	s := t0.Add(time.Duration(i) * 5 * time.Second)
	return &report.Report{WindowStart: s, WindowEnd: s.Add(5 * time.Second), Scope: scope, Packets: uint64(i)}
}

func TestHistoryKeepsTheLastHourOldestFirst(t *testing.T) {
	h := NewHistory(5*time.Second, time.Hour)
	for i := range 1000 {
		h.Add(rep(i, report.ScopeProbe))
		h.Add(rep(i, report.ScopeFleet))
	}
	got := h.Windows("")
	if len(got) != 2*720 {
		t.Fatalf("kept %d reports, want 1440 (720 windows of 5 s, two scopes)", len(got))
	}
	for i, r := range got {
		want := 1000 - 720 + i/2
		if int(r.Packets) != want || (i%2 == 0) != (r.Scope == report.ScopeProbe) {
			t.Fatalf("report %d: window %d scope %q, want window %d, probe before fleet", i, r.Packets, r.Scope, want)
		}
	}
	if f := h.Windows(report.ScopeFleet); len(f) != 720 || f[0].Scope != report.ScopeFleet {
		t.Fatalf("fleet scope: %d reports", len(f))
	}
	if l := h.Latest(""); l.Packets != 999 || l.Scope != report.ScopeFleet {
		t.Fatalf("latest = window %d %q, want 999 fleet", l.Packets, l.Scope)
	}
}

func TestHistoryDropsWindowsOlderThanTheSpan(t *testing.T) {
	h := NewHistory(5*time.Second, time.Hour)
	h.Add(rep(0, ""))
	h.Add(rep(1000, "")) // a gap: the probe was stopped
	got := h.Windows("")
	if len(got) != 1 || got[0].Packets != 1000 {
		t.Fatalf("got %d reports, want only the newest", len(got))
	}
}

// Property: whatever the sequence of windows, Windows is sorted, spans at
// most the span, ends with the newest report and holds every report of the
// span that the ring had room for.
func TestHistoryProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		slots := rapid.IntRange(1, 50).Draw(t, "slots")
		h := NewHistory(5*time.Second, time.Duration(slots)*5*time.Second)
		n := rapid.IntRange(0, 200).Draw(t, "n")
		i := 0
		var added []*report.Report
		for range n {
			i += rapid.IntRange(1, 3).Draw(t, "step")
			r := rep(i, "")
			h.Add(r)
			added = append(added, r)
		}
		got := h.Windows("")
		if n == 0 {
			if len(got) != 0 {
				t.Fatalf("empty history returned %d", len(got))
			}
			return
		}
		if got[len(got)-1] != added[len(added)-1] {
			t.Fatalf("last is not the newest")
		}
		var want []*report.Report
		for _, r := range added[max(0, len(added)-slots):] {
			if added[len(added)-1].WindowEnd.Sub(r.WindowEnd) < h.span {
				want = append(want, r)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("got %d reports, want %d", len(got), len(want))
		}
		for k := range got {
			if got[k] != want[k] {
				t.Fatalf("report %d differs", k)
			}
		}
	})
}

// The coordinator's side: Add allocates nothing.
func TestHistoryAddAllocatesNothing(t *testing.T) {
	h := NewHistory(5*time.Second, time.Hour)
	r := rep(1, "")
	if a := testing.AllocsPerRun(1000, func() { h.Add(r) }); a != 0 {
		t.Fatalf("Add allocates %v times, want 0", a)
	}
}

// Readers racing the writer (run with -race) see ordered, whole windows.
func TestHistoryConcurrentReaders(t *testing.T) {
	h := NewHistory(5*time.Second, time.Minute)
	p := New(Config{Window: 5 * time.Second}, h, nil)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ws := h.Windows("")
				for k := 1; k < len(ws); k++ {
					if !ws[k-1].WindowStart.Before(ws[k].WindowStart) {
						t.Errorf("windows out of order at %d", k)
						return
					}
				}
				p.serveWindows(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/windows", nil))
			}
		}()
	}
	for i := range 2000 {
		h.Add(rep(i, ""))
	}
	close(stop)
	wg.Wait()
}

// BenchmarkHistoryAdd is the coordinator's cost per window.
func BenchmarkHistoryAdd(b *testing.B) {
	h := NewHistory(5*time.Second, time.Hour)
	r := rep(1, "")
	b.ReportAllocs()
	for b.Loop() {
		h.Add(r)
	}
}

// BenchmarkHistoryAddWhileServing is the coordinator's cost per window while
// browsers fetch the last hour without pause: the same as without them
// (no lock to wait for).
func BenchmarkHistoryAddWhileServing(b *testing.B) {
	h := NewHistory(5*time.Second, time.Hour)
	for i := range 720 {
		h.Add(sample(i))
	}
	p := New(Config{Window: 5 * time.Second}, h, nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			p.serveWindows(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/windows", nil))
		}
	}()
	r := rep(1, "")
	b.ReportAllocs()
	for b.Loop() {
		h.Add(r)
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
}

// BenchmarkServeWindows is one browser's first fetch of a full hour (720
// windows of both directions), on the requesting goroutine; the page's
// later polls ask only for windows since the last (BenchmarkServeSince).
func BenchmarkServeWindows(b *testing.B) {
	h := NewHistory(5*time.Second, time.Hour)
	for i := range 720 {
		h.Add(sample(i))
	}
	p := New(Config{Window: 5 * time.Second}, h, nil)
	req := httptest.NewRequest("GET", "/api/windows", nil)
	b.ReportAllocs()
	for b.Loop() {
		p.serveWindows(httptest.NewRecorder(), req)
	}
}

// BenchmarkServeSince is one poll of a page that is up to date but for the
// newest window.
func BenchmarkServeSince(b *testing.B) {
	h := NewHistory(5*time.Second, time.Hour)
	for i := range 720 {
		h.Add(sample(i))
	}
	p := New(Config{Window: 5 * time.Second}, h, nil)
	req := httptest.NewRequest("GET", "/api/windows?since="+sample(718).WindowEnd.Format(time.RFC3339Nano), nil)
	b.ReportAllocs()
	for b.Loop() {
		p.serveWindows(httptest.NewRecorder(), req)
	}
}
