package probe

import (
	"context"
	"net/netip"
	"testing"

	"pgregory.net/rapid"

	"github.com/dxmon/dxmon/flow"
	"github.com/dxmon/dxmon/report"
	"github.com/dxmon/dxmon/vxlan"
)

// refDirection is the direction rule written from its definition with
// netip, independently of scope's word masks: to_aws when the source is
// on-premises and the destination is not (and, with VPC prefixes, is in the
// VPC), from_aws the other way round; kept when either holds, or, without
// VPC prefixes, when both ends are on-premises (direction unknown).
func refDirection(onPrem, vpc []netip.Prefix, src, dst netip.Addr) (keep bool, dir string) {
	in := func(ps []netip.Prefix, a netip.Addr) bool {
		for _, p := range ps {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	to, from := in(onPrem, src), in(onPrem, dst)
	if len(vpc) > 0 {
		to, from = to && in(vpc, dst), from && in(vpc, src)
	}
	switch {
	case to && !from:
		return true, report.ToAWS
	case from && !to:
		return true, report.FromAWS
	}
	return to, ""
}

// TestDirectionsProperty: for any traffic among on-premises, VPC and other
// addresses (IPv4 and IPv6), with and without VPC prefixes, every counted
// packet is in the direction its addresses give: the report's per-direction
// totals equal the reference's, and with the unknown ones sum to the
// window's total; each top flow's dir is its key's; each direction's
// rankings hold only its flows and add up to its total (no flow is lost
// when the tables hold them all).
func TestDirectionsProperty(t *testing.T) {
	onPrem := prefixes("198.18.0.0/24", "2001:db8:100::/48")
	vpcs := prefixes("10.0.0.0/16", "2001:db8:200::/48")
	pool := []netip.Addr{
		netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.200"), // on-premises
		netip.MustParseAddr("10.0.1.5"), netip.MustParseAddr("10.0.9.9"), // VPC
		netip.MustParseAddr("192.0.2.7"), // elsewhere
		netip.MustParseAddr("2001:db8:100::1"), netip.MustParseAddr("2001:db8:200::2"), netip.MustParseAddr("2001:db8:300::3"),
	}
	rapid.Check(t, func(t *rapid.T) {
		var vpc []netip.Prefix
		if rapid.Bool().Draw(t, "with_vpc") {
			vpc = vpcs
		}
		type pk struct {
			src, dst netip.Addr
			sport    uint16
			length   int
		}
		var pkts [][]byte
		var sent []pk
		for range rapid.IntRange(1, 300).Draw(t, "packets") {
			src := rapid.SampledFrom(pool).Draw(t, "src")
			fam := pool[:5]
			if src.Is6() {
				fam = pool[5:]
			}
			p := pk{src, rapid.SampledFrom(fam).Draw(t, "dst"), uint16(rapid.IntRange(1, 4).Draw(t, "sport")), rapid.IntRange(64, 1500).Draw(t, "len")}
			s := vxlan.Spec{VNI: 1, Src: p.src, Dst: p.dst, Proto: vxlan.ProtoUDP, SrcPort: p.sport, DstPort: 53, Length: p.length, Snap: 128}
			b, err := vxlan.Append(nil, &s)
			if err != nil {
				t.Fatal(err)
			}
			pkts, sent = append(pkts, b), append(sent, p)
		}
		var got *report.Report
		pl, err := New(Config{Top: 1000, MaxFlows: 1024, OnPrem: onPrem, VPC: vpc, LinkBPS: 1e6, Emit: func(r *report.Report) { got = r }}, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := pl.Run(context.Background(), []Source{&batchSource{pkts: pkts}}); err != nil {
			t.Fatal(err)
		}
		want := map[string]flow.Counter{}
		var kept flow.Counter
		for _, p := range sent {
			keep, dir := refDirection(onPrem, vpc, p.src, p.dst)
			if !keep {
				continue
			}
			kept.Packets++
			kept.Bytes += uint64(p.length)
			c := want[dir]
			want[dir] = flow.Counter{Packets: c.Packets + 1, Bytes: c.Bytes + uint64(p.length)}
		}
		if got.Packets != kept.Packets || got.Bytes != kept.Bytes {
			t.Fatalf("total %d packets %d bytes, want %+v", got.Packets, got.Bytes, kept)
		}
		d := got.Directions
		if d == nil || d.ToAWS == nil || d.FromAWS == nil {
			t.Fatalf("directions %+v: both must be present", d)
		}
		for name, dir := range map[string]*report.Direction{report.ToAWS: d.ToAWS, report.FromAWS: d.FromAWS} {
			if w := want[name]; dir.Packets != w.Packets || dir.Bytes != w.Bytes {
				t.Fatalf("%s: %d packets %d bytes, want %+v", name, dir.Packets, dir.Bytes, w)
			}
			if u := dir.BPS / 1e6; dir.Utilization != u {
				t.Fatalf("%s: utilization %v, want bps/link %v", name, dir.Utilization, u)
			}
			var sum flow.Counter
			for _, f := range dir.TopFlows {
				if _, ref := refDirection(onPrem, vpc, f.Src, f.Dst); f.Dir != name || ref != name {
					t.Fatalf("%s lists flow %v→%v of dir %q (its key says %q)", name, f.Src, f.Dst, f.Dir, ref)
				}
				sum.Packets += f.Packets
				sum.Bytes += f.Bytes
			}
			if sum.Packets != dir.Packets || sum.Bytes != dir.Bytes {
				t.Fatalf("%s: flows sum to %+v, total %d/%d", name, sum, dir.Packets, dir.Bytes)
			}
			for _, h := range dir.TopSrc {
				var fs flow.Counter
				for _, f := range dir.TopFlows {
					if f.Src == h.IP {
						fs.Packets += f.Packets
						fs.Bytes += f.Bytes
					}
				}
				if fs.Packets != h.Packets || fs.Bytes != h.Bytes {
					t.Fatalf("%s source %v: %d/%d, its flows %+v", name, h.IP, h.Packets, h.Bytes, fs)
				}
			}
		}
		if unknown := kept.Packets - d.ToAWS.Packets - d.FromAWS.Packets; unknown != want[""].Packets {
			t.Fatalf("unknown %d packets, want %d", unknown, want[""].Packets)
		}
		for _, f := range got.TopFlows {
			if _, ref := refDirection(onPrem, vpc, f.Src, f.Dst); f.Dir != ref {
				t.Fatalf("top flow %v→%v dir %q, its key says %q", f.Src, f.Dst, f.Dir, ref)
			}
		}
	})
}

// TestWorkerDirectionsDoNotAllocate: counting by direction adds no
// allocation to the packet path.
func TestWorkerDirectionsDoNotAllocate(t *testing.T) {
	var pkts [][]byte
	for i := range 64 {
		s := vxlan.Spec{VNI: 1, Src: netip.AddrFrom4([4]byte{198, 18, 0, byte(i)}), Dst: netip.MustParseAddr("10.0.1.5"),
			Proto: vxlan.ProtoTCP, SrcPort: uint16(i), DstPort: 443, Length: 1500, Snap: 128}
		if i%2 == 1 {
			s.Src, s.Dst = s.Dst, s.Src
		}
		b, err := vxlan.Append(nil, &s)
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, b)
	}
	pl, err := New(Config{OnPrem: prefixes("198.18.0.0/24"), VPC: prefixes("10.0.0.0/16")}, 1)
	if err != nil {
		t.Fatal(err)
	}
	w := pl.Workers()[0]
	src := &sliceSrc{pkts}
	w.HandleBatch(src, len(pkts))
	if n := testing.AllocsPerRun(500, func() { w.HandleBatch(src, len(pkts)) }); n != 0 {
		t.Fatalf("HandleBatch with directions allocates %v times per batch", n)
	}
	s := w.Stats()
	if to, from := s.Decoded[flow.DirToAWS].Packets, s.Decoded[flow.DirFromAWS].Packets; to != from || to+from != s.DecodedPackets {
		t.Fatalf("decoded by direction %+v, total %d", s.Decoded, s.DecodedPackets)
	}
}
