// Command bench is dxmon's measurement harness and traffic generator.
//
//	go run ./bench -short -out DIR     # < 2 minutes on a 2-core machine
//	go run ./bench -out DIR            # full: more rates, longer, more runs
//	go run ./bench gen -rate 200000 -duration 10s -flows 1000 -zipf 1.1 -addr 127.0.0.1:4789
//
// The harness writes DIR/results.json, DIR/results.md and DIR/chart.svg:
//
//   - Loopback readers: the same offered rates (100 k and 200 k packets/s
//     and as fast as one sender goes) to three readers in turn, each in a
//     child process so that its getrusage counts it alone: a minimal C
//     recvmmsg reader (c/floor.c, compiled with the machine's gcc), the
//     naive Go reader (net.UDPConn, ReadFromUDPAddrPort, decode, map) and
//     the dxprobe pipeline with one worker (reuseport and probe). CPU per
//     packet and loss (sent − counted) per reader and rate.
//   - Go micro-benchmarks: vxlan decode against gopacket, flow table
//     update against a Go map at 100 k flows.
//   - Appliance (root: raw sockets): a GWLB emulator on 127.0.0.2 sends
//     Geneve with AWS's TLVs at fixed rates to a C recvmmsg/sendmmsg
//     reflector (c/reflect.c) and to dxappliance's path (package gwlb), each
//     in a child process, and counts what comes back: CPU per packet
//     returned and loss.
//   - Flood: a window of 1 M (short) or 10 M distinct flows plus a heavy
//     hitter fed in process to the pipeline's worker path: totals exact,
//     heavy hitter first, peak RSS bounded by the MaxFlows cap.
//
// Every figure is the median of repeated runs with the minimum and the
// maximum, next to the machine it was measured on. The gen subcommand sends
// VXLAN or Geneve mirror packets to any address, for the production
// measurement between two instances; see README.md.
package main
