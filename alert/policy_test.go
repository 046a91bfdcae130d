package alert_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/dxmon/dxmon/alert"
	"github.com/dxmon/dxmon/report"
)

func win(bps, pps float64) *report.Report { return &report.Report{BPS: bps, PPS: pps} }

func TestPolicyTable(t *testing.T) {
	p, err := alert.NewPolicy(alert.Config{BPS: 100, PPS: 10, Cooldown: time.Minute, ResolveAfter: 2})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		at       time.Duration
		bps, pps float64
		kind     alert.Kind
		supp     bool
	}{
		{0, 50, 5, alert.None, false},
		{5 * time.Second, 100, 10, alert.None, false}, // equal is not over
		{10 * time.Second, 101, 0, alert.Fire, false},
		{15 * time.Second, 0, 11, alert.None, true}, // within cooldown
		{20 * time.Second, 1, 1, alert.None, false}, // 1st quiet window
		{25 * time.Second, 1, 1, alert.Resolve, false},
		{30 * time.Second, 1, 1, alert.None, false},  // resolved once only
		{69 * time.Second, 500, 0, alert.None, true}, // 59 s after: still cooling
		{70 * time.Second, 500, 0, alert.Fire, false},
		{75 * time.Second, 1, 1, alert.None, false},
		{80 * time.Second, 500, 1, alert.None, true}, // resets the quiet count
		{85 * time.Second, 1, 1, alert.None, false},
		{90 * time.Second, 1, 1, alert.Resolve, false},
	}
	for i, s := range steps {
		d := p.Observe(win(s.bps, s.pps), t0.Add(s.at))
		if d.Kind != s.kind || d.Suppressed != s.supp {
			t.Errorf("step %d (t+%v, %v bps, %v pps): kind %v suppressed %v, want %v %v", i, s.at, s.bps, s.pps, d.Kind, d.Suppressed, s.kind, s.supp)
		}
	}
}

func TestNewPolicyDefaultsAndErrors(t *testing.T) {
	p, err := alert.NewPolicy(alert.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if c := p.Config(); c.BPS != 1e9 || c.PPS != 5e5 || c.Cooldown != 300*time.Second {
		t.Errorf("defaults = %+v, want 1e9 bps, 5e5 pps, 300s", c)
	}
	for _, tt := range []struct {
		cfg  alert.Config
		want string
	}{
		{alert.Config{BPS: -1}, "-alert-bps"},
		{alert.Config{PPS: math.NaN()}, "-alert-pps"},
		{alert.Config{Cooldown: -time.Second}, "-alert-cooldown"},
		{alert.Config{ResolveAfter: -1}, "resolve-after"},
	} {
		if _, err := alert.NewPolicy(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewPolicy(%+v) = %v, want an error naming %s", tt.cfg, err, tt.want)
		}
	}
	// +Inf disables a threshold.
	p, _ = alert.NewPolicy(alert.Config{BPS: math.Inf(1), PPS: 10})
	if d := p.Observe(win(1e15, 1), time.Now()); d.Kind != alert.None {
		t.Errorf("disabled bps threshold fired: %+v", d)
	}
}

// For any sequence of windows and clock times (steps may go backwards): no
// two alerts fire within the cooldown of each other, every window over a
// threshold fires once the cooldown since the last alert has passed, no
// window under both thresholds fires, and "resolved" comes exactly once per
// episode, after ResolveAfter quiet windows.
func TestPolicyProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := alert.Config{
			BPS:          rapid.Float64Range(1, 1e10).Draw(t, "bps"),
			PPS:          rapid.Float64Range(1, 1e7).Draw(t, "pps"),
			Cooldown:     time.Duration(rapid.Int64Range(1, 600).Draw(t, "cooldown_s")) * time.Second,
			ResolveAfter: rapid.IntRange(0, 4).Draw(t, "resolve_after"),
		}
		p, err := alert.NewPolicy(cfg)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Unix(1_700_000_000, 0)
		var fires []time.Time
		var last time.Time
		fired, active, quiet := false, false, 0
		n := rapid.IntRange(1, 200).Draw(t, "windows")
		for i := range n {
			now = now.Add(time.Duration(rapid.Int64Range(-30, 900).Draw(t, "step_s")) * time.Second)
			bps := rapid.Float64Range(0, 2*cfg.BPS).Draw(t, "w_bps")
			pps := rapid.Float64Range(0, 2*cfg.PPS).Draw(t, "w_pps")
			d := p.Observe(win(bps, pps), now)
			over := bps > cfg.BPS || pps > cfg.PPS
			due := !fired || now.Sub(last) >= cfg.Cooldown
			switch {
			case over && due && d.Kind != alert.Fire:
				t.Fatalf("window %d over threshold %v after the cooldown did not fire: %+v", i, now.Sub(last), d)
			case d.Kind == alert.Fire && !over:
				t.Fatalf("window %d under both thresholds fired: %+v", i, d)
			case d.Kind == alert.Fire && !due:
				t.Fatalf("window %d fired %v after the last alert, within the cooldown %v", i, now.Sub(last), cfg.Cooldown)
			}
			if over {
				quiet = 0
				if d.Kind == alert.Fire {
					fires = append(fires, now)
					fired, active, last = true, true, now
				}
				continue
			}
			wantResolve := false
			if active && cfg.ResolveAfter > 0 {
				quiet++
				if quiet >= cfg.ResolveAfter {
					wantResolve, active, quiet = true, false, 0
				}
			}
			if (d.Kind == alert.Resolve) != wantResolve {
				t.Fatalf("window %d: kind %v, want resolve=%v", i, d.Kind, wantResolve)
			}
		}
		for i := range fires {
			for j := i + 1; j < len(fires); j++ {
				if gap := fires[j].Sub(fires[i]); gap < cfg.Cooldown && gap > -cfg.Cooldown {
					t.Fatalf("alerts %d and %d fired %v apart, within the cooldown %v", i, j, gap, cfg.Cooldown)
				}
			}
		}
	})
}
