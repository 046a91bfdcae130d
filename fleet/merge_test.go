package fleet

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/dxmon/dxmon/enrich"
	"github.com/dxmon/dxmon/report"
)

type enrichInfo = enrich.Info

var t0 = time.Date(2026, 12, 4, 3, 30, 0, 0, time.UTC)

// probeWindow is one probe's true traffic per source in a window: the
// truth the summaries are cut from.
type probeWindow map[netip.Addr][2]uint64 // packets, bytes

// summaryOf ranks w's sources as report.Build does (bytes, then packets)
// and keeps the top k, with exact totals.
func summaryOf(probe string, w probeWindow, k int, dir string) *Summary {
	var hosts []report.Host
	var part Part
	for ip, c := range w {
		hosts = append(hosts, report.Host{IP: ip, Packets: c[0], Bytes: c[1]})
		part.Packets += c[0]
		part.Bytes += c[1]
	}
	slices.SortFunc(hosts, func(a, b report.Host) int {
		if c := cmp.Compare(b.Bytes, a.Bytes); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Packets, a.Packets); c != 0 {
			return c
		}
		return a.IP.Compare(b.IP)
	})
	part.Src = hosts[:min(k, len(hosts))]
	s := &Summary{Probe: probe, WindowStart: t0, WindowEnd: t0.Add(5 * time.Second), SampleRate: 1, K: k,
		Skipped: map[string]uint64{"not_ip": 1}, SampledOut: 2, PortsCut: 3, All: part}
	if dir != "" {
		d := part
		s.ToAWS = &d
		s.FromAWS = &Part{}
	}
	return s
}

func genWindows(t *rapid.T) ([]probeWindow, int) {
	probes := rapid.IntRange(1, 4).Draw(t, "probes")
	k := rapid.IntRange(1, 6).Draw(t, "k")
	keys := rapid.IntRange(1, 20).Draw(t, "keys")
	ws := make([]probeWindow, probes)
	for i := range ws {
		ws[i] = probeWindow{}
		for j := range keys {
			if rapid.Bool().Draw(t, "has") {
				b := rapid.Uint64Range(1, 1e6).Draw(t, "bytes")
				ws[i][netip.AddrFrom4([4]byte{198, 18, 0, byte(j)})] = [2]uint64{b/100 + 1, b}
			}
		}
	}
	return ws, k
}

// TestMergeProperties: the fleet's totals are the exact sums; a source
// whose true total exceeds the sum of the probes' K-th values is never
// missed; every merged value is within the documented bound of the truth;
// the order of the summaries does not matter.
func TestMergeProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ws, k := genWindows(t)
		dirs := rapid.Bool().Draw(t, "dirs")
		var ss []*Summary
		truth := map[netip.Addr]uint64{}
		var packets, bytes uint64
		for i, w := range ws {
			dir := ""
			if dirs {
				dir = report.ToAWS
			}
			s := summaryOf("p"+strconv.Itoa(i), w, k, dir)
			ss = append(ss, s)
			packets += s.All.Packets
			bytes += s.All.Bytes
			for ip, c := range w {
				truth[ip] += c[1]
			}
		}
		r := Merge(ss, 1<<20, nil)
		if r.Packets != packets || r.Bytes != bytes || r.Probes != len(ss) || r.Scope != report.ScopeFleet {
			t.Fatalf("totals %d/%d probes %d scope %q, want %d/%d %d fleet", r.Packets, r.Bytes, r.Probes, r.Scope, packets, bytes, len(ss))
		}
		if r.Skipped["not_ip"] != uint64(len(ss)) || r.SampledOut != 2*uint64(len(ss)) || r.PortsCut != 3*uint64(len(ss)) {
			t.Fatalf("skipped %v sampled_out %d ports_cut %d: not the sums", r.Skipped, r.SampledOut, r.PortsCut)
		}
		if dirs != (r.Directions != nil) {
			t.Fatalf("directions %v with summaries' directions %v", r.Directions, dirs)
		}
		if dirs && (r.Directions.ToAWS.Bytes != bytes || r.Directions.FromAWS.Bytes != 0) {
			t.Fatalf("per-direction bytes %d/%d, want %d/0", r.Directions.ToAWS.Bytes, r.Directions.FromAWS.Bytes, bytes)
		}
		var sumKth uint64
		for _, s := range ss {
			sumKth += s.All.Kth(s.K)[1]
		}
		got := map[netip.Addr]uint64{}
		for _, h := range r.TopSrc {
			got[h.IP] = h.Bytes
		}
		for ip, tv := range truth {
			g, ok := got[ip]
			if tv > sumKth && !ok {
				t.Fatalf("source %v with %d bytes (> summed K-th values %d) missing from the merge", ip, tv, sumKth)
			}
			if ok {
				var missing uint64 // what the probes that cut it could have hidden
				for i, s := range ss {
					if _, held := ws[i][ip]; held && !slices.ContainsFunc(s.All.Src, func(h report.Host) bool { return h.IP == ip }) {
						missing += s.All.Kth(s.K)[1]
					}
				}
				if g > tv || tv-g > missing {
					t.Fatalf("source %v merged %d, true %d, bound %d", ip, g, tv, missing)
				}
			}
		}
		shuffled := slices.Clone(ss)
		slices.Reverse(shuffled)
		if d := gocmp.Diff(r, Merge(shuffled, 1<<20, nil), cmpopts.EquateComparable(netip.Addr{})); d != "" {
			t.Fatalf("merge depends on the summaries' order:\n%s", d)
		}
	})
}

// TestMergeTop: the merged ranking is cut to top, ranks by summed bytes,
// and names addresses through the lookup.
func TestMergeTop(t *testing.T) {
	a, b, c := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("198.18.0.3")
	s1 := summaryOf("p1", probeWindow{a: {1, 400}, b: {1, 500}}, 10, "")
	s2 := summaryOf("p2", probeWindow{a: {1, 400}, c: {1, 700}}, 10, "")
	r := Merge([]*Summary{s1, s2}, 2, func(ip netip.Addr) (info enrichInfo, ok bool) {
		return enrichInfo{Name: "n-" + ip.String()}, ip == a
	})
	want := []report.Host{{IP: a, Packets: 2, Bytes: 800, Info: &enrichInfo{Name: "n-198.18.0.1"}}, {IP: c, Packets: 1, Bytes: 700}}
	if d := gocmp.Diff(want, r.TopSrc, cmpopts.EquateComparable(netip.Addr{})); d != "" {
		t.Errorf("top_src (-want +got):\n%s", d)
	}
	if r.BPS != 2000*8/5.0 || r.PPS != 4/5.0 {
		t.Errorf("bps %v pps %v", r.BPS, r.PPS)
	}
}

// TestFleetText: the text form of a fleet report says it is the fleet's
// and how many probes' windows it merged.
func TestFleetText(t *testing.T) {
	a := netip.MustParseAddr("198.18.0.1")
	r := Merge([]*Summary{summaryOf("p1", probeWindow{a: {1, 400}}, 10, ""), summaryOf("p2", probeWindow{a: {1, 400}}, 10, "")}, 10, nil)
	var b strings.Builder
	if err := report.WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "fleet: the windows of 2 probes merged") {
		t.Errorf("fleet report's text:\n%s", b.String())
	}
}
