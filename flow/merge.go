package flow

import (
	"bytes"
	"container/heap"
	"sync"
	"time"
)

// Dim is a dimension traffic is ranked by.
type Dim uint8

// Dimensions.
const (
	DimFlow Dim = iota // 5-tuple
	DimSrc             // source address (SrcOnly keys)
	DimDst             // destination address (DstOnly keys)
	DimPort            // protocol and destination port (PortOnly keys)
	numDims
)

// Dims lists every dimension.
var Dims = [...]Dim{DimFlow, DimSrc, DimDst, DimPort}

// String names the dimension.
func (d Dim) String() string {
	return [...]string{"flow", "src", "dst", "dport"}[d]
}

// Entry is a key and its traffic.
type Entry struct {
	Key Key
	Counter
	// Tag is the flow's last non-zero tag (Table.AddTagged); DimFlow only.
	Tag uint16
}

// Merged is one window's traffic across workers: exact totals, and per
// dimension the traffic of every flow held exactly plus the heavy hitters
// found in overflow. The coordinator reuses one Merged for every window:
// its open-addressing tables keep their memory across Reset and grow only
// when a window holds more keys than any before.
type Merged struct {
	// Total is every packet and byte of the window, overflow included.
	Total Counter
	// Overflow is the part of Total whose flows were not held exactly.
	Overflow Counter
	dims     [numDims]*Table

	// Each direction's share of the window (SplitDirections): split[d]
	// for DirToAWS and DirFromAWS, slotDir the direction of each slot of
	// dims[DimFlow], splitDone whether this window was split.
	split     [NumDirections]*Merged
	slotDir   []Direction
	splitDone bool
	// In a direction's share: the window it is part of, its direction,
	// and how many of the window's flows are its own.
	parent *Merged
	dir    Direction
	flows  int
}

// NewMerged returns an empty Merged.
func NewMerged() *Merged {
	m := &Merged{}
	for d := range m.dims {
		m.dims[d], _ = NewTable(1024)
	}
	return m
}

// reserve makes room for n more keys in dimension d. A small table grows
// fourfold, so that a window whose sources (say) run into the hundreds of
// thousands rehashes fewer of them on the way; from fastGrowth keys on it
// doubles, as memory then matters more. The old table is read in slot
// order, in which the new table's home slots (the same low bits of the
// hash, and more) also rise.
//
// Growing is the slow part of a first window with far more keys than any
// before, because the new table's memory is fresh: see prefault. Later
// windows reuse the grown tables.
func (m *Merged) reserve(d Dim, n int) {
	t := m.dims[d]
	if t.Len()+n <= t.maxFlows {
		return
	}
	growth := 2
	if t.maxFlows < fastGrowth {
		growth = 4
	}
	bigger, _ := NewTable(max(growth*t.maxFlows, t.Len()+n))
	bigger.prefault()
	for i := range t.slots {
		if e := &t.slots[i]; e.packets != 0 {
			bigger.addCounter(&e.key, e.hash, Counter{e.packets, e.bytes})
		}
	}
	m.dims[d] = bigger
}

// fastGrowth is the capacity below which reserve grows a table fourfold.
const fastGrowth = 1 << 16

func (m *Merged) add(d Dim, k *Key, c Counter) {
	if t := m.dims[d]; t.Len() == t.maxFlows {
		m.reserve(d, 1) // sources, destinations and ports grow as they come
	}
	m.dims[d].addCounter(k, k.Hash()&hashBits, c)
}

// parallelMerge is the number of flows from which AddTables merges the
// four dimensions on four goroutines: at a window's end every worker's
// table arrives at once, and the report waits for the merge.
const parallelMerge = 1 << 14

// AddTable merges one worker's table; see AddTables.
func (m *Merged) AddTable(t *Table) { m.AddTables(t) }

// AddTables merges worker tables, typically every worker's part of one
// window. Room for all their flows is made at once, and each dimension of
// every table is merged on a goroutine of its own when the tables are large
// (each dimension's table is touched by one goroutine only); AddTables
// returns when all are done.
func (m *Merged) AddTables(ts ...*Table) {
	flows, keys := 0, 0 // keys: at most this many new keys per dimension
	for _, t := range ts {
		m.Total.Packets += t.total.Packets
		m.Total.Bytes += t.total.Bytes
		m.Overflow.Packets += t.overflow.Packets
		m.Overflow.Bytes += t.overflow.Bytes
		flows += t.Len()
		keys += t.Len() + HeavySlots
	}
	if flows < parallelMerge {
		for _, d := range Dims {
			m.addDims(d, ts, keys)
		}
		return
	}
	var wg sync.WaitGroup
	for _, d := range Dims {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.addDims(d, ts, keys)
		}()
	}
	wg.Wait()
}

// addDims merges dimension d of every table; left bounds the new keys they
// may bring.
func (m *Merged) addDims(d Dim, ts []*Table, left int) {
	if d == DimFlow {
		// Room for every flow at once; the fresh memory of a grown table
		// is prefaulted here, alongside the other dimensions' work.
		m.reserve(DimFlow, left)
	}
	for _, t := range ts {
		m.addDim(d, t, left)
		left -= t.Len() + HeavySlots
	}
}

// addDim merges dimension d of t: its exact flows (in the order dense
// says), then its heavy hitters.
func (m *Merged) addDim(d Dim, t *Table, left int) {
	c := mergeChunker{left: left}
	eachSlot(t, func(_ uint32, e *entry) { c.add(m, d, e) })
	c.flush(m, d)
	m.reserve(d, HeavySlots) // at most this many: one growth, not one per key
	t.EachHeavy(d, func(k *Key, c Counter) { m.add(d, k, c) })
}

// mergeChunker gathers mergeChunk entries of one dimension before inserting
// them: it first reads every one's home slot in the merged table, so that
// the cache misses of a chunk overlap instead of being waited for one at a
// time.
type mergeChunker struct {
	n      int
	left   int // at most this many new keys still to come from the table
	keys   [mergeChunk]Key
	hashes [mergeChunk]uint64
	ctrs   [mergeChunk]Counter
}

const mergeChunk = 32

func (c *mergeChunker) add(m *Merged, d Dim, e *entry) {
	j := c.n
	c.ctrs[j] = Counter{e.packets, e.bytes}
	switch d {
	case DimFlow:
		c.keys[j], c.hashes[j] = e.key, e.hash
	case DimSrc:
		c.keys[j] = e.key.SrcOnly()
		c.hashes[j] = c.keys[j].Hash() & hashBits // untagged
	case DimDst:
		c.keys[j] = e.key.DstOnly()
		c.hashes[j] = c.keys[j].Hash() & hashBits
	case DimPort:
		c.keys[j] = e.key.PortOnly()
		c.hashes[j] = c.keys[j].Hash() & hashBits
	}
	if c.n++; c.n == mergeChunk {
		c.flush(m, d)
	}
}

func (c *mergeChunker) flush(m *Merged, d Dim) {
	n := c.n
	c.n = 0
	if n == 0 {
		return
	}
	dt := m.dims[d]
	if dt.Len()+n > dt.maxFlows {
		// Sources, destinations and ports grow as they come; once one
		// must, room for all the table may still bring saves growing
		// again (each growth rehashes and touches fresh memory).
		m.reserve(d, max(n, c.left))
		dt = m.dims[d]
	}
	c.left -= n
	var touch uint64
	for _, h := range c.hashes[:n] {
		touch += dt.slots[h&dt.mask].hash
	}
	dt.touched += touch
	for j := range n {
		dt.addCounter(&c.keys[j], c.hashes[j], c.ctrs[j])
	}
}

// AddMerged merges another Merged into m.
func (m *Merged) AddMerged(o *Merged) {
	m.Total.Packets += o.Total.Packets
	m.Total.Bytes += o.Total.Bytes
	m.Overflow.Packets += o.Overflow.Packets
	m.Overflow.Bytes += o.Overflow.Bytes
	for d, ot := range o.dims {
		m.reserve(Dim(d), ot.Len())
		for _, i := range ot.used {
			e := &ot.slots[i]
			m.dims[d].addCounter(&e.key, e.hash, Counter{e.packets, e.bytes})
		}
	}
}

// Len is the number of distinct keys of dimension d.
func (m *Merged) Len(d Dim) int {
	if d == DimFlow && m.parent != nil {
		return m.flows
	}
	return m.dims[d].Len()
}

// Each calls fn for every key of dimension d with its traffic: the keys
// held exactly and the heavy hitters found in overflow (whose traffic is a
// lower bound). fn must not keep k.
func (m *Merged) Each(d Dim, fn func(k *Key, c Counter)) {
	if d == DimFlow {
		t, dirs, dir, share := m.flowsOf()
		eachSlot(t, func(i uint32, e *entry) {
			if !share || dirs[i] == dir {
				fn(&e.key, Counter{e.packets, e.bytes})
			}
		})
		return
	}
	eachSlot(m.dims[d], func(_ uint32, e *entry) { fn(&e.key, Counter{e.packets, e.bytes}) })
}

// Get returns the traffic of key k in dimension d.
func (m *Merged) Get(d Dim, k Key) Counter {
	if d == DimFlow && m.parent != nil {
		t, dirs, dir, _ := m.flowsOf()
		if i, ok := t.find(&k); ok && dirs[i] == dir {
			e := &t.slots[i]
			return Counter{e.packets, e.bytes}
		}
		return Counter{}
	}
	return m.dims[d].get(&k)
}

// Reset empties m, keeping its memory.
func (m *Merged) Reset() {
	m.Total, m.Overflow = Counter{}, Counter{}
	for _, t := range m.dims {
		t.Reset()
	}
	for _, s := range m.split {
		if s != nil {
			s.Reset()
		}
	}
	m.splitDone = false
	m.flows = 0
}

// Better reports whether a ranks above b: more bytes, then more packets,
// then the smaller key, so that rankings are total and repeatable.
func Better(a, b *Entry) bool {
	if a.Bytes != b.Bytes {
		return a.Bytes > b.Bytes
	}
	if a.Packets != b.Packets {
		return a.Packets > b.Packets
	}
	return bytes.Compare(a.Key[:], b.Key[:]) < 0
}

// Top returns the n best entries of dimension d, best first, with a
// bounded heap: O(k log n) for k keys, not a full sort.
func (m *Merged) Top(d Dim, n int) []Entry {
	if n <= 0 {
		return nil
	}
	t, dirs, dir, share := m.dims[d], []Direction(nil), DirUnknown, false
	if d == DimFlow {
		t, dirs, dir, share = m.flowsOf()
	}
	h := make(worstFirst, 0, min(n, m.Len(d)))
	consider := func(s *entry) {
		if len(h) == n && (s.bytes < h[0].Bytes || s.bytes == h[0].Bytes && s.packets < h[0].Packets) {
			return // worse than the worst kept: most entries stop here
		}
		e := Entry{Key: s.key, Counter: Counter{s.packets, s.bytes}, Tag: s.tag()}
		if len(h) < n {
			heap.Push(&h, e)
		} else if Better(&e, &h[0]) {
			h[0] = e
			heap.Fix(&h, 0)
		}
	}
	eachSlot(t, func(i uint32, s *entry) {
		if !share || dirs[i] == dir {
			consider(s)
		}
	})
	out := make([]Entry, len(h))
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = heap.Pop(&h).(Entry)
	}
	return out
}

// worstFirst is a heap whose root is the worst of the kept entries.
type worstFirst []Entry

func (h worstFirst) Len() int           { return len(h) }
func (h worstFirst) Less(i, j int) bool { return Better(&h[j], &h[i]) }
func (h worstFirst) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *worstFirst) Push(x any)        { *h = append(*h, x.(Entry)) }
func (h *worstFirst) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// WindowStart returns the start of the window of length d that holds t:
// windows are aligned to multiples of d since the zero time (UTC), so that
// probes in different zones report the same intervals.
func WindowStart(t time.Time, d time.Duration) time.Time { return t.Truncate(d) }
