package vxlan

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// decodeReference is Decode without its fast paths: the VXLAN header's
// checks, then decodeGeneral. It is the test's hook on the general path;
// nothing is exported for it.
func (p *Packet) decodeReference(b []byte) Reason {
	if len(b) < 8 {
		return VXLANTruncated
	}
	p.Encap = EncapVXLAN
	p.VNI = binary.BigEndian.Uint32(b[4:8]) >> 8
	p.GWLB.Has = 0
	p.PortsCut = false
	if b[0]&0x08 == 0 {
		return VXLANFlags
	}
	return p.decodeGeneral(b)
}

// stalePacket is a Packet left by an earlier decode of another packet,
// with every field set, so that a path that forgets a store shows.
func stalePacket(noGWLB bool, seed byte) Packet {
	p := Packet{Encap: EncapGeneve, VNI: 0xabcdef ^ uint32(seed), NumVLANs: 2, VLAN: [2]uint16{7, 8}, Version: 6,
		Proto: 99, Fragment: LaterFragment, HasPorts: seed&1 == 0, SrcPort: 1, DstPort: 2, Length: 9999,
		LengthCaptured: true, PortsCut: true, NoGWLB: noGWLB,
		GWLB: GWLBMeta{Has: 7, EndpointID: 1, AttachmentID: 2, FlowCookie: 3}}
	for i := range p.Src {
		p.Src[i], p.Dst[i] = seed+byte(i), ^seed
	}
	return p
}

// FuzzFastPathMatchesGeneral decodes the same bytes through Decode (with
// its hand-inlined fast paths: untagged IPv4 TCP/UDP, GWLB's usual IPv4
// and IPv6 packets, untagged IPv6) and through the general path, from the
// same stale state, and requires the same reason and the same Packet,
// every field.
func FuzzFastPathMatchesGeneral(f *testing.F) {
	a4 := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	specs := []Spec{
		{VNI: 1, Src: a4("192.0.2.1"), Dst: a4("192.0.2.2"), Proto: ProtoTCP, SrcPort: 443, DstPort: 51514, Length: 1500, Snap: 128},
		{VNI: 1, Src: a4("192.0.2.1"), Dst: a4("192.0.2.2"), Proto: ProtoUDP, SrcPort: 53, DstPort: 6081, Length: 200},
		{VNI: 1, Src: a4("2001:db8::1"), Dst: a4("2001:db8::2"), Proto: ProtoTCP, SrcPort: 443, DstPort: 1, Length: 1280, Snap: 128},
		{VNI: 1, Src: a4("192.0.2.1"), Dst: a4("192.0.2.2"), Proto: ProtoTCP, SrcPort: 1, DstPort: 2, Length: 100, VLANs: []uint16{10}},
		{VNI: 1, Src: a4("192.0.2.1"), Dst: a4("192.0.2.2"), Proto: ProtoTCP, SrcPort: 1, DstPort: 2, Length: 100, IPv4Options: 8},
		{VNI: 12345, GWLB: true, GWLBEndpointID: 0x0123456789abcdef, GWLBFlowCookie: 7, Src: a4("192.0.2.1"), Dst: a4("192.0.2.2"),
			Proto: ProtoTCP, SrcPort: 443, DstPort: 51514, Length: 1500, Snap: 128},
		{VNI: 12345, GWLB: true, GWLBEndpointID: 1, Src: a4("2001:db8::1"), Dst: a4("2001:db8::2"), Proto: ProtoUDP,
			SrcPort: 53, DstPort: 40000, Length: 1280, Snap: 128},
		{VNI: 12345, GWLB: true, GWLBEndpointID: 1, Src: a4("2001:db8::1"), Dst: a4("2001:db8::2"), Proto: ProtoUDP,
			SrcPort: 53, DstPort: 40000, Length: 1280, Snap: 128, IPv6Ext: []ExtHeader{{Type: 60, Len: 8}}},
		{VNI: 12345, GWLB: true, GWLBEndpointID: 1, Src: a4("192.0.2.1"), Dst: a4("192.0.2.2"), Proto: ProtoICMP, Length: 84},
		{VNI: 12345, GWLB: true, GWLBEndpointID: 1, Src: a4("192.0.2.1"), Dst: a4("192.0.2.2"), Proto: ProtoTCP,
			SrcPort: 1, DstPort: 2, Length: 1500, GWLBExtraOptions: 8, Snap: 128},
	}
	for i := range specs {
		b, err := Append(nil, &specs[i])
		if err != nil {
			f.Fatalf("Append(%+v): %v", specs[i], err)
		}
		f.Add(b, false, byte(i))
		f.Add(b, true, byte(i))
	}
	f.Fuzz(func(t *testing.T, b []byte, noGWLB bool, seed byte) {
		fast, general := stalePacket(noGWLB, seed), stalePacket(noGWLB, seed)
		rf := fast.Decode(b[:len(b):len(b)])
		rg := general.decodeReference(b[:len(b):len(b)])
		if rf != rg {
			t.Fatalf("packet %x: fast path %v, general path %v", b, rf, rg)
		}
		if diff := cmp.Diff(general, fast); diff != "" {
			t.Fatalf("packet %x (%v): Packet differs (-general +fast):\n%s", b, rf, diff)
		}
	})
}
