package flow_test

import (
	"net/netip"
	"testing"

	"pgregory.net/rapid"

	"github.com/dxmon/dxmon/flow"
)

// TestTagIsLastSeenAndNotPartOfTheKey: packets of one flow with different
// tags count as one flow, which keeps its last non-zero tag.
func TestTagIsLastSeenAndNotPartOfTheKey(t *testing.T) {
	k := flow.NewKey(netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), 6, 443, 51514)
	h := k.Hash()
	tb, _ := flow.NewTable(16)
	for _, tag := range []uint16{5, 0, 7, 0} {
		tb.AddTagged(&k, h, tag, 100)
	}
	m := flow.NewMerged()
	m.AddTables(tb)
	top := m.Top(flow.DimFlow, 10)
	if len(top) != 1 || top[0].Packets != 4 || top[0].Bytes != 400 || top[0].Tag != 7 {
		t.Fatalf("top %+v, want one flow of 4 packets, 400 bytes, tag 7", top)
	}
	if c := m.Get(flow.DimFlow, k); c.Packets != 4 {
		t.Errorf("Get: %+v", c)
	}
	if src := m.Top(flow.DimSrc, 1); src[0].Tag != 0 {
		t.Errorf("source dimension has tag %d; tags are per flow", src[0].Tag)
	}
}

// TestTagsSurviveMergeAndGrowth: for random traffic with random tags, spread
// over tables merged into a Merged that must grow, every flow's tag is the
// last non-zero tag it was given (tables merged in order), and the counts
// are those without tags.
func TestTagsSurviveMergeAndGrowth(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		nTables := rapid.IntRange(1, 3).Draw(t, "tables")
		want := map[flow.Key]uint16{}
		counts := map[flow.Key]uint64{}
		m := flow.NewMerged()
		var tables []*flow.Table
		for i := range nTables {
			tb, _ := flow.NewTable(4096)
			n := rapid.IntRange(0, 3000).Draw(t, "n")
			for range n {
				k := flow.NewKey(netip.AddrFrom4([4]byte{198, 18, 2, byte(rapid.IntRange(0, 40).Draw(t, "src"))}),
					netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), 17, uint16(rapid.IntRange(0, 30).Draw(t, "sport")), 53)
				tag := uint16(0)
				if rapid.Bool().Draw(t, "tagged") {
					tag = uint16(rapid.IntRange(1, 3).Draw(t, "tag"))
					want[k] = tag
				}
				counts[k]++
				tb.AddTagged(&k, k.Hash(), tag, 1)
			}
			tables = append(tables, tb)
		}
		m.AddTables(tables...)
		for _, e := range m.Top(flow.DimFlow, len(counts)) {
			if e.Tag != want[e.Key] || e.Packets != counts[e.Key] {
				t.Fatalf("flow %v: tag %d, %d packets; want tag %d, %d packets", e.Key, e.Tag, e.Packets, want[e.Key], counts[e.Key])
			}
		}
		if m.Len(flow.DimFlow) != len(counts) {
			t.Fatalf("%d flows merged, want %d", m.Len(flow.DimFlow), len(counts))
		}
	})
}
