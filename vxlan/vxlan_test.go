package vxlan_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dxmon/dxmon/vxlan"
)

func hexBytes(t testing.TB, s string) []byte {
	t.Helper()
	var clean strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		clean.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(clean.String())
	if err != nil {
		t.Fatalf("bad hex in test table: %v", err)
	}
	return b
}

func mapped(a string) [16]byte { return netip.MustParseAddr(a).As16() }

func v4mapped(a string) [16]byte {
	return netip.AddrFrom16(netip.AddrFrom4(netip.MustParseAddr(a).As4()).As16()).As16()
}

// A VPC Traffic Mirroring packet as it reaches a probe: VXLAN VNI 12345,
// Ethernet, IPv4 10.0.1.5 -> 172.16.8.9 TCP 443 -> 51514, total length 1500.
const mirrorIPv4TCP = `
08 00 00 00 00 30 39 00                          # VXLAN: I flag, VNI 0x003039 = 12345
0a 00 00 00 00 01  0a 00 00 00 00 02  08 00      # Ethernet: dst, src, IPv4
45 00 05 dc 12 34 40 00 40 06 00 00              # IPv4: IHL 5, total 1500, DF, TTL 64, TCP
0a 00 01 05  ac 10 08 09                         # 10.0.1.5 -> 172.16.8.9
01 bb c9 3a 00 00 00 01 00 00 00 00 50 10 ff ff  # TCP 443 -> 51514, ACK
00 00 00 00`

func TestDecodeTable(t *testing.T) {
	tests := []struct {
		name   string
		hex    string
		geneve bool
		want   vxlan.Reason
		check  *vxlan.Packet // compared when want is OK
	}{
		{name: "ipv4 tcp", hex: mirrorIPv4TCP, want: vxlan.OK, check: &vxlan.Packet{
			Encap: vxlan.EncapVXLAN, VNI: 12345, Version: 4, Proto: 6, HasPorts: true, SrcPort: 443, DstPort: 51514,
			Length: 1500, Src: v4mapped("10.0.1.5"), Dst: v4mapped("172.16.8.9")}},
		{name: "vxlan without I flag", hex: `00 00 00 00 00 30 39 00` + mirrorIPv4TCP[len("\n08 00 00 00 00 30 39 00"):], want: vxlan.VXLANFlags},
		{name: "vxlan cut", hex: `08 00 00 00 00 30 39`, want: vxlan.VXLANTruncated},
		{name: "ethernet cut", hex: `08 00 00 00 00 30 39 00  0a 00 00 00 00 01 0a 00`, want: vxlan.EthernetTruncated},
		{name: "arp", hex: `08 00 00 00 00 00 01 00  ff ff ff ff ff ff 0a 00 00 00 00 02 08 06  00 01 08 00 06 04 00 01`, want: vxlan.NotIP},
		{name: "qinq ipv4 udp", hex: `
08 00 00 00 00 00 07 00
0a 00 00 00 00 01 0a 00 00 00 00 02  88 a8  00 64  81 00  00 c8  08 00  # S-tag 100, C-tag 200
45 00 00 1c 00 00 00 00 40 11 00 00 c0 00 02 01 c0 00 02 02
00 35 d4 31 00 08 00 00                                                # UDP 53 -> 54321`,
			want: vxlan.OK, check: &vxlan.Packet{Encap: vxlan.EncapVXLAN, VNI: 7, NumVLANs: 2, VLAN: [2]uint16{100, 200},
				Version: 4, Proto: 17, HasPorts: true, SrcPort: 53, DstPort: 54321, Length: 28,
				Src: v4mapped("192.0.2.1"), Dst: v4mapped("192.0.2.2")}},
		{name: "three vlan tags", hex: `
08 00 00 00 00 00 07 00
0a 00 00 00 00 01 0a 00 00 00 00 02  81 00 00 01  81 00 00 02  81 00 00 03  08 00
45 00 00 1c 00 00 00 00 40 11 00 00 c0 00 02 01 c0 00 02 02`, want: vxlan.VLANTooDeep},
		{name: "ipv4 ihl 4", hex: `
08 00 00 00 00 00 07 00  0a 00 00 00 00 01 0a 00 00 00 00 02 08 00
44 00 00 1c 00 00 00 00 40 11 00 00 c0 00 02 01 c0 00 02 02`, want: vxlan.IPv4BadHeader},
		{name: "ipv4 options cut", hex: `
08 00 00 00 00 00 07 00  0a 00 00 00 00 01 0a 00 00 00 00 02 08 00
4f 00 00 3c 00 00 00 00 40 11 00 00 c0 00 02 01 c0 00 02 02  01 01 01 01`, want: vxlan.IPv4Truncated},
		{name: "ipv4 later fragment has no ports", hex: `
08 00 00 00 00 00 07 00  0a 00 00 00 00 01 0a 00 00 00 00 02 08 00
45 00 05 dc 00 00 00 b9 40 11 00 00 c0 00 02 01 c0 00 02 02  # offset 185*8
ab ab ab ab ab ab ab ab                                     # payload, not ports`,
			want: vxlan.OK, check: &vxlan.Packet{Encap: vxlan.EncapVXLAN, VNI: 7, Version: 4, Proto: 17,
				Fragment: vxlan.LaterFragment, Length: 1500, Src: v4mapped("192.0.2.1"), Dst: v4mapped("192.0.2.2")}},
		{name: "ipv4 tso length 0 uses captured", hex: `
08 00 00 00 00 00 07 00  0a 00 00 00 00 01 0a 00 00 00 00 02 08 00
45 00 00 00 00 00 40 00 40 06 00 00 c0 00 02 01 c0 00 02 02
00 16 c3 50 00 00 00 00 00 00 00 00 50 10 00 00 00 00 00 00  ab ab ab ab`,
			want: vxlan.OK, check: &vxlan.Packet{Encap: vxlan.EncapVXLAN, VNI: 7, Version: 4, Proto: 6, HasPorts: true,
				SrcPort: 22, DstPort: 50000, Length: 44, LengthCaptured: true, Src: v4mapped("192.0.2.1"), Dst: v4mapped("192.0.2.2")}},
		{name: "ipv4 icmp has no ports", hex: `
08 00 00 00 00 00 07 00  0a 00 00 00 00 01 0a 00 00 00 00 02 08 00
45 00 00 54 00 00 00 00 40 01 00 00 c0 00 02 01 c0 00 02 02  08 00 f7 ff 00 01 00 01`,
			want: vxlan.OK, check: &vxlan.Packet{Encap: vxlan.EncapVXLAN, VNI: 7, Version: 4, Proto: 1, Length: 84,
				Src: v4mapped("192.0.2.1"), Dst: v4mapped("192.0.2.2")}},
		{name: "tcp ports cut", hex: `
08 00 00 00 00 00 07 00  0a 00 00 00 00 01 0a 00 00 00 00 02 08 00
45 00 00 54 00 00 00 00 40 06 00 00 c0 00 02 01 c0 00 02 02  01 bb`, want: vxlan.L4Truncated},
		{name: "ipv6 hop-by-hop dest-opts udp", hex: `
08 00 00 00 00 00 07 00  0a 00 00 00 00 01 0a 00 00 00 00 02 86 dd
60 00 00 00 00 20 00 40                          # payload 32, next HBH
20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01
20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 02
3c 00 01 04 00 00 00 00                          # HBH -> dest opts, PadN
11 01 01 0a 00 00 00 00 00 00 00 00 00 00 00 00  # dest opts (16 B) -> UDP
11 d7 00 35 00 08 00 00                          # UDP 4567 -> 53`,
			want: vxlan.OK, check: &vxlan.Packet{Encap: vxlan.EncapVXLAN, VNI: 7, Version: 6, Proto: 17, HasPorts: true,
				SrcPort: 4567, DstPort: 53, Length: 72, Src: mapped("2001:db8::1"), Dst: mapped("2001:db8::2")}},
		{name: "ipv6 later fragment", hex: `
08 00 00 00 00 00 07 00  0a 00 00 00 00 01 0a 00 00 00 00 02 86 dd
60 00 00 00 05 b4 2c 40
20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01
20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 02
06 00 05 a9 00 00 00 01                          # fragment -> TCP, offset 181, M
ab ab ab ab ab ab ab ab`,
			want: vxlan.OK, check: &vxlan.Packet{Encap: vxlan.EncapVXLAN, VNI: 7, Version: 6, Proto: 6,
				Fragment: vxlan.LaterFragment, Length: 1500, Src: mapped("2001:db8::1"), Dst: mapped("2001:db8::2")}},
		{name: "ipv6 jumbo", hex: `
08 00 00 00 00 00 07 00  0a 00 00 00 00 01 0a 00 00 00 00 02 86 dd
60 00 00 00 00 00 00 40                          # payload length 0, next HBH
20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01
20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 02
06 00 c2 04 00 01 86 a0                          # HBH: jumbo 100000 -> TCP
00 50 9c 40`,
			want: vxlan.OK, check: &vxlan.Packet{Encap: vxlan.EncapVXLAN, VNI: 7, Version: 6, Proto: 6, HasPorts: true,
				SrcPort: 80, DstPort: 40000, Length: 100040, Src: mapped("2001:db8::1"), Dst: mapped("2001:db8::2")}},
		{name: "ipv6 hop-by-hop not first", hex: `
08 00 00 00 00 00 07 00  0a 00 00 00 00 01 0a 00 00 00 00 02 86 dd
60 00 00 00 00 10 3c 40
20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01
20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 02
00 00 01 04 00 00 00 00  06 00 01 04 00 00 00 00`, want: vxlan.IPv6BadHeader},
		{name: "ipv6 ext cut", hex: `
08 00 00 00 00 00 07 00  0a 00 00 00 00 01 0a 00 00 00 00 02 86 dd
60 00 00 00 00 10 2b 40
20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01
20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 02
06 02 00 00 00 00 00 00`, want: vxlan.IPv6ExtTruncated},
		{name: "geneve with options carrying ethernet", geneve: true, hex: `
02 00 65 58 00 00 2a 00                          # Geneve: 2 words of options, TEB, VNI 42
01 02 03 01 de ad be ef                          # one option, 4 bytes of data
0a 00 00 00 00 01 0a 00 00 00 00 02 08 00
45 00 00 28 00 00 00 00 40 84 00 00 c6 12 00 01 c6 12 00 02   # SCTP 198.18.0.1 -> 198.18.0.2
0b b8 0b b9 00 00 00 00 00 00 00 00`,
			want: vxlan.OK, check: &vxlan.Packet{Encap: vxlan.EncapGeneve, VNI: 42, Version: 4, Proto: 132, HasPorts: true,
				SrcPort: 3000, DstPort: 3001, Length: 40, Src: v4mapped("198.18.0.1"), Dst: v4mapped("198.18.0.2")}},
		{name: "geneve version 1", geneve: true, hex: `40 00 65 58 00 00 2a 00`, want: vxlan.GeneveVersion},
		{name: "geneve options cut", geneve: true, hex: `03 00 65 58 00 00 2a 00 01 02 03 01`, want: vxlan.GeneveTruncated},
		{name: "geneve mpls", geneve: true, hex: `00 00 88 47 00 00 2a 00 00 00 00 00`, want: vxlan.GeneveProtocol},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := hexBytes(t, tc.hex)
			var p vxlan.Packet
			var got vxlan.Reason
			if tc.geneve {
				got = p.DecodeGeneve(b)
			} else {
				got = p.Decode(b)
			}
			if got != tc.want {
				t.Fatalf("reason = %v, want %v", got, tc.want)
			}
			if tc.check != nil {
				if diff := cmp.Diff(*tc.check, p); diff != "" {
					t.Errorf("packet mismatch (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestReasonStringsAreDistinctLabels(t *testing.T) {
	seen := map[string]bool{}
	for r := range vxlan.NumReasons {
		s := vxlan.Reason(r).String()
		if s == "" || s == "unknown" || seen[s] || strings.ToLower(s) != s {
			t.Errorf("Reason(%d).String() = %q: want a distinct lower-case label", r, s)
		}
		seen[s] = true
	}
	if got := vxlan.Reason(255).String(); got != "unknown" {
		t.Errorf("Reason(255) = %q, want unknown", got)
	}
}

func TestDecodeDoesNotAllocate(t *testing.T) {
	b := hexBytes(t, mirrorIPv4TCP)
	var p vxlan.Packet
	if n := testing.AllocsPerRun(1000, func() { p.Decode(b) }); n != 0 {
		t.Errorf("Decode allocates %v times per packet", n)
	}
	f := vxlan.Frame(nil, netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2"), 40000, 4789, b)
	if n := testing.AllocsPerRun(1000, func() { p.DecodeFrame(f, 4789) }); n != 0 {
		t.Errorf("DecodeFrame allocates %v times per packet", n)
	}
	if _, ok := any(p.SrcAddr()).(netip.Addr); !ok || testing.AllocsPerRun(100, func() { _ = p.SrcAddr() }) != 0 {
		t.Errorf("SrcAddr allocates")
	}
}

func TestDecodeFrame(t *testing.T) {
	inner := hexBytes(t, mirrorIPv4TCP)
	outerSrc, outerDst := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2")
	var p vxlan.Packet
	if r := p.DecodeFrame(vxlan.Frame(nil, outerSrc, outerDst, 1234, 4789, inner), 4789); r != vxlan.OK || p.DstPort != 51514 {
		t.Errorf("VXLAN frame: reason %v, dport %d", r, p.DstPort)
	}
	if r := p.DecodeFrame(vxlan.Frame(nil, outerSrc, outerDst, 1234, 9999, inner), 4789); r != vxlan.OuterPort {
		t.Errorf("frame to port 9999: reason %v, want outer_port", r)
	}
	if r := p.DecodeFrame(vxlan.Frame(nil, outerSrc, outerDst, 1234, 9999, inner), 9999); r != vxlan.OK {
		t.Errorf("frame to configured port 9999: reason %v, want ok", r)
	}
	v6 := vxlan.Frame(nil, netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"), 1234, 4789, inner)
	if r := p.DecodeFrame(v6, 4789); r != vxlan.OK || p.VNI != 12345 {
		t.Errorf("IPv6 outer frame: reason %v, VNI %d", r, p.VNI)
	}
	portsEnd := len(v6) - len(inner) + 8 + 14 + 20 + 4 // outer headers, VXLAN, Ethernet, IPv4, ports
	for n := range portsEnd {
		if r := p.DecodeFrame(v6[:n], 4789); r == vxlan.OK {
			t.Fatalf("frame cut to %d bytes decoded OK", n)
		}
	}
}

// TestPortsPastTheEndArePadding: a TCP or UDP packet whose declared length
// ends before its ports (IPv4 total length 20; IPv6 Payload Length that
// covers only a hop-by-hop header), padded to Ethernet's 60-byte minimum,
// is counted with its declared length and no ports, on the fast path
// (plain and GWLB) and the general path alike; one byte more of declared
// length than the ports need keeps them. The fuzz target found the
// padding read as ports.
func TestPortsPastTheEndArePadding(t *testing.T) {
	pad := func(b []byte, n int) []byte { return append(b, bytes.Repeat([]byte{0x30}, n)...) }
	v4 := func(spec vxlan.Spec, ipAt int, total uint16) []byte {
		b, err := vxlan.Append(nil, &spec)
		if err != nil {
			t.Fatal(err)
		}
		if b[ipAt] != 0x45 {
			t.Fatalf("no IPv4 header at %d: %x", ipAt, b)
		}
		binary.BigEndian.PutUint16(b[ipAt+2:], total)
		return pad(b, 26)
	}
	src, dst := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	plain := vxlan.Spec{Src: src, Dst: dst, Proto: vxlan.ProtoUDP, SrcPort: 53, DstPort: 9}
	gwlb := vxlan.Spec{GWLB: true, GWLBEndpointID: 1, Src: src, Dst: dst, Proto: vxlan.ProtoTCP, SrcPort: 443, DstPort: 51514}
	hbh := vxlan.Spec{Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"), Proto: vxlan.ProtoUDP,
		SrcPort: 53, DstPort: 9, IPv6Ext: []vxlan.ExtHeader{{0, 8}}}
	v6, err := vxlan.Append(nil, &hbh)
	if err != nil {
		t.Fatal(err)
	}
	v6short := bytes.Clone(v6)
	binary.BigEndian.PutUint16(v6short[22+4:], 8) // the hop-by-hop header only
	for _, c := range []struct {
		name   string
		b      []byte
		length uint32
		ports  bool
	}{
		{"ipv4 total 20", v4(plain, 22, 20), 20, false},
		{"ipv4 total 23", v4(plain, 22, 23), 23, false},
		{"ipv4 total 24", v4(plain, 22, 24), 24, true},
		{"gwlb client total 20", v4(gwlb, 90, 20), 20, false},
		{"gwlb client total 24", v4(gwlb, 90, 24), 24, true},
		{"ipv6 hop-by-hop only", pad(v6short, 26), 48, false},
		{"ipv6 whole", v6, 56, true},
	} {
		var p vxlan.Packet
		if r := p.Decode(c.b); r != vxlan.OK {
			t.Errorf("%s: %v", c.name, r)
			continue
		}
		if p.Length != c.length || p.HasPorts != c.ports || (!c.ports && (p.SrcPort != 0 || p.DstPort != 0)) || p.PortsCut {
			t.Errorf("%s: length %d, ports %v %d→%d, cut %v; want length %d, ports %v",
				c.name, p.Length, p.HasPorts, p.SrcPort, p.DstPort, p.PortsCut, c.length, c.ports)
		}
	}
}

// TestGeneveBeyondTheEndIsPadding: the bytes past an outer packet's declared
// length are not read as its UDP port or as GWLB's Geneve, whatever they
// hold; the client's packet is read only as far as the outer packet goes.
func TestGeneveBeyondTheEndIsPadding(t *testing.T) {
	src4, dst4 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	src6, dst6 := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	gwlb4 := vxlan.Spec{GWLB: true, GWLBEndpointID: 1, Src: src4, Dst: dst4, Proto: vxlan.ProtoTCP, SrcPort: 443, DstPort: 51514, Length: 1500, Snap: 160}
	gwlb6 := gwlb4
	gwlb6.Src, gwlb6.Dst, gwlb6.Length = src6, dst6, 1280
	// outer builds the whole packet and sets the outer IPv4 Total Length
	// (bytes 24-25 of the VXLAN payload): what lies past that end is the
	// rest of a real GWLB packet.
	outer := func(spec vxlan.Spec, total uint16) []byte {
		b, err := vxlan.Append(nil, &spec)
		if err != nil {
			t.Fatal(err)
		}
		binary.BigEndian.PutUint16(b[24:], total)
		return b
	}
	// The mirrored packet is UDP to 6081 only in its padding: the CI fuzz
	// run's input, with the port where the padding puts it.
	toGeneve := outer(gwlb4, 22)
	type want struct {
		r       vxlan.Reason
		gwlb    bool
		ports   bool
		cut     bool
		version uint8
	}
	for _, c := range []struct {
		name string
		b    []byte
		want want
	}{
		{"outer ends before its ports", toGeneve, want{vxlan.OK, false, false, false, 4}},
		{"outer ends in Geneve's options", outer(gwlb4, 20+8+32), want{r: vxlan.GeneveTruncated}},
		{"outer ends before the client's ports", outer(gwlb4, 20+8+40+20+3), want{vxlan.OK, true, false, true, 4}},
		{"outer ends at the client's ports", outer(gwlb4, 20+8+40+20+4), want{vxlan.OK, true, true, false, 4}},
		{"ipv6 client, outer ends before its ports", outer(gwlb6, 20+8+40+40+3), want{vxlan.OK, true, false, true, 6}},
		{"ipv6 client, outer ends at its ports", outer(gwlb6, 20+8+40+40+4), want{vxlan.OK, true, true, false, 6}},
		{"ipv6 client, whole", outer(gwlb6, 0), want{vxlan.OK, true, true, false, 6}},
	} {
		var p vxlan.Packet
		r := p.Decode(c.b)
		got := want{r, p.GWLB.Has != 0, p.HasPorts, p.PortsCut, p.Version}
		if r != vxlan.OK {
			got = want{r: r}
		}
		if got != c.want {
			t.Errorf("%s: got %+v, want %+v (packet %x)", c.name, got, c.want, c.b)
		}
	}
}

// TestTunnelEndsWhereTheOuterHeadersSay: in a capture file, the bytes after
// the outer packet (its IPv4 Total Length or IPv6 Payload Length, and its
// UDP Length) are not the tunnel's, whatever they hold; a length of 0 says
// nothing.
func TestTunnelEndsWhereTheOuterHeadersSay(t *testing.T) {
	inner, err := vxlan.Append(nil, &vxlan.Spec{VNI: 7, Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("192.0.2.2"),
		Proto: vxlan.ProtoTCP, SrcPort: 443, DstPort: 51514, Length: 1500, Snap: 128})
	if err != nil {
		t.Fatal(err)
	}
	v4 := vxlan.Frame(nil, netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2"), 1, 4789, inner)
	v6 := vxlan.Frame(nil, netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"), 1, 4789, inner)
	const ip4, udp4, ip6, udp6 = 14, 14 + 20, 14, 14 + 40
	// with returns the frame with the 16-bit field at off set to v, and
	// then the rest of the frame's bytes again: what lies past the
	// declared end is a whole mirrored packet.
	with := func(frame []byte, off int, v uint16) []byte {
		b := bytes.Clone(frame)
		binary.BigEndian.PutUint16(b[off:], v)
		return append(b, frame[off:]...)
	}
	var whole vxlan.Packet
	if r := whole.DecodeFrame(v4, 4789); r != vxlan.OK {
		t.Fatalf("the whole frame: %v", r)
	}
	for _, c := range []struct {
		name  string
		frame []byte
		want  vxlan.Reason
	}{
		{"ipv4 ends inside the VXLAN header", with(v4, ip4+2, 20+8+4), vxlan.VXLANTruncated},
		{"ipv4 ends inside the mirrored Ethernet header", with(v4, ip4+2, 20+8+8+10), vxlan.EthernetTruncated},
		{"ipv4 shorter than its header", with(v4, ip4+2, 19), vxlan.OuterTruncated},
		{"udp ends inside the VXLAN header", with(v4, udp4+4, 8+4), vxlan.VXLANTruncated},
		{"udp shorter than its header", with(v4, udp4+4, 7), vxlan.OuterTruncated},
		{"ipv6 ends inside the VXLAN header", with(v6, ip6+4, 8+4), vxlan.VXLANTruncated},
		{"ipv6 udp ends inside the mirrored Ethernet header", with(v6, udp6+4, 8+8+10), vxlan.EthernetTruncated},
		{"trailing bytes after a whole packet", append(bytes.Clone(v4), v4...), vxlan.OK},
		{"ipv4 and udp lengths 0", with(with(v4, ip4+2, 0), udp4+4, 0), vxlan.OK},
	} {
		var p vxlan.Packet
		r := p.DecodeFrame(c.frame, 4789)
		if r != c.want {
			t.Errorf("%s: %v, want %v", c.name, r, c.want)
			continue
		}
		if r == vxlan.OK && p != whole {
			t.Errorf("%s: %+v, want %+v", c.name, p, whole)
		}
	}
}
