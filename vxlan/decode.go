package vxlan

import (
	"encoding/binary"
	"math/bits"
)

// Ports of the tunnels.
const (
	PortVXLAN  = 4789
	PortGeneve = 6081
)

// EtherTypes the decoder follows.
const (
	etherTypeIPv4   = 0x0800
	etherTypeIPv6   = 0x86dd
	etherTypeVLAN   = 0x8100 // 802.1Q
	etherTypeQinQ   = 0x88a8 // 802.1ad
	etherTypeQinQv1 = 0x9100 // pre-standard QinQ, still seen
	etherTypeTEB    = 0x6558 // Transparent Ethernet Bridging (Geneve payload)
)

// maxIPv6Ext bounds the extension-header walk so a hostile chain costs little.
const maxIPv6Ext = 8

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }

// Decode decodes the UDP payload of a VPC Traffic Mirroring packet: a VXLAN
// header followed by the mirrored Ethernet frame.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|R|R|R|R|I|R|R|R|            Reserved                           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                VXLAN Network Identifier (VNI) |   Reserved    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Reserved bits are ignored, as RFC 7348 asks of receivers. Checksums are
// never checked: AWS leaves them unset on truncated mirror packets.
// Decode neither allocates nor keeps b.
func (p *Packet) Decode(b []byte) Reason {
	if len(b) < 8 {
		return VXLANTruncated
	}
	p.Encap = EncapVXLAN
	p.VNI = binary.BigEndian.Uint32(b[4:8]) >> 8
	p.GWLB.Has = 0
	if b[0]&0x08 == 0 {
		p.PortsCut = false
		return VXLANFlags
	}
	// Fast path for most mirror traffic: untagged IPv4 with a 20-byte
	// header, not a fragment, TCP or UDP, ports inside the capture. It
	// gives what decodeEthernet gives (the property tests check both).
	// Two-byte fields are compared as binary.LittleEndian reads them off
	// the wire (one load and compare each, no byte swap).
	le := binary.LittleEndian
	if len(b) >= 8+14+20+4 && le.Uint16(b[20:22]) == etherTypeIPv4LE && b[22] == 0x45 &&
		(b[31] == ProtoTCP || b[31] == ProtoUDP) && le.Uint16(b[28:30])&fragMaskLE == 0 {
		ip := (*[24]byte)(b[22 : 22+24])
		var total uint32
		// The one branch GWLB support adds to this path: destination port
		// 6081.
		if le.Uint16(ip[22:24]) == portGeneveLE {
			// GWLB's usual packet with an IPv4 client is checked and its
			// options read here, without a call, and the client's header
			// decoded below; with an IPv6 client in decodeGWLB6; anything
			// else in decodeToGeneve.
			// The outer packet's declared length must hold what is read
			// here (0 is a TSO capture's, which does not say): a shorter
			// one is for the general path to tell (udpPayload).
			if len(b) < geneveOff+40+24 || ip[9] != ProtoUDP || p.NoGWLB || outerTotal(b)-1 < gwlbMinTotal4-1 {
				return p.decodeToGeneve(b)
			}
			g := (*[64]byte)(b[geneveOff : geneveOff+64])
			if le.Uint32(g[0:4]) != gwlbWord0IPv4 {
				if le.Uint32(g[0:4]) == gwlbWord0IPv6 {
					return p.decodeGWLB6(b)
				}
				return p.decodeToGeneve(b)
			}
			if le.Uint32(g[8:12]) != gwlbOptEP ||
				le.Uint32(g[20:24]) != gwlbOptAtt || le.Uint32(g[32:36]) != gwlbOptCookie ||
				g[40] != 0x45 || (g[49] != ProtoTCP && g[49] != ProtoUDP) || le.Uint16(g[46:48])&fragMaskLE != 0 {
				return p.decodeToGeneve(b)
			}
			ip = (*[24]byte)(g[40:64])
			if total = uint32(ip[2])<<8 | uint32(ip[3]); total < 24 {
				return p.decodeToGeneve(b)
			}
			be := binary.BigEndian
			p.GWLB.Has = HasEndpointID | HasAttachmentID | HasFlowCookie
			p.GWLB.EndpointID = be.Uint64(g[12:20])
			p.GWLB.AttachmentID = be.Uint64(g[24:32])
			p.GWLB.FlowCookie = be.Uint32(g[36:40])
		} else {
			total = uint32(ip[2])<<8 | uint32(ip[3])
		}
		// A total length under 24 leaves no room for the ports: the
		// bytes there are the frame's padding (decodePorts says so).
		if total >= 24 { // always, for GWLB's (checked above)
			// The stores follow the fields' order in Packet, so that the
			// compiler merges neighbours (Fragment and HasPorts, the two
			// ports, LengthCaptured and PortsCut).
			p.NumVLANs = 0
			p.Version = 4
			p.Proto = ip[9]
			p.Fragment = NotFragment
			p.HasPorts = true
			// The big-endian word rotated: SrcPort in the low half,
			// DstPort in the high half, one store.
			ports := bits.RotateLeft32(binary.BigEndian.Uint32(ip[20:24]), 16)
			p.SrcPort = uint16(ports)
			p.DstPort = uint16(ports >> 16)
			p.Length = total
			p.LengthCaptured = false
			p.PortsCut = false
			le.PutUint64(p.Src[:8], 0)
			le.PutUint64(p.Src[8:], uint64(le.Uint32(ip[12:16]))<<32|0xffff0000)
			le.PutUint64(p.Dst[:8], 0)
			le.PutUint64(p.Dst[8:], uint64(le.Uint32(ip[16:20]))<<32|0xffff0000)
			return OK
		}
	}
	p.PortsCut = false
	if len(b) >= 8+14 && le.Uint16(b[20:22]) == etherTypeIPv6LE {
		// Untagged IPv6, decodeEthernet's second case, without its call
		// or the GWLB check below (GWLB's Geneve is always over IPv4).
		p.NumVLANs = 0
		return p.decodeIPv6(b[22:])
	}
	return p.decodeGeneral(b)
}

// decodeGeneral is the general path of Decode, after the VXLAN header is
// checked (b is the VXLAN payload, at least 8 bytes, and p.PortsCut and
// p.GWLB.Has are cleared): the Ethernet frame through decodeEthernet, then,
// for an IPv4 UDP packet to port 6081, GWLB's Geneve through decodeGWLB.
// Decode's fast paths must give exactly what it gives;
// FuzzFastPathMatchesGeneral checks that they do.
func (p *Packet) decodeGeneral(b []byte) Reason {
	r := p.decodeEthernet(b[8:])
	if r == OK && p.HasPorts && p.DstPort == PortGeneve && p.Proto == ProtoUDP && p.Version == 4 && p.Fragment == NotFragment && !p.NoGWLB {
		// The IPv4 header is past the Ethernet header and the tags that
		// decodeEthernet walked.
		if g, ok := udpPayload(b[8+14+4*int(p.NumVLANs):], p.Length); ok {
			if r, ok := p.decodeGWLB(g); ok {
				return r
			}
		}
	}
	return r
}

// udpPayload returns the payload of the UDP datagram in ip, an IPv4 packet
// total bytes long (its declared length, or its captured length when the
// header gave none) whose header decodeIPv4 read: from past the UDP header
// to the end of the packet or of the capture, whichever comes first. Bytes
// past the declared length are the frame's padding, not the packet's: as
// they are not read as ports (decodePorts), they are not read as Geneve. It
// reports false when the UDP header itself does not fit.
func udpPayload(ip []byte, total uint32) ([]byte, bool) {
	ihl := int(ip[0]&0x0f) << 2
	end := len(ip)
	if uint32(end) > total {
		end = int(total)
	}
	if end < ihl+8 {
		return nil, false
	}
	return ip[ihl+8 : end], true
}

// etherTypeIPv4LE and etherTypeIPv6LE are the EtherTypes as
// binary.LittleEndian reads them off the wire; fragMaskLE selects, the same way, the IPv4 fragment offset and
// the More Fragments flag.
const (
	etherTypeIPv4LE = etherTypeIPv4>>8 | etherTypeIPv4&0xff<<8
	etherTypeIPv6LE = etherTypeIPv6>>8 | etherTypeIPv6&0xff<<8
	fragMaskLE      = 0xff3f
)

// geneveOff is where the Geneve header starts in the VXLAN payload of an
// untagged IPv4 UDP packet with a 20-byte header: 8 (VXLAN) + 14 + 20 + 8.
const geneveOff = 8 + 14 + 20 + 8

// gwlbMinTotal4 and gwlbMinTotal6 are the shortest outer IPv4 packets that
// hold what Decode's GWLB fast paths read: IPv4 and UDP headers, GWLB's
// 40-byte Geneve header, and the client's IPv4 or IPv6 header to its ports.
const (
	gwlbMinTotal4 = 20 + 8 + 40 + 20 + 4
	gwlbMinTotal6 = 20 + 8 + 40 + 40 + 4
)

// outerTotal is the Total Length of the untagged IPv4 packet in b, a VXLAN
// payload.
func outerTotal(b []byte) uint16 { return uint16(b[24])<<8 | uint16(b[25]) }

// portGeneveLE is PortGeneve as binary.LittleEndian reads its two bytes
// off the wire.
const portGeneveLE = PortGeneve>>8 | PortGeneve&0xff<<8

// The first word of GWLB's usual Geneve header (version 0, 8 words of
// options, flags 0, Protocol Type IPv4 or IPv6) and AWS's three option
// headers (class 0x0108, types 1, 2, 3, lengths 2, 2, 1 words), as
// binary.LittleEndian reads them: compared without a byte swap.
const (
	gwlbWord0IPv4 = 0x00080008
	gwlbWord0IPv6 = 0xdd860008
	gwlbOptEP     = 0x02010801
	gwlbOptAtt    = 0x02020801
	gwlbOptCookie = 0x01030801
)

// decodeToGeneve decodes an untagged IPv4 packet to port 6081 that
// Decode's fast path met but that is not GWLB's usual packet (b is the
// VXLAN payload), through the general path.
func (p *Packet) decodeToGeneve(b []byte) Reason {
	p.PortsCut = false
	return p.decodeGeneral(b)
}

// decodeGWLB6 decodes the usual GWLB packet with an IPv6 client, which
// Decode's fast path met (b is the VXLAN payload, an untagged IPv4 UDP
// packet to port 6081, GWLB decoding on, the Geneve header's first word
// gwlbWord0IPv6): Geneve with exactly AWS's three options in their usual
// order (the 40-byte header a Gateway Load Balancer sends), then IPv6
// without extension headers, TCP or UDP with its ports inside the capture.
// It gives what decodeGWLB gives (the property tests check both); anything
// else goes to decodeToGeneve.
func (p *Packet) decodeGWLB6(b []byte) Reason {
	if len(b) < geneveOff+40+40+4 || outerTotal(b)-1 < gwlbMinTotal6-1 {
		return p.decodeToGeneve(b)
	}
	g := (*[84]byte)(b[geneveOff : geneveOff+84])
	h, in := (*[40]byte)(g[:40]), (*[44]byte)(g[40:84])
	le := binary.LittleEndian // constants byte-swapped: no swap per load
	if le.Uint32(h[8:12]) != gwlbOptEP || le.Uint32(h[20:24]) != gwlbOptAtt || le.Uint32(h[32:36]) != gwlbOptCookie {
		return p.decodeToGeneve(b)
	}
	plen := uint32(in[4])<<8 | uint32(in[5])
	if in[0]>>4 != 6 || (in[6] != ProtoTCP && in[6] != ProtoUDP) || plen < 4 { // plen 0: decodeGWLB tells the length; under 4: no ports
		return p.decodeToGeneve(b)
	}
	p.NumVLANs = 0
	p.Version = 6
	p.Proto = in[6]
	p.Fragment = NotFragment
	p.HasPorts = true
	ports := bits.RotateLeft32(binary.BigEndian.Uint32(in[40:44]), 16) // as in Decode
	p.SrcPort = uint16(ports)
	p.DstPort = uint16(ports >> 16)
	p.Length = 40 + plen
	p.LengthCaptured = false
	p.PortsCut = false
	p.Src = [16]byte(in[8:24])
	p.Dst = [16]byte(in[24:40])
	be := binary.BigEndian
	p.GWLB.Has = HasEndpointID | HasAttachmentID | HasFlowCookie
	p.GWLB.EndpointID = be.Uint64(h[12:20])
	p.GWLB.AttachmentID = be.Uint64(h[24:32])
	p.GWLB.FlowCookie = be.Uint32(h[36:40])
	return OK
}

// decodeGWLB decodes g, the payload of a mirrored packet's UDP datagram to
// port 6081, as a Gateway Load Balancer's Geneve: header, options, then the
// client's IP packet without Ethernet. It reports false, changing nothing
// but p.GWLB, when g is not that: a Geneve header without AWS's endpoint-ID
// option, a Protocol Type other than IPv4 or IPv6, or no Geneve header at
// all; the caller then keeps the outer packet as decoded. Otherwise the
// inner packet replaces the outer one in p, and the inner reason is
// returned; when the capture cut the inner packet before its ports (long
// options, IPv4 options, IPv6 extension headers), the packet is still
// decoded, with ports 0 and PortsCut set.
func (p *Packet) decodeGWLB(g []byte) (Reason, bool) {
	n, proto, r := ParseGeneve(g, &p.GWLB)
	if r != OK {
		p.GWLB.Has = 0
		// Options cut by the capture, AWS's first: GWLB's, but the
		// client's packet is out of reach.
		if r == GeneveTruncated && len(g) >= 12 && g[0]>>6 == 0 && be16(g[8:]) == GWLBOptionClass {
			return GeneveTruncated, true
		}
		return OK, false
	}
	if p.GWLB.Has&HasEndpointID == 0 || (proto != etherTypeIPv4 && proto != etherTypeIPv6) {
		p.GWLB.Has = 0
		return OK, false
	}
	inner := g[n:]
	if proto == etherTypeIPv4 {
		r = p.decodeIPv4(inner)
		if r == IPv4Truncated && len(inner) >= 20 && inner[0]>>4 == 4 && inner[0]&0x0f >= 5 {
			r = L4Truncated // the header's first 20 bytes were read; its options are cut
		}
	} else {
		r = p.decodeIPv6(inner)
		if r == IPv6ExtTruncated {
			r = L4Truncated
		}
	}
	if r == L4Truncated {
		p.noPorts()
		p.PortsCut = true
		return OK, true
	}
	return r, true
}

// DecodeGeneve decodes the UDP payload of a Geneve packet (RFC 8926), as a
// Gateway Load Balancer sends to its appliances. Options are skipped by
// their declared length; the payload may be Ethernet, IPv4 or IPv6.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Ver|  Opt Len  |O|C|    Rsvd.  |          Protocol Type        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|        Virtual Network Identifier (VNI)       |    Reserved   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Variable-Length Options                    |
func (p *Packet) DecodeGeneve(b []byte) Reason {
	p.GWLB.Has = 0
	p.PortsCut = false
	if len(b) < 8 {
		return GeneveTruncated
	}
	p.Encap = EncapGeneve
	p.VNI = uint32(b[4])<<16 | uint32(b[5])<<8 | uint32(b[6])
	if b[0]>>6 != 0 {
		return GeneveVersion
	}
	n := 8 + int(b[0]&0x3f)*4
	if len(b) < n {
		return GeneveTruncated
	}
	switch be16(b[2:]) {
	case etherTypeTEB:
		return p.decodeEthernet(b[n:])
	case etherTypeIPv4:
		p.NumVLANs = 0
		return p.decodeIPv4(b[n:])
	case etherTypeIPv6:
		p.NumVLANs = 0
		return p.decodeIPv6(b[n:])
	}
	return GeneveProtocol
}

// DecodeEthernet decodes a mirrored Ethernet frame (the payload of the
// tunnel), leaving Encap and VNI as they are.
func (p *Packet) DecodeEthernet(b []byte) Reason {
	p.GWLB.Has = 0
	p.PortsCut = false
	return p.decodeEthernet(b)
}

func (p *Packet) decodeEthernet(b []byte) Reason {
	if len(b) < 14 {
		return EthernetTruncated
	}
	et := be16(b[12:])
	b = b[14:]
	p.NumVLANs = 0
	if et == etherTypeIPv4 { // the common case first
		return p.decodeIPv4(b)
	}
	for et == etherTypeVLAN || et == etherTypeQinQ || et == etherTypeQinQv1 {
		if p.NumVLANs == 2 {
			return VLANTooDeep
		}
		if len(b) < 4 {
			return VLANTruncated
		}
		p.VLAN[p.NumVLANs] = be16(b) & 0x0fff
		p.NumVLANs++
		et = be16(b[2:])
		b = b[4:]
	}
	switch et {
	case etherTypeIPv4:
		return p.decodeIPv4(b)
	case etherTypeIPv6:
		return p.decodeIPv6(b)
	}
	return NotIP
}

func (p *Packet) decodeIPv4(b []byte) Reason {
	if len(b) < 20 {
		return IPv4Truncated
	}
	if b[0]>>4 != 4 {
		return IPv4BadHeader
	}
	ihl := int(b[0]&0x0f) << 2
	if ihl < 20 {
		return IPv4BadHeader
	}
	total := uint32(be16(b[2:]))
	p.LengthCaptured = false
	if total == 0 { // TSO/GSO capture: the header does not know the length
		total = uint32(len(b))
		p.LengthCaptured = true
	} else if total < uint32(ihl) {
		if len(b) < ihl {
			return IPv4Truncated
		}
		return IPv4BadHeader
	}
	p.Length = total
	p.Version = 4
	p.Proto = b[9]
	// IPv4-mapped form: 80 zero bits, 16 one bits, the address.
	binary.LittleEndian.PutUint64(p.Src[:8], 0)
	binary.LittleEndian.PutUint64(p.Src[8:], uint64(binary.LittleEndian.Uint32(b[12:16]))<<32|0xffff0000)
	binary.LittleEndian.PutUint64(p.Dst[:8], 0)
	binary.LittleEndian.PutUint64(p.Dst[8:], uint64(binary.LittleEndian.Uint32(b[16:20]))<<32|0xffff0000)
	frag := be16(b[6:])
	switch {
	case frag&0x1fff != 0:
		p.Fragment = LaterFragment
	case frag&0x2000 != 0:
		p.Fragment = FirstFragment
	default:
		p.Fragment = NotFragment
	}
	// Checked after the fixed header is read, so that a GWLB packet whose
	// options the capture cut is still counted (decodeGWLB).
	if len(b) < ihl {
		return IPv4Truncated
	}
	if p.Fragment == LaterFragment {
		return p.noPorts()
	}
	return p.decodePorts(b[ihl:], uint32(ihl))
}

func (p *Packet) decodeIPv6(b []byte) Reason {
	if len(b) < 40 {
		return IPv6Truncated
	}
	if b[0]>>4 != 6 {
		return IPv6BadHeader
	}
	plen := uint32(be16(b[4:]))
	next := b[6]
	p.Version = 6
	p.Src = [16]byte(b[8:24])
	p.Dst = [16]byte(b[24:40])
	p.Fragment = NotFragment
	p.Length = 40 + plen
	p.LengthCaptured = false
	if plen == 0 { // jumbogram or BIG TCP capture; a jumbo option may correct it
		p.Length = uint32(len(b))
		p.LengthCaptured = true
	}
	rest := b[40:]
	for i := 0; ; i++ {
		if i == maxIPv6Ext {
			return IPv6ExtTooMany
		}
		switch next {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(rest) < 8 {
				return p.extCut(next, rest)
			}
			n := (int(rest[1]) + 1) << 3
			if len(rest) < n {
				return p.extCut(next, rest)
			}
			if next == 0 {
				if i != 0 {
					return IPv6BadHeader // RFC 8200: hop-by-hop only first
				}
				if plen == 0 {
					if j, ok := jumboLength(rest[2:n]); ok {
						p.Length = 40 + j
						p.LengthCaptured = false
					}
				}
			}
			next = rest[0]
			rest = rest[n:]
		case 51: // authentication header: length in 4-octet units, minus 2
			if len(rest) < 8 {
				return p.extCut(next, rest)
			}
			n := (int(rest[1]) + 2) << 2
			if len(rest) < n {
				return p.extCut(next, rest)
			}
			next = rest[0]
			rest = rest[n:]
		case 44: // fragment
			if len(rest) < 8 {
				return p.extCut(next, rest)
			}
			off := be16(rest[2:]) >> 3
			more := rest[3]&1 != 0
			next = rest[0]
			rest = rest[8:]
			if off != 0 {
				p.Fragment = LaterFragment
				p.Proto = next
				return p.noPorts()
			}
			if more {
				p.Fragment = FirstFragment
			}
		default:
			p.Proto = next
			return p.decodePorts(rest, uint32(len(b)-len(rest)))
		}
	}
}

// extCut reports an extension header (next) that starts in rest but is
// cut by the capture, leaving in Proto, for decodeGWLB, which counts such
// a packet without ports, the most the capture shows of its upper-layer
// protocol: the header's own Next Header byte (its first) when the cut
// left it and it names no header the decoder walks (TCP, UDP, ICMPv6, …),
// else the cut header's type.
func (p *Packet) extCut(next uint8, rest []byte) Reason {
	p.Proto = next
	if len(rest) > 0 && !walkedExt(rest[0]) {
		p.Proto = rest[0]
	}
	return IPv6ExtTruncated
}

// walkedExt reports whether decodeIPv6 walks IPv6 extension header type t
// (hop-by-hop, routing, fragment, authentication, destination options).
func walkedExt(t uint8) bool { return t == 0 || t == 43 || t == 44 || t == 51 || t == 60 }

// jumboLength finds the Jumbo Payload option (RFC 2675) among hop-by-hop
// options.
func jumboLength(opts []byte) (uint32, bool) {
	for len(opts) > 0 {
		t := opts[0]
		if t == 0 { // Pad1
			opts = opts[1:]
			continue
		}
		if len(opts) < 2 || len(opts) < 2+int(opts[1]) {
			return 0, false
		}
		if t == 0xc2 && opts[1] == 4 {
			return uint32(opts[2])<<24 | uint32(opts[3])<<16 | uint32(opts[4])<<8 | uint32(opts[5]), true
		}
		opts = opts[2+int(opts[1]):]
	}
	return 0, false
}

func (p *Packet) noPorts() Reason {
	p.HasPorts = false
	p.SrcPort = 0
	p.DstPort = 0
	return OK
}

// decodePorts reads the ports of a TCP, UDP, UDP-Lite or SCTP header b,
// which starts at byte at of the IP packet (p.Length long).
func (p *Packet) decodePorts(b []byte, at uint32) Reason {
	switch p.Proto {
	case ProtoTCP, ProtoUDP, ProtoUDPLite, ProtoSCTP:
		if !p.LengthCaptured && p.Length < at+4 {
			// The packet ends before its ports: what the capture shows
			// there is the Ethernet frame's padding (a frame is at least
			// 60 bytes), not ports. Counted, with its length, without.
			return p.noPorts()
		}
		if len(b) < 4 {
			return L4Truncated
		}
		p.SrcPort = be16(b)
		p.DstPort = be16(b[2:])
		p.HasPorts = true
		return OK
	}
	return p.noPorts()
}
