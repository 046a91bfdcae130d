package flow_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/dxmon/dxmon/flow"
)

// bySrc is a test classifier: to_aws from 198.18.0.1–2, from_aws from
// 198.18.0.3–4, unknown otherwise (IPv6 by the source's last byte).
func bySrc(k *flow.Key) flow.Direction {
	switch b := k[15]; {
	case b == 1 || b == 2:
		return flow.DirToAWS
	case b == 3 || b == 4:
		return flow.DirFromAWS
	}
	return flow.DirUnknown
}

// TestSplitDirectionsEqualsFiltering: each direction's share of a merged
// window equals a window merged from only the packets of that direction,
// in every dimension, whatever the tables and their grouping; the shares'
// flows partition the window's classified flows; Reset empties them.
func TestSplitDirectionsEqualsFiltering(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := flow.NewMerged()
		var byDir [flow.NumDirections]*flow.Merged
		for d := range byDir {
			byDir[d] = flow.NewMerged()
		}
		var all []*flow.Table
		for i := range rapid.IntRange(1, 4).Draw(t, "tables") {
			ps := genPackets(t, string(rune('a'+i)))
			room := roomFor(t, string(rune('a'+i)), ps)
			all = append(all, fill(t, room, ps))
			var parts [flow.NumDirections][]pkt
			for _, p := range ps {
				parts[bySrc(&p.key)] = append(parts[bySrc(&p.key)], p)
			}
			for d := range parts {
				byDir[d].AddTable(fill(t, room, parts[d]))
			}
		}
		m.AddTables(all...)
		if m.Direction(flow.DirToAWS) != nil {
			t.Fatal("Direction before SplitDirections")
		}
		m.SplitDirections(bySrc)
		if m.Direction(flow.DirUnknown) != nil {
			t.Fatal("DirUnknown has a share")
		}
		var flows int
		for _, d := range []flow.Direction{flow.DirToAWS, flow.DirFromAWS} {
			got, want := m.Direction(d), byDir[d]
			for _, dim := range flow.Dims {
				if diff := cmp.Diff(want.Top(dim, 1<<30), got.Top(dim, 1<<30)); diff != "" {
					t.Fatalf("%v %v (-filtered +split):\n%s", d, dim, diff)
				}
			}
			got.Each(flow.DimFlow, func(k *flow.Key, _ flow.Counter) {
				if bySrc(k) != d {
					t.Fatalf("%v holds %v of direction %v", d, k, bySrc(k))
				}
				flows++
			})
		}
		if want := m.Len(flow.DimFlow) - byDir[flow.DirUnknown].Len(flow.DimFlow); flows != want {
			t.Fatalf("the shares hold %d flows, the window %d classified", flows, want)
		}
		m.Reset()
		if m.Direction(flow.DirToAWS) != nil {
			t.Fatal("Direction after Reset")
		}
		m.AddTables(all...)
		m.SplitDirections(func(*flow.Key) flow.Direction { return flow.DirFromAWS })
		if m.Direction(flow.DirToAWS).Len(flow.DimFlow) != 0 || m.Direction(flow.DirFromAWS).Len(flow.DimFlow) != m.Len(flow.DimFlow) {
			t.Fatal("a reused Merged kept the previous window's split")
		}
	})
}

// TestSplitDirectionsParallel: a window large enough to be split one
// goroutine per dimension splits as the serial path does.
func TestSplitDirectionsParallel(t *testing.T) {
	const n = 40_000
	big, _ := flow.NewTable(n)
	var halves [2]*flow.Table
	halves[0], _ = flow.NewTable(n / 2)
	halves[1], _ = flow.NewTable(n / 2)
	cls := func(k *flow.Key) flow.Direction { return flow.Direction(k.Hash() % 3) }
	for i := range n {
		k := floodKey(uint32(i))
		big.Add(&k, k.Hash(), uint64(64+i%1400))
		if cls(&k) == flow.DirToAWS {
			halves[0].Add(&k, k.Hash(), uint64(64+i%1400))
		}
	}
	m := flow.NewMerged()
	m.AddTable(big)
	m.SplitDirections(cls)
	want := flow.NewMerged()
	want.AddTable(halves[0])
	for _, dim := range flow.Dims {
		if diff := cmp.Diff(want.Top(dim, 50), m.Direction(flow.DirToAWS).Top(dim, 50)); diff != "" {
			t.Fatalf("%v (-serial +parallel):\n%s", dim, diff)
		}
		if w, g := want.Len(dim), m.Direction(flow.DirToAWS).Len(dim); w != g {
			t.Fatalf("%v: %d keys, want %d", dim, g, w)
		}
	}
}

// BenchmarkSplitDirections is the window-end cost of the split at the
// default capacity: one worker's full table of distinct flows, half in
// each direction.
func BenchmarkSplitDirections(b *testing.B) {
	t, _ := flow.NewTable(flow.DefaultMaxFlows)
	for i := range flow.DefaultMaxFlows {
		k := floodKey(uint32(i))
		t.Add(&k, k.Hash(), uint64(64+i%1400))
	}
	cls := func(k *flow.Key) flow.Direction { return flow.DirToAWS + flow.Direction(k[15]&1) }
	m := flow.NewMerged()
	m.AddTable(t)
	m.SplitDirections(cls)
	b.ReportAllocs()
	for b.Loop() {
		m.SplitDirections(cls)
	}
}
