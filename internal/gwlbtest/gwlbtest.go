// Package gwlbtest builds the Geneve datagrams a Gateway Load Balancer sends
// its appliances, and malformed ones, for the tests and the bench of the
// appliance (package gwlb, examples/dxappliance).
package gwlbtest

import (
	"encoding/binary"

	"github.com/dxmon/dxmon/vxlan"
)

// Header is the Geneve header GWLB uses: version 0, 32 bytes of AWS TLVs
// (Opt Len 8 words), VNI 0. With the TLVs it is 40 bytes.
func Header(proto uint16, endpointID, attachmentID uint64, cookie uint32) []byte {
	h := []byte{0, 0, 0, 0, 0, 0, 0, 0}
	h[0] = 8 // Opt Len: 32 bytes
	binary.BigEndian.PutUint16(h[2:], proto)
	return vxlan.AppendGWLBOptions(h, endpointID, attachmentID, cookie)
}

// Packet is a GWLB datagram (UDP payload): Header and an inner IPv4 or IPv6
// packet of size bytes (at least 20 or 40), its addresses from 198.18.1.0/24
// or 2001:db8::/32 and its payload filled from seed.
func Packet(v6 bool, size int, seed byte) []byte {
	proto := uint16(0x0800)
	if v6 {
		proto = 0x86DD
	}
	p := Header(proto, 0x0123456789abcdef, 0, uint32(seed)<<24|0x00c0ffee)
	return append(p, Inner(v6, size, seed)...)
}

// Inner is an IPv4 (UDP) or IPv6 (UDP) packet of size bytes.
func Inner(v6 bool, size int, seed byte) []byte {
	if v6 {
		size = max(size, 40)
		b := make([]byte, size)
		b[0] = 0x60
		binary.BigEndian.PutUint16(b[4:], uint16(size-40))
		b[6], b[7] = 17, 64
		copy(b[8:], []byte{0x20, 0x01, 0x0d, 0xb8, 15: 1})
		copy(b[24:], []byte{0x20, 0x01, 0x0d, 0xb8, 15: 2})
		fill(b[40:], seed)
		return b
	}
	size = max(size, 20)
	b := make([]byte, size)
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(size))
	b[8], b[9] = 64, 17
	copy(b[12:], []byte{198, 18, 1, 100})
	copy(b[16:], []byte{198, 18, 1, 200})
	fill(b[20:], seed)
	return b
}

func fill(b []byte, seed byte) {
	for i := range b {
		b[i] = seed + byte(i)
	}
}

// Malformed returns one datagram per way to be wrong, keyed by the label
// package gwlb counts it under.
func Malformed() map[string][]byte {
	good := Packet(false, 100, 1)
	badVersion := append([]byte(nil), good...)
	badVersion[0] |= 0x40
	overrun := append([]byte(nil), good...)
	overrun[8+12+3] = 0x1f // the second option (at 20) claims 124 bytes
	noTLVs := append([]byte{0, 0, 0x08, 0, 0, 0, 0, 0}, Inner(false, 100, 1)...)
	wrongProto := append([]byte(nil), good...)
	binary.BigEndian.PutUint16(wrongProto[2:], 0x6558) // Ethernet
	badInner := append([]byte(nil), good...)
	badInner[40] = 0x65 // version 6 in a 0x0800 packet
	return map[string][]byte{
		"geneve_version":       badVersion,
		"geneve_options":       overrun,
		"geneve_truncated":     good[:30],
		"gwlb_options_missing": noTLVs,
		"geneve_protocol":      wrongProto,
		"inner_header":         badInner,
	}
}
