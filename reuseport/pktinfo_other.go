//go:build !linux

package reuseport

import "net/netip"

// Addrs is not supported off Linux (Listen refuses Config.PacketInfo): ok
// is always false.
func (b *Batch) Addrs(i int) (from netip.AddrPort, to netip.Addr, unicast, ok bool) {
	return netip.AddrPort{}, netip.Addr{}, false, false
}
