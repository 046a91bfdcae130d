// Package dxmon finds, within seconds, who is filling an AWS Direct Connect or
// VPN link, without VPC Flow Logs or CloudWatch.
//
// The link's traffic is mirrored by VPC Traffic Mirroring (VXLAN over UDP
// 4789, each frame cut to 128 bytes) to probe instances. A probe decodes
// every packet, aggregates 5-tuple flows in windows aligned to the wall clock
// (5 s by default), and reports the top talkers with instance names, exports
// Prometheus metrics and alerts to SNS and Slack.
//
// The data flows one way:
//
//	socket ─▶ batch ─▶ decode ─▶ sample ─▶ flow table (per worker)
//	    ─▶ window end ─▶ merge ─▶ enrich ─▶ report / metrics / alert
//
// The packages, one concern each:
//
//   - vxlan decodes a mirror packet (VXLAN or Geneve, Ethernet with up to two
//     VLAN tags, IPv4 or IPv6 with options and extension headers, TCP, UDP,
//     UDP-Lite or SCTP ports) into a caller-owned struct, without allocating.
//     It also encodes mirror packets, for tests and traffic generators.
//   - sample makes the deterministic keep/skip decision from a flow hash, the
//     same on every worker, probe and restart.
//   - flow holds per-worker flow tables with bounded memory and exact
//     totals, rotates them at window ends, merges them, and ranks Top-N.
//   - reuseport reads N SO_REUSEPORT UDP sockets with recvmmsg batches and
//     exposes the kernel's drop counters.
//   - enrich maps IP addresses to EC2 instances and interfaces, refreshed in
//     the background and read without locks.
//   - alert decides when to alert and delivers to SNS and Slack without
//     blocking the caller.
//   - fabric builds, verifies, syncs and destroys the AWS pipeline
//     idempotently, found by tags.
//
// The packet-path packages (vxlan, sample, flow, reuseport) import none of
// enrich, alert or fabric. The binaries in examples/dxprobe and
// examples/dxdeploy only wire packages together; bench measures them.
package dxmon
