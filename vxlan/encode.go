package vxlan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Spec describes a mirror packet for Append to encode. The zero value of
// each optional field gives the plain case: VXLAN, no VLAN tag, no IP
// options or extension headers, no fragment, a declared length equal to the
// headers, no cut.
type Spec struct {
	// Geneve selects Geneve instead of VXLAN; GeneveOptions adds that many
	// bytes of options (a multiple of 4, at most 252); GeneveProtocol, when
	// not 0, carries IP directly (0x0800 or 0x86dd) instead of Ethernet.
	Geneve         bool
	GeneveOptions  int
	GeneveProtocol uint16
	// VNI is the 24-bit network identifier.
	VNI uint32
	// VLANs are the inner frame's tags, outermost first (at most 2); QinQ
	// makes the outer of two tags 802.1ad.
	VLANs []uint16
	QinQ  bool
	// Src and Dst are the inner addresses; both IPv4 or both IPv6.
	Src, Dst netip.Addr
	// Proto is the upper-layer protocol; SrcPort and DstPort are written
	// for TCP, UDP, UDP-Lite and SCTP.
	Proto            uint8
	SrcPort, DstPort uint16
	// IPv4Options adds that many bytes of options (a multiple of 4, at most 40).
	IPv4Options int
	// IPv6Ext are extension headers before the upper layer (and before a
	// fragment header when Fragment is set).
	IPv6Ext []ExtHeader
	// Fragment makes the packet a fragment at FragOffset (in 8-byte units)
	// with the more-fragments flag MoreFragments; IPv6 gets a fragment header.
	Fragment      bool
	FragOffset    uint16
	MoreFragments bool
	// Length is the inner IP length to declare (IPv4 total length; IPv6
	// 40 + payload length); 0 means the headers' length. It must cover the
	// headers; zero bytes of payload are added up to it (within Snap).
	// ZeroLength declares 0 instead, as TSO captures do; with IPv6 and
	// Jumbo set, a hop-by-hop jumbo option carries the real length.
	Length     int
	ZeroLength bool
	Jumbo      bool
	// Snap cuts the inner Ethernet frame to this many bytes, as a mirror
	// session's packet-length does (128 on AWS); 0 does not cut.
	Snap int
	// Payload fills the L4 payload (and a later fragment's data); 0xab when 0,
	// so that payload read as a header shows.
	Payload byte
	// GWLB puts the IP packet inside a Gateway Load Balancer's Geneve, as
	// a mirror of an appliance's ENI holds it: VXLAN → Ethernet (VLANs) →
	// IPv4 GWLBOuterSrc → GWLBOuterDst, UDP to 6081 → Geneve (VNI 0,
	// Protocol Type 0x0800 or 0x86dd) with AWS's three options
	// (AppendGWLBOptions) and GWLBExtraOptions bytes of other options after
	// them → the IP packet. Snap still counts from the Ethernet frame.
	// Geneve must be false: the mirror's tunnel is VXLAN.
	GWLB                       bool
	GWLBEndpointID             uint64
	GWLBAttachmentID           uint64
	GWLBFlowCookie             uint32
	GWLBExtraOptions           int // a multiple of 4 in [0, 220]
	GWLBOuterSrc, GWLBOuterDst netip.Addr
}

// The outer addresses Spec.GWLB uses when GWLBOuterSrc or GWLBOuterDst is
// not set: a load balancer's and an appliance's (documentation addresses).
var (
	DefaultGWLBAddr      = netip.MustParseAddr("198.19.2.10")
	DefaultApplianceAddr = netip.MustParseAddr("198.19.2.20")
)

// ExtHeader is an IPv6 extension header for Spec: Type 0 (hop-by-hop), 43
// (routing) or 60 (destination options); Len is its size in bytes, a
// multiple of 8 from 8 to 2048.
type ExtHeader struct {
	Type uint8
	Len  int
}

// MaxSpecLength bounds Spec.Length so that a generated packet stays small.
const MaxSpecLength = 65535

// Append encodes s as a mirror packet's UDP payload (tunnel header and inner
// frame) appended to dst, and returns the extended slice. It allocates only
// when dst lacks capacity. Invalid specs return an error naming the field.
func Append(dst []byte, s *Spec) ([]byte, error) {
	if err := s.check(); err != nil {
		return dst, err
	}
	if s.Geneve {
		proto := uint16(etherTypeTEB)
		if s.GeneveProtocol != 0 {
			proto = s.GeneveProtocol
		}
		dst = append(dst, byte(s.GeneveOptions/4), 0, byte(proto>>8), byte(proto),
			byte(s.VNI>>16), byte(s.VNI>>8), byte(s.VNI), 0)
		for i := 0; i < s.GeneveOptions; i += 4 {
			// class 0x0102 (experimental), type i, no data beyond the 4-byte header
			dst = append(dst, 0x01, 0x02, byte(i), 0)
		}
		if s.GeneveProtocol != 0 {
			return s.appendIP(dst, len(dst)), nil
		}
	} else {
		dst = append(dst, 0x08, 0, 0, 0, byte(s.VNI>>16), byte(s.VNI>>8), byte(s.VNI), 0)
	}
	frame := len(dst)
	dst = append(dst, 0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02) // dst, src MAC
	for i, v := range s.VLANs {
		tpid := uint16(etherTypeVLAN)
		if i == 0 && s.QinQ && len(s.VLANs) == 2 {
			tpid = etherTypeQinQ
		}
		dst = binary.BigEndian.AppendUint16(dst, tpid)
		dst = binary.BigEndian.AppendUint16(dst, v&0x0fff)
	}
	et := uint16(etherTypeIPv4)
	if s.Src.Is6() && !s.GWLB {
		et = etherTypeIPv6
	}
	dst = binary.BigEndian.AppendUint16(dst, et)
	if s.GWLB {
		dst = s.appendGWLB(dst)
	}
	return s.appendIP(dst, frame), nil
}

// appendGWLB appends the outer IPv4 and UDP headers of GWLB's Geneve, the
// Geneve header and its options; the client's packet follows.
func (s *Spec) appendGWLB(dst []byte) []byte {
	_, _, inner := s.ipSizes()
	opts := 32 + s.GWLBExtraOptions
	src, dstA := s.GWLBOuterSrc, s.GWLBOuterDst
	if !src.IsValid() {
		src = DefaultGWLBAddr
	}
	if !dstA.IsValid() {
		dstA = DefaultApplianceAddr
	}
	total := 20 + 8 + 8 + opts + inner
	ip := len(dst)
	s4, d4 := src.As4(), dstA.As4()
	dst = append(dst, 0x45, 0, byte(total>>8), byte(total), 0, 0, 0x40, 0, 64, ProtoUDP, 0, 0)
	dst = append(dst, s4[:]...)
	dst = append(dst, d4[:]...)
	binary.BigEndian.PutUint16(dst[ip+10:], ipv4Checksum(dst[ip:ip+20]))
	sport := uint16(0x8000 | s.GWLBFlowCookie&0x7fff) // GWLB varies it by flow
	ulen := total - 20
	dst = append(dst, byte(sport>>8), byte(sport), PortGeneve>>8, PortGeneve&0xff, byte(ulen>>8), byte(ulen), 0, 0)
	proto := uint16(etherTypeIPv4)
	if s.Src.Is6() {
		proto = etherTypeIPv6
	}
	dst = append(dst, byte(opts/4), 0, byte(proto>>8), byte(proto), 0, 0, 0, 0)
	dst = AppendGWLBOptions(dst, s.GWLBEndpointID, s.GWLBAttachmentID, s.GWLBFlowCookie)
	for i := 0; i < s.GWLBExtraOptions; i += 4 {
		dst = append(dst, 0x01, 0x02, byte(i), 0) // class 0x0102 (experimental), no data
	}
	return dst
}

func (s *Spec) check() error {
	switch {
	case s.VNI > 0xffffff:
		return fmt.Errorf("vxlan: VNI %d exceeds 24 bits", s.VNI)
	case s.GeneveOptions < 0 || s.GeneveOptions > 252 || s.GeneveOptions%4 != 0:
		return fmt.Errorf("vxlan: GeneveOptions %d is not a multiple of 4 in [0, 252]", s.GeneveOptions)
	case len(s.VLANs) > 2:
		return fmt.Errorf("vxlan: %d VLAN tags, at most 2", len(s.VLANs))
	case !s.Src.IsValid() || !s.Dst.IsValid() || s.Src.Is4() != s.Dst.Is4():
		return fmt.Errorf("vxlan: Src %v and Dst %v must both be IPv4 or both IPv6", s.Src, s.Dst)
	case s.IPv4Options < 0 || s.IPv4Options > 40 || s.IPv4Options%4 != 0:
		return fmt.Errorf("vxlan: IPv4Options %d is not a multiple of 4 in [0, 40]", s.IPv4Options)
	case s.Length < 0 || s.Length > MaxSpecLength:
		return fmt.Errorf("vxlan: Length %d outside [0, %d]", s.Length, MaxSpecLength)
	case s.FragOffset > 0x1fff:
		return fmt.Errorf("vxlan: FragOffset %d exceeds 13 bits", s.FragOffset)
	case s.Snap < 0:
		return fmt.Errorf("vxlan: Snap %d is negative", s.Snap)
	}
	if s.Src.Is4() && len(s.IPv6Ext) > 0 {
		return errors.New("vxlan: IPv6Ext given for an IPv4 packet")
	}
	for i, e := range s.IPv6Ext {
		if (e.Type != 0 && e.Type != 43 && e.Type != 60) || e.Len < 8 || e.Len > 2048 || e.Len%8 != 0 {
			return fmt.Errorf("vxlan: IPv6Ext[%d] = {Type %d, Len %d}: want type 0, 43 or 60 and a multiple of 8 in [8, 2048]", i, e.Type, e.Len)
		}
		if e.Type == 0 && i != 0 {
			return fmt.Errorf("vxlan: IPv6Ext[%d] is hop-by-hop, which must come first", i)
		}
	}
	if s.Jumbo && (s.Src.Is4() || !s.ZeroLength) {
		return errors.New("vxlan: Jumbo needs IPv6 and ZeroLength")
	}
	if s.GWLB {
		switch {
		case s.Geneve:
			return errors.New("vxlan: GWLB needs Geneve false: the mirror's tunnel is VXLAN")
		case s.GWLBExtraOptions < 0 || s.GWLBExtraOptions > 220 || s.GWLBExtraOptions%4 != 0:
			return fmt.Errorf("vxlan: GWLBExtraOptions %d is not a multiple of 4 in [0, 220]", s.GWLBExtraOptions)
		case s.GWLBOuterSrc.IsValid() && !s.GWLBOuterSrc.Is4(), s.GWLBOuterDst.IsValid() && !s.GWLBOuterDst.Is4():
			return fmt.Errorf("vxlan: GWLBOuterSrc %v and GWLBOuterDst %v must be IPv4 (GWLB's Geneve is IPv4)", s.GWLBOuterSrc, s.GWLBOuterDst)
		}
		if _, _, total := s.ipSizes(); total > 65535-20-8-8-32-s.GWLBExtraOptions {
			return fmt.Errorf("vxlan: Length %d too long for GWLB's Geneve around it", total)
		}
	}
	if s.Geneve && s.GeneveProtocol != 0 {
		if s.GeneveProtocol != etherTypeIPv4 && s.GeneveProtocol != etherTypeIPv6 {
			return fmt.Errorf("vxlan: GeneveProtocol %#x is neither 0x0800 nor 0x86dd", s.GeneveProtocol)
		}
		if len(s.VLANs) > 0 {
			return errors.New("vxlan: VLANs need an Ethernet payload (GeneveProtocol 0)")
		}
	}
	return nil
}

func l4HeaderLen(proto uint8) int {
	switch proto {
	case ProtoTCP:
		return 20
	case ProtoUDP, ProtoUDPLite, ProtoICMP, ProtoICMPv6:
		return 8
	case ProtoSCTP:
		return 12
	}
	return 0
}

// ipSizes returns the IP packet's header length (extension headers
// included), its L4 header's, and its total length.
func (s *Spec) ipSizes() (hdr, l4, total int) {
	if !(s.Fragment && s.FragOffset != 0) {
		l4 = l4HeaderLen(s.Proto)
	}
	if s.Src.Is4() {
		hdr = 20 + s.IPv4Options
	} else {
		hdr = 40
		for _, e := range s.IPv6Ext {
			hdr += e.Len
		}
		if s.Jumbo && (len(s.IPv6Ext) == 0 || s.IPv6Ext[0].Type != 0) {
			hdr += 8 // a hop-by-hop header of its own for the jumbo option
		}
		if s.Fragment {
			hdr += 8
		}
	}
	return hdr, l4, max(s.Length, hdr+l4)
}

// appendIP appends the IP packet; frame is the offset where Snap counts from.
func (s *Spec) appendIP(dst []byte, frame int) []byte {
	start := len(dst)
	fill := s.Payload
	if fill == 0 {
		fill = 0xab
	}
	hdr, l4, total := s.ipSizes()
	declared := total
	if s.ZeroLength {
		declared = 0
	}
	if s.Src.Is4() {
		ihl := byte(5 + s.IPv4Options/4)
		frag := s.FragOffset
		if s.Fragment && s.MoreFragments {
			frag |= 0x2000
		}
		src, dstA := s.Src.As4(), s.Dst.As4()
		dst = append(dst, 0x40|ihl, 0, byte(declared>>8), byte(declared), 0x12, 0x34, byte(frag>>8), byte(frag),
			64, s.Proto, 0, 0)
		dst = append(dst, src[:]...)
		dst = append(dst, dstA[:]...)
		for i := 0; i < s.IPv4Options; i++ {
			if i == s.IPv4Options-1 {
				dst = append(dst, 0) // end of options list
			} else {
				dst = append(dst, 1) // no-operation
			}
		}
		binary.BigEndian.PutUint16(dst[start+10:], ipv4Checksum(dst[start:start+int(ihl)*4]))
	} else {
		plen := declared - 40
		if s.ZeroLength {
			plen = 0
		}
		exts := s.IPv6Ext
		next := s.Proto
		if s.Fragment {
			next = 44
		}
		jumboOwn := s.Jumbo && (len(exts) == 0 || exts[0].Type != 0)
		first := next
		if len(exts) > 0 {
			first = exts[0].Type
		}
		if jumboOwn {
			first = 0
		}
		dst = append(dst, 0x60, 0, 0, 0, byte(plen>>8), byte(plen), first, 64)
		src, dstA := s.Src.As16(), s.Dst.As16()
		dst = append(dst, src[:]...)
		dst = append(dst, dstA[:]...)
		jumbo := uint32(total - 40)
		if jumboOwn {
			nh := next
			if len(exts) > 0 {
				nh = exts[0].Type
			}
			dst = appendJumboHBH(dst, nh, 8, jumbo)
		}
		for i, e := range exts {
			nh := next
			if i+1 < len(exts) {
				nh = exts[i+1].Type
			}
			if e.Type == 0 && s.Jumbo {
				dst = appendJumboHBH(dst, nh, e.Len, jumbo)
				continue
			}
			if e.Type == 43 { // routing type 0, no segments left: skipped by every receiver
				dst = append(dst, nh, byte(e.Len/8-1), 0, 0)
				for range e.Len - 4 {
					dst = append(dst, 0)
				}
				continue
			}
			dst = append(dst, nh, byte(e.Len/8-1))
			dst = appendPadN(dst, e.Len-2)
		}
		if s.Fragment {
			off := s.FragOffset << 3
			if s.MoreFragments {
				off |= 1
			}
			dst = append(dst, s.Proto, 0, byte(off>>8), byte(off), 0, 0, 0x56, 0x78)
		}
	}
	if l4 > 0 {
		h := len(dst)
		dst = append(dst, byte(s.SrcPort>>8), byte(s.SrcPort), byte(s.DstPort>>8), byte(s.DstPort))
		for range l4 - 4 {
			dst = append(dst, 0)
		}
		switch s.Proto {
		case ProtoTCP:
			dst[h+12] = 5 << 4 // data offset
			dst[h+13] = 0x10   // ACK
		case ProtoUDP:
			binary.BigEndian.PutUint16(dst[h+4:], uint16(min(total-hdr, 0xffff)))
		case ProtoUDPLite:
			dst[h+5] = 8 // checksum coverage: the header
		case ProtoICMP, ProtoICMPv6:
			dst[h], dst[h+1], dst[h+2], dst[h+3] = 8, 0, 0, 0 // echo request, no ports
			if s.Proto == ProtoICMPv6 {
				dst[h] = 128
			}
		}
	}
	want := start + total
	if s.Snap > 0 {
		want = min(want, frame+s.Snap)
	}
	for len(dst) < want {
		dst = append(dst, fill)
	}
	if len(dst) > want { // the cut falls inside the headers
		dst = dst[:want]
	}
	return dst
}

func appendJumboHBH(dst []byte, next uint8, n int, jumbo uint32) []byte {
	dst = append(dst, next, byte(n/8-1), 0xc2, 4, byte(jumbo>>24), byte(jumbo>>16), byte(jumbo>>8), byte(jumbo))
	return appendPadN(dst, n-8)
}

// appendPadN appends n bytes of padding options (Pad1 for 1, PadN otherwise).
func appendPadN(dst []byte, n int) []byte {
	switch {
	case n == 0:
		return dst
	case n == 1:
		return append(dst, 0)
	}
	dst = append(dst, 1, byte(n-2))
	for range n - 2 {
		dst = append(dst, 0)
	}
	return dst
}

func ipv4Checksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(h[i])<<8 | uint32(h[i+1])
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// Frame wraps a mirror packet's UDP payload in outer Ethernet, IPv4 and UDP
// headers addressed from src to dst:dport, as a capture file would hold it,
// appended to out. The outer UDP source port is sport (AWS derives it from a
// hash of the inner flow).
func Frame(out []byte, src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	out = append(out, 0x02, 0, 0, 0, 0, 0x03, 0x02, 0, 0, 0, 0, 0x04)
	if src.Is4() {
		out = append(out, 0x08, 0x00)
		ip := len(out)
		total := 20 + 8 + len(payload)
		s4, d4 := src.As4(), dst.As4()
		out = append(out, 0x45, 0, byte(total>>8), byte(total), 0, 0, 0x40, 0, 64, ProtoUDP, 0, 0)
		out = append(out, s4[:]...)
		out = append(out, d4[:]...)
		binary.BigEndian.PutUint16(out[ip+10:], ipv4Checksum(out[ip:ip+20]))
	} else {
		out = append(out, 0x86, 0xdd)
		plen := 8 + len(payload)
		s16, d16 := src.As16(), dst.As16()
		out = append(out, 0x60, 0, 0, 0, byte(plen>>8), byte(plen), ProtoUDP, 64)
		out = append(out, s16[:]...)
		out = append(out, d16[:]...)
	}
	ulen := 8 + len(payload)
	out = append(out, byte(sport>>8), byte(sport), byte(dport>>8), byte(dport), byte(ulen>>8), byte(ulen), 0, 0)
	return append(out, payload...)
}
