package report

import (
	"net/netip"
	"time"

	"github.com/dxmon/dxmon/enrich"
	"github.com/dxmon/dxmon/flow"
)

// Lookup tells what is known about an address; nil means nothing is.
type Lookup func(netip.Addr) (enrich.Info, bool)

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
}

// Build makes the report of a window: totals and rankings scaled by
// 1/SampleRate, rates over the window's length, and the addresses named by
// lookup (which may be nil).
func Build(w Window, lookup Lookup) *Report {
	scale := 1.0
	if w.SampleRate > 0 && w.SampleRate < 1 {
		scale = 1 / w.SampleRate
	}
	sc := func(n uint64) uint64 { return uint64(float64(n)*scale + 0.5) }
	info := func(a netip.Addr) *enrich.Info {
		if lookup == nil {
			return nil
		}
		if i, ok := lookup(a); ok && !i.IsZero() {
			return &i
		}
		return nil
	}
	r := &Report{
		WindowStart: w.Start.UTC(),
		WindowEnd:   w.End.UTC(),
		Partial:     w.Partial,
		Packets:     sc(w.Merged.Total.Packets),
		Bytes:       sc(w.Merged.Total.Bytes),
		SampleRate:  w.SampleRate,
		Skipped:     w.Skipped,
		PortsCut:    w.PortsCut,
		TopFlows:    []Flow{},
		TopSrc:      []Host{},
		TopDst:      []Host{},
		TopDport:    []Port{},
	}
	if r.Skipped == nil {
		r.Skipped = map[string]uint64{}
	}
	if secs := w.End.Sub(w.Start).Seconds(); secs > 0 {
		r.PPS = float64(r.Packets) / secs
		r.BPS = float64(r.Bytes) * 8 / secs
	}
	for _, e := range w.Merged.Top(flow.DimFlow, w.Top) {
		f := Flow{
			Src: e.Key.Src(), Dst: e.Key.Dst(), Proto: e.Key.Proto(), Sport: e.Key.SrcPort(), Dport: e.Key.DstPort(),
			Packets: sc(e.Packets), Bytes: sc(e.Bytes), SrcInfo: info(e.Key.Src()), DstInfo: info(e.Key.Dst()),
		}
		if e.Tag != 0 && w.Tag != nil {
			f.GWLBE = w.Tag(e.Tag)
		}
		r.TopFlows = append(r.TopFlows, f)
	}
	for _, e := range w.Merged.Top(flow.DimSrc, w.Top) {
		r.TopSrc = append(r.TopSrc, Host{IP: e.Key.Src(), Packets: sc(e.Packets), Bytes: sc(e.Bytes), Info: info(e.Key.Src())})
	}
	for _, e := range w.Merged.Top(flow.DimDst, w.Top) {
		r.TopDst = append(r.TopDst, Host{IP: e.Key.Src(), Packets: sc(e.Packets), Bytes: sc(e.Bytes), Info: info(e.Key.Src())})
	}
	for _, e := range w.Merged.Top(flow.DimPort, w.Top) {
		r.TopDport = append(r.TopDport, Port{Proto: e.Key.Proto(), Port: e.Key.DstPort(), Packets: sc(e.Packets), Bytes: sc(e.Bytes)})
	}
	return r
}
