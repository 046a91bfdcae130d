package vxlan_test

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"pgregory.net/rapid"

	"github.com/dxmon/dxmon/vxlan"
)

// genSpec draws mirror packets that mix every feature the decoder walks.
func genSpec(t *rapid.T) vxlan.Spec {
	v6 := rapid.Bool().Draw(t, "ipv6")
	var s vxlan.Spec
	if v6 {
		s.Src = netip.AddrFrom16([16]byte(rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "src6")))
		s.Dst = netip.AddrFrom16([16]byte(rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "dst6")))
		if s.Src.Is4In6() || s.Dst.Is4In6() { // keep the families apart for the comparison
			s.Src, s.Dst = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
		}
		for i, n := 0, rapid.IntRange(0, 3).Draw(t, "exts"); i < n; i++ {
			typ := rapid.SampledFrom([]uint8{0, 43, 60}).Draw(t, "exttype")
			if typ == 0 && i != 0 {
				typ = 60
			}
			n := 8 * rapid.IntRange(1, 4).Draw(t, "extlen")
			if typ == 43 {
				n = 8 + 16*rapid.IntRange(0, 2).Draw(t, "routes") // gopacket wants type 0 routing whole
			}
			s.IPv6Ext = append(s.IPv6Ext, vxlan.ExtHeader{Type: typ, Len: n})
		}
	} else {
		s.Src = netip.AddrFrom4([4]byte(rapid.SliceOfN(rapid.Byte(), 4, 4).Draw(t, "src4")))
		s.Dst = netip.AddrFrom4([4]byte(rapid.SliceOfN(rapid.Byte(), 4, 4).Draw(t, "dst4")))
		s.IPv4Options = 4 * rapid.IntRange(0, 10).Draw(t, "ipv4opts")
	}
	s.Geneve = rapid.Bool().Draw(t, "geneve")
	if s.Geneve {
		s.GeneveOptions = 4 * rapid.IntRange(0, 8).Draw(t, "geneveopts")
		if rapid.Bool().Draw(t, "geneveIP") {
			s.GeneveProtocol = 0x0800
			if v6 {
				s.GeneveProtocol = 0x86dd
			}
		}
	}
	if !s.Geneve && rapid.IntRange(0, 2).Draw(t, "gwlb?") == 0 {
		s.GWLB = true
		s.GWLBEndpointID = rapid.Uint64().Draw(t, "endpoint")
		s.GWLBAttachmentID = rapid.Uint64().Draw(t, "attachment")
		s.GWLBFlowCookie = rapid.Uint32().Draw(t, "cookie")
		s.GWLBExtraOptions = 4 * rapid.IntRange(0, 6).Draw(t, "gwlbopts")
	}
	s.VNI = rapid.Uint32Range(0, 1<<24-1).Draw(t, "vni")
	if s.GeneveProtocol == 0 {
		for i, n := 0, rapid.IntRange(0, 2).Draw(t, "vlans"); i < n; i++ {
			s.VLANs = append(s.VLANs, rapid.Uint16Range(0, 4095).Draw(t, "vlan"))
		}
		s.QinQ = rapid.Bool().Draw(t, "qinq")
	}
	s.Proto = rapid.SampledFrom([]uint8{vxlan.ProtoTCP, vxlan.ProtoUDP, vxlan.ProtoUDPLite, vxlan.ProtoSCTP,
		vxlan.ProtoICMP, vxlan.ProtoICMPv6, 47, 50}).Draw(t, "proto")
	s.SrcPort = rapid.Uint16().Draw(t, "sport")
	s.DstPort = rapid.Uint16().Draw(t, "dport")
	if rapid.IntRange(0, 3).Draw(t, "frag?") == 0 {
		s.Fragment = true
		s.MoreFragments = rapid.Bool().Draw(t, "mf")
		if rapid.Bool().Draw(t, "later") {
			s.FragOffset = rapid.Uint16Range(1, 0x1fff).Draw(t, "off")
		}
	}
	s.Length = rapid.IntRange(0, 9000).Draw(t, "length")
	if rapid.IntRange(0, 9).Draw(t, "zero?") == 0 {
		s.ZeroLength = true
		s.Jumbo = v6 && rapid.Bool().Draw(t, "jumbo")
	}
	s.Snap = rapid.SampledFrom([]int{0, 128, 256}).Draw(t, "snap")
	return s
}

// expect is what decoding Append(s) must give when the cut left every header.
func expect(s *vxlan.Spec, ipCaptured int) vxlan.Packet {
	p := vxlan.Packet{Encap: vxlan.EncapVXLAN, VNI: s.VNI, Proto: s.Proto}
	if s.Geneve {
		p.Encap = vxlan.EncapGeneve
	}
	p.NumVLANs = uint8(len(s.VLANs))
	copy(p.VLAN[:], s.VLANs)
	if s.Src.Is4() {
		p.Version = 4
		p.Src, p.Dst = netip.AddrFrom4(s.Src.As4()).As16(), netip.AddrFrom4(s.Dst.As4()).As16()
		p.Src, p.Dst = netip.AddrFrom16(p.Src).As16(), netip.AddrFrom16(p.Dst).As16()
	} else {
		p.Version = 6
		p.Src, p.Dst = s.Src.As16(), s.Dst.As16()
	}
	switch {
	case s.Fragment && s.FragOffset != 0:
		p.Fragment = vxlan.LaterFragment
	case s.Fragment && s.MoreFragments:
		p.Fragment = vxlan.FirstFragment
	}
	switch s.Proto {
	case vxlan.ProtoTCP, vxlan.ProtoUDP, vxlan.ProtoUDPLite, vxlan.ProtoSCTP:
		if p.Fragment != vxlan.LaterFragment {
			p.HasPorts, p.SrcPort, p.DstPort = true, s.SrcPort, s.DstPort
		}
	}
	if s.GWLB {
		p.GWLB = vxlan.GWLBMeta{Has: vxlan.HasEndpointID | vxlan.HasAttachmentID | vxlan.HasFlowCookie,
			EndpointID: s.GWLBEndpointID, AttachmentID: s.GWLBAttachmentID, FlowCookie: s.GWLBFlowCookie}
	}
	p.Length = uint32(specTotal(s))
	// An IPv6 header with payload length 0 is read as a TSO/BIG TCP capture.
	if (s.ZeroLength && !s.Jumbo) || (s.Src.Is6() && p.Length == 40) {
		p.Length, p.LengthCaptured = uint32(ipCaptured), true
	}
	return p
}

// specTotal is the IP length a spec declares (or would, without ZeroLength).
func specTotal(s *vxlan.Spec) int {
	hdr, l4 := 20+s.IPv4Options, 0
	if s.Src.Is6() {
		hdr = 40
		for _, e := range s.IPv6Ext {
			hdr += e.Len
		}
		if s.Jumbo && (len(s.IPv6Ext) == 0 || s.IPv6Ext[0].Type != 0) {
			hdr += 8
		}
		if s.Fragment {
			hdr += 8
		}
	}
	if !(s.Fragment && s.FragOffset != 0) {
		switch s.Proto {
		case vxlan.ProtoTCP:
			l4 = 20
		case vxlan.ProtoUDP, vxlan.ProtoUDPLite, vxlan.ProtoICMP, vxlan.ProtoICMPv6:
			l4 = 8
		case vxlan.ProtoSCTP:
			l4 = 12
		}
	}
	return max(s.Length, hdr+l4)
}

// tunnelLen is the bytes before the inner IP header.
func tunnelLen(s *vxlan.Spec) int {
	n := 8
	if s.Geneve {
		n += s.GeneveOptions
		if s.GeneveProtocol != 0 {
			return n
		}
	}
	n += 14 + 4*len(s.VLANs)
	if s.GWLB {
		n += 20 + 8 + 8 + 32 + s.GWLBExtraOptions
	}
	return n
}

// specHeaders is the IP and L4 header bytes up to and including the ports.
func specHeaders(s *vxlan.Spec) int {
	hdr := specTotal(&vxlan.Spec{Src: s.Src, IPv4Options: s.IPv4Options, IPv6Ext: s.IPv6Ext, Jumbo: s.Jumbo, Fragment: s.Fragment})
	return hdr + 4
}

func decodeSpec(p *vxlan.Packet, s *vxlan.Spec, b []byte) vxlan.Reason {
	if s.Geneve {
		return p.DecodeGeneve(b)
	}
	return p.Decode(b)
}

func isTruncation(r vxlan.Reason) bool {
	switch r {
	case vxlan.IPv4Truncated, vxlan.IPv6Truncated, vxlan.IPv6ExtTruncated, vxlan.L4Truncated, vxlan.GeneveTruncated:
		return true
	}
	return false
}

// TestRoundTrip: encode then decode gives back every field; where the cut
// falls inside the headers, the decoder says it is truncated.
func TestRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genSpec(t)
		b, err := vxlan.Append(nil, &s)
		if err != nil {
			t.Fatalf("Append(%+v): %v", s, err)
		}
		var p vxlan.Packet
		r := decodeSpec(&p, &s, b)
		if r != vxlan.OK {
			if s.Snap == 0 || !isTruncation(r) {
				t.Fatalf("decode %x: reason %v", b, r)
			}
			return
		}
		want := expect(&s, len(b)-tunnelLen(&s))
		if p.PortsCut {
			// A GWLB client packet cut before its ports: counted without
			// them, the protocol and fragment as far as the cut let the
			// decoder see. The cut must really fall before the ports.
			if !s.GWLB || s.Snap == 0 || len(b)-tunnelLen(&s) >= specHeaders(&s) {
				t.Fatalf("PortsCut on spec %+v, packet %x", s, b)
			}
			want.HasPorts, want.SrcPort, want.DstPort, want.PortsCut = false, 0, 0, true
			want.Proto, want.Fragment = p.Proto, p.Fragment
			if s.Jumbo && p.LengthCaptured { // the jumbo option was cut too
				want.Length, want.LengthCaptured = uint32(len(b)-tunnelLen(&s)), true
			}
		}
		if diff := cmp.Diff(want, p); diff != "" {
			t.Fatalf("spec %+v\npacket %x\nmismatch (-want +got):\n%s", s, b, diff)
		}
	})
}

// TestAgreesWithGopacket: on generated packets, every packet both decoders
// read gives the same fields.
func TestAgreesWithGopacket(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genSpec(t)
		s.Snap = 0 // gopacket rejects IPv6 extension headers cut short; compare whole packets
		s.ZeroLength, s.Jumbo = false, false
		b, err := vxlan.Append(nil, &s)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		outer := vxlan.Frame(nil, netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2"), 5555, 4789, b)
		if s.Geneve {
			outer = vxlan.Frame(nil, netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2"), 5555, 6081, b)
		}
		var p vxlan.Packet
		if r := p.DecodeFrame(outer, 4789); r != vxlan.OK {
			t.Fatalf("dxmon: %v", r)
		}
		o, ok := gopacketDecode(outer, layers.LayerTypeEthernet)
		if !ok {
			t.Fatalf("gopacket found no inner IP in %x", outer)
		}
		compareOracle(t, &p, o)
	})
}

func compareOracle(t interface{ Fatalf(string, ...any) }, p *vxlan.Packet, o oracle) {
	got := oracle{vni: p.VNI, version: p.Version, src: p.SrcAddr(), dst: p.DstAddr(), length: p.Length,
		hasPorts: p.HasPorts, sport: p.SrcPort, dport: p.DstPort, fragment: p.Fragment != vxlan.NotFragment,
		gwlb: p.GWLB.Has != 0}
	if got.fragment || o.fragment {
		// gopacket stops at fragments, even a first one: compare the IP layer only.
		got.hasPorts, got.sport, got.dport = false, 0, 0
		o.hasPorts, o.sport, o.dport = false, 0, 0
		got.fragment, o.fragment = false, false
	}
	if diff := cmp.Diff(o, got, cmp.AllowUnexported(oracle{}), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Fatalf("dxmon differs from gopacket (-gopacket +dxmon):\n%s", diff)
	}
}

// FuzzDecode: no input panics or reads out of bounds, decoding is
// deterministic, and a successful decode agrees with gopacket wherever
// gopacket reads the same packet without error.
func FuzzDecode(f *testing.F) {
	for _, s := range []vxlan.Spec{
		{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: 6, SrcPort: 1, DstPort: 2, Length: 1500, Snap: 128},
		{Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"), Proto: 17, IPv6Ext: []vxlan.ExtHeader{{0, 8}, {60, 16}}, VLANs: []uint16{5, 6}},
		{Geneve: true, GeneveOptions: 8, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: 132, Fragment: true, MoreFragments: true},
		{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: 17, Fragment: true, FragOffset: 100, IPv4Options: 8},
		// GWLB's Geneve inside the mirror's VXLAN, as an appliance ENI's mirror holds it.
		{GWLB: true, GWLBEndpointID: 0x0123456789abcdef, GWLBFlowCookie: 7, VNI: 12345, Src: netip.MustParseAddr("192.0.2.1"),
			Dst: netip.MustParseAddr("192.0.2.2"), Proto: 6, SrcPort: 443, DstPort: 51514, Length: 1500, Snap: 128},
		{GWLB: true, GWLBEndpointID: 1, VLANs: []uint16{9}, Src: netip.MustParseAddr("2001:db8:2::1"),
			Dst: netip.MustParseAddr("2001:db8:2::2"), Proto: 17, SrcPort: 53, DstPort: 9, IPv6Ext: []vxlan.ExtHeader{{60, 8}}, Snap: 128},
		{GWLB: true, GWLBEndpointID: 2, GWLBExtraOptions: 12, Src: netip.MustParseAddr("192.0.2.1"),
			Dst: netip.MustParseAddr("192.0.2.2"), Proto: 17, IPv4Options: 16, Snap: 128},
	} {
		b, err := vxlan.Append(nil, &s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, s.Geneve)
	}
	f.Fuzz(func(t *testing.T, b []byte, geneve bool) {
		var p, q vxlan.Packet
		var r, r2 vxlan.Reason
		// Decode a copy with no spare capacity, so that reading past the end panics.
		in := append([]byte(nil), b...)[:len(b):len(b)]
		if geneve {
			r, r2 = p.DecodeGeneve(in), q.DecodeGeneve(in)
		} else {
			r, r2 = p.Decode(in), q.Decode(in)
		}
		if r != r2 || (r == vxlan.OK && p != q) {
			t.Fatalf("decoding is not deterministic: %v/%v %+v %+v", r, r2, p, q)
		}
		if r.String() == "unknown" {
			t.Fatalf("reason %d has no label", r)
		}
		if r != vxlan.OK || p.LengthCaptured {
			return
		}
		first := layers.LayerTypeVXLAN
		if geneve {
			first = layers.LayerTypeGeneve
			if !geneveOptionsConsistent(in) {
				return // gopacket walks options by their own lengths, dxmon (as RFC 8926) by Opt Len
			}
		}
		pkt := gopacket.NewPacket(in, first, gopacket.DecodeOptions{NoCopy: true})
		if pkt.ErrorLayer() != nil {
			return // gopacket rejects what dxmon tolerates (for example a cut IPv6 option)
		}
		if o, ok := gopacketDecode(in, first); ok {
			if o.gwlb != (p.GWLB.Has != 0) {
				return // gopacket reads Geneve options with a 4-bit length (RFC 8926: 5 bits), so it may miss AWS's
			}
			if p.Proto != vxlan.ProtoTCP && p.Proto != vxlan.ProtoUDP && p.Proto != vxlan.ProtoUDPLite && p.Proto != vxlan.ProtoSCTP {
				o.hasPorts, o.sport, o.dport = false, 0, 0 // gopacket reads ports of protocols dxmon does not
			}
			if !p.HasPorts && pkt.Layer(layers.LayerTypeIPv6HopByHop) != nil {
				// gopacket 1.1.19 cuts the payload after a hop-by-hop
				// header to Payload Length, which counts that header too
				// (RFC 8200), so it reads as ports bytes past the packet's
				// end; dxmon stops at the end (TestPortsPastTheEndArePadding).
				o.hasPorts, o.sport, o.dport = false, 0, 0
			}
			compareOracle(t, &p, o)
		}
	})
}

// geneveOptionsConsistent reports whether the options' own lengths add up to
// the header's Opt Len.
func geneveOptionsConsistent(b []byte) bool {
	n := int(b[0]&0x3f) * 4
	opts := b[8 : 8+n]
	for len(opts) > 0 {
		if len(opts) < 4 {
			return false
		}
		l := 4 + int(opts[3]&0x1f)*4
		if l > len(opts) {
			return false
		}
		opts = opts[l:]
	}
	return true
}

// FuzzDecodeFrame: whole captured frames (outer Ethernet or raw IP) never
// make the decoder panic or read outside the slice, and decoding is
// deterministic.
func FuzzDecodeFrame(f *testing.F) {
	inner, _ := vxlan.Append(nil, &vxlan.Spec{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: 6, Snap: 128})
	f.Add(vxlan.Frame(nil, netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2"), 1, 4789, inner))
	f.Add(vxlan.Frame(nil, netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"), 1, 6081, inner))
	gwlb, _ := vxlan.Append(nil, &vxlan.Spec{GWLB: true, GWLBEndpointID: 1, Src: netip.MustParseAddr("2001:db8:2::1"),
		Dst: netip.MustParseAddr("2001:db8:2::2"), Proto: 6, Snap: 128})
	f.Add(vxlan.Frame(nil, netip.MustParseAddr("198.18.2.2"), netip.MustParseAddr("198.18.2.1"), 1, 4789, gwlb))
	f.Fuzz(func(t *testing.T, b []byte) {
		in := append([]byte(nil), b...)[:len(b):len(b)]
		var p, q vxlan.Packet
		if r1, r2 := p.DecodeFrame(in, 4789), q.DecodeFrame(in, 4789); r1 != r2 || (r1 == vxlan.OK && p != q) {
			t.Fatalf("DecodeFrame not deterministic: %v %v", r1, r2)
		}
		if len(in) > 14 {
			_ = p.DecodeOuterIP(in[14:], 4789)
		}
	})
}
