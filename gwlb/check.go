package gwlb

import (
	"net/netip"

	"github.com/dxmon/dxmon/vxlan"
)

// Reason says why a datagram was not returned, or OK. Every value but OK is
// counted under its String() in dxmon_appliance_malformed_packets_total.
type Reason uint8

// The reasons, a closed set (metric labels).
const (
	OK            Reason = iota // a GWLB Geneve packet: returned
	Truncated                   // shorter than the Geneve header its Opt Len declares
	Version                     // Geneve version is not 0
	Options                     // a Geneve option's length runs past the options area
	NoGWLBOptions               // one of AWS's three TLVs (endpoint ID, attachment ID, flow cookie) is missing
	Protocol                    // Geneve Protocol Type is neither IPv4 (0x0800) nor IPv6 (0x86DD)
	InnerHeader                 // the inner packet is not a plausible IPv4 or IPv6 header
	Oversize                    // the datagram filled the receive buffer: it may have been cut
	Sender                      // the sender is not an IPv4 unicast address and port, or is the appliance itself
	Destination                 // not sent to a local IPv4 unicast address (broadcast, multicast, IPv6)
	numReasons
)

var reasonNames = [numReasons]string{
	OK:            "ok",
	Truncated:     "geneve_truncated",
	Version:       "geneve_version",
	Options:       "geneve_options",
	NoGWLBOptions: "gwlb_options_missing",
	Protocol:      "geneve_protocol",
	InnerHeader:   "inner_header",
	Oversize:      "oversize",
	Sender:        "sender",
	Destination:   "destination",
}

// String returns the reason's metric label.
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Reasons returns every reason but OK, in order: the label values of the
// malformed counter.
func Reasons() []Reason {
	rs := make([]Reason, 0, numReasons-1)
	for r := OK + 1; r < numReasons; r++ {
		rs = append(rs, r)
	}
	return rs
}

// Geneve Protocol Types GWLB carries (RFC 8926 §3.4: an EtherType).
const (
	protoIPv4 = 0x0800
	protoIPv6 = 0x86DD
)

// hasAll is the set of AWS TLVs a GWLB packet always carries.
const hasAll = vxlan.HasEndpointID | vxlan.HasAttachmentID | vxlan.HasFlowCookie

// Check decides whether p, a UDP payload, is a Geneve packet a Gateway Load
// Balancer sent: Geneve version 0 with consistent options
// (vxlan.ParseGeneve), all three of AWS's TLVs, Protocol Type IPv4 or IPv6
// and an inner packet that starts with a plausible header of that family.
// It fills m from the TLVs. It neither allocates nor keeps p.
func Check(p []byte, m *vxlan.GWLBMeta) Reason {
	n, proto, r := vxlan.ParseGeneve(p, m)
	switch r {
	case vxlan.OK:
	case vxlan.GeneveVersion:
		return Version
	case vxlan.GeneveOptions:
		return Options
	default:
		return Truncated
	}
	// gwlbtun drops a packet without all three ("the three mandatory
	// options for GWLB": GenevePacket.cpp, GP_STATUS_MISSING_GWLB_OPTIONS).
	if m.Has&hasAll != hasAll {
		return NoGWLBOptions
	}
	inner := p[n:]
	switch proto {
	case protoIPv4:
		if !plausibleIPv4(inner) {
			return InnerHeader
		}
	case protoIPv6:
		if !plausibleIPv6(inner) {
			return InnerHeader
		}
	default:
		return Protocol
	}
	return OK
}

// plausibleIPv4: version 4, a header length of 5 to 15 words, and a total
// length from the header's to what was received (GWLB forwards whole
// packets, so the two are equal on the wire).
func plausibleIPv4(b []byte) bool {
	if len(b) < 20 || b[0]>>4 != 4 {
		return false
	}
	hl := int(b[0]&0x0f) * 4
	total := int(b[2])<<8 | int(b[3])
	return hl >= 20 && hl <= total && total <= len(b)
}

// plausibleIPv6: version 6 and a payload length that fits what was
// received.
func plausibleIPv6(b []byte) bool {
	if len(b) < 40 || b[0]>>4 != 6 {
		return false
	}
	return 40+(int(b[4])<<8|int(b[5])) <= len(b)
}

// CheckAddrs decides whether a datagram's addresses allow an answer: the
// sender must be an IPv4 unicast address (GWLB reaches its appliances over
// IPv4 only) with a port, and the datagram must have been sent to a local
// IPv4 unicast address, the one the answer goes out from (unicast: the
// kernel would answer from it; false for broadcast and multicast).
// Loopback addresses count as unicast, for tests.
//
// A datagram from the very address it was sent to is refused (Sender):
// answering it would send it to ourselves, for ever.
func CheckAddrs(from netip.AddrPort, to netip.Addr, unicast, ok bool) Reason {
	if !unicastV4(from.Addr()) || from.Port() == 0 || from.Addr() == to {
		return Sender
	}
	if !ok || !unicast || !unicastV4(to) {
		return Destination
	}
	return OK
}

func unicastV4(a netip.Addr) bool {
	return a.Is4() && (a.IsGlobalUnicast() || a.IsLoopback())
}
