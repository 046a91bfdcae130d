package flow_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"runtime"
	"sort"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/dxmon/dxmon/flow"
	"github.com/dxmon/dxmon/vxlan"
)

type pkt struct {
	key   flow.Key
	bytes uint64
}

// genPackets draws traffic over a small key space so that flows repeat.
func genPackets(t *rapid.T, label string) []pkt {
	n := rapid.IntRange(0, 300).Draw(t, label+"n")
	out := make([]pkt, n)
	for i := range out {
		src := netip.AddrFrom4([4]byte{198, 18, 0, rapid.ByteRange(1, 6).Draw(t, label+"src")})
		dst := netip.AddrFrom4([4]byte{192, 0, 2, rapid.ByteRange(1, 4).Draw(t, label+"dst")})
		if rapid.IntRange(0, 4).Draw(t, label+"v6") == 0 {
			src = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: rapid.ByteRange(1, 4).Draw(t, label+"src6")})
			dst = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: 1, 15: rapid.ByteRange(1, 4).Draw(t, label+"dst6")})
		}
		out[i] = pkt{
			key: flow.NewKey(src, dst, rapid.SampledFrom([]uint8{6, 17, 1}).Draw(t, label+"proto"),
				rapid.Uint16Range(1000, 1003).Draw(t, label+"sport"), rapid.SampledFrom([]uint16{53, 443, 80}).Draw(t, label+"dport")),
			bytes: rapid.Uint64Range(40, 1500).Draw(t, label+"len"),
		}
	}
	return out
}

func fill(t interface{ Fatalf(string, ...any) }, maxFlows int, ps []pkt) *flow.Table {
	tb, err := flow.NewTable(maxFlows)
	if err != nil {
		t.Fatalf("NewTable: %v", err)
	}
	for i := range ps {
		tb.Add(&ps[i].key, ps[i].key.Hash(), ps[i].bytes)
	}
	return tb
}

// roomFor draws a capacity that holds every flow of ps: from just enough,
// where merging and Top read the table in slot order (more than an eighth
// full), to ten times more, where they follow the list of used slots.
func roomFor(t *rapid.T, label string, ps []pkt) int {
	distinct := map[flow.Key]bool{}
	for _, p := range ps {
		distinct[p.key] = true
	}
	n := max(len(distinct), 1)
	return rapid.IntRange(n, 10*n).Draw(t, label+"room")
}

// snapshot is every dimension of a Merged as sorted entries, for go-cmp.
func snapshot(m *flow.Merged) map[string]any {
	out := map[string]any{"total": m.Total, "overflow": m.Overflow}
	for _, d := range flow.Dims {
		out[d.String()] = m.Top(d, 1<<30)
	}
	return out
}

// TestMergeOrderAndGroupingDoNotMatter: merging is commutative and
// associative, and without overflow equals one table fed every packet.
func TestMergeOrderAndGroupingDoNotMatter(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b, c := genPackets(t, "a"), genPackets(t, "b"), genPackets(t, "c")
		ta, tb, tc := fill(t, roomFor(t, "a", a), a), fill(t, roomFor(t, "b", b), b), fill(t, roomFor(t, "c", c), c)

		abc := flow.NewMerged()
		abc.AddTable(ta)
		abc.AddTable(tb)
		abc.AddTable(tc)
		cba := flow.NewMerged()
		cba.AddTable(tc)
		cba.AddTable(tb)
		cba.AddTable(ta)
		if d := cmp.Diff(snapshot(abc), snapshot(cba)); d != "" {
			t.Fatalf("merge order matters (-abc +cba):\n%s", d)
		}
		// All at once (as the coordinator merges a window), into a Merged
		// that held an earlier window, equals one at a time.
		once := flow.NewMerged()
		once.AddTables(tc)
		once.Reset()
		once.AddTables(ta, tb, tc)
		if d := cmp.Diff(snapshot(abc), snapshot(once)); d != "" {
			t.Fatalf("AddTables differs from AddTable one by one (-one by one +at once):\n%s", d)
		}
		// (a+b)+c == a+(b+c)
		ab := flow.NewMerged()
		ab.AddTable(ta)
		ab.AddTable(tb)
		left := flow.NewMerged()
		left.AddMerged(ab)
		left.AddTable(tc)
		bc := flow.NewMerged()
		bc.AddTable(tb)
		bc.AddTable(tc)
		right := flow.NewMerged()
		right.AddTable(ta)
		right.AddMerged(bc)
		if d := cmp.Diff(snapshot(left), snapshot(right)); d != "" {
			t.Fatalf("merge grouping matters (-(a+b)+c +a+(b+c)):\n%s", d)
		}
		one := flow.NewMerged()
		one.AddTable(fill(t, 1000, append(append(append([]pkt{}, a...), b...), c...)))
		if d := cmp.Diff(snapshot(one), snapshot(abc)); d != "" {
			t.Fatalf("merged tables differ from one table (-one +merged):\n%s", d)
		}
	})
}

// TestTopEqualsBruteForce: the bounded-heap Top-N equals sorting everything.
func TestTopEqualsBruteForce(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ps := genPackets(t, "")
		n := rapid.IntRange(1, 20).Draw(t, "n")
		m := flow.NewMerged()
		m.AddTable(fill(t, roomFor(t, "", ps), ps))
		for _, d := range flow.Dims {
			all := map[flow.Key]flow.Counter{}
			for _, p := range ps {
				k := p.key
				switch d {
				case flow.DimSrc:
					k = p.key.SrcOnly()
				case flow.DimDst:
					k = p.key.DstOnly()
				case flow.DimPort:
					k = p.key.PortOnly()
				}
				c := all[k]
				all[k] = flow.Counter{Packets: c.Packets + 1, Bytes: c.Bytes + p.bytes}
			}
			var want []flow.Entry
			for k, c := range all {
				want = append(want, flow.Entry{Key: k, Counter: c})
			}
			sort.Slice(want, func(i, j int) bool {
				a, b := want[i], want[j]
				if a.Bytes != b.Bytes {
					return a.Bytes > b.Bytes
				}
				if a.Packets != b.Packets {
					return a.Packets > b.Packets
				}
				return bytes.Compare(a.Key[:], b.Key[:]) < 0
			})
			want = want[:min(n, len(want))]
			if d2 := cmp.Diff(want, m.Top(d, n), cmp.AllowUnexported()); d2 != "" && !(len(want) == 0 && len(m.Top(d, n)) == 0) {
				t.Fatalf("Top(%v, %d) differs from a full sort (-sort +top):\n%s", d, n, d2)
			}
		}
	})
}

// TestTotalsExactWithOverflow: whatever the capacity, totals equal the sum
// of the input, and held + overflow = total.
func TestTotalsExactWithOverflow(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ps := genPackets(t, "")
		tb := fill(t, rapid.IntRange(1, 20).Draw(t, "cap"), ps)
		var want flow.Counter
		for _, p := range ps {
			want.Packets++
			want.Bytes += p.bytes
		}
		if tb.Total() != want {
			t.Fatalf("total %+v, want %+v", tb.Total(), want)
		}
		var held flow.Counter
		tb.Each(func(_ *flow.Key, c flow.Counter) { held.Packets += c.Packets; held.Bytes += c.Bytes })
		if o := tb.Overflow(); held.Packets+o.Packets != want.Packets || held.Bytes+o.Bytes != want.Bytes {
			t.Fatalf("held %+v + overflow %+v != total %+v", held, o, want)
		}
		m := flow.NewMerged()
		m.AddTable(tb)
		m.AddTable(tb)
		if m.Total.Packets != 2*want.Packets || m.Total.Bytes != 2*want.Bytes {
			t.Fatalf("merged total %+v, want twice %+v", m.Total, want)
		}
		tb.Reset()
		if tb.Len() != 0 || tb.Total() != (flow.Counter{}) || tb.Overflow() != (flow.Counter{}) {
			t.Fatalf("Reset left %d flows, total %+v", tb.Len(), tb.Total())
		}
	})
}

func floodKey(i uint32) flow.Key {
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], i)
	return flow.NewKey(netip.AddrFrom4([4]byte{198, 18, a[2], a[3]}), netip.MustParseAddr("192.0.2.10"), 17, uint16(i>>16), uint16(i))
}

// TestHeavyHitterAfterTableFull: a flow that starts after the table is full
// and carries ≥ 1 % of the window's bytes is first in the Top-N, and so is
// the source of a random-port flood.
func TestHeavyHitterAfterTableFull(t *testing.T) {
	tb, _ := flow.NewTable(1000)
	heavy := flow.NewKey(netip.MustParseAddr("198.19.9.9"), netip.MustParseAddr("192.0.2.20"), 6, 40000, 443)
	flooder := netip.MustParseAddr("203.0.113.66")
	var heavyBytes uint64
	for i := uint32(0); i < 200000; i++ {
		k := floodKey(i)
		tb.Add(&k, k.Hash(), 100)
		if i%5 == 0 && i > 5000 { // a random-port flood from one source
			f := flow.NewKey(flooder, netip.MustParseAddr("192.0.2.30"), 17, uint16(i), uint16(i*7))
			tb.Add(&f, f.Hash(), 60)
		}
		if i%40 == 0 && i > 2000 { // about 1.5 % of the bytes
			tb.Add(&heavy, heavy.Hash(), 400)
			heavyBytes += 400
		}
	}
	m := flow.NewMerged()
	m.AddTable(tb)
	if share := float64(heavyBytes) / float64(m.Total.Bytes); share < 0.01 {
		t.Fatalf("test traffic wrong: heavy share %.4f", share)
	}
	top := m.Top(flow.DimFlow, 10)
	if len(top) == 0 || top[0].Key != heavy {
		t.Fatalf("heavy flow not first: %v", top)
	}
	if top[0].Bytes > heavyBytes || top[0].Bytes < heavyBytes*9/10 {
		t.Errorf("heavy flow counted %d bytes, sent %d", top[0].Bytes, heavyBytes)
	}
	src := m.Top(flow.DimSrc, 3)
	fk := flow.NewKey(flooder, flooder, 0, 0, 0)
	if k := fk.SrcOnly(); len(src) == 0 || src[0].Key != k {
		t.Fatalf("flood source not first among sources: %v", src)
	}
}

func TestAddDoesNotAllocate(t *testing.T) {
	tb, _ := flow.NewTable(1 << 12)
	keys := make([]flow.Key, 1<<13) // twice the capacity: overflow too
	for i := range keys {
		keys[i] = floodKey(uint32(i))
	}
	i := 0
	if n := testing.AllocsPerRun(20000, func() {
		k := &keys[i%len(keys)]
		tb.Add(k, k.Hash(), 100)
		i++
	}); n != 0 {
		t.Errorf("Add allocates %v times per packet", n)
	}
	var p vxlan.Packet
	pk, _ := vxlan.Append(nil, &vxlan.Spec{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: 6})
	p.Decode(pk)
	if n := testing.AllocsPerRun(1000, func() { k := flow.KeyOf(&p); tb.Add(&k, k.Hash(), 1) }); n != 0 {
		t.Errorf("KeyOf+Hash+Add allocates %v times", n)
	}
}

func TestKeyOfMatchesNewKey(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v6 := rapid.Bool().Draw(t, "v6")
		s := vxlan.Spec{Src: netip.MustParseAddr("198.18.0.1"), Dst: netip.MustParseAddr("192.0.2.7"),
			Proto: rapid.SampledFrom([]uint8{6, 17, 132}).Draw(t, "proto"), SrcPort: rapid.Uint16().Draw(t, "sp"), DstPort: rapid.Uint16().Draw(t, "dp")}
		if v6 {
			s.Src, s.Dst = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::77")
		}
		b, _ := vxlan.Append(nil, &s)
		var p vxlan.Packet
		if r := p.Decode(b); r != vxlan.OK {
			t.Fatalf("decode: %v", r)
		}
		k := flow.KeyOf(&p)
		if want := flow.NewKey(s.Src, s.Dst, s.Proto, s.SrcPort, s.DstPort); k != want {
			t.Fatalf("KeyOf = %v, NewKey = %v", k, want)
		}
		if k.Src() != s.Src || k.Dst() != s.Dst || k.SrcPort() != s.SrcPort || k.DstPort() != s.DstPort || k.Proto() != s.Proto {
			t.Fatalf("accessors of %v disagree with %+v", k, s)
		}
	})
}

func TestNewTableRejectsBadCapacity(t *testing.T) {
	for _, n := range []int{0, -1, 1<<30 + 1} {
		if _, err := flow.NewTable(n); err == nil {
			t.Errorf("NewTable(%d) accepted", n)
		}
	}
}

// BenchmarkUpdate is Hash + Add (as a worker does it per packet) cycling
// through n active flows. The keys are read in order, as packets arrive; the
// table slots they land in are spread by the hash, so every update touches
// an unrelated slot.
func BenchmarkUpdate(b *testing.B) {
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		b.Run(name(n)+"/dxmon", func(b *testing.B) {
			tb, _ := flow.NewTable(n)
			keys, _ := benchKeys(n)
			for j := range keys { // warm: every flow is active
				tb.Add(&keys[j], keys[j].Hash(), 100)
			}
			b.ReportAllocs()
			j := 0
			for b.Loop() {
				k := &keys[j]
				tb.Add(k, k.Hash(), 100)
				if j++; j == n {
					j = 0
				}
			}
		})
		b.Run(name(n)+"/dxmon-batch64", func(b *testing.B) {
			tb, _ := flow.NewTable(n)
			keys, _ := benchKeys(n)
			for j := range keys {
				tb.Add(&keys[j], keys[j].Hash(), 100)
			}
			const batch = 64
			hashes, sizes := make([]uint64, batch), make([]uint64, batch)
			b.ReportAllocs()
			j := 0
			for b.Loop() { // one op = one packet; a batch every 64 ops
				if j%batch == 0 {
					if j+batch > n {
						j = 0
					}
					ks := keys[j : j+batch]
					for i := range ks {
						hashes[i], sizes[i] = ks[i].Hash(), 100
					}
					tb.AddBatch(ks, hashes, sizes)
				}
				j++
			}
		})
		b.Run(name(n)+"/dxmon-batch64-prehashed", func(b *testing.B) {
			// The table's own cost: the hash is the sampler's, computed once
			// per packet before either uses it.
			tb, _ := flow.NewTable(n)
			keys, hashes := benchKeys(n)
			for j := range keys {
				tb.Add(&keys[j], hashes[j], 100)
			}
			const batch = 64
			sizes := make([]uint64, batch)
			for i := range sizes {
				sizes[i] = 100
			}
			b.ReportAllocs()
			j := 0
			for b.Loop() {
				if j%batch == 0 {
					if j+batch > n {
						j = 0
					}
					tb.AddBatch(keys[j:j+batch], hashes[j:j+batch], sizes)
				}
				j++
			}
		})
		b.Run(name(n)+"/gomap", func(b *testing.B) {
			m := make(map[flow.Key]flow.Counter, n)
			keys, _ := benchKeys(n)
			for _, k := range keys {
				m[k] = flow.Counter{Packets: 1, Bytes: 100}
			}
			b.ReportAllocs()
			j := 0
			for b.Loop() {
				c := m[keys[j]]
				m[keys[j]] = flow.Counter{Packets: c.Packets + 1, Bytes: c.Bytes + 100}
				if j++; j == n {
					j = 0
				}
			}
		})
	}
}

func name(n int) string {
	switch {
	case n >= 1_000_000:
		return "flows=1M"
	case n >= 1_000:
		return "flows=" + strconv.Itoa(n/1000) + "k"
	}
	return "flows=" + strconv.Itoa(n)
}

func benchKeys(n int) ([]flow.Key, []uint64) {
	keys := make([]flow.Key, n)
	hashes := make([]uint64, n)
	for i := range keys {
		keys[i] = floodKey(uint32(i))
		hashes[i] = keys[i].Hash()
	}
	return keys, hashes
}

// BenchmarkMergeTop merges 8 worker tables of 100 k flows each and ranks
// the Top-10 of every dimension: the coordinator's work per window.
func BenchmarkMergeTop(b *testing.B) { benchMergeTop(b, 8, 100_000) }

// BenchmarkMergeTopFull is the same with full worker tables of the default
// capacity (flow.DefaultMaxFlows, one distinct flow each): a random
// 5-tuple flood. 1 and 2 workers are dxprobe's defaults on 1- and 2-vCPU
// machines, 8 on a c6gn.2xlarge.
func BenchmarkMergeTopFull(b *testing.B) {
	for _, workers := range []int{1, 2, 8} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) { benchMergeTop(b, workers, flow.DefaultMaxFlows) })
	}
}

// benchMergeTop merges workers tables of n distinct flows each into a
// Merged that an earlier window has grown, as the coordinator does, and
// ranks every dimension.
func benchMergeTop(b *testing.B, workers, n int) {
	tables := make([]*flow.Table, workers)
	for w := range tables {
		tables[w], _ = flow.NewTable(n)
		for i := range n {
			k := floodKey(uint32(w*n + i))
			tables[w].Add(&k, k.Hash(), uint64(64+i%1400))
		}
	}
	m := flow.NewMerged()
	m.AddTables(tables...)
	b.ReportAllocs()
	for b.Loop() {
		m.Reset()
		m.AddTables(tables...)
		for _, d := range flow.Dims {
			_ = m.Top(d, 10)
		}
	}
}

// BenchmarkTableMemory reports the heap a full 1 M-flow table takes.
func BenchmarkTableMemory(b *testing.B) {
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		tb, _ := flow.NewTable(1 << 20)
		for i := range 1 << 20 {
			k := floodKey(uint32(i))
			tb.Add(&k, k.Hash(), 100)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB/table")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(tb.Len()), "B/flow")
		runtime.KeepAlive(tb)
	}
}

// TestParallelMergeEqualsSerial: a table large enough to be merged one
// goroutine per dimension gives the same result as merging its half-size
// parts, which take the serial path.
func TestParallelMergeEqualsSerial(t *testing.T) {
	const n, distinct = 36_000, 17_000
	big, _ := flow.NewTable(distinct)
	parts := make([]*flow.Table, 3)
	for i := range parts {
		parts[i], _ = flow.NewTable(n / 3)
	}
	for i := range n {
		k := floodKey(uint32(i % distinct)) // flows repeat across the parts
		size := uint64(64 + i%1400)
		big.Add(&k, k.Hash(), size)
		parts[i/(n/3)].Add(&k, k.Hash(), size)
	}
	if big.Len() < 1<<14 || parts[0].Len() >= 1<<14 {
		t.Fatalf("test sizes wrong: %d, %d", big.Len(), parts[0].Len())
	}
	par := flow.NewMerged()
	par.AddTable(big)
	ser := flow.NewMerged()
	for _, p := range parts {
		ser.AddTable(p)
	}
	if d := cmp.Diff(snapshot(ser), snapshot(par)); d != "" {
		t.Errorf("parallel merge differs (-serial +parallel):\n%s", d)
	}
}
