// Package probe is the dxprobe pipeline as a library: one worker per
// socket decodes (vxlan), samples (sample) and counts (flow) every mirror
// packet; at each window's end every worker hands its flow table to a
// coordinator and continues with its other one; once every worker's part is
// in, the coordinator merges the tables (flow.Merged.AddTables), builds the
// window's report (report), calls Emit and hands the tables back.
//
//	reuseport sockets ─▶ Worker.HandleBatch ─▶ flow.Table (per worker)
//	   window end ─▶ coordinator: flow.Merged ─▶ report.Build ─▶ Emit
//
// The packet path allocates nothing, takes no lock and makes no system
// call per packet: a worker reads a batch with one recvmmsg, counts it into
// its own table, and publishes its counters with atomic stores once per
// batch. Windows are aligned to the wall clock; a worker waits for packets
// with a read deadline at its window's end, so an idle worker still hands
// over its (empty) table on time and reports come out promptly.
//
// On cancellation the workers read what the sockets already hold, without
// waiting (QueuedReader), until they are empty or Config.DrainGrace has
// passed, then hand over their partial tables, and the coordinator reports
// the partial window: a clean stop loses nothing that reached the host,
// and takes no longer than reading it. Run logs how the drain ended. Replay runs the same worker over a pcap or pcapng file,
// windows following the packets' timestamps.
//
// Config.Export, a WindowExporter such as ipfix.Exporter, receives each
// window's merged flows after Emit, on the coordinator.
//
// Config.OnPrem (and Config.VPC) restrict counting to on-premises ↔ VPC
// traffic: a worker checks both addresses against at most 64 + 64 prefixes
// held as masked 64-bit words, without allocating or locking, and skips the
// rest as not_onprem. Behind a Gateway Load Balancer, a worker tags each
// flow with the GWLB endpoint its packets came through: endpoint IDs are
// numbered probe-wide in a fixed lock-free table (at most 1023; a worker
// remembers the last one it met), the number rides in the flow table's tag
// (flow.Table.AddTagged) and reports name it vpce-… (EndpointName). Packets
// counted without ports because the mirror cut them are counted per window
// (report ports_cut) and in Metrics.
//
// # Directions
//
// With Config.OnPrem, the same check gives every counted packet its
// direction (flow.DirToAWS: source on-premises; flow.DirFromAWS:
// destination on-premises; flow.DirUnknown: both ends qualify, kept only
// without Config.VPC). A worker counts each direction's packets and bytes
// in per-worker counters (two more additions per packet; no allocation,
// lock or system call), which give the reports exact totals per direction
// and Metrics its direction label. The flows do not carry it: at the
// window's end report.Build classifies the merged flows by their keys
// (flow.Merged.SplitDirections) for each direction's rankings, and
// NewClassifier gives the same rule to an IPFIX exporter. Config.LinkBPS
// (the capacity of each direction) makes the reports' utilization.
//
// # Coordination
//
// Run starts a goroutine per source (runWorker: its read loop, then the
// hand-over of its last part), the coordinator on the calling goroutine
// (coordinator: parts filed by window, a window reported when every running
// worker's part is in, oldest first), and a goroutine that, on
// cancellation, marks the drain's bound and wakes every waiting read by
// setting its deadline to now.
//
// Metrics exports the workers' counters to Prometheus from a Collector that
// sums them at scrape time.
package probe
