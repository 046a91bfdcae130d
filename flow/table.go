package flow

import (
	"fmt"
	"math/bits"
)

// DefaultMaxFlows is the default number of flows a Table tracks exactly in
// one window. At 150 kpps into one worker a 5-second window holds at most
// 750 k flows; past the cap, traffic is still counted exactly in totals and
// heavy hitters are still found (see Table).
const DefaultMaxFlows = 1 << 18

// HeavySlots is how many overflow flows (and sources, destinations and
// ports) a Table tracks approximately once it is full. Any flow carrying
// more than 1/HeavySlots of the overflow bytes is guaranteed to be among
// them (Space-Saving), so a flow with ≥ 1 % of a window's bytes reaches the
// Top-N even when it started after the table filled.
const HeavySlots = 128

// entry is one flow: a 64-byte cache line. hash holds the low 48 bits of
// the key's hash, all the table compares, and the flow's tag in its top 16
// (see AddTagged).
type entry struct {
	key     Key
	hash    uint64
	packets uint64
	bytes   uint64
}

// tagShift is where an entry's tag sits in its hash field.
const (
	tagShift = 48
	hashBits = 1<<tagShift - 1
)

// tag returns the entry's tag.
func (e *entry) tag() uint16 { return uint16(e.hash >> tagShift) }

// EntryBytes is the memory of one slot. A Table has 1.6 to 3.2 slots per
// flow it can hold (load factor ≤ 0.625; 2 at the default) plus a 4-byte
// index: at the default 262 144 flows, 2×64 + 4 = 132 B per flow, 33 MiB.
const EntryBytes = 64

// Counter is a packet and byte count.
type Counter struct {
	Packets uint64
	Bytes   uint64
}

// Table counts one window's flows for one worker. It is not safe for
// concurrent use: each worker owns its tables and hands a full one to the
// coordinator at the window's end (probe's pipeline recycles two tables per
// worker). Add does not allocate.
//
// When MaxFlows flows are held, a new flow's traffic goes to an overflow
// counter, so Total stays exact, and to Space-Saving summaries of flows,
// sources, destinations and ports, so heavy hitters are still found.
type Table struct {
	slots    []entry
	mask     uint64
	used     []uint32 // occupied slot indices, in insertion order
	maxFlows int

	total    Counter
	overflow Counter
	heavy    [numDims]heavy
	touched  uint64 // sink for AddBatch's prefetching loads
}

// NewTable returns a table that holds up to maxFlows flows exactly.
func NewTable(maxFlows int) (*Table, error) {
	if maxFlows < 1 || maxFlows > 1<<30 {
		return nil, fmt.Errorf("flow: max flows %d outside [1, 2^30]", maxFlows)
	}
	// A power of two ≥ 1.6 × maxFlows: the load factor stays at or under
	// 0.625, and a capacity just over a power of two does not double.
	n := 1 << bits.Len(uint(maxFlows+(3*maxFlows+4)/5-1)) // always > maxFlows
	return &Table{
		slots:    make([]entry, n),
		mask:     uint64(n - 1),
		used:     make([]uint32, 0, maxFlows),
		maxFlows: maxFlows,
	}, nil
}

// Add counts one packet of bytes bytes for key k, whose Hash is h.
func (t *Table) Add(k *Key, h uint64, bytes uint64) { t.AddTagged(k, h, 0, bytes) }

// AddTagged is Add for a packet that carries tag, an attribute of its flow
// that is not part of the key, such as the Gateway Load Balancer endpoint
// it came through (probe). The table keeps, per flow, the last non-zero
// tag it was given, in the top 16 bits of the entry's hash, which it does
// not compare (the low 48 bits tell flows apart well enough before their
// keys are compared, and a home slot uses fewer): the 64-byte entry does
// not grow, and tags change neither which packets are one flow nor where
// a flow lives. Merging keeps the last non-zero tag of the tables merged;
// Top reports it (Entry.Tag). Flows counted in overflow, past MaxFlows,
// lose their tags. Tag 0 means none.
func (t *Table) AddTagged(k *Key, h uint64, tag uint16, bytes uint64) {
	t.total.Packets++
	t.total.Bytes += bytes
	i := h & t.mask
	for {
		e := &t.slots[i]
		if e.packets == 0 {
			if len(t.used) == t.maxFlows {
				t.addOverflow(k, h, bytes)
				return
			}
			e.key, e.hash, e.packets, e.bytes = *k, h&hashBits|uint64(tag)<<tagShift, 1, bytes
			t.used = append(t.used, uint32(i))
			return
		}
		if (e.hash^h)&hashBits == 0 && e.key.equal(k) {
			e.packets++
			e.bytes += bytes
			if tag != 0 { // the last tag seen
				e.hash = h&hashBits | uint64(tag)<<tagShift
			}
			return
		}
		i = (i + 1) & t.mask
	}
}

// AddBatch adds len(keys) packets: keys[i], whose Hash is hashes[i], with
// bytes[i] bytes. It first reads every packet's home slot, so that the
// memory loads of the whole batch overlap instead of waiting for one cache
// miss at a time; in a table larger than the CPU caches this is several
// times faster than Add in a loop. The slices must have equal lengths.
func (t *Table) AddBatch(keys []Key, hashes []uint64, bytes []uint64) {
	t.AddBatchTagged(keys, hashes, nil, bytes)
}

// AddBatchTagged is AddBatch with each packet's tag (see AddTagged);
// tags may be nil for none.
func (t *Table) AddBatchTagged(keys []Key, hashes []uint64, tags []uint16, bytes []uint64) {
	hashes = hashes[:len(keys)]
	bytes = bytes[:len(keys)]
	var touch uint64
	for _, h := range hashes {
		touch += t.slots[h&t.mask].hash
	}
	t.touched += touch // keeps the loads; never read
	if tags == nil {
		for i := range keys {
			t.AddTagged(&keys[i], hashes[i], 0, bytes[i])
		}
		return
	}
	tags = tags[:len(keys)]
	for i := range keys {
		t.AddTagged(&keys[i], hashes[i], tags[i], bytes[i])
	}
}

// prefault writes to every memory page of the slot array once, for a table
// about to be filled at once (a merged table that grows). A fresh page read
// before it is written maps the kernel's shared zero page, and the first
// write then replaces it, which flushes the TLBs of every CPU the process
// runs on with inter-processor interrupts; merge inserts read their slots
// first (to overlap cache misses), so without this a cold merge spent most
// of its time in those flushes (3 to 7 times the warm merge on the dev VM).
// Writing first takes a plain page fault instead.
func (t *Table) prefault() {
	const perPage = 4096 / EntryBytes
	for i := 0; i < len(t.slots); i += perPage {
		t.slots[i].packets = 0
	}
}

// addCounter adds c to key k (hash h, tagged as an entry's hash field is:
// tag in the top 16 bits, 0 for none), for merging; the caller makes room
// first (Merged.reserve), so it never overflows.
func (t *Table) addCounter(k *Key, h uint64, c Counter) {
	t.total.Packets += c.Packets
	t.total.Bytes += c.Bytes
	i := h & t.mask
	for {
		e := &t.slots[i]
		if e.packets == 0 {
			e.key, e.hash, e.packets, e.bytes = *k, h, c.Packets, c.Bytes
			t.used = append(t.used, uint32(i))
			return
		}
		if (e.hash^h)&hashBits == 0 && e.key.equal(k) {
			e.packets += c.Packets
			e.bytes += c.Bytes
			if h>>tagShift != 0 {
				e.hash = h
			}
			return
		}
		i = (i + 1) & t.mask
	}
}

// get returns the traffic of key k.
func (t *Table) get(k *Key) Counter {
	if i, ok := t.find(k); ok {
		return Counter{t.slots[i].packets, t.slots[i].bytes}
	}
	return Counter{}
}

// find returns the slot of key k, if t holds it.
func (t *Table) find(k *Key) (uint64, bool) {
	h := k.Hash()
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		e := &t.slots[i]
		if e.packets == 0 {
			return 0, false
		}
		if (e.hash^h)&hashBits == 0 && e.key.equal(k) {
			return i, true
		}
	}
}

func (t *Table) addOverflow(k *Key, h uint64, bytes uint64) {
	t.overflow.Packets++
	t.overflow.Bytes += bytes
	t.heavy[DimFlow].add(k, h, bytes)
	s, d, p := k.SrcOnly(), k.DstOnly(), k.PortOnly()
	t.heavy[DimSrc].add(&s, s.Hash(), bytes)
	t.heavy[DimDst].add(&d, d.Hash(), bytes)
	t.heavy[DimPort].add(&p, p.Hash(), bytes)
}

// Len is the number of flows held exactly.
func (t *Table) Len() int { return len(t.used) }

// MaxFlows is the number of flows the table holds exactly.
func (t *Table) MaxFlows() int { return t.maxFlows }

// Total is every packet and byte added, overflow included.
func (t *Table) Total() Counter { return t.total }

// Overflow is the traffic of flows that arrived when the table was full.
func (t *Table) Overflow() Counter { return t.overflow }

// Each calls fn for every flow held exactly, in insertion order.
func (t *Table) Each(fn func(k *Key, c Counter)) {
	for _, i := range t.used {
		e := &t.slots[i]
		fn(&e.key, Counter{e.packets, e.bytes})
	}
}

// EachHeavy calls fn for every overflow entry of dimension d that
// Space-Saving holds, with the traffic counted since it took its slot: a
// lower bound of its overflow traffic, exact for a flow that kept its slot.
func (t *Table) EachHeavy(d Dim, fn func(k *Key, c Counter)) {
	h := &t.heavy[d]
	for i := 0; i < h.n; i++ {
		if c := (Counter{h.packets[i], h.bytes[i] - h.errs[i]}); c.Packets > 0 {
			fn(&h.keys[i], c)
		}
	}
}

// eachSlot calls fn for every occupied slot of t with its index: in slot
// order when t is dense, in insertion order (t.used) when it is sparse.
func eachSlot(t *Table, fn func(i uint32, e *entry)) {
	if t.dense() {
		for i := range t.slots {
			if e := &t.slots[i]; e.packets != 0 {
				fn(uint32(i), e)
			}
		}
		return
	}
	for _, i := range t.used {
		fn(i, &t.slots[i])
	}
}

// dense reports whether more than an eighth of the slots are in use. A
// dense table is read (merged, ranked) in slot order, which the hardware
// prefetches, and cleared at once; a sparse one through t.used, which
// skips its empty slots. Reading a large table in the order its flows
// arrived (t.used) would miss the cache on nearly every entry.
func (t *Table) dense() bool { return 8*len(t.used) > len(t.slots) }

// Reset empties the table for reuse, touching only the slots in use when
// few are.
func (t *Table) Reset() {
	if t.dense() {
		clear(t.slots) // dense: one sequential clear beats scattered stores
	} else {
		for _, i := range t.used {
			t.slots[i] = entry{}
		}
	}
	t.used = t.used[:0]
	t.total, t.overflow = Counter{}, Counter{}
	for d := range t.heavy {
		t.heavy[d].n = 0
	}
}

// heavy is a Space-Saving summary (Metwally et al., 2005) weighted by
// bytes: HeavySlots counters; a new key takes the smallest counter's slot
// and inherits its count as error. Lookups scan the hash array, which fits
// in a few cache lines.
type heavy struct {
	n       int
	hashes  [HeavySlots]uint64
	bytes   [HeavySlots]uint64
	errs    [HeavySlots]uint64
	packets [HeavySlots]uint64
	keys    [HeavySlots]Key
}

func (s *heavy) add(k *Key, h uint64, bytes uint64) {
	for i := 0; i < s.n; i++ {
		if s.hashes[i] == h && s.keys[i].equal(k) {
			s.bytes[i] += bytes
			s.packets[i]++
			return
		}
	}
	if s.n < HeavySlots {
		i := s.n
		s.n++
		s.hashes[i], s.bytes[i], s.errs[i], s.packets[i], s.keys[i] = h, bytes, 0, 1, *k
		return
	}
	m := 0
	for i := 1; i < HeavySlots; i++ {
		if s.bytes[i] < s.bytes[m] {
			m = i
		}
	}
	s.hashes[m], s.errs[m], s.packets[m], s.keys[m] = h, s.bytes[m], 1, *k
	s.bytes[m] += bytes
}
