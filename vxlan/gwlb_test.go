package vxlan_test

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dxmon/dxmon/vxlan"
)

// awsOptions are AWS's three GWLB options as a Gateway Load Balancer sends
// them: 32 bytes, so Opt Len is 8 (words).
const awsOptions = `
01 08 01 02  01 23 45 67 89 ab cd ef   # class 0x0108 type 1 (endpoint ID) len 2 words: 0x0123456789abcdef
01 08 02 02  00 00 00 00 00 00 00 00   # type 2 (attachment ID): 0
01 08 03 01  de ad be ef               # type 3 (flow cookie): 0xdeadbeef`

func TestParseGeneve(t *testing.T) {
	tests := []struct {
		name    string
		hex     string
		hdrLen  int
		proto   uint16
		want    vxlan.Reason
		wantMet vxlan.GWLBMeta
	}{
		{name: "aws", hex: `08 00 08 00  00 00 00 00` + awsOptions, hdrLen: 40, proto: 0x0800,
			wantMet: vxlan.GWLBMeta{Has: vxlan.HasEndpointID | vxlan.HasAttachmentID | vxlan.HasFlowCookie,
				EndpointID: 0x0123456789abcdef, FlowCookie: 0xdeadbeef}},
		{name: "aws ipv6 payload, foreign option first, cookie first", hex: `
0a 00 86 dd  00 00 00 00     # Opt Len 10 words, IPv6
01 02 80 01  aa bb cc dd     # class 0x0102 type 0x80 (critical), 1 word: not AWS's
01 08 03 01  00 00 00 07     # flow cookie 7
01 08 01 02  00 00 00 00 00 00 00 2a   # endpoint 42
01 08 02 02  00 00 00 00 00 00 00 01   # attachment 1`, hdrLen: 48, proto: 0x86dd,
			wantMet: vxlan.GWLBMeta{Has: 7, EndpointID: 42, AttachmentID: 1, FlowCookie: 7}},
		{name: "endpoint option of the wrong size is foreign", hex: `
03 00 08 00  00 00 00 00
01 08 01 01  00 00 00 01     # type 1 but 1 word: ignored
01 08 03 00                  # type 3 without data: ignored`, hdrLen: 20, proto: 0x0800},
		{name: "no options", hex: `00 00 65 58  00 00 07 00`, hdrLen: 8, proto: 0x6558},
		{name: "option runs past the area", hex: `
02 00 08 00  00 00 00 00
01 08 01 02  00 00 00 01     # declares 8 bytes of data, 4 in the area`, want: vxlan.GeneveOptions},
		{name: "option header cut", hex: `
01 00 08 00  00 00 00 00
01 08`, want: vxlan.GeneveTruncated},
		{name: "options cut by the capture", hex: `08 00 08 00  00 00 00 00  01 08 01 02  01 23`, want: vxlan.GeneveTruncated},
		{name: "version 1", hex: `40 00 08 00  00 00 00 00`, want: vxlan.GeneveVersion},
		{name: "short", hex: `00 00 08 00  00 00 00`, want: vxlan.GeneveTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := hexBytes(t, tt.hex)
			m := vxlan.GWLBMeta{Has: 0xff} // stale, as in a reused Packet
			n, proto, r := vxlan.ParseGeneve(b[:len(b):len(b)], &m)
			if r != tt.want {
				t.Fatalf("reason %v, want %v", r, tt.want)
			}
			if r != vxlan.OK {
				return
			}
			if n != tt.hdrLen || proto != tt.proto {
				t.Errorf("header %d bytes, protocol %#x; want %d, %#x", n, proto, tt.hdrLen, tt.proto)
			}
			if m.Has == 0 {
				m = vxlan.GWLBMeta{} // fields are valid only with their bit
			}
			if diff := cmp.Diff(tt.wantMet, m); diff != "" {
				t.Errorf("meta (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAppendGWLBOptions(t *testing.T) {
	got := vxlan.AppendGWLBOptions([]byte{0xff}, 0x0123456789abcdef, 0, 0xdeadbeef)
	want := append([]byte{0xff}, hexBytes(t, awsOptions)...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("options (-want +got):\n%s", diff)
	}
}

// A mirror of an appliance ENI: VXLAN, Ethernet, IPv4 GWLB -> appliance
// UDP 6081, Geneve with AWS's options, then the client's IPv4 TCP packet.
const mirrorGWLBIPv4TCP = `
08 00 00 00 00 30 39 00                          # VXLAN: VNI 12345
0a 00 00 00 00 01  0a 00 00 00 00 02  08 00      # Ethernet, IPv4
45 00 05 fc 00 00 40 00 40 11 00 00              # IPv4: total 1532, UDP
c6 13 02 0a  c6 13 02 14                         # 198.19.2.10 (GWLB) -> 198.19.2.20 (appliance)
c0 01 17 c1 05 e8 00 00                          # UDP 49153 -> 6081
08 00 08 00  00 00 00 00                         # Geneve: Opt Len 8 words, IPv4, VNI 0` + awsOptions + `
45 00 05 dc 00 00 40 00 40 06 00 00              # client IPv4: total 1500, TCP
c0 00 02 01  c0 00 02 02                         # 192.0.2.1 -> 192.0.2.2
01 bb c9 3a 00 00 00 01 00 00 00 00 50 10 ff ff  # TCP 443 -> 51514`

func TestDecodeGWLB(t *testing.T) {
	c4 := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	meta := vxlan.GWLBMeta{Has: 7, EndpointID: 0x0123456789abcdef, AttachmentID: 0, FlowCookie: 0xdeadbeef}
	gwlb := func(s vxlan.Spec) vxlan.Spec {
		s.GWLB, s.GWLBEndpointID, s.GWLBFlowCookie, s.VNI, s.Snap = true, meta.EndpointID, meta.FlowCookie, 12345, 128
		return s
	}
	v4 := vxlan.Spec{Src: c4("192.0.2.1"), Dst: c4("192.0.2.2"), Proto: vxlan.ProtoTCP, SrcPort: 443, DstPort: 51514, Length: 1500}
	v6 := vxlan.Spec{Src: c4("2001:db8:2::1"), Dst: c4("2001:db8:2::2"), Proto: vxlan.ProtoUDP, SrcPort: 53, DstPort: 40000, Length: 1280}
	withVLAN, v4opts, v4optsCut, v6ext, longOpts := gwlb(v4), gwlb(v4), gwlb(v4), gwlb(v6), gwlb(v6)
	withVLAN.VLANs = []uint16{100}
	v4opts.IPv4Options = 20    // 14+20+8+40 + 40 + 4 = 126: the ports fit
	v4optsCut.IPv4Options = 24 // 130: cut
	v6ext.IPv6Ext = []vxlan.ExtHeader{{Type: 60, Len: 8}}
	longOpts.GWLBExtraOptions = 8 // 14+20+8+48 + 40 > 128: the IPv6 header is cut
	ordinary := vxlan.Spec{VNI: 1, Src: c4("198.19.2.10"), Dst: c4("198.19.2.20"), Proto: vxlan.ProtoUDP, SrcPort: 49153, DstPort: 6081, Length: 200}
	noGWLB := gwlb(v4)

	full := func(s vxlan.Spec, sport, dport uint16, length uint32) vxlan.Packet {
		p := vxlan.Packet{Encap: vxlan.EncapVXLAN, VNI: 12345, Version: 4, Proto: s.Proto, HasPorts: true,
			SrcPort: sport, DstPort: dport, Length: length, Src: s.Src.As16(), Dst: s.Dst.As16(), GWLB: meta}
		if s.Src.Is6() {
			p.Version = 6
		} else {
			p.Src, p.Dst = v4mapped(s.Src.String()), v4mapped(s.Dst.String())
		}
		p.NumVLANs = uint8(len(s.VLANs))
		copy(p.VLAN[:], s.VLANs)
		return p
	}
	cut := func(p vxlan.Packet, proto uint8) vxlan.Packet {
		p.HasPorts, p.SrcPort, p.DstPort, p.PortsCut, p.Proto = false, 0, 0, true, proto
		return p
	}
	tests := []struct {
		name   string
		b      []byte
		noGWLB bool
		want   vxlan.Reason
		check  vxlan.Packet
	}{
		{name: "hex ipv4 tcp", b: hexBytes(t, mirrorGWLBIPv4TCP), check: full(gwlb(v4), 443, 51514, 1500)},
		{name: "ipv4 tcp cut to 128", b: mustAppend(t, gwlb(v4)), check: full(gwlb(v4), 443, 51514, 1500)},
		{name: "ipv6 udp cut to 128: the ports just fit", b: mustAppend(t, gwlb(v6)), check: full(gwlb(v6), 53, 40000, 1280)},
		{name: "802.1Q", b: mustAppend(t, withVLAN), check: full(withVLAN, 443, 51514, 1500)},
		{name: "ipv4 options, ports fit", b: mustAppend(t, v4opts), check: full(v4opts, 443, 51514, 1500)},
		{name: "ipv4 options, ports cut", b: mustAppend(t, v4optsCut), check: cut(full(v4optsCut, 0, 0, 1500), vxlan.ProtoTCP)},
		// The destination options header starts at byte 122 of 128: its
		// Next Header byte (UDP) is in, its end and the ports are not.
		{name: "ipv6 extension header, ports cut", b: mustAppend(t, v6ext), check: cut(full(v6ext, 0, 0, 1280), vxlan.ProtoUDP)},
		{name: "longer options cut the ipv6 header", b: mustAppend(t, longOpts), want: vxlan.IPv6Truncated},
		{name: "ordinary geneve to 6081 stays the outer udp flow", b: mustAppend(t, ordinary), check: vxlan.Packet{
			Encap: vxlan.EncapVXLAN, VNI: 1, Version: 4, Proto: vxlan.ProtoUDP, HasPorts: true, SrcPort: 49153, DstPort: 6081,
			Length: 200, Src: v4mapped("198.19.2.10"), Dst: v4mapped("198.19.2.20")}},
		{name: "NoGWLB keeps the outer flow", b: mustAppend(t, noGWLB), noGWLB: true, check: vxlan.Packet{
			Encap: vxlan.EncapVXLAN, VNI: 12345, Version: 4, Proto: vxlan.ProtoUDP, HasPorts: true, SrcPort: 0x8000 | 0xbeef&0x7fff,
			DstPort: 6081, Length: 20 + 8 + 40 + 1500, Src: v4mapped("198.19.2.10"), Dst: v4mapped("198.19.2.20"), NoGWLB: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := vxlan.Packet{NoGWLB: tt.noGWLB, PortsCut: true, GWLB: vxlan.GWLBMeta{Has: 1}} // stale state must not leak
			tt.check.NoGWLB = tt.noGWLB
			r := p.Decode(tt.b[:len(tt.b):len(tt.b)])
			if r != tt.want {
				t.Fatalf("reason %v, want %v", r, tt.want)
			}
			if r != vxlan.OK {
				return
			}
			if p.GWLB.Has == 0 {
				p.GWLB = vxlan.GWLBMeta{}
			}
			if diff := cmp.Diff(tt.check, p); diff != "" {
				t.Errorf("packet (-want +got):\n%s", diff)
			}
		})
	}
}

// An appliance ENI's mirror cut to 128 bytes (the frame from the Ethernet
// header on), whose GWLB client packet is IPv6 with extension headers: the
// header the cut falls in is counted without ports, with the protocol
// its first byte (Next Header) names when that byte is in the capture.
const gwlbIPv6Head = `
08 00 00 00 00 30 39 00                          # VXLAN: VNI 12345
0a 00 00 00 00 01  0a 00 00 00 00 02  08 00      # Ethernet, IPv4
45 00 05 3c 00 00 40 00 40 11 00 00              # IPv4: total 1340, UDP
c6 13 02 0a  c6 13 02 14                         # 198.19.2.10 (GWLB) -> 198.19.2.20 (appliance)
c0 01 17 c1 05 28 00 00                          # UDP 49153 -> 6081
08 00 86 dd  00 00 00 00                         # Geneve: Opt Len 8 words, IPv6, VNI 0` + awsOptions + `
60 00 00 00 04 d8 3c 40                          # client IPv6: payload 1240, next: destination options (60)
20 01 0d b8 00 02 00 00 00 00 00 00 00 00 00 01  # 2001:db8:2::1
20 01 0d b8 00 02 00 00 00 00 00 00 00 00 00 02  # -> 2001:db8:2::2`

func TestGWLBIPv6ExtensionHeaderCut(t *testing.T) {
	src, dst := netip.MustParseAddr("2001:db8:2::1").As16(), netip.MustParseAddr("2001:db8:2::2").As16()
	for _, tt := range []struct {
		name  string
		rest  string // after the client's fixed header: 6 bytes inside the cut
		proto uint8
	}{
		{"destination options, next TCP", `
06 02 01 00 00 00                                # dest opts: next TCP, 24 bytes (cut after 6)`, vxlan.ProtoTCP},
		{"destination options, next ICMPv6", `
3a 00 01 04 00 00                                # dest opts: next ICMPv6, 8 bytes (cut after 6)`, vxlan.ProtoICMPv6},
		{"destination options, next routing header", `
2b 01 01 02 00 00                                # dest opts: next routing (43), cut: the upper layer is out of reach`, 60},
		{"cut at the extension header's first byte", ``, 60},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := hexBytes(t, gwlbIPv6Head+tt.rest)
			var p vxlan.Packet
			if r := p.Decode(b[:len(b):len(b)]); r != vxlan.OK {
				t.Fatalf("reason %v, want OK (counted without ports)", r)
			}
			want := vxlan.Packet{Encap: vxlan.EncapVXLAN, VNI: 12345, Version: 6, Proto: tt.proto, Length: 40 + 1240,
				Src: src, Dst: dst, PortsCut: true, GWLB: vxlan.GWLBMeta{Has: 7, EndpointID: 0x0123456789abcdef, FlowCookie: 0xdeadbeef}}
			if diff := cmp.Diff(want, p); diff != "" {
				t.Errorf("packet (-want +got):\n%s", diff)
			}
			if n := testing.AllocsPerRun(100, func() { p.Decode(b) }); n != 0 {
				t.Errorf("%v allocations per decode", n)
			}
		})
	}
}

// TestGWLBOptionsCutByCapture: when AWS's options start inside the
// capture but the capture ends inside them, the packet is GWLB's but its
// client packet is out of reach: skipped as geneve_truncated, never counted
// as the GWLB ↔ appliance flow.
func TestGWLBOptionsCutByCapture(t *testing.T) {
	b := hexBytes(t, mirrorGWLBIPv4TCP)
	geneve := 8 + 14 + 20 + 8
	for n := geneve + 12; n < geneve+40; n++ {
		var p vxlan.Packet
		if r := p.Decode(b[:n:n]); r != vxlan.GeneveTruncated {
			t.Fatalf("cut to %d bytes: reason %v, want geneve_truncated", n, r)
		}
	}
}

func TestDecodeGWLBDoesNotAllocate(t *testing.T) {
	b := hexBytes(t, mirrorGWLBIPv4TCP)
	v6 := mustAppend(t, vxlan.Spec{GWLB: true, GWLBEndpointID: 1, Src: netip.MustParseAddr("2001:db8:2::1"),
		Dst: netip.MustParseAddr("2001:db8:2::2"), Proto: vxlan.ProtoTCP, VLANs: []uint16{7}, Snap: 128})
	var p vxlan.Packet
	if n := testing.AllocsPerRun(1000, func() { p.Decode(b) }); n != 0 {
		t.Errorf("Decode of GWLB IPv4 allocates %v times per packet", n)
	}
	if n := testing.AllocsPerRun(1000, func() { p.Decode(v6) }); n != 0 {
		t.Errorf("Decode of GWLB IPv6 (slow path) allocates %v times per packet", n)
	}
}

func mustAppend(t testing.TB, s vxlan.Spec) []byte {
	t.Helper()
	b, err := vxlan.Append(nil, &s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
