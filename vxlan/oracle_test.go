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
	gwlb     bool // the inner IP came from a GWLB Geneve inside the tunnel
}

// gopacketDecode decodes b (a tunnel payload, or a whole frame when first
// is LayerTypeEthernet) with gopacket. ok is false when gopacket found no
// inner IP layer.
func gopacketDecode(b []byte, first gopacket.LayerType) (o oracle, ok bool) {
	pkt := gopacket.NewPacket(b, first, gopacket.DecodeOptions{NoCopy: true, Lazy: false})
	// The inner IP layer is the first after the tunnel header; gopacket may
	// go on to read a payload as more IP (IP-in-IP), which dxmon does not.
	//
	// Except GWLB's Geneve: inside the tunnel, an IPv4 packet to UDP port
	// 6081 holding Geneve with AWS's endpoint-ID option and an IP payload
	// is a load balancer's packet to an appliance, and dxmon reads the
	// client's packet inside it.
	var inner gopacket.Layer
	var lastUDP *layers.UDP
	tunnel := false
	for _, l := range pkt.Layers() {
		switch v := l.(type) {
		case *layers.UDP:
			lastUDP = v
		case *layers.VXLAN:
			o.vni, tunnel = v.VNI, true
		case *layers.Geneve:
			if ip4, ok := inner.(*layers.IPv4); ok && !o.gwlb && awsGeneve(v) && lastUDP != nil && lastUDP.DstPort == 6081 &&
				ip4.Flags&layers.IPv4MoreFragments == 0 && ip4.FragOffset == 0 {
				inner, o.gwlb = nil, true
				continue
			}
			if !tunnel {
				o.vni = v.VNI
			}
			tunnel = true
		case *layers.IPv4, *layers.IPv6:
			if tunnel && inner == nil {
				inner = l
			}
		}
	}
	if inner == nil {
		return o, false
	}
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
	// Only the first transport layer after the inner IP layer counts.
	seen := false
	for _, l := range pkt.Layers() {
		if l == inner {
			seen = true
			continue
		}
		if !seen || o.hasPorts {
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

// awsGeneve reports whether gopacket's Geneve layer carries AWS's
// endpoint-ID option and an IP payload.
func awsGeneve(g *layers.Geneve) bool {
	if g.Protocol != layers.EthernetTypeIPv4 && g.Protocol != layers.EthernetTypeIPv6 {
		return false
	}
	for _, o := range g.Options {
		if o.Class == 0x0108 && o.Type == 1 && len(o.Data) == 8 {
			return true
		}
	}
	return false
}
