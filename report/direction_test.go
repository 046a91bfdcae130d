package report_test

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dxmon/dxmon/flow"
	"github.com/dxmon/dxmon/report"
)

// TestBuildDirections: with a classifier, Build fills both directions from
// the exact totals it is given and the window's flows split by key, scaled
// by 1/SampleRate, with utilization of the link; an idle direction is
// present with zero totals and empty rankings; the JSON has the contract's
// names.
func TestBuildDirections(t *testing.T) {
	onPrem := netip.MustParsePrefix("172.16.0.0/12")
	cls := func(k *flow.Key) flow.Direction {
		switch {
		case onPrem.Contains(k.Src()):
			return flow.DirToAWS
		case onPrem.Contains(k.Dst()):
			return flow.DirFromAWS
		}
		return flow.DirUnknown
	}
	tb, _ := flow.NewTable(100)
	up := flow.NewKey(netip.MustParseAddr("172.16.0.1"), netip.MustParseAddr("10.0.1.5"), 6, 40000, 443)
	up2 := flow.NewKey(netip.MustParseAddr("172.16.0.2"), netip.MustParseAddr("10.0.1.5"), 17, 5000, 53)
	for range 10 {
		tb.Add(&up, up.Hash(), 1000)
	}
	for range 5 {
		tb.Add(&up2, up2.Hash(), 100)
	}
	m := flow.NewMerged()
	m.AddTable(tb)
	start := time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)
	w := report.Window{Start: start, End: start.Add(5 * time.Second), Merged: m, SampleRate: 0.5, Top: 10,
		SampledOut: 7, LinkBPS: 1e5, Scope: report.ScopeProbe, Classify: cls}
	w.DirTotals[flow.DirToAWS] = flow.Counter{Packets: 15, Bytes: 10500}
	r := report.Build(w, nil)

	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	want := &report.Directions{
		ToAWS: &report.Direction{Packets: 30, Bytes: 21000, PPS: 6, BPS: 33600, Utilization: 0.336,
			TopFlows: []report.Flow{
				{Src: a("172.16.0.1"), Dst: a("10.0.1.5"), Proto: 6, Sport: 40000, Dport: 443, Packets: 20, Bytes: 20000, Dir: report.ToAWS},
				{Src: a("172.16.0.2"), Dst: a("10.0.1.5"), Proto: 17, Sport: 5000, Dport: 53, Packets: 10, Bytes: 1000, Dir: report.ToAWS}},
			TopSrc:   []report.Host{{IP: a("172.16.0.1"), Packets: 20, Bytes: 20000}, {IP: a("172.16.0.2"), Packets: 10, Bytes: 1000}},
			TopDst:   []report.Host{{IP: a("10.0.1.5"), Packets: 30, Bytes: 21000}},
			TopDport: []report.Port{{Proto: 6, Port: 443, Packets: 20, Bytes: 20000}, {Proto: 17, Port: 53, Packets: 10, Bytes: 1000}},
		},
		FromAWS: &report.Direction{TopFlows: []report.Flow{}, TopSrc: []report.Host{}, TopDst: []report.Host{}, TopDport: []report.Port{}},
	}
	if d := cmp.Diff(want, r.Directions, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); d != "" {
		t.Fatalf("directions (-want +got):\n%s", d)
	}
	if r.SampledOut != 7 || r.LinkBPS != 1e5 || r.Scope != report.ScopeProbe || r.TopFlows[0].Dir != report.ToAWS {
		t.Fatalf("sampled_out %d link_bps %v scope %q dir %q", r.SampledOut, r.LinkBPS, r.Scope, r.TopFlows[0].Dir)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{`"scope":"probe"`, `"sampled_out":7`, `"link_bps":100000`, `"directions":{"to_aws":{"packets":30,`,
		`"utilization":0.336`, `"from_aws":{"packets":0,"bytes":0,"pps":0,"bps":0,"top_flows":[]`, `"dir":"to_aws"`} {
		if !strings.Contains(string(b), name) {
			t.Errorf("JSON lacks %s:\n%s", name, b)
		}
	}
	// Without a classifier: no directions, no dir.
	m.Reset()
	m.AddTable(tb)
	w.Classify = nil
	if r := report.Build(w, nil); r.Directions != nil || r.TopFlows[0].Dir != "" {
		t.Fatalf("without a classifier: directions %+v, dir %q", r.Directions, r.TopFlows[0].Dir)
	}
}

// TestTextDirections: the text report has one line with each direction's
// rate and share of the link, and none without directions.
func TestTextDirections(t *testing.T) {
	r := &report.Report{LinkBPS: 10e6, Skipped: map[string]uint64{}, Directions: &report.Directions{
		ToAWS:   &report.Direction{BPS: 1.5e6, PPS: 260, Utilization: 0.15},
		FromAWS: &report.Direction{BPS: 750e3, PPS: 78, Utilization: 0.075}}}
	var b strings.Builder
	if err := report.WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	if want := "to AWS 1.50 Mbps 260 pps (15.0 % of 10.0 Mbps) · from AWS 750 Kbps 78 pps (7.5 % of 10.0 Mbps)\n"; !strings.Contains(b.String(), want) {
		t.Errorf("text lacks %q:\n%s", want, b.String())
	}
	r.Directions = nil
	b.Reset()
	if err := report.WriteText(&b, r); err != nil || strings.Contains(b.String(), "to AWS") {
		t.Errorf("text without directions: %v\n%s", err, b.String())
	}
}
