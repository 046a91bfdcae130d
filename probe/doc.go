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
// On cancellation the workers keep reading what the sockets already hold
// for Config.DrainGrace, then hand over their partial tables, and the
// coordinator reports the partial window: a clean stop loses nothing that
// reached the host. Replay runs the same worker over a pcap or pcapng file,
// windows following the packets' timestamps.
//
// Config.Export, a WindowExporter such as ipfix.Exporter, receives each
// window's merged flows after Emit, on the coordinator.
//
// Metrics exports the workers' counters to Prometheus from a Collector that
// sums them at scrape time.
package probe
