package vxlan

// DecodeFrame decodes a whole captured frame as a capture file holds it:
// outer Ethernet (up to two VLAN tags) → IPv4 or IPv6 → UDP, then the tunnel
// by the UDP destination port: vxlanPort for VXLAN (4789 as a rule), 6081
// for Geneve. Any other port gives OuterPort. The tunnel's payload ends
// where the outer headers say (see DecodeOuterIP).
func (p *Packet) DecodeFrame(frame []byte, vxlanPort uint16) Reason {
	if len(frame) < 14 {
		return OuterTruncated
	}
	et := be16(frame[12:])
	b := frame[14:]
	for n := 0; et == etherTypeVLAN || et == etherTypeQinQ || et == etherTypeQinQv1; n++ {
		if n == 2 || len(b) < 4 {
			return OuterTruncated
		}
		et = be16(b[2:])
		b = b[4:]
	}
	if et != etherTypeIPv4 && et != etherTypeIPv6 {
		return OuterNotUDP
	}
	return p.DecodeOuterIP(b, vxlanPort)
}

// DecodeOuterIP is DecodeFrame for captures without a link-layer header
// (LINKTYPE_RAW): b starts at the outer IP header.
//
// The tunnel's payload ends where the outer headers say (IPv4 Total
// Length, IPv6 Payload Length, UDP Length), or where the capture does if
// that comes first: bytes a capture holds past the outer packet are not
// the tunnel's, as Decode holds for the mirrored packet. A length of 0 (a
// GSO capture's, or an IPv6 jumbogram's) says nothing.
func (p *Packet) DecodeOuterIP(b []byte, vxlanPort uint16) Reason {
	udp, r := outerUDP(b)
	if r != OK {
		return r
	}
	if len(udp) < 8 {
		return OuterTruncated
	}
	udp, ok := cutToDeclared(udp, int(be16(udp[4:])), 8)
	if !ok {
		return OuterTruncated
	}
	switch be16(udp[2:]) {
	case vxlanPort:
		return p.Decode(udp[8:])
	case PortGeneve:
		return p.DecodeGeneve(udp[8:])
	}
	return OuterPort
}

// outerUDP walks the outer IP header to the UDP header. The outer packet is
// the tunnel's, so any fragment but the first has no UDP header.
func outerUDP(b []byte) ([]byte, Reason) {
	if len(b) < 1 {
		return nil, OuterTruncated
	}
	switch b[0] >> 4 {
	case 4:
		if len(b) < 20 {
			return nil, OuterTruncated
		}
		ihl := int(b[0]&0x0f) << 2
		if ihl < 20 || len(b) < ihl {
			return nil, OuterTruncated
		}
		if b[9] != ProtoUDP || be16(b[6:])&0x1fff != 0 {
			return nil, OuterNotUDP
		}
		b, ok := cutToDeclared(b, int(be16(b[2:])), ihl)
		if !ok {
			return nil, OuterTruncated
		}
		return b[ihl:], OK
	case 6:
		if len(b) < 40 {
			return nil, OuterTruncated
		}
		if n := int(be16(b[4:])); n != 0 {
			b, _ = cutToDeclared(b, 40+n, 40) // the fixed header is outside Payload Length
		}
		next, rest := b[6], b[40:]
		for range maxIPv6Ext {
			switch next {
			case ProtoUDP:
				return rest, OK
			case 0, 43, 60:
				if len(rest) < 8 || len(rest) < (int(rest[1])+1)<<3 {
					return nil, OuterTruncated
				}
				next, rest = rest[0], rest[(int(rest[1])+1)<<3:]
			case 44:
				if len(rest) < 8 {
					return nil, OuterTruncated
				}
				if be16(rest[2:])>>3 != 0 {
					return nil, OuterNotUDP
				}
				next, rest = rest[0], rest[8:]
			default:
				return nil, OuterNotUDP
			}
		}
		return nil, OuterNotUDP
	}
	return nil, OuterNotUDP
}

// cutToDeclared cuts b, a packet or datagram as captured, to n, the length
// its header declares, when n is the shorter: what a capture holds past it
// is not the packet's. A length of 0 declares nothing (a GSO capture's, an
// IPv6 jumbogram's) and leaves b whole. It reports false when n is
// shorter than hdr, the header that declares it. (Decode's fast paths keep
// the same rule inline, in udpPayload and their length checks.)
func cutToDeclared(b []byte, n, hdr int) ([]byte, bool) {
	switch {
	case n == 0:
		return b, true
	case n < hdr:
		return nil, false
	case n < len(b):
		return b[:n], true
	}
	return b, true
}
