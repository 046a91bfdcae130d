// Package gwlb is a Gateway Load Balancer appliance that inspects nothing:
// it returns every Geneve packet a GWLB sends it to that GWLB, unchanged, so
// that traffic routed through GWLB endpoints keeps flowing, and answers the
// target group's health check while it does.
//
// # What AWS requires
//
// From AWS's documentation and AWS's own appliance, gwlbtun
// (github.com/aws-samples/aws-gateway-load-balancer-tunnel-handler):
//
//   - Transport. GWLB sends every packet to a target over IPv4 in Geneve
//     (RFC 8926) on UDP port 6081, with TLVs of option class 0x0108
//     ("Target groups for your Gateway Load Balancers", Routing
//     configuration: protocol GENEVE, port 6081). Even IPv6 client traffic
//     is carried, and must be returned, in an IPv4 Geneve header
//     ("Gateway Load Balancers", IP address type: "The appliance
//     encapsulates both IPv4 and IPv6 client traffic using an IPv4 GENEVE
//     header and sends it back to the Gateway Load Balancer").
//   - The TLVs. Type 1 GWLB endpoint ID (8 bytes), type 2 attachment ID
//     (8 bytes), type 3 flow cookie (4 bytes) (AWS blog "Integrate your
//     custom logic or appliance with AWS Gateway Load Balancer"; package
//     vxlan, which parses them). gwlbtun drops any packet without all three
//     (GenevePacket.cpp: "If the three mandatory options for GWLB weren't
//     seen, this can't be a valid packet from it"); so does Check.
//   - The answer. The appliance sends the packet back with the Geneve
//     header and options as received, the outer source and destination IP
//     addresses swapped and the UDP ports kept (gwlbtun GeneveHandler.cpp,
//     citing the blog above: "Swap source and destination IP addresses, but
//     preserve ports, and send back to GWLB"). gwlbtun sends it through a
//     raw socket (utils.cpp sendUdp: "We have to use a RAW socket for
//     specifying the source port"), from the address the packet came to,
//     which it reads with IP_PKTINFO (UDPPacketReceiver.cpp).
//     So for a packet G:p → A:6081 the answer is A:p → G:6081.
//   - Size. GWLB's MTU is 8500 bytes and Geneve adds 68 (20 IPv4 + 8 UDP + 8
//     Geneve + 32 TLVs): appliances must take 8568-byte packets
//     ("Gateway Load Balancers", Maximum transmission unit). MaxDatagram is
//     8540 bytes of UDP payload; buffers are 9 KiB (MsgSize).
//   - Health. The target group checks each target with TCP (default), HTTP
//     or HTTPS on HealthCheckPort (default 80), HTTP on HealthCheckPath
//     (default "/") expecting 200-399, and closes each connection
//     ("Health checks for Gateway Load Balancer target groups"; GENEVE is
//     not a health check protocol: ModifyTargetGroup HealthCheckProtocol).
//     dxdeploy's target group checks TCP 80 (fabric/gwlb.go,
//     ApplianceHealthPort), which the appliance security group admits from
//     the VPC (fabric/security.go).
//
// # What the Reflector does
//
// N SO_REUSEPORT UDP sockets (package reuseport, recvmmsg batches, IP_PKTINFO
// on) each feed one goroutine, which checks every datagram of a batch and
// queues the valid ones on its own raw socket (reuseport.RawWriter), then
// sends them with one sendmmsg. Per datagram: no allocation, no lock, no
// system call (TestReflectAllocs, BenchmarkReflect).
//
// A datagram is returned only to the address and port it came from; it is
// dropped, counted by Reason and never returned when: its sender is not an
// IPv4 unicast address (Sender); it was not sent to a local IPv4 unicast
// address (Destination: broadcast, multicast, or IPv6, which GWLB never
// uses); it filled the 9 KiB buffer (Oversize); its Geneve header is cut
// (Truncated), of another version (Version) or has an option running past
// the options (Options); one of AWS's TLVs is missing (NoGWLBOptions); its
// Protocol Type is neither IPv4 nor IPv6 (Protocol); or the inner packet
// does not begin with a plausible header of that family (InnerHeader). The
// answer carries the received UDP payload byte for byte. An answer is no
// larger than what came, so the appliance cannot amplify; the security
// group (Geneve from the VPC only) bounds who can reach it.
//
// The outer IPv4 header is built by RawWriter: TTL 64, no fragment
// flags, UDP checksum 0 (allowed for IPv4 by RFC 768 and for Geneve over
// IPv4 by RFC 8926 §3.3; gwlbtun does not compute one either). Linux does
// not fragment a raw IP_HDRINCL datagram: one larger than the interface
// MTU is refused and counted as a send error, which on EC2 (MTU 9001)
// cannot happen below GWLB's 8568 bytes.
//
// Healthy is true while every socket is open and every worker runs;
// HealthServer answers the check (TCP: accept; HTTP: 200 on the path) only
// then, and closes its listener when the Reflector stops, so the target
// fails its checks and GWLB stops sending to it. Drain orders a graceful
// stop the other way round: on the first SIGTERM the health check stops
// answering while the Reflector keeps returning packets for a drain delay
// (DefaultDrainDelay, above the target group's deregistration delay), so
// that no flow still hashed to the appliance loses a packet; a second
// signal stops at once.
//
// Metrics (Register, names dxmon_appliance_*): received and returned
// packets and bytes, malformed packets by reason, send errors, kernel
// receive drops, healthy, workers.
//
// Measured on the 2-core dev VM: deciding on and queuing a packet takes
// 100 to 180 ns (BenchmarkReflect, 1500-byte packets, 0 allocs); the
// kernel's raw send over loopback about 6.4 µs per datagram
// (reuseport's BenchmarkRawWriter, delivery to the receiving socket
// included). The whole path costs 1.03 to 1.04 times the CPU per packet
// returned of a C recvmmsg/raw sendmmsg reflector measured in the same run
// (go run ./bench -short; README, "The GWLB appliance").
//
// The process needs CAP_NET_RAW for the raw sockets, and CAP_NET_BIND_SERVICE
// for a health check port below 1024.
package gwlb
