package vxlan

// Reason says why a packet was not decoded, or OK. It is a small closed set
// usable as a metric label; String returns the label without allocating.
type Reason uint8

// The reasons, in the order a decoder meets them.
const (
	OK                Reason = iota // decoded
	VXLANTruncated                  // shorter than the 8-byte VXLAN header
	VXLANFlags                      // the I flag (valid VNI) is not set
	WrongVNI                        // VNI differs from the one configured (set by callers that filter)
	GeneveTruncated                 // shorter than the Geneve header plus its options
	GeneveVersion                   // Geneve version is not 0
	GeneveProtocol                  // Geneve carries neither Ethernet, IPv4 nor IPv6
	GeneveOptions                   // a Geneve option's length runs past the options area
	EthernetTruncated               // shorter than an Ethernet header
	VLANTruncated                   // an 802.1Q/802.1ad tag is cut
	VLANTooDeep                     // more than two VLAN tags
	NotIP                           // EtherType is neither IPv4 nor IPv6 (ARP, LLDP, …)
	IPv4Truncated                   // shorter than the IPv4 header its IHL declares
	IPv4BadHeader                   // version is not 4, IHL < 5, or total length < IHL
	IPv6Truncated                   // shorter than the 40-byte IPv6 header
	IPv6BadHeader                   // version is not 6, or hop-by-hop not first
	IPv6ExtTruncated                // an extension header is cut
	IPv6ExtTooMany                  // more extension headers than the decoder walks (8)
	L4Truncated                     // the TCP/UDP/UDP-Lite/SCTP ports are cut
	OuterTruncated                  // (frames) the outer headers are cut
	OuterNotUDP                     // (frames) the outer packet is not UDP, or is a non-first fragment
	OuterPort                       // (frames) the outer UDP port is neither the VXLAN nor the Geneve port
	NotOnPrem                       // neither end is on premises, or the other end is not in the VPC (set by callers that filter)
	numReasons
)

var reasonNames = [numReasons]string{
	OK:                "ok",
	VXLANTruncated:    "vxlan_truncated",
	VXLANFlags:        "vxlan_flags",
	WrongVNI:          "wrong_vni",
	GeneveTruncated:   "geneve_truncated",
	GeneveVersion:     "geneve_version",
	GeneveProtocol:    "geneve_protocol",
	GeneveOptions:     "geneve_options",
	EthernetTruncated: "ethernet_truncated",
	VLANTruncated:     "vlan_truncated",
	VLANTooDeep:       "vlan_too_deep",
	NotIP:             "not_ip",
	IPv4Truncated:     "ipv4_truncated",
	IPv4BadHeader:     "ipv4_bad_header",
	IPv6Truncated:     "ipv6_truncated",
	IPv6BadHeader:     "ipv6_bad_header",
	IPv6ExtTruncated:  "ipv6_ext_truncated",
	IPv6ExtTooMany:    "ipv6_ext_too_many",
	L4Truncated:       "l4_truncated",
	OuterTruncated:    "outer_truncated",
	OuterNotUDP:       "outer_not_udp",
	OuterPort:         "outer_port",
	NotOnPrem:         "not_onprem",
}

// NumReasons is the number of distinct reasons, OK included; a
// [NumReasons]uint64 array indexed by Reason counts every outcome.
const NumReasons = int(numReasons)

// String returns the reason's snake_case label, for example "ipv4_truncated".
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}
