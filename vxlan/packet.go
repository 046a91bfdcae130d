package vxlan

import "net/netip"

// Encap is the tunnel a mirror packet came in.
type Encap uint8

// Tunnels.
const (
	EncapVXLAN  Encap = 1 // RFC 7348, UDP 4789 (VPC Traffic Mirroring)
	EncapGeneve Encap = 2 // RFC 8926, UDP 6081 (Gateway Load Balancer)
)

// Fragment says where an IP packet sits in its datagram.
type Fragment uint8

// Fragment positions.
const (
	NotFragment   Fragment = iota // a whole datagram
	FirstFragment                 // offset 0, more fragments follow: carries the L4 header
	LaterFragment                 // offset > 0: no L4 header, so no ports
)

// Well-known IP protocol numbers the decoder reads ports for.
const (
	ProtoICMP    = 1
	ProtoTCP     = 6
	ProtoUDP     = 17
	ProtoICMPv6  = 58
	ProtoSCTP    = 132
	ProtoUDPLite = 136
)

// Packet is one decoded mirror packet. Decode methods fill it in place; the
// caller owns it and reuses it for every packet, so decoding does not
// allocate. Fields are valid only after a decode that returned OK, except
// Encap and VNI, which are valid once the tunnel header was read.
// Nothing in a Packet refers to the decoded bytes.
type Packet struct {
	// Encap is the tunnel; VNI its 24-bit network identifier.
	Encap Encap
	VNI   uint32
	// NumVLANs tags (0–2) were on the inner frame; VLAN holds their IDs,
	// outermost first. Zero when the tunnel carried IP without Ethernet.
	NumVLANs uint8
	VLAN     [2]uint16
	// Version is 4 or 6.
	Version uint8
	// Proto is the upper-layer protocol: for IPv6, the one after the
	// extension headers.
	Proto uint8
	// Fragment says whether this is a fragment and which.
	Fragment Fragment
	// HasPorts is true when Proto has ports (TCP, UDP, UDP-Lite, SCTP) and
	// this is not a later fragment. SrcPort and DstPort are 0 otherwise.
	HasPorts bool
	SrcPort  uint16
	DstPort  uint16
	// Length is the inner IP packet's length as its header declares it
	// (IPv4 total length; IPv6 40 + payload length), not the captured
	// length: the mirror cuts frames to 128 bytes. Where the header says 0
	// (TSO and BIG TCP captures) it is 40 + the jumbo payload length when
	// an IPv6 jumbo option is present, else the captured length.
	Length uint32
	// LengthCaptured is true when Length fell back to the captured length.
	LengthCaptured bool
	// PortsCut is true when the capture cut a GWLB client packet before
	// its ports: it is decoded (OK) with HasPorts false and ports 0, and
	// for IPv6, Proto is the extension header that did not fit.
	PortsCut bool
	// Src and Dst are the inner addresses, IPv4 in IPv4-mapped IPv6 form
	// (::ffff:a.b.c.d), so that both families share one fixed layout.
	Src, Dst [16]byte
	// GWLB holds the Gateway Load Balancer options when the mirrored
	// packet was GWLB's Geneve to an appliance and the fields above are
	// the client's packet inside it (GWLB.Has != 0); see the package doc.
	GWLB GWLBMeta

	// NoGWLB is an input, never changed by a decoder: set, Decode keeps a
	// mirrored packet to UDP port 6081 as that UDP packet even when it
	// carries AWS's GWLB options, instead of decoding the client's packet.
	NoGWLB bool
}

// SrcAddr returns the inner source address (an IPv4 address for IPv4).
func (p *Packet) SrcAddr() netip.Addr { return p.addr(&p.Src) }

// DstAddr returns the inner destination address.
func (p *Packet) DstAddr() netip.Addr { return p.addr(&p.Dst) }

func (p *Packet) addr(a *[16]byte) netip.Addr {
	if p.Version == 4 {
		return netip.AddrFrom4([4]byte(a[12:16]))
	}
	return netip.AddrFrom16(*a)
}
