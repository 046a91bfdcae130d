package report_test

import (
	"encoding/json"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dxmon/dxmon/enrich"
	"github.com/dxmon/dxmon/flow"
	"github.com/dxmon/dxmon/report"
)

func TestHumanUnits(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{report.Bytes(512), "512 B"},
		{report.Bytes(1536), "1.50 KB"},
		{report.Bytes(3.2 * 1024 * 1024), "3.20 MB"},
		{report.Bytes(1 << 30), "1.00 GB"},
		{report.Bytes(5 << 40), "5.00 TB"},
		{report.Bps(950), "950 bps"},
		{report.Bps(12_500), "12.5 Kbps"},
		{report.Bps(1.2e9), "1.20 Gbps"},
		{report.Bps(250e6), "250 Mbps"},
		{report.Pps(800), "800 pps"},
		{report.Pps(12_000), "12.0 Kpps"},
		{report.Pps(1.5e6), "1.50 Mpps"},
		{report.Pps(0), "0 pps"},
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

func TestWriteText(t *testing.T) {
	w, _ := window(t, 1)
	w.Partial = true
	var b strings.Builder
	if err := report.WriteText(&b, report.Build(w, nil)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"(partial)", "10.0.1.5:443 -> 172.16.8.9:51514", "tcp", "9.77 KB", "16.0 Kbps", "skipped: not_ip=3", "TOP DESTINATION PORTS"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
}
