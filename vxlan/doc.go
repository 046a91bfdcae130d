// Package vxlan decodes the packets that VPC Traffic Mirroring sends to a
// probe — VXLAN (RFC 7348) or Geneve (RFC 8926) around an Ethernet frame cut
// to 128 bytes — into a caller-owned Packet, without allocating, and encodes
// such packets for tests and traffic generators.
//
// The decoder walks Ethernet with up to two 802.1Q/802.1ad tags, IPv4 with
// options, IPv6 with hop-by-hop, routing, destination options, AH and
// fragment headers, and reads the ports of TCP, UDP, UDP-Lite and SCTP.
// Later fragments have no L4 header and so no ports. Checksums are never
// checked: AWS leaves them unset on truncated mirror packets.
//
// A packet that cannot be decoded is data, not an error: every Decode method
// returns a Reason from a small closed set, usable as a metric label.
// Decoding never panics and never reads outside the slice (FuzzDecode).
//
// Lengths are the inner IP packet's as its header declares them, since the
// mirror cuts frames: IPv4 total length; IPv6 40 + payload length. Where
// the header says 0, as in TSO and BIG TCP captures, the IPv6 jumbo option
// or else the captured length is used.
//
// Lifetime: a Packet holds no reference to the decoded bytes, so the buffer
// may be reused as soon as Decode returns.
package vxlan
