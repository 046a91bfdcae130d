package fleet

import (
	"net/netip"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/dxmon/dxmon/flow"
	"github.com/dxmon/dxmon/report"
)

// nopAPI is a table that is never called (the benchmark measures the
// coordinator's side only).
type nopAPI struct{ API }

// fullTable is one worker's full table of the default capacity: distinct
// 5-tuples, half from on-premises sources (198.18.0.0/16), half to them.
func fullTable(b *testing.B) *flow.Table {
	t, err := flow.NewTable(flow.DefaultMaxFlows)
	if err != nil {
		b.Fatal(err)
	}
	for i := range flow.DefaultMaxFlows {
		onprem := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
		vpc := netip.AddrFrom4([4]byte{198, 19, byte(i >> 16), byte(i >> 4)})
		k := flow.NewKey(onprem, vpc, 6, uint16(i), 443)
		if i%2 == 1 {
			k = flow.NewKey(vpc, onprem, 17, 53, uint16(i))
		}
		t.Add(&k, k.Hash(), uint64(64+i%1400))
	}
	return t
}

func classify(k *flow.Key) flow.Direction {
	switch {
	case k.Src().As4()[1] == 18:
		return flow.DirToAWS
	case k.Dst().As4()[1] == 18:
		return flow.DirFromAWS
	}
	return flow.DirUnknown
}

// BenchmarkWindowEnd is a probe's window-end cost on the coordinator at
// 262 144 flows (one full worker table, directions known): merge the
// table, build the report and hand it on. "without" builds the -top 10
// report dxprobe prints; "with_fleet" builds the K = 100 rankings the
// summary needs, copies the summary, trims the report to 10 and queues it
// (the write itself runs on the fleet's goroutine: see
// BenchmarkSummaryMarshal).
func BenchmarkWindowEnd(b *testing.B) {
	t := fullTable(b)
	m := flow.NewMerged()
	m.AddTables(t) // grow the merged tables once, as earlier windows have
	start := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	w := report.Window{Start: start, End: start.Add(5 * time.Second), Merged: m, SampleRate: 1,
		Classify: classify, LinkBPS: 1e10}
	run := func(b *testing.B, top int, take func(*report.Report)) {
		once := func() {
			m.Reset()
			m.AddTables(t)
			w.Top = top
			r := report.Build(w, nil)
			if take != nil {
				take(r)
			}
		}
		once() // grow what the direction split and the ranking reuse
		b.ReportAllocs()
		for b.Loop() {
			once()
		}
	}
	b.Run("without", func(b *testing.B) { run(b, 10, nil) })
	st, _ := NewStore(nopAPI{}, "dxmon-fleet")
	f, err := New(Config{Store: st, Probe: "i-0123456789abcdef0", Top: 10}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("with_fleet", func(b *testing.B) {
		run(b, f.K(), func(r *report.Report) {
			f.Take(r)
			<-f.q // the fleet's goroutine takes it
		})
	})
	// The same without the merge, which both pay alike: the report alone
	// (its rankings and direction split) on the merged window.
	m.Reset()
	m.AddTables(t)
	report.Build(w, nil) // split the directions once
	b.Run("report_only/without", func(b *testing.B) {
		w.Top = 10
		b.ReportAllocs()
		for b.Loop() {
			report.Build(w, nil)
		}
	})
	b.Run("report_only/with_fleet", func(b *testing.B) {
		w.Top = f.K()
		b.ReportAllocs()
		for b.Loop() {
			f.Take(report.Build(w, nil))
			<-f.q
		}
	})
}

// BenchmarkSummaryMarshal is the fleet goroutine's CPU per window before
// the request: encode a summary of K = 100 (busy IPv4 window) into its
// item.
func BenchmarkSummaryMarshal(b *testing.B) {
	s := typicalSummary(DefaultK(10))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := attributevalue.MarshalMap(toItem(s)); err != nil {
			b.Fatal(err)
		}
	}
}
