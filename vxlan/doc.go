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
// # Gateway Load Balancer appliances
//
// When the mirror source is an appliance's ENI behind a Gateway Load
// Balancer, every mirrored frame is GWLB's Geneve to the appliance: outer
// IPv4 GWLB → appliance, UDP to 6081, Geneve with AWS's options (class
// 0x0108: endpoint ID, attachment ID, flow cookie; 32 bytes), then the
// client's IPv4 or IPv6 packet without Ethernet (AWS, Elastic Load
// Balancing, "Gateway Load Balancers": GWLB listens for all IP packets and
// forwards them with GENEVE on port 6081, in an IPv4 GENEVE header for IPv4
// and IPv6 clients alike). Decode reads the client's packet inside — its
// addresses, ports and the length its header declares — and the options
// into Packet.GWLB, so that a probe reports who fills the link rather
// than GWLB ↔ appliance on UDP 6081.
//
// This is on by default, and keyed on AWS's signature, not on the port
// alone: Decode follows a mirrored IPv4 UDP packet to port 6081 (not a
// fragment) only when its Geneve header carries AWS's endpoint-ID option
// and an IPv4 or IPv6 payload. A mirror of ordinary Geneve traffic (OVN,
// Antrea, a tunnel of Ethernet frames, no AWS option) is counted as the UDP
// flow it is, as before; a GWLB appliance ENI just works. Packet.NoGWLB
// turns it off. A packet whose AWS options start inside the capture but
// run past it is GWLB's with its client out of reach: GeneveTruncated.
// Only the GWLB → appliance leg (to port 6081) is read; the appliance's
// return leg is its own UDP flow, so a mirror session on an appliance ENI
// should take its inbound traffic only.
//
// Inside VPC Traffic Mirroring's 128-byte cut (14 + 20 + 8 + 8 + 32 bytes
// of tunnel headers) there is room for an IPv4 client's ports and, just,
// an IPv6 client's (40 + 4 bytes). When the cut falls before the client's
// ports (longer options, IPv4 options, IPv6 extension headers), the packet
// is still decoded, with HasPorts false, ports 0 and PortsCut set (for IPv6,
// Proto is then the extension header that did not fit): counted, not
// skipped, because its addresses and length are known. The usual layout
// (AWS's three options in order, IPv4 with a 20-byte header or IPv6 without
// extension headers, TCP or UDP) has a fast path of its own.
//
// A packet ends where its IP header says (IPv4 Total Length, IPv6 Payload
// Length, which counts the extension headers): a TCP or UDP packet whose
// declared length ends before its ports is counted with that length and
// no ports, because what follows in the frame is Ethernet's padding to 60
// bytes, not ports. GWLB's Geneve is read the same way: only up to the
// outer packet's declared end, so a Geneve header or client packet that
// would lie past it is not there (GeneveTruncated, or the client counted
// with PortsCut). A length of 0 (a TSO capture) is the captured length.
// The same holds one level out, for capture files (DecodeFrame,
// DecodeOuterIP): the tunnel's payload ends where the outer IP and UDP
// headers say.
//
// Lifetime: a Packet holds no reference to the decoded bytes, so the buffer
// may be reused as soon as Decode returns.
package vxlan
