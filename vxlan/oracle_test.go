package vxlan_test

import (
	"net/netip"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// oracle is what gopacket, an independent decoder, finds in a packet.
type oracle struct {
	vni      uint32
	version  uint8
	src, dst netip.Addr
	length   uint32 // declared IP length (0 when gopacket does not say)
	hasPorts bool
	sport    uint16
	dport    uint16
	fragment bool
}

// gopacketDecode decodes b (a tunnel payload, or a whole frame when first
// is LayerTypeEthernet) with gopacket. ok is false when gopacket found no
// inner IP layer.
func gopacketDecode(b []byte, first gopacket.LayerType) (o oracle, ok bool) {
	pkt := gopacket.NewPacket(b, first, gopacket.DecodeOptions{NoCopy: true, Lazy: false})
	var ipLayers []gopacket.Layer
	for _, l := range pkt.Layers() {
		switch v := l.(type) {
		case *layers.VXLAN:
			o.vni = v.VNI
		case *layers.Geneve:
			o.vni = v.VNI
		case *layers.IPv4, *layers.IPv6:
			ipLayers = append(ipLayers, l)
		}
	}
	if len(ipLayers) == 0 {
		return o, false
	}
	inner := ipLayers[len(ipLayers)-1]
	switch ip := inner.(type) {
	case *layers.IPv4:
		o.version = 4
		o.src, _ = netip.AddrFromSlice(ip.SrcIP.To4())
		o.dst, _ = netip.AddrFromSlice(ip.DstIP.To4())
		o.length = uint32(ip.Length)
		o.fragment = ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0
	case *layers.IPv6:
		o.version = 6
		o.src, _ = netip.AddrFromSlice(ip.SrcIP)
		o.dst, _ = netip.AddrFromSlice(ip.DstIP)
		o.length = 40 + uint32(ip.Length)
	}
	if pkt.Layer(layers.LayerTypeIPv6Fragment) != nil {
		o.fragment = true
	}
	// Only layers after the inner IP layer count as its transport.
	seen := false
	for _, l := range pkt.Layers() {
		if l == inner {
			seen = true
			continue
		}
		if !seen {
			continue
		}
		switch v := l.(type) {
		case *layers.TCP:
			o.hasPorts, o.sport, o.dport = true, uint16(v.SrcPort), uint16(v.DstPort)
		case *layers.UDP:
			o.hasPorts, o.sport, o.dport = true, uint16(v.SrcPort), uint16(v.DstPort)
		case *layers.UDPLite:
			o.hasPorts, o.sport, o.dport = true, uint16(v.SrcPort), uint16(v.DstPort)
		case *layers.SCTP:
			o.hasPorts, o.sport, o.dport = true, uint16(v.SrcPort), uint16(v.DstPort)
		}
	}
	return o, true
}
