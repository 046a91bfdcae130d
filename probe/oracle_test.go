package probe_test

import (
	"net/netip"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/dxmon/dxmon/flow"
)

// gopacketFlow reads a mirror frame with gopacket: the inner flow key and
// the inner IP length.
func gopacketFlow(frame []byte) (flow.Key, uint64, bool) {
	pkt := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	if pkt.Layer(layers.LayerTypeVXLAN) == nil {
		return flow.Key{}, 0, false
	}
	var src, dst netip.Addr
	var proto uint8
	var length uint64
	var inner gopacket.Layer
	afterTunnel := false
	for _, l := range pkt.Layers() {
		switch v := l.(type) {
		case *layers.VXLAN:
			afterTunnel = true
		case *layers.IPv4:
			if afterTunnel && inner == nil {
				inner = l
				src, _ = netip.AddrFromSlice(v.SrcIP.To4())
				dst, _ = netip.AddrFromSlice(v.DstIP.To4())
				proto, length = uint8(v.Protocol), uint64(v.Length)
			}
		case *layers.IPv6:
			if afterTunnel && inner == nil {
				inner = l
				src, _ = netip.AddrFromSlice(v.SrcIP)
				dst, _ = netip.AddrFromSlice(v.DstIP)
				proto, length = uint8(v.NextHeader), 40+uint64(v.Length)
			}
		}
	}
	if inner == nil {
		return flow.Key{}, 0, false
	}
	var sport, dport uint16
	if tcp, ok := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP); ok {
		sport, dport = uint16(tcp.SrcPort), uint16(tcp.DstPort)
	} else if udps := udpLayers(pkt); len(udps) > 1 {
		sport, dport = uint16(udps[1].SrcPort), uint16(udps[1].DstPort)
	}
	return flow.NewKey(src, dst, proto, sport, dport), length, true
}

func udpLayers(pkt gopacket.Packet) []*layers.UDP {
	var out []*layers.UDP
	for _, l := range pkt.Layers() {
		if u, ok := l.(*layers.UDP); ok {
			out = append(out, u)
		}
	}
	return out
}
