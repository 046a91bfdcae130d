package alert_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/dxmon/dxmon/alert"
	"github.com/dxmon/dxmon/enrich"
	"github.com/dxmon/dxmon/report"
)

// dirWin is a report with directions: to_aws at toBPS, from_aws at fromBPS.
func dirWin(toBPS, fromBPS float64) *report.Report {
	return &report.Report{BPS: toBPS + fromBPS, LinkBPS: 10e9, Directions: &report.Directions{
		ToAWS: &report.Direction{BPS: toBPS, Utilization: toBPS / 10e9}, FromAWS: &report.Direction{BPS: fromBPS, Utilization: fromBPS / 10e9}}}
}

// TestPolicyPerDirection: with directions, each direction is held to the
// thresholds on its own (1.5 Gbps split 0.75/0.75 does not fire a 1 Gbps
// threshold; the total would have), each has its own cooldown and its own
// resolved notice, and utilization fires on either direction.
func TestPolicyPerDirection(t *testing.T) {
	p, err := alert.NewPolicy(alert.Config{BPS: 1e9, PPS: 1e9, Utilization: 0.9, LinkBPS: 10e9, Cooldown: time.Minute, ResolveAfter: 1})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type dirs struct{ to, from alert.Kind }
	steps := []struct {
		at       time.Duration
		to, from float64
		kind     alert.Kind
		want     dirs
		supp     bool
	}{
		{0, 0.75e9, 0.75e9, alert.None, dirs{alert.None, alert.None}, false}, // the total is over, no direction is
		{5 * time.Second, 2e9, 0.5e9, alert.Fire, dirs{alert.Fire, alert.None}, false},
		{10 * time.Second, 2e9, 3e9, alert.Fire, dirs{alert.None, alert.Fire}, false}, // to_aws cooling, from_aws fires
		{15 * time.Second, 2e9, 3e9, alert.None, dirs{alert.None, alert.None}, true},
		{20 * time.Second, 0.1e9, 3e9, alert.Resolve, dirs{alert.Resolve, alert.None}, true}, // from_aws still over, cooling
		{25 * time.Second, 0.1e9, 0.1e9, alert.Resolve, dirs{alert.None, alert.Resolve}, false},
		{80 * time.Second, 0.1e9, 0.5e9, alert.None, dirs{alert.None, alert.None}, false},
	}
	for i, s := range steps {
		d := p.Observe(dirWin(s.to, s.from), t0.Add(s.at))
		if len(d.Dirs) != 2 || d.Dirs[0].Dir != report.ToAWS || d.Dirs[1].Dir != report.FromAWS {
			t.Fatalf("step %d: dirs %+v, want to_aws then from_aws", i, d.Dirs)
		}
		got := dirs{d.Dirs[0].Kind, d.Dirs[1].Kind}
		if d.Kind != s.kind || got != s.want || d.Suppressed != (s.supp && d.Kind == alert.None) {
			t.Errorf("step %d: kind %v dirs %+v suppressed %v, want %v %+v %v", i, d.Kind, got, d.Suppressed, s.kind, s.want, s.supp)
		}
	}
	// Utilization alone: 9.3 Gbps under a 10 Gbps bps threshold is 93 % of the link.
	p, _ = alert.NewPolicy(alert.Config{BPS: 10e9, Utilization: 0.9, LinkBPS: 10e9})
	d := p.Observe(dirWin(0.2e9, 9.3e9), t0)
	if d.Kind != alert.Fire || !d.OverUtil || d.OverBPS || d.Dirs[1].Kind != alert.Fire || d.Dirs[0].Kind != alert.None {
		t.Errorf("93 %% from AWS: %+v", d)
	}
}

// TestPolicyDirectionsIndependent: for any sequence of windows, each
// direction's alerts are exactly those a policy watching that direction
// alone would send.
func TestPolicyDirectionsIndependent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := alert.Config{BPS: 100, PPS: 1e9, Cooldown: time.Duration(rapid.IntRange(1, 60).Draw(t, "cooldown_s")) * time.Second,
			ResolveAfter: rapid.IntRange(0, 3).Draw(t, "resolve_after")}
		both, _ := alert.NewPolicy(cfg)
		alone := [2]*alert.Policy{}
		alone[0], _ = alert.NewPolicy(cfg)
		alone[1], _ = alert.NewPolicy(cfg)
		now := time.Unix(1_700_000_000, 0)
		for i := range rapid.IntRange(1, 100).Draw(t, "windows") {
			now = now.Add(time.Duration(rapid.IntRange(1, 30).Draw(t, "step_s")) * time.Second)
			to, from := rapid.Float64Range(0, 200).Draw(t, "to"), rapid.Float64Range(0, 200).Draw(t, "from")
			d := both.Observe(dirWin(to, from), now)
			for j, bps := range []float64{to, from} {
				want := alone[j].Observe(&report.Report{BPS: bps}, now)
				if d.Dirs[j].Kind != want.Kind {
					t.Fatalf("window %d, %s at %v: %v, alone %v", i, d.Dirs[j].Dir, bps, d.Dirs[j].Kind, want.Kind)
				}
			}
		}
	})
}

func TestNewPolicyUtilizationNeedsLink(t *testing.T) {
	for _, cfg := range []alert.Config{{Utilization: 0.8}, {Utilization: 1.5, LinkBPS: 1e9}, {Utilization: -0.1, LinkBPS: 1e9}} {
		if _, err := alert.NewPolicy(cfg); err == nil || !strings.Contains(err.Error(), "-alert-utilization") {
			t.Errorf("NewPolicy(%+v) = %v, want an error naming -alert-utilization", cfg, err)
		}
	}
	if _, err := alert.NewPolicy(alert.Config{Utilization: 0.8}); err == nil || !strings.Contains(err.Error(), "-link-bps") {
		t.Errorf("utilization without a link: %v, want an error naming -link-bps", err)
	}
}

// directionReport: to AWS at 9.3 Gbps of a 10 Gbps link, led by one
// on-premises host sending to a named instance; from AWS quiet.
func directionReport() *report.Report {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	db := &enrich.Info{InstanceID: "i-0db", Name: "db-primary"}
	src, dst := netip.MustParseAddr("172.16.20.15"), netip.MustParseAddr("10.0.1.50")
	to := &report.Direction{Packets: 4e6, Bytes: 5.8125e9, PPS: 8e5, BPS: 9.3e9, Utilization: 0.93,
		TopFlows: []report.Flow{{Src: src, Dst: dst, Proto: 6, Sport: 50412, Dport: 5432, Packets: 3e6, Bytes: 5e9, DstInfo: db, Dir: report.ToAWS}},
		TopSrc:   []report.Host{{IP: src, Packets: 3e6, Bytes: 5e9, Info: &enrich.Info{OnPrem: "172.16.0.0/12"}}},
		TopDst:   []report.Host{{IP: dst, Packets: 3e6, Bytes: 5e9, Info: db}},
		TopDport: []report.Port{{Proto: 6, Port: 5432, Packets: 3e6, Bytes: 5e9}},
	}
	from := &report.Direction{Packets: 1e5, Bytes: 1.25e8, PPS: 2e4, BPS: 2e8, Utilization: 0.02,
		TopSrc: []report.Host{{IP: netip.MustParseAddr("10.9.9.9"), Bytes: 1.25e8}}}
	return &report.Report{WindowStart: t0, WindowEnd: t0.Add(5 * time.Second), Scope: report.ScopeProbe,
		Packets: 4.1e6, Bytes: 5.9375e9, PPS: 8.2e5, BPS: 9.5e9, SampleRate: 1, LinkBPS: 10e9,
		TopSrc: to.TopSrc, TopDst: to.TopDst, TopFlows: to.TopFlows, TopDport: to.TopDport,
		Directions: &report.Directions{ToAWS: to, FromAWS: from}}
}

// TestFormatDirection: the message says which direction and how full, and
// lists that direction's talkers, not the other's.
func TestFormatDirection(t *testing.T) {
	r := directionReport()
	p, _ := alert.NewPolicy(alert.Config{BPS: 20e9, PPS: 1e9, Utilization: 0.9, LinkBPS: 10e9, ResolveAfter: 1})
	d := p.Observe(r, time.Now())
	subject, body := alert.Format(r, d, nil)
	t.Logf("subject: %s\n%s", subject, body)
	for _, want := range []string{"dxmon ALERT: to AWS 9.30 Gbps, 93 % of 10.0 Gbps (over 90 %)", "top src 172.16.20.15"} {
		if !strings.Contains(subject, want) {
			t.Errorf("subject %q lacks %q", subject, want)
		}
	}
	for _, want := range []string{"Traffic to AWS over threshold", "To AWS: top sources", "To AWS: top destinations", "To AWS: top flows",
		"To AWS: top destination ports", "db-primary", "5432", "From AWS", "200 Mbps, 2.0 % of 10.0 Gbps"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q", want)
		}
	}
	if strings.Contains(body, "10.9.9.9") || strings.Contains(body, "From AWS: top") {
		t.Errorf("body lists the quiet direction's talkers")
	}
	// The next quiet window resolves the direction, by name.
	q := directionReport()
	q.Directions.ToAWS.BPS, q.Directions.ToAWS.Utilization = 1e9, 0.1
	d = p.Observe(q, time.Now())
	subject, body = alert.Format(q, d, nil)
	if d.Kind != alert.Resolve || !strings.Contains(subject, "dxmon resolved: to AWS 1.00 Gbps, 10 % of 10.0 Gbps") ||
		!strings.Contains(body, "Traffic to AWS is back under") {
		t.Errorf("resolve: %v %q\n%s", d.Kind, subject, body)
	}
}

// TestFormatBothDirectionsNameTheirSources: when both directions fire, the
// one subject names each direction's own top source after that direction,
// so the from-AWS part does not show the to-AWS sender.
func TestFormatBothDirectionsNameTheirSources(t *testing.T) {
	r := directionReport()
	from := r.Directions.FromAWS
	from.BPS, from.Utilization, from.PPS = 9.6e9, 0.96, 8e5
	from.TopSrc = []report.Host{{IP: netip.MustParseAddr("10.9.9.9"), Bytes: 6e9, Info: &enrich.Info{InstanceID: "i-0bk", Name: "backup-01"}}}
	p, _ := alert.NewPolicy(alert.Config{BPS: 20e9, PPS: 1e9, Utilization: 0.9, LinkBPS: 10e9, ResolveAfter: 1})
	d := p.Observe(r, time.Now())
	subject, _ := alert.Format(r, d, nil)
	want := "dxmon ALERT: to AWS 9.30 Gbps, 93 % of 10.0 Gbps (over 90 %) top src 172.16.20.15 (on-prem 172.16.0.0/12); " +
		"from AWS 9.60 Gbps, 96 % of 10.0 Gbps (over 90 %) top src 10.9.9.9 (backup-01)"
	if subject != want {
		t.Errorf("subject\n got %q\nwant %q", subject, want)
	}
}

// A decision is evaluated and formatted without being sent: a fleet of
// probes claims the right to send it first.
func ExampleFormat_direction() {
	r := directionReport()
	policy, _ := alert.NewPolicy(alert.Config{BPS: 20e9, PPS: 1e9, Utilization: 0.9, LinkBPS: 10e9})
	d := policy.Observe(r, r.WindowEnd)
	m := alert.NewMessage(r, d, nil) // nothing dispatched yet
	fmt.Println(d.Kind, d.Acting()[0].Dir)
	fmt.Println(m.Subject)
	// Output:
	// fire to_aws
	// dxmon ALERT: to AWS 9.30 Gbps, 93 % of 10.0 Gbps (over 90 %) top src 172.16.20.15 (on-prem 172.16.0.0/12)
}
