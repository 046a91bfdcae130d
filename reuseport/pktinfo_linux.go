package reuseport

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// setPacketInfo asks the kernel to attach IP_PKTINFO to every IPv4
// datagram. It works on AF_INET sockets and on the dual-stack AF_INET6
// sockets Go opens for a wildcard address, where IPv4 datagrams still carry
// the IPv4 control message. IPV6_RECVPKTINFO is not set: its 40 bytes would
// not fit beside SO_RXQ_OVFL and IP_PKTINFO in ctrlSpace.
func setPacketInfo(fd int) error {
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_PKTINFO, 1); err != nil {
		return fmt.Errorf("reuseport: set IP_PKTINFO: %w", err)
	}
	return nil
}

// Addrs returns the sender of the i-th packet of the last Read and, for an
// IPv4 datagram, the local address it was sent to (the IPv4 header's
// destination) and whether that address is the one the kernel would answer
// from (ipi_spec_dst equals ipi_addr: false for a datagram to a broadcast or
// multicast address). ok is false when the Reader was opened without
// Config.PacketInfo or the kernel attached no IP_PKTINFO (an IPv6
// datagram). IPv4 addresses are returned as such, never IPv4-mapped. It
// neither allocates nor keeps anything.
func (b *Batch) Addrs(i int) (from netip.AddrPort, to netip.Addr, unicast, ok bool) {
	if b.names == nil || i < 0 || i >= b.used {
		return netip.AddrPort{}, netip.Addr{}, false, false
	}
	h := &b.hdrs[i].hdr
	from = sockaddrAddrPort(&b.names[i], h.Namelen)
	if h.Controllen == 0 {
		return from, netip.Addr{}, false, false
	}
	c := b.ctrl[i*ctrlSpace : i*ctrlSpace+int(h.Controllen)]
	spec, addr, found := parsePktinfo(c)
	if !found {
		return from, netip.Addr{}, false, false
	}
	return from, addr, spec == addr, true
}

// sockaddrAddrPort reads a sockaddr_in or sockaddr_in6 of length n.
func sockaddrAddrPort(sa *unix.RawSockaddrInet6, n uint32) netip.AddrPort {
	switch {
	case sa.Family == unix.AF_INET && n >= unix.SizeofSockaddrInet4:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), ntohs(sa4.Port))
	case sa.Family == unix.AF_INET6 && n >= unix.SizeofSockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), ntohs(sa.Port))
	}
	return netip.AddrPort{}
}

// ntohs converts a port as stored in a sockaddr.
func ntohs(p uint16) uint16 {
	var b [2]byte
	binary.NativeEndian.PutUint16(b[:], p)
	return binary.BigEndian.Uint16(b[:])
}

// parsePktinfo finds IP_PKTINFO in one message's control data: struct
// in_pktinfo { int ipi_ifindex; struct in_addr ipi_spec_dst, ipi_addr; }.
func parsePktinfo(c []byte) (spec, addr netip.Addr, ok bool) {
	for len(c) >= cmsgHdrLen {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&c[0])) // c is 8-byte aligned: see newCtrl
		l := int(h.Len)
		if l < cmsgHdrLen || l > len(c) {
			break
		}
		data := c[cmsgHdrLen:l]
		if h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo {
			return netip.AddrFrom4([4]byte(data[4:8])), netip.AddrFrom4([4]byte(data[8:12])), true
		}
		next := unix.CmsgSpace(l - cmsgHdrLen)
		if next >= len(c) {
			break
		}
		c = c[next:]
	}
	return netip.Addr{}, netip.Addr{}, false
}
