package flow

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"

	"github.com/cespare/xxhash/v2"

	"github.com/dxmon/dxmon/vxlan"
)

// KeyLen is the size of a Key in bytes.
const KeyLen = 40

// Key is a flow's 5-tuple in a fixed, canonical byte layout, the same on
// every architecture, so that its hash is the same on every probe:
//
//	[0:16]  source address (IPv4 as IPv4-mapped IPv6)
//	[16:32] destination address
//	[32:34] source port, big-endian
//	[34:36] destination port, big-endian
//	[36]    IP protocol
//	[37]    IP version (4 or 6); 0 in the zero Key
//	[38:40] zero
//
// Keys are comparable and usable as map keys. A Key may also hold one
// dimension of a flow (see Src, Dst and DstPortOnly) with the other fields
// zero.
type Key [KeyLen]byte

// KeyOf returns the key of a decoded packet. Later fragments have ports 0.
func KeyOf(p *vxlan.Packet) Key {
	var k Key
	*(*[16]byte)(k[0:16]) = p.Src
	*(*[16]byte)(k[16:32]) = p.Dst
	binary.BigEndian.PutUint16(k[32:], p.SrcPort)
	binary.BigEndian.PutUint16(k[34:], p.DstPort)
	k[36] = p.Proto
	k[37] = p.Version
	return k
}

// NewKey returns the key of a 5-tuple. src and dst must be of one family.
func NewKey(src, dst netip.Addr, proto uint8, sport, dport uint16) Key {
	var k Key
	*(*[16]byte)(k[0:16]) = src.As16()
	*(*[16]byte)(k[16:32]) = dst.As16()
	binary.BigEndian.PutUint16(k[32:], sport)
	binary.BigEndian.PutUint16(k[34:], dport)
	k[36] = proto
	k[37] = 6
	if src.Is4() {
		k[37] = 4
	}
	return k
}

// Hash is xxhash64 of the key's bytes with seed 0: no per-process state,
// so every worker, probe and restart computes the same value. Compute it
// once per packet and pass it to both the sampler and the table.
//
// It is XXH64 unrolled for exactly KeyLen bytes, inlined into the caller's
// loop; TestHashIsXXH64 checks it equals xxhash.Sum64(k[:]).
func (k *Key) Hash() uint64 {
	const (
		p1 = 11400714785074694791
		p2 = 14029467366897019727
		p3 = 1609587929392839161
		p4 = 9650029242287828579
	)
	le := binary.LittleEndian
	// Seeds for seed 0: p1+p2 and -p1, modulo 2^64.
	v1 := round(6983438078262162902, le.Uint64(k[0:8]))
	v2 := round(p2, le.Uint64(k[8:16]))
	v3 := round(0, le.Uint64(k[16:24]))
	v4 := round(7046029288634856825, le.Uint64(k[24:32]))
	h := bits.RotateLeft64(v1, 1) + bits.RotateLeft64(v2, 7) + bits.RotateLeft64(v3, 12) + bits.RotateLeft64(v4, 18)
	h = (h^round(0, v1))*p1 + p4
	h = (h^round(0, v2))*p1 + p4
	h = (h^round(0, v3))*p1 + p4
	h = (h^round(0, v4))*p1 + p4
	h += KeyLen
	h ^= round(0, le.Uint64(k[32:40]))
	h = bits.RotateLeft64(h, 27)*p1 + p4
	h ^= h >> 33
	h *= p2
	h ^= h >> 29
	h *= p3
	h ^= h >> 32
	return h
}

func round(acc, in uint64) uint64 {
	const p1, p2 = 11400714785074694791, 14029467366897019727
	return bits.RotateLeft64(acc+in*p2, 31) * p1
}

// hashBytes is the reference: the xxhash package over the key's bytes.
func hashBytes(k *Key) uint64 { return xxhash.Sum64(k[:]) }

func (k *Key) addr(off int) netip.Addr {
	a := netip.AddrFrom16([16]byte(k[off : off+16]))
	if k[37] == 4 {
		return a.Unmap()
	}
	return a
}

// Src returns the source address.
func (k *Key) Src() netip.Addr { return k.addr(0) }

// Dst returns the destination address.
func (k *Key) Dst() netip.Addr { return k.addr(16) }

// SrcPort returns the source port.
func (k *Key) SrcPort() uint16 { return binary.BigEndian.Uint16(k[32:]) }

// DstPort returns the destination port.
func (k *Key) DstPort() uint16 { return binary.BigEndian.Uint16(k[34:]) }

// Proto returns the IP protocol number.
func (k *Key) Proto() uint8 { return k[36] }

// Version returns the IP version, 4 or 6.
func (k *Key) Version() uint8 { return k[37] }

// SrcOnly returns the key of the flow's source address alone.
func (k *Key) SrcOnly() Key {
	var d Key
	copy(d[0:16], k[0:16])
	d[37] = k[37]
	return d
}

// DstOnly returns the key of the flow's destination address alone, kept
// in the source position so that SrcOnly and DstOnly keys of one address
// are equal.
func (k *Key) DstOnly() Key {
	var d Key
	copy(d[0:16], k[16:32])
	d[37] = k[37]
	return d
}

// PortOnly returns the key of the flow's (protocol, destination port).
func (k *Key) PortOnly() Key {
	var d Key
	copy(d[34:36], k[34:36])
	d[36] = k[36]
	return d
}

// String formats the key as "src:sport > dst:dport proto N".
func (k Key) String() string {
	return fmt.Sprintf("%v > %v proto %d",
		netip.AddrPortFrom(k.Src(), k.SrcPort()), netip.AddrPortFrom(k.Dst(), k.DstPort()), k.Proto())
}

// equal is k == o, compared as five 64-bit words (the compiler calls
// memequal for a 40-byte array).
func (k *Key) equal(o *Key) bool {
	le := binary.LittleEndian
	return le.Uint64(k[0:8]) == le.Uint64(o[0:8]) && le.Uint64(k[8:16]) == le.Uint64(o[8:16]) &&
		le.Uint64(k[16:24]) == le.Uint64(o[16:24]) && le.Uint64(k[24:32]) == le.Uint64(o[24:32]) &&
		le.Uint64(k[32:40]) == le.Uint64(o[32:40])
}
