package report_test

import (
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dxmon/dxmon/enrich"
	"github.com/dxmon/dxmon/flow"
	"github.com/dxmon/dxmon/report"
)

// TestHumanUnits: bytes and rates are both decimal SI, with enough digits
// that a trickle is not 0.
func TestHumanUnits(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{report.Bytes(512), "512 B"},
		{report.Bytes(432_000), "432 kB"}, // not 422 KB: the same 1000 as the rates
		{report.Bytes(1536), "1.54 kB"},
		{report.Bytes(999.7), "1.00 kB"},
		{report.Bytes(3.2e6), "3.20 MB"},
		{report.Bytes(1e9), "1.00 GB"},
		{report.Bytes(5e12), "5.00 TB"},
		{report.Bps(432_000 * 8 / 5), "691 kbps"}, // the same flow's rate over 5 s
		{report.Bps(950), "950 bps"},
		{report.Bps(12_500), "12.5 kbps"},
		{report.Bps(1.2e9), "1.20 Gbps"},
		{report.Bps(250e6), "250 Mbps"},
		{report.Bps(1.6), "1.60 bps"},
		{report.Pps(800), "800 pps"},
		{report.Pps(338.6), "339 pps"},
		{report.Pps(12_000), "12.0 kpps"},
		{report.Pps(1.5e6), "1.50 Mpps"},
		{report.Pps(0), "0 pps"},
		{report.Pps(0.2), "0.20 pps"}, // one packet in a 5-second window
		{report.Pps(3), "3 pps"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func window(t *testing.T, rate float64) (report.Window, flow.Key) {
	t.Helper()
	tb, _ := flow.NewTable(100)
	k := flow.NewKey(netip.MustParseAddr("10.0.1.5"), netip.MustParseAddr("172.16.8.9"), 6, 443, 51514)
	for range 10 {
		tb.Add(&k, k.Hash(), 1000)
	}
	m := flow.NewMerged()
	m.AddTable(tb)
	start := time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)
	return report.Window{Start: start, End: start.Add(5 * time.Second), Merged: m, SampleRate: rate,
		Skipped: map[string]uint64{"not_ip": 3}, Top: 10}, k
}

// TestJSONContract pins the JSON field names other tools parse.
func TestJSONContract(t *testing.T) {
	w, _ := window(t, 1)
	lookup := func(a netip.Addr) (enrich.Info, bool) {
		if a == netip.MustParseAddr("10.0.1.5") {
			return enrich.Info{InstanceID: "i-0abc", Name: "web-1"}, true
		}
		return enrich.Info{}, false
	}
	b, err := json.Marshal(report.Build(w, lookup))
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil {
		t.Fatal(err)
	}
	keys := func(m map[string]any) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	want := []string{"bps", "bytes", "packets", "pps", "sample_rate", "skipped", "top_dport", "top_dst", "top_flows", "top_src", "window_end", "window_start"}
	if d := cmp.Diff(want, keys(obj)); d != "" {
		t.Errorf("report keys (-want +got):\n%s", d)
	}
	fl := obj["top_flows"].([]any)[0].(map[string]any)
	if d := cmp.Diff([]string{"bytes", "dport", "dst", "packets", "proto", "sport", "src", "src_info"}, keys(fl)); d != "" {
		t.Errorf("top_flows keys (-want +got):\n%s", d)
	}
	if fl["src"] != "10.0.1.5" || fl["src_info"].(map[string]any)["name"] != "web-1" {
		t.Errorf("flow %v", fl)
	}
	if d := cmp.Diff([]string{"bytes", "info", "ip", "packets"}, keys(obj["top_src"].([]any)[0].(map[string]any))); d != "" {
		t.Errorf("top_src keys (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"bytes", "packets", "port", "proto"}, keys(obj["top_dport"].([]any)[0].(map[string]any))); d != "" {
		t.Errorf("top_dport keys (-want +got):\n%s", d)
	}
	if obj["window_start"] != "2026-11-26T09:30:00Z" || obj["bps"] != 16000.0 || obj["pps"] != 2.0 {
		t.Errorf("window_start %v bps %v pps %v", obj["window_start"], obj["bps"], obj["pps"])
	}
}

func TestBuildScalesBySampleRate(t *testing.T) {
	w, _ := window(t, 0.25)
	r := report.Build(w, nil)
	if r.Packets != 40 || r.Bytes != 40000 || r.TopFlows[0].Packets != 40 || r.TopSrc[0].Bytes != 40000 {
		t.Errorf("scaled report: %+v", r)
	}
	if r.Skipped["not_ip"] != 3 {
		t.Errorf("skipped counts are frames, not scaled: %v", r.Skipped)
	}
}

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestWriteTextGolden pins the text report: UTC labelled, SI units, the
// legend of skipped reasons and sampling, "-" for ICMP's port.
func TestWriteTextGolden(t *testing.T) {
	start := time.Date(2026, 11, 26, 10, 30, 0, 0, time.FixedZone("CET", 3600)) // 09:30 UTC
	tcp := report.Flow{Src: netip.MustParseAddr("172.16.20.15"), Dst: netip.MustParseAddr("10.0.1.50"), Proto: 6,
		Sport: 50412, Dport: 443, Packets: 300, Bytes: 432_000, DstInfo: &enrich.Info{InstanceID: "i-0abc", Name: "web-1"}}
	icmp := report.Flow{Src: netip.MustParseAddr("2001:db8:10::25"), Dst: netip.MustParseAddr("2001:db8:ac10::7"), Proto: 58,
		Packets: 4, Bytes: 416, GWLBE: "vpce-0123456789abcdef0"}
	for _, c := range []struct {
		name string
		r    report.Report
	}{
		{"sampled", report.Report{WindowStart: start, WindowEnd: start.Add(5 * time.Second), Packets: 304, Bytes: 432_416,
			PPS: 60.8, BPS: 691_865.6, SampleRate: 0.25, Skipped: map[string]uint64{"outer_port": 1, "not_ip": 2, "new_reason": 1},
			PortsCut: 4, TopFlows: []report.Flow{tcp, icmp},
			TopSrc:   []report.Host{{IP: tcp.Src, Packets: 300, Bytes: 432_000}, {IP: icmp.Src, Packets: 4, Bytes: 416}},
			TopDst:   []report.Host{{IP: tcp.Dst, Packets: 300, Bytes: 432_000, Info: tcp.DstInfo}},
			TopDport: []report.Port{{Proto: 6, Port: 443, Packets: 300, Bytes: 432_000}, {Proto: 58, Packets: 4, Bytes: 416}}}},
		{"one_packet", report.Report{WindowStart: start, WindowEnd: start.Add(5 * time.Second), Packets: 1, Bytes: 84,
			PPS: 0.2, BPS: 134.4, SampleRate: 1, Partial: true, Skipped: map[string]uint64{"outer_port": 1},
			TopDport: []report.Port{{Proto: 1, Packets: 1, Bytes: 84}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			if err := report.WriteText(&b, &c.r); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", c.name+".txt")
			if *update {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), b.String()); diff != "" {
				t.Errorf("%s (-want +got; go test -update rewrites it):\n%s", golden, diff)
			}
		})
	}
}

func TestWriteText(t *testing.T) {
	w, _ := window(t, 1)
	w.Partial = true
	var b strings.Builder
	if err := report.WriteText(&b, report.Build(w, nil)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"(partial)", "10.0.1.5:443 -> 172.16.8.9:51514", "tcp", "10.0 kB", "16.0 kbps", "not counted: 3 frames: not_ip=3", "TOP DESTINATION PORTS", "09:30:00 – 09:30:05 UTC"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
}
