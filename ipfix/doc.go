// Package ipfix exports dxmon's flows as IPFIX (RFC 7011), so that the
// flow collectors users already run (goflow2, Akvorado, pmacct's nfacctd,
// Elastic's netflow input) receive VPC Traffic Mirroring as standard flow
// records, and the records of many probes add up to one picture.
//
// # Messages
//
// An Encoder turns flows into messages of at most Config.MaxMessage bytes
// (default 1400: with 8 bytes of UDP and 40 of IPv6 within the 1500-byte
// MTU that AWS applies to traffic through an internet gateway, a VPN
// connection or between Regions, "Network maximum transmission unit (MTU)
// for your EC2 instance", docs.aws.amazon.com/AWSEC2/latest/UserGuide/network_mtu.html;
// RFC 7011 §10.3.3 asks that UDP messages fit the path MTU). Each message
// is a 16-byte header (version 10, length, export time, sequence number,
// observation domain ID; §3.1) and one set (§3.3). The sequence number
// counts the data records sent before the message in this observation
// domain, modulo 2^32; template records do not count (§3.1). Add writes a
// record into a preallocated buffer and allocates nothing.
//
// Templates (§3.4.1), IDs 256 (IPv4 flows) and 257 (IPv6 flows):
//
//	IE   name                         IANA type              length
//	8    sourceIPv4Address            ipv4Address            4   (256)
//	12   destinationIPv4Address       ipv4Address            4   (256)
//	27   sourceIPv6Address            ipv6Address            16  (257)
//	28   destinationIPv6Address       ipv6Address            16  (257)
//	4    protocolIdentifier           unsigned8              1
//	7    sourceTransportPort          unsigned16             2
//	11   destinationTransportPort     unsigned16             2
//	1    octetDeltaCount              unsigned64             8
//	2    packetDeltaCount             unsigned64             8
//	152  flowStartMilliseconds        dateTimeMilliseconds   8
//	153  flowEndMilliseconds          dateTimeMilliseconds   8
//	351  layer2SegmentId              unsigned64             8   (only with Config.VNI)
//	61   flowDirection                unsigned8              1   (only with Config.Direction)
//
// flowDirection is, in IANA's registry (from RFC 5102 §5.11.6), "The
// direction of the Flow observed at the Observation Point. There are only
// two values defined. 0x00: ingress flow 0x01: egress flow". dxmon's
// Observation Point is the VPC's end of the Direct Connect or VPN link:
// to_aws flows (source on-premises) enter the VPC there and are ingress
// (0x00, FlowIngress); from_aws flows (destination on-premises) leave it
// and are egress (0x01, FlowEgress). A flow of no known direction (both
// ends on-premises) and the remainder record carry 0xFF
// (FlowDirectionUnknown), outside the registry's two values. The field is
// in the templates only when the probe knows its on-premises prefixes
// (-onprem-cidrs), as probe.NewClassifier gives them; Wireshark's
// dissector reads it as cflow.direction (TestIPFIXTsharkDirection in
// examples/dxprobe).
//
// layer2SegmentId holds the overlay type in its top byte (0x01, VXLAN) and
// the segment ID (the VNI) in its low bytes. Flow tables are not keyed by
// VNI, so the field is in the templates only when the probe counts one VNI.
//
// The options template 258 (§3.4.2.2) has one scope field,
// observationDomainId (149, unsigned32), and the sampling rate three ways
// so that every collector finds one it reads: samplingInterval (34,
// unsigned32; deprecated by IANA in favour of 305 but still what many
// collectors read), samplingPacketInterval (305, unsigned32), both 1/rate
// rounded, and samplingProbability (311, float64), the rate itself. One
// options data record follows the templates. dxmon's sampling is a
// hash-based selection of flows (package sample) with probability rate:
// records carry the traffic counted, and a collector that multiplies by
// the interval (goflow2's sampling_rate field) recovers the report's
// scaled totals exactly when 1/rate is an integer.
//
// Numbers, names and types are those of IANA's "IP Flow Information
// Export (IPFIX) Entities" registry (www.iana.org/assignments/ipfix); the
// abstract types are RFC 7012's and their encodings RFC 7011 §6.1
// (integers and addresses in network byte order, dateTimeMilliseconds as
// milliseconds since the Unix epoch in 8 bytes, float64 as IEEE 754
// binary64). The numbers were checked against two copies of the registry
// that others maintain: goflow2's decoders/netflow/ipfix.go
// (IPFIX_FIELD_layer2SegmentId = 351, IPFIX_FIELD_samplingProbability =
// 311, and so on) and Wireshark's IPFIX dissector, which the tests run
// (TestIPFIXTshark: tshark names and decodes every field as exported); the
// types of 1, 2, 4, 7, 8, 11 and 12 also against FD.io VPP's
// ipfix_info_elements.h.
//
// # Templates over UDP
//
// UDP loses messages and collectors restart, so the Exporting Process
// sends its templates again periodically (RFC 7011 §8.4): the template
// message (both templates, the options template and its record) goes out
// before the first data message and again before any data message once
// Config.TemplateRefresh (default 60 s) has passed or
// Config.TemplateRefreshMessages (default 1000) data messages were sent
// since. Templates are never withdrawn over UDP (§8.4).
//
// # Windows and totals
//
// Exporter.ExportWindow is called at each window's end with the merged
// tables. Every flow held exactly becomes one record whose start and end
// are the window's. When a worker's table was full, flows beyond it were
// counted only in the totals and in Space-Saving summaries (package
// flow): the summaries' heavy hitters become records too, with the
// traffic counted since they took their slot (a lower bound), and the
// rest of the window's total becomes one remainder record of zero
// addresses (0.0.0.0 → 0.0.0.0), zero ports and protocol 0. So the
// records of a window always sum to its exact totals, and a collector's
// sum over probes is the link's total; a collector that ranks by address
// shows the remainder as 0.0.0.0.
//
// # Never in the way
//
// ExportWindow runs on the coordinator, not the packet path: it encodes
// into buffers taken from a bounded pool and queues them without waiting;
// a goroutine of the Exporter writes them to a connected UDP socket. When
// the queue is full (a full table's window is about 10 000 messages) the
// records are dropped and counted (Stats.QueueFullRecords); when the
// socket refuses them (no collector: the kernel reports ICMP port
// unreachable on the next write) they are counted too
// (Stats.SendErrorRecords). RegisterMetrics exports these counters.
//
// # Observation domains
//
// Each probe should use its own observation domain ID, so that a collector
// keeps their templates and sequence numbers apart. DomainID derives one
// from the EC2 instance ID (IMDSv2, with a short timeout) or the hostname.
package ipfix
