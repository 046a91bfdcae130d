package ipfix

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"runtime"
	"testing"

	"github.com/dxmon/dxmon/flow"
)

// floodKey is the i-th flow of a random-port flood, as flow's benchmarks
// make it.
func floodKey(i uint32) flow.Key {
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], i)
	return flow.NewKey(netip.AddrFrom4([4]byte{198, 18, a[2], a[3]}), netip.MustParseAddr("192.0.2.10"), 17, uint16(i>>16), uint16(i))
}

// BenchmarkEncode is the cost of one record: Add, with a message sent
// (handed to a function that keeps nothing) every 26 (IPv4) or 17 (IPv6)
// records.
func BenchmarkEncode(b *testing.B) {
	for _, c := range []struct {
		name string
		key  flow.Key
		vni  uint32
	}{
		{"ipv4", floodKey(7), 0},
		{"ipv4_vni", floodKey(7), 12345},
		{"ipv6", flow.NewKey(netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"), 6, 40000, 443), 0},
	} {
		b.Run(c.name, func(b *testing.B) {
			e, err := NewEncoder(Config{DomainID: 1, VNI: c.vni}, func([]byte, int) {})
			if err != nil {
				b.Fatal(err)
			}
			e.Begin(t0, start, t0)
			b.ReportAllocs()
			for b.Loop() {
				e.Add(&c.key, flow.Counter{Packets: 3, Bytes: 1500})
			}
		})
	}
}

// BenchmarkWindowReportFull is the coordinator's work for a window of one
// full worker table (flow.DefaultMaxFlows distinct flows, a random 5-tuple
// flood), merged into a Merged an earlier window has grown: merge_top is
// what flow's BenchmarkMergeTopFull/workers=1 measures (merge and rank
// every dimension); merge_top_export adds Exporter.ExportWindow (encode
// every record and queue its messages for a real UDP socket on loopback);
// export alone is ExportWindow, while the Exporter's goroutine sends
// (and a reader receives) on the same CPUs; export_no_sender is the
// coordinator's own work, without them. The sending goroutine's remaining
// work is done between iterations, outside the timer.
func BenchmarkWindowReportFull(b *testing.B) {
	n := flow.DefaultMaxFlows
	tb, err := flow.NewTable(n)
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		k := floodKey(uint32(i))
		tb.Add(&k, k.Hash(), uint64(64+i%1400))
	}
	m := flow.NewMerged()
	m.AddTables(tb)
	mergeTop := func() {
		m.Reset()
		m.AddTables(tb)
		for _, d := range flow.Dims {
			_ = m.Top(d, 10)
		}
	}
	newExporter := func(b *testing.B) *Exporter {
		ln, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		go func() { // a collector that reads and forgets
			buf := make([]byte, 65536)
			for {
				if _, err := ln.Read(buf); err != nil {
					return
				}
			}
		}()
		x, err := NewExporter(ExporterConfig{URL: "udp://" + ln.LocalAddr().String(), Config: Config{DomainID: 1}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = x.Close(context.Background()); ln.Close() })
		return x
	}
	drain := func(b *testing.B, x *Exporter) {
		b.StopTimer()
		for len(x.queue) > 0 {
			runtime.Gosched()
		}
		b.StartTimer()
	}
	b.Run("merge_top", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			mergeTop()
		}
	})
	b.Run("merge_top_export", func(b *testing.B) {
		x := newExporter(b)
		b.ReportAllocs()
		for b.Loop() {
			mergeTop()
			x.ExportWindow(start, t0, m)
			drain(b, x)
		}
		if s := x.Stats(); s.QueueFullRecords != 0 {
			b.Fatalf("queue full: %+v", s)
		}
	})
	b.Run("export_no_sender", func(b *testing.B) {
		// The coordinator's own work: encode and queue, with no sending
		// goroutine competing for the CPU (the queue is emptied between
		// iterations, outside the timer).
		x := &Exporter{queue: make(chan *message, DefaultQueueMessages), free: make(chan *message, DefaultQueueMessages), max: DefaultQueueMessages}
		var err error
		x.enc, err = NewEncoder(Config{DomainID: 1}, x.enqueue)
		if err != nil {
			b.Fatal(err)
		}
		recycle := func() {
			b.StopTimer()
			for len(x.queue) > 0 {
				x.free <- <-x.queue
			}
			b.StartTimer()
		}
		x.ExportWindow(start, t0, m)
		recycle()
		b.ReportAllocs()
		for b.Loop() {
			x.ExportWindow(start, t0, m)
			recycle()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(m.Len(flow.DimFlow)), "ns/record")
		if s := x.Stats(); s.QueueFullRecords != 0 {
			b.Fatalf("queue full: %+v", s)
		}
	})
	b.Run("export", func(b *testing.B) {
		x := newExporter(b)
		b.ReportAllocs()
		for b.Loop() {
			x.ExportWindow(start, t0, m)
			drain(b, x)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(m.Len(flow.DimFlow)), "ns/record")
	})
}
