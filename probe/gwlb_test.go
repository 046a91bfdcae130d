package probe

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dxmon/dxmon/report"
	"github.com/dxmon/dxmon/vxlan"
)

func prefixes(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

func mapped(s string) [16]byte {
	a := netip.MustParseAddr(s)
	if a.Is4() {
		return netip.AddrFrom16(a.As16()).As16()
	}
	return a.As16()
}

func TestScopeKeep(t *testing.T) {
	onPrem := prefixes("192.0.2.0/25", "2001:db8:2::/64")
	vpc := prefixes("192.0.2.128/25", "2001:db8:2:1::/64")
	tests := []struct {
		src, dst       string
		noVPC, withVPC bool
	}{
		{"192.0.2.1", "192.0.2.200", true, true},            // on-prem -> VPC
		{"192.0.2.200", "192.0.2.1", true, true},            // VPC -> on-prem
		{"192.0.2.1", "198.51.100.1", true, false},          // on-prem -> elsewhere
		{"198.51.100.1", "203.0.113.1", false, false},       // neither end on-prem
		{"192.0.2.1", "192.0.2.2", true, false},             // on-prem <-> on-prem
		{"2001:db8:2::1", "2001:db8:2:1::5", true, true},    // IPv6 on-prem -> VPC
		{"2001:db8:2:1::5", "2001:db8:3::1", false, false},  // IPv6 VPC -> elsewhere
		{"::ffff:192.0.2.1", "2001:db8:2:1::5", true, true}, // (both forms of one address)
		{"192.0.2.127", "192.0.2.128", true, true},          // the prefixes' edges
		{"192.0.1.255", "192.0.2.128", false, false},        // just outside
	}
	plain, err := newScope(onPrem, nil)
	if err != nil {
		t.Fatal(err)
	}
	both, err := newScope(onPrem, vpc)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		src, dst := mapped(tt.src), mapped(tt.dst)
		if got := plain.keep(&src, &dst); got != tt.noVPC {
			t.Errorf("%s -> %s with on-prem CIDRs only: keep %v, want %v", tt.src, tt.dst, got, tt.noVPC)
		}
		if got := both.keep(&src, &dst); got != tt.withVPC {
			t.Errorf("%s -> %s with VPC CIDRs: keep %v, want %v", tt.src, tt.dst, got, tt.withVPC)
		}
	}
	if s, err := newScope(nil, nil); s != nil || err != nil {
		t.Errorf("empty lists: scope %v, err %v; want none (count everything)", s, err)
	}
	if _, err := newScope(nil, vpc); err == nil {
		t.Errorf("VPC CIDRs without on-prem CIDRs accepted")
	}
	if _, err := New(Config{OnPrem: make([]netip.Prefix, 65)}, 1); err == nil {
		t.Errorf("65 on-prem CIDRs accepted")
	}
}

func TestEndpointsTagAndName(t *testing.T) {
	var e endpoints
	a, b := e.tag(0x0123456789abcdef), e.tag(42)
	if a == 0 || b == 0 || a == b || e.tag(0x0123456789abcdef) != a || e.tag(0) != 0 {
		t.Fatalf("tags %d %d", a, b)
	}
	if got := e.name(a); got != "vpce-00123456789abcdef" {
		t.Errorf("name %q", got)
	}
	if got := e.name(b); got != "vpce-0000000000000002a" {
		t.Errorf("name %q", got)
	}
	if e.name(0) != "" || e.name(maxEndpoints+1) != "" {
		t.Errorf("names for no tag")
	}
	var full endpoints
	for i := range maxEndpoints {
		if full.tag(uint64(i+1)) == 0 {
			t.Fatalf("endpoint %d of %d got no tag", i+1, maxEndpoints)
		}
	}
	if full.tag(1<<40) != 0 {
		t.Errorf("an endpoint past the capacity got a tag")
	}
	// Concurrent numbering gives one tag per ID.
	var shared endpoints
	var wg sync.WaitGroup
	tags := make([][]uint16, 4)
	for w := range tags {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range uint64(200) {
				tags[w] = append(tags[w], shared.tag(id+1))
			}
		}()
	}
	wg.Wait()
	for w := 1; w < len(tags); w++ {
		if d := cmp.Diff(tags[0], tags[w]); d != "" {
			t.Fatalf("workers disagree on tags:\n%s", d)
		}
	}
}

// batchSource serves its packets as one batch, then reports closing.
type batchSource struct {
	pkts [][]byte
	done bool
}

func (s *batchSource) Read() (int, error) {
	if s.done {
		return 0, net.ErrClosed
	}
	s.done = true
	return len(s.pkts), nil
}
func (s *batchSource) Packet(i int) []byte             { return s.pkts[i] }
func (s *batchSource) SetReadDeadline(time.Time) error { return nil }

// gwlbTraffic is a mirror of an appliance ENI plus plain mirror traffic,
// with the report's expected flows.
func gwlbTraffic(t *testing.T) (pkts [][]byte, want []report.Flow, wantSkipped map[string]uint64, wantCut uint64) {
	add := func(s vxlan.Spec, n int) {
		b, err := vxlan.Append(nil, &s)
		if err != nil {
			t.Fatal(err)
		}
		for range n {
			pkts = append(pkts, b)
		}
	}
	const epA, epB = 0x0123456789abcdef, 0x0fedcba987654321
	gw := func(ep uint64, src, dst string, proto uint8, sport, dport uint16, length int) vxlan.Spec {
		return vxlan.Spec{VNI: 12345, GWLB: true, GWLBEndpointID: ep, GWLBFlowCookie: uint32(sport), Src: netip.MustParseAddr(src),
			Dst: netip.MustParseAddr(dst), Proto: proto, SrcPort: sport, DstPort: dport, Length: length, Snap: 128}
	}
	add(gw(epA, "192.0.2.1", "192.0.2.200", vxlan.ProtoTCP, 40000, 443, 1500), 30)
	add(gw(epB, "2001:db8:2::1", "2001:db8:2:1::5", vxlan.ProtoUDP, 5000, 53, 1200), 20)
	cut := gw(epA, "2001:db8:2::2", "2001:db8:2:1::6", vxlan.ProtoTCP, 1, 2, 1000)
	cut.IPv6Ext = []vxlan.ExtHeader{{Type: 60, Len: 8}}
	add(cut, 10)
	add(gw(epB, "198.51.100.1", "203.0.113.1", vxlan.ProtoTCP, 1, 2, 900), 7)                                  // neither end on-prem
	add(vxlan.Spec{VNI: 12345, Src: netip.MustParseAddr("192.0.2.3"), Dst: netip.MustParseAddr("192.0.2.130"), // plain mirror traffic
		Proto: vxlan.ProtoUDP, SrcPort: 7, DstPort: 6081, Length: 300, Snap: 128}, 5) // ordinary Geneve: its own UDP flow
	add(vxlan.Spec{VNI: 12345, Src: netip.MustParseAddr("192.0.2.4"), Dst: netip.MustParseAddr("198.51.100.9"),
		Proto: vxlan.ProtoTCP, SrcPort: 8, DstPort: 9, Length: 100, Snap: 128}, 3) // on-prem, not to the VPC
	want = []report.Flow{
		{Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("192.0.2.200"), Proto: 6, Sport: 40000, Dport: 443,
			Packets: 30, Bytes: 30 * 1500, GWLBE: "vpce-00123456789abcdef", Dir: report.ToAWS},
		{Src: netip.MustParseAddr("2001:db8:2::1"), Dst: netip.MustParseAddr("2001:db8:2:1::5"), Proto: 17, Sport: 5000, Dport: 53,
			Packets: 20, Bytes: 20 * 1200, GWLBE: "vpce-00fedcba987654321", Dir: report.ToAWS},
		{Src: netip.MustParseAddr("2001:db8:2::2"), Dst: netip.MustParseAddr("2001:db8:2:1::6"), Proto: 60, // ports cut: the extension header's type
			Packets: 10, Bytes: 10 * 1000, GWLBE: "vpce-00123456789abcdef", Dir: report.ToAWS},
		{Src: netip.MustParseAddr("192.0.2.3"), Dst: netip.MustParseAddr("192.0.2.130"), Proto: 17, Sport: 7, Dport: 6081,
			Packets: 5, Bytes: 5 * 300, Dir: report.ToAWS},
	}
	return pkts, want, map[string]uint64{"not_onprem": 10}, 10
}

// TestPipelineGWLBAndScope: a mirror of an appliance behind a GWLB, through
// the whole pipeline: the clients' flows are counted with their GWLB
// endpoint, a flow whose ports were cut counts with ports 0 and in
// ports_cut, traffic outside on-premises ↔ VPC is skipped as not_onprem,
// and the metrics say so.
func TestPipelineGWLBAndScope(t *testing.T) {
	pkts, want, wantSkipped, wantCut := gwlbTraffic(t)
	var mu sync.Mutex
	var reports []*report.Report
	pl, err := New(Config{Top: 10, OnPrem: prefixes("192.0.2.0/25", "2001:db8:2::/64"), VPC: prefixes("192.0.2.128/25", "2001:db8:2:1::/64"),
		Emit: func(r *report.Report) { mu.Lock(); reports = append(reports, r); mu.Unlock() }}, 1)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	NewMetrics(reg, pl, nil)
	if err := pl.Run(context.Background(), []Source{&batchSource{pkts: pkts}}); err != nil {
		t.Fatal(err)
	}
	if len(reports) != 1 {
		t.Fatalf("%d reports, want 1", len(reports))
	}
	r := reports[0]
	if d := cmp.Diff(want, r.TopFlows, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
		t.Errorf("top flows (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantSkipped, r.Skipped); d != "" || r.PortsCut != wantCut {
		t.Errorf("skipped (-want +got):\n%s\nports_cut %d, want %d", d, r.PortsCut, wantCut)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("metrics lint: %v %v", err, problems)
	}
	s := pl.Workers()[0].Stats()
	if s.GWLBPackets != 30+20+10 || s.PortsCut != wantCut || s.Skipped[vxlan.NotOnPrem] != 10 {
		t.Errorf("stats: %d GWLB packets, %d ports cut, %d not_onprem", s.GWLBPackets, s.PortsCut, s.Skipped[vxlan.NotOnPrem])
	}
	n, err := testutil.GatherAndCount(reg, "dxmon_probe_gwlb_packets_total", "dxmon_probe_ports_cut_packets_total", "dxmon_probe_scope_cidrs")
	if err != nil || n != 1+1+2 {
		t.Errorf("GatherAndCount: %d series, %v", n, err)
	}
}

// TestEmptyOnPremCountsEverything: without -onprem-cidrs nothing is skipped
// for scope.
func TestEmptyOnPremCountsEverything(t *testing.T) {
	pkts, _, _, _ := gwlbTraffic(t)
	var got *report.Report
	pl, err := New(Config{Top: 10, Emit: func(r *report.Report) { got = r }}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := pl.Run(context.Background(), []Source{&batchSource{pkts: pkts}}); err != nil {
		t.Fatal(err)
	}
	if got.Packets != uint64(len(pkts)) || len(got.Skipped) != 0 {
		t.Errorf("counted %d of %d packets, skipped %v", got.Packets, len(pkts), got.Skipped)
	}
}

func TestWorkerGWLBAndScopeDoNotAllocate(t *testing.T) {
	pkts, _, _, _ := gwlbTraffic(t)
	pl, err := New(Config{OnPrem: prefixes("192.0.2.0/25", "2001:db8:2::/64"), VPC: prefixes("192.0.2.128/25", "2001:db8:2:1::/64")}, 1)
	if err != nil {
		t.Fatal(err)
	}
	w := pl.Workers()[0]
	src := &sliceSrc{pkts}
	w.HandleBatch(src, len(pkts))
	if n := testing.AllocsPerRun(200, func() { w.HandleBatch(src, len(pkts)) }); n != 0 {
		t.Errorf("HandleBatch of GWLB traffic with the scope filter allocates %v times per batch", n)
	}
}

type sliceSrc struct{ pkts [][]byte }

func (s *sliceSrc) Read() (int, error)              { return len(s.pkts), nil }
func (s *sliceSrc) Packet(i int) []byte             { return s.pkts[i] }
func (s *sliceSrc) SetReadDeadline(time.Time) error { return nil }

// BenchmarkWorkerBatch is a worker's packet path (decode, filter, hash,
// count) over batches of 64 mirror packets of 64 flows: plain VXLAN/IPv4,
// the same with the on-premises ↔ VPC filter (2 + 2 CIDRs), and GWLB's
// Geneve inside VXLAN with the filter.
func BenchmarkWorkerBatch(b *testing.B) {
	onPrem, vpc := prefixes("198.18.0.0/16", "2001:db8:2::/64"), prefixes("10.0.0.0/8", "2001:db8:2:1::/64")
	mk := func(gwlb bool) [][]byte {
		var pkts [][]byte
		for i := range 64 {
			s := vxlan.Spec{VNI: 12345, GWLB: gwlb, GWLBEndpointID: 1 + uint64(i%2), Src: netip.AddrFrom4([4]byte{198, 18, 1, byte(i)}),
				Dst: netip.MustParseAddr("10.0.1.5"), Proto: vxlan.ProtoTCP, SrcPort: uint16(40000 + i), DstPort: 443, Length: 1500, Snap: 128}
			p, err := vxlan.Append(nil, &s)
			if err != nil {
				b.Fatal(err)
			}
			pkts = append(pkts, p)
		}
		return pkts
	}
	for _, c := range []struct {
		name   string
		gwlb   bool
		filter bool
	}{{"vxlan-ipv4", false, false}, {"vxlan-ipv4-onprem-filter", false, true}, {"gwlb-ipv4-onprem-filter", true, true}} {
		b.Run(c.name, func(b *testing.B) {
			cfg := Config{}
			if c.filter {
				cfg.OnPrem, cfg.VPC = onPrem, vpc
			}
			pl, err := New(cfg, 1)
			if err != nil {
				b.Fatal(err)
			}
			w := pl.Workers()[0]
			src := &sliceSrc{mk(c.gwlb)}
			b.ReportAllocs()
			for b.Loop() {
				w.HandleBatch(src, len(src.pkts))
			}
			if w.Stats().Skipped != [vxlan.NumReasons]uint64{} {
				b.Fatalf("skipped: %v", w.Stats().Skipped)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(src.pkts)), "ns/packet")
		})
	}
}

// BenchmarkScopeKeep is the filter alone: on-prem and VPC lists of two
// CIDRs each, an IPv4 packet from on premises to the VPC.
func BenchmarkScopeKeep(b *testing.B) {
	s, err := newScope(prefixes("198.18.0.0/16", "2001:db8:2::/64"), prefixes("10.0.0.0/8", "2001:db8:2:1::/64"))
	if err != nil {
		b.Fatal(err)
	}
	src, dst := mapped("198.18.1.1"), mapped("10.0.1.5")
	b.ReportAllocs()
	for b.Loop() {
		if !s.keep(&src, &dst) {
			b.Fatal("not kept")
		}
	}
}
