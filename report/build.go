package report

import (
	"net/netip"
	"time"

	"github.com/dxmon/dxmon/enrich"
	"github.com/dxmon/dxmon/flow"
)

// Lookup tells what is known about an address; nil means nothing is.
// (*enrich.Enricher).Lookup and (*enrich.OnPrem).Lookup are Lookups.
type Lookup func(netip.Addr) (enrich.Info, bool)

// Info is what l knows of a, the zero Info when nothing is known or l is
// nil: the lookup alert.Format and alert.NewMessage take.
func (l Lookup) Info(a netip.Addr) enrich.Info {
	if l == nil {
		return enrich.Info{}
	}
	i, _ := l(a)
	return i
}

// Window is one merged window and how to present it.
type Window struct {
	Start, End time.Time
	Partial    bool
	Merged     *flow.Merged
	// SampleRate is the fraction of flows counted; counts are scaled by
	// its inverse.
	SampleRate float64
	// Skipped counts frames not counted, by reason label.
	Skipped map[string]uint64
	// PortsCut counts GWLB client packets counted without ports because
	// the mirror cut them before their ports.
	PortsCut uint64
	// Tag names a flow's tag (flow.Entry.Tag): the GWLB endpoint it came
	// through, "" for none; nil names none.
	Tag func(uint16) string
	// Top is how many entries each ranking keeps.
	Top int
	// SampledOut counts the packets the sampler skipped (unscaled).
	SampledOut uint64
	// LinkBPS is the capacity of each direction of the link in bits per
	// second; 0 is unknown.
	LinkBPS float64
	// Scope is the report's Scope (ScopeProbe, ScopeFleet, or "").
	Scope string
	// Classify, when not nil, tells each flow's direction (the
	// on-premises prefixes are known): the report then has Directions,
	// both present even when idle, with rankings from the window split by
	// direction (Build calls Merged.SplitDirections unless the caller
	// did), and each top flow its Dir.
	Classify flow.Classifier
	// DirTotals are the exact totals of each direction (unscaled, indexed
	// by flow.Direction), read when Classify is not nil.
	DirTotals [flow.NumDirections]flow.Counter
}

// Build makes the report of a window: totals and rankings scaled by
// 1/SampleRate, rates over the window's length, and the addresses named by
// lookup (which may be nil); with w.Classify, the same per direction, and
// each direction's utilization of w.LinkBPS.
func Build(w Window, lookup Lookup) *Report {
	b := builder{w: &w, lookup: lookup, scale: 1}
	if w.SampleRate > 0 && w.SampleRate < 1 {
		b.scale = 1 / w.SampleRate
	}
	b.secs = w.End.Sub(w.Start).Seconds()
	r := &Report{
		WindowStart: w.Start.UTC(),
		WindowEnd:   w.End.UTC(),
		Partial:     w.Partial,
		Scope:       w.Scope,
		Packets:     b.sc(w.Merged.Total.Packets),
		Bytes:       b.sc(w.Merged.Total.Bytes),
		SampleRate:  w.SampleRate,
		SampledOut:  w.SampledOut,
		LinkBPS:     w.LinkBPS,
		Skipped:     w.Skipped,
		PortsCut:    w.PortsCut,
	}
	if r.Skipped == nil {
		r.Skipped = map[string]uint64{}
	}
	r.PPS, r.BPS = b.rates(r.Packets, r.Bytes)
	r.TopFlows, r.TopSrc, r.TopDst, r.TopDport = b.rankings(w.Merged, flow.DirUnknown)
	if w.Classify == nil {
		return r
	}
	if w.Merged.Direction(flow.DirToAWS) == nil {
		w.Merged.SplitDirections(w.Classify)
	}
	r.Directions = &Directions{ToAWS: b.direction(flow.DirToAWS), FromAWS: b.direction(flow.DirFromAWS)}
	return r
}

// dirName is a direction's name in the report; "" for unknown.
func dirName(d flow.Direction) string {
	switch d {
	case flow.DirToAWS:
		return ToAWS
	case flow.DirFromAWS:
		return FromAWS
	}
	return ""
}

// builder holds what every part of a report needs.
type builder struct {
	w      *Window
	lookup Lookup
	scale  float64 // 1/SampleRate
	secs   float64 // the window's length
}

// sc scales an unscaled count by 1/SampleRate.
func (b *builder) sc(n uint64) uint64 { return uint64(float64(n)*b.scale + 0.5) }

// rates returns packets and bytes (scaled) per second and bits per second.
func (b *builder) rates(packets, bytes uint64) (pps, bps float64) {
	if b.secs <= 0 {
		return 0, 0
	}
	return float64(packets) / b.secs, float64(bytes) * 8 / b.secs
}

func (b *builder) info(a netip.Addr) *enrich.Info {
	if b.lookup == nil {
		return nil
	}
	if i, ok := b.lookup(a); ok && !i.IsZero() {
		return &i
	}
	return nil
}

// direction is direction d's share of the window.
func (b *builder) direction(d flow.Direction) *Direction {
	c := b.w.DirTotals[d]
	out := &Direction{Packets: b.sc(c.Packets), Bytes: b.sc(c.Bytes)}
	out.PPS, out.BPS = b.rates(out.Packets, out.Bytes)
	if b.w.LinkBPS > 0 {
		out.Utilization = out.BPS / b.w.LinkBPS
	}
	out.TopFlows, out.TopSrc, out.TopDst, out.TopDport = b.rankings(b.w.Merged.Direction(d), d)
	return out
}

// rankings are m's Top-N of each dimension (empty, not nil, when m is
// nil); dir, when known, is every flow's Dir, which Window.Classify tells
// otherwise.
func (b *builder) rankings(m *flow.Merged, dir flow.Direction) (flows []Flow, srcs, dsts []Host, ports []Port) {
	flows, srcs, dsts, ports = []Flow{}, []Host{}, []Host{}, []Port{}
	if m == nil {
		return
	}
	n := b.w.Top
	for _, e := range m.Top(flow.DimFlow, n) {
		f := Flow{
			Src: e.Key.Src(), Dst: e.Key.Dst(), Proto: e.Key.Proto(), Sport: e.Key.SrcPort(), Dport: e.Key.DstPort(),
			Packets: b.sc(e.Packets), Bytes: b.sc(e.Bytes), SrcInfo: b.info(e.Key.Src()), DstInfo: b.info(e.Key.Dst()),
			Dir: dirName(dir),
		}
		if dir == flow.DirUnknown && b.w.Classify != nil {
			f.Dir = dirName(b.w.Classify(&e.Key))
		}
		if e.Tag != 0 && b.w.Tag != nil {
			f.GWLBE = b.w.Tag(e.Tag)
		}
		flows = append(flows, f)
	}
	for _, e := range m.Top(flow.DimSrc, n) {
		srcs = append(srcs, Host{IP: e.Key.Src(), Packets: b.sc(e.Packets), Bytes: b.sc(e.Bytes), Info: b.info(e.Key.Src())})
	}
	for _, e := range m.Top(flow.DimDst, n) {
		dsts = append(dsts, Host{IP: e.Key.Src(), Packets: b.sc(e.Packets), Bytes: b.sc(e.Bytes), Info: b.info(e.Key.Src())})
	}
	for _, e := range m.Top(flow.DimPort, n) {
		ports = append(ports, Port{Proto: e.Key.Proto(), Port: e.Key.DstPort(), Packets: b.sc(e.Packets), Bytes: b.sc(e.Bytes)})
	}
	return
}
