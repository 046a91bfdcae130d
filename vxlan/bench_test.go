package vxlan_test

import (
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/dxmon/dxmon/vxlan"
)

// benchCases are the same mirror packets for dxmon and gopacket: cut to
// 128 bytes, as VPC Traffic Mirroring sends them.
func benchCases(b *testing.B) []struct {
	name string
	spec vxlan.Spec
} {
	return []struct {
		name string
		spec vxlan.Spec
	}{
		{"ipv4-tcp", vxlan.Spec{VNI: 12345, Src: netip.MustParseAddr("10.0.1.5"), Dst: netip.MustParseAddr("172.16.8.9"),
			Proto: vxlan.ProtoTCP, SrcPort: 443, DstPort: 51514, Length: 1500, Snap: 128}},
		{"ipv6-tcp", vxlan.Spec{VNI: 12345, Src: netip.MustParseAddr("2001:db8::5"), Dst: netip.MustParseAddr("2001:db8:1::9"),
			Proto: vxlan.ProtoTCP, SrcPort: 443, DstPort: 51514, Length: 1500, Snap: 128}},
		// GWLB's Geneve (AWS's 32 bytes of options) inside the mirror's
		// VXLAN, as a mirror of an appliance ENI holds it.
		{"gwlb-ipv4-tcp", vxlan.Spec{GWLB: true, GWLBEndpointID: 0x0123456789abcdef, GWLBFlowCookie: 7, VNI: 12345,
			Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("192.0.2.2"),
			Proto: vxlan.ProtoTCP, SrcPort: 443, DstPort: 51514, Length: 1500, Snap: 128}},
		{"gwlb-ipv6-tcp", vxlan.Spec{GWLB: true, GWLBEndpointID: 0x0123456789abcdef, GWLBFlowCookie: 7, VNI: 12345,
			Src: netip.MustParseAddr("2001:db8:2::1"), Dst: netip.MustParseAddr("2001:db8:2::2"),
			Proto: vxlan.ProtoTCP, SrcPort: 443, DstPort: 51514, Length: 1500, Snap: 128}},
		{"geneve-ipv4-udp", vxlan.Spec{Geneve: true, GeneveOptions: 8, VNI: 7, Src: netip.MustParseAddr("10.0.1.5"),
			Dst: netip.MustParseAddr("172.16.8.9"), Proto: vxlan.ProtoUDP, SrcPort: 53, DstPort: 40000, Length: 512, Snap: 128}},
	}
}

// BenchmarkDecode compares dxmon's decoder with gopacket's
// DecodingLayerParser (its fastest mode) on the same packets.
func BenchmarkDecode(b *testing.B) {
	for _, c := range benchCases(b) {
		pkt, err := vxlan.Append(nil, &c.spec)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name+"/dxmon", func(b *testing.B) {
			var p vxlan.Packet
			b.ReportAllocs()
			b.SetBytes(int64(len(pkt)))
			if c.spec.Geneve {
				for b.Loop() {
					if p.DecodeGeneve(pkt) != vxlan.OK {
						b.Fatal("decode failed")
					}
				}
				return
			}
			for b.Loop() {
				if p.Decode(pkt) != vxlan.OK {
					b.Fatal("decode failed")
				}
			}
		})
		b.Run(c.name+"/gopacket", func(b *testing.B) {
			var (
				vx      layers.VXLAN
				eth     layers.Ethernet
				ip4     layers.IPv4
				ip6     layers.IPv6
				tcp     layers.TCP
				udp     layers.UDP
				decoded = make([]gopacket.LayerType, 0, 8)
			)
			if c.spec.Geneve || c.spec.GWLB {
				// gopacket's Geneve is not a DecodingLayer: NewPacket is its only way in.
				first := layers.LayerTypeGeneve
				if c.spec.GWLB {
					first = layers.LayerTypeVXLAN
				}
				b.ReportAllocs()
				for b.Loop() {
					p := gopacket.NewPacket(pkt, first, gopacket.DecodeOptions{NoCopy: true, Lazy: true})
					if p.TransportLayer() == nil {
						b.Fatal("gopacket found no transport layer")
					}
				}
				return
			}
			parser := gopacket.NewDecodingLayerParser(layers.LayerTypeVXLAN, &vx, &eth, &ip4, &ip6, &tcp, &udp)
			parser.IgnoreUnsupported = true
			b.ReportAllocs()
			b.SetBytes(int64(len(pkt)))
			for b.Loop() {
				_ = parser.DecodeLayers(pkt, &decoded)
				if len(decoded) < 4 {
					b.Fatalf("gopacket decoded only %v", decoded)
				}
			}
		})
	}
}
