package probe

import (
	"sync/atomic"
	"time"

	"github.com/dxmon/dxmon/flow"
	"github.com/dxmon/dxmon/sample"
	"github.com/dxmon/dxmon/vxlan"
)

// counts are a worker's cumulative counters.
type counts struct {
	rxPackets, rxBytes    uint64
	decoded               [flow.NumDirections]flow.Counter // by direction
	sampledOut            uint64
	skipped               [vxlan.NumReasons]uint64
	gwlbPackets, portsCut uint64
}

// Stats are a worker's cumulative counters as last published (once per
// batch): safe to read from any goroutine.
type Stats struct {
	RxPackets, RxBytes uint64
	// DecodedPackets and DecodedBytes are the sums of Decoded.
	DecodedPackets, DecodedBytes uint64
	// Decoded counts the decoded packets kept by the VNI and on-premises
	// filters, by direction (all flow.DirUnknown without -onprem-cidrs),
	// before sampling.
	Decoded    [flow.NumDirections]flow.Counter
	SampledOut uint64
	Skipped    [vxlan.NumReasons]uint64
	// GWLBPackets were decoded from inside a Gateway Load Balancer's
	// Geneve; PortsCut of them (counted, not skipped) had their ports cut
	// off by the mirror's packet length and count with ports 0.
	GWLBPackets, PortsCut uint64
}

type atomicCounts struct {
	rxPackets, rxBytes           atomic.Uint64
	decodedPackets, decodedBytes [flow.NumDirections]atomic.Uint64
	sampledOut                   atomic.Uint64
	skipped                      [vxlan.NumReasons]atomic.Uint64
	gwlbPackets, portsCut        atomic.Uint64
}

// tally is a window's counters beside its flow table (unscaled).
type tally struct {
	skipped    [vxlan.NumReasons]uint64
	sampledOut uint64
	portsCut   uint64
	// dirs counts the packets added to the table, by direction: exact
	// per-direction totals, whatever the table's overflow.
	dirs [flow.NumDirections]flow.Counter
}

// add adds o's counts to t.
func (t *tally) add(o *tally) {
	for r, c := range o.skipped {
		t.skipped[r] += c
	}
	t.sampledOut += o.sampledOut
	t.portsCut += o.portsCut
	for d := range o.dirs {
		t.dirs[d].Packets += o.dirs[d].Packets
		t.dirs[d].Bytes += o.dirs[d].Bytes
	}
}

// part is one worker's share of one window, handed to the coordinator.
type part struct {
	worker int
	start  time.Time
	table  *flow.Table
	tally
	last bool // the worker stopped after this part
}

// Worker decodes, samples and counts the packets of one socket (or one
// capture file). It is owned by one goroutine; Handle does not allocate.
type Worker struct {
	id      int
	vni     uint32
	sampler sample.Sampler
	pkt     vxlan.Packet
	cur     part
	c       counts
	pub     atomicCounts
	scope   *scope     // nil: count everything
	eps     *endpoints // shared by the pipeline's workers
	lastEP  uint64     // the last GWLB endpoint ID met, and its tag
	lastTag uint16

	// A batch's kept packets, added to the table together (AddBatch).
	keys   []flow.Key
	hashes []uint64
	tags   []uint16
	sizes  []uint64
}

func newWorker(id int, cfg *Config, s sample.Sampler, t *flow.Table, sc *scope, eps *endpoints) *Worker {
	return &Worker{id: id, vni: cfg.VNI, sampler: s, cur: part{worker: id, table: t}, scope: sc, eps: eps}
}

// Handle counts one mirror packet: the UDP payload, VXLAN first.
func (w *Worker) Handle(b []byte) {
	w.c.rxPackets++
	w.c.rxBytes += uint64(len(b))
	w.account(w.pkt.Decode(b))
}

// HandleFrame counts one captured frame (outer Ethernet/IP/UDP, then
// VXLAN on vxlanPort or Geneve on 6081).
func (w *Worker) HandleFrame(frame []byte, vxlanPort uint16) {
	w.c.rxPackets++
	w.c.rxBytes += uint64(len(frame))
	w.account(w.pkt.DecodeFrame(frame, vxlanPort))
}

// HandleIP counts one captured outer IP packet (captures without a link
// layer).
func (w *Worker) HandleIP(b []byte, vxlanPort uint16) {
	w.c.rxPackets++
	w.c.rxBytes += uint64(len(b))
	w.account(w.pkt.DecodeOuterIP(b, vxlanPort))
}

func (w *Worker) account(r vxlan.Reason) {
	var k flow.Key
	if h, tag, ok := w.keep(r, &k); ok {
		w.cur.table.AddTagged(&k, h, tag, uint64(w.pkt.Length))
	}
}

// keep counts a decode's outcome and, for a packet to be counted, fills k
// and returns its hash and its flow's tag (the GWLB endpoint, 0 for none).
func (w *Worker) keep(r vxlan.Reason, k *flow.Key) (uint64, uint16, bool) {
	dir := flow.DirUnknown
	if r == vxlan.OK {
		r, dir = w.filter()
	}
	if r != vxlan.OK {
		w.c.skipped[r]++
		w.cur.skipped[r]++
		return 0, 0, false
	}
	size := uint64(w.pkt.Length)
	w.c.decoded[dir].Packets++
	w.c.decoded[dir].Bytes += size
	tag := w.gwlbTag()
	*k = flow.KeyOf(&w.pkt)
	h := k.Hash()
	if !w.sampler.Keep(h) {
		w.c.sampledOut++
		w.cur.sampledOut++
		return 0, 0, false
	}
	w.cur.dirs[dir].Packets++
	w.cur.dirs[dir].Bytes += size
	return h, tag, true
}

// filter applies the VNI and on-premises filters to a decoded packet and
// tells its direction.
func (w *Worker) filter() (vxlan.Reason, flow.Direction) {
	if w.vni != 0 && w.pkt.VNI != w.vni {
		return vxlan.WrongVNI, flow.DirUnknown
	}
	if w.scope == nil {
		return vxlan.OK, flow.DirUnknown
	}
	keep, dir := w.scope.classify(&w.pkt.Src, &w.pkt.Dst)
	if !keep {
		return vxlan.NotOnPrem, flow.DirUnknown
	}
	return vxlan.OK, dir
}

// gwlbTag counts a packet that came inside a Gateway Load Balancer's
// Geneve and returns the tag of its endpoint (0 for none).
func (w *Worker) gwlbTag() uint16 {
	if w.pkt.GWLB.Has == 0 {
		return 0
	}
	w.c.gwlbPackets++
	if w.pkt.PortsCut {
		w.c.portsCut++
		w.cur.portsCut++
	}
	if w.pkt.GWLB.Has&vxlan.HasEndpointID == 0 {
		return 0
	}
	if id := w.pkt.GWLB.EndpointID; id != w.lastEP {
		w.lastEP, w.lastTag = id, w.eps.tag(id)
	}
	return w.lastTag
}

// HandleBatch counts the n packets of a batch (UDP payloads), adding the
// kept ones to the table in one AddBatch so that their table lookups
// overlap. It allocates only the first time it sees a larger batch.
func (w *Worker) HandleBatch(src Source, n int) {
	if cap(w.keys) < n {
		w.keys, w.hashes, w.tags, w.sizes = make([]flow.Key, n), make([]uint64, n), make([]uint16, n), make([]uint64, n)
	}
	keys, hashes, tags, sizes := w.keys[:n], w.hashes[:n], w.tags[:n], w.sizes[:n]
	m := 0
	for i := range n {
		b := src.Packet(i)
		w.c.rxPackets++
		w.c.rxBytes += uint64(len(b))
		if h, tag, ok := w.keep(w.pkt.Decode(b), &keys[m]); ok {
			hashes[m], tags[m], sizes[m] = h, tag, uint64(w.pkt.Length)
			m++
		}
	}
	w.cur.table.AddBatchTagged(keys[:m], hashes[:m], tags[:m], sizes[:m])
}

// publish makes the counters visible to Stats; called once per batch.
func (w *Worker) publish() {
	w.pub.rxPackets.Store(w.c.rxPackets)
	w.pub.rxBytes.Store(w.c.rxBytes)
	for d := range w.c.decoded {
		w.pub.decodedPackets[d].Store(w.c.decoded[d].Packets)
		w.pub.decodedBytes[d].Store(w.c.decoded[d].Bytes)
	}
	w.pub.sampledOut.Store(w.c.sampledOut)
	w.pub.gwlbPackets.Store(w.c.gwlbPackets)
	w.pub.portsCut.Store(w.c.portsCut)
	for i := range w.c.skipped {
		if v := w.c.skipped[i]; v != 0 {
			w.pub.skipped[i].Store(v)
		}
	}
}

// Stats returns the counters as of the last batch.
func (w *Worker) Stats() Stats {
	s := Stats{
		RxPackets: w.pub.rxPackets.Load(), RxBytes: w.pub.rxBytes.Load(),
		SampledOut:  w.pub.sampledOut.Load(),
		GWLBPackets: w.pub.gwlbPackets.Load(), PortsCut: w.pub.portsCut.Load(),
	}
	for d := range s.Decoded {
		s.Decoded[d] = flow.Counter{Packets: w.pub.decodedPackets[d].Load(), Bytes: w.pub.decodedBytes[d].Load()}
		s.DecodedPackets += s.Decoded[d].Packets
		s.DecodedBytes += s.Decoded[d].Bytes
	}
	for i := range s.Skipped {
		s.Skipped[i] = w.pub.skipped[i].Load()
	}
	return s
}

// take hands over the current part and starts the window at start with
// table t.
func (w *Worker) take(start time.Time, t *flow.Table) part {
	p := w.cur
	w.cur = part{worker: w.id, start: start, table: t}
	return p
}
