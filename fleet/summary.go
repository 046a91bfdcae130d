package fleet

import (
	"time"

	"github.com/dxmon/dxmon/report"
)

// DefaultK is the ranking length a summary keeps for a probe printing the
// top top entries: max(100, 10·top), at most MaxK.
func DefaultK(top int) int { return min(max(100, 10*top), MaxK) }

// MaxK bounds a summary's rankings so that its item stays within
// DynamoDB's 400 KB item limit at worst (every entry an IPv6 flow with a
// 64-character GWLB endpoint name; TestItemSizeWorstCase).
const MaxK = 600

// Summary is one probe's window as the fleet table holds it: exact totals,
// overall and per direction, and the top K of each ranking. A ranking
// holding K entries may have been cut: its K-th (last) entry's bytes bound
// what any key missing from it had in that probe's window.
type Summary struct {
	// Probe identifies the probe (its EC2 instance ID, or host:port).
	Probe string
	// WindowStart and WindowEnd bound the window, aligned to the wall
	// clock as every probe's are.
	WindowStart, WindowEnd time.Time
	Partial                bool
	SampleRate             float64
	Skipped                map[string]uint64
	SampledOut, PortsCut   uint64
	LinkBPS                float64
	// K is the ranking length the probe kept.
	K int
	// All is the whole window; ToAWS and FromAWS its directions, nil when
	// the probe did not know them (no -onprem-cidrs).
	All            Part
	ToAWS, FromAWS *Part
}

// Part is a window's (or one direction's) exact totals and its top K of
// each dimension, ranked by bytes then packets as report.Build ranks them.
// Entries carry no enrichment: the merging probe names addresses itself.
type Part struct {
	Packets, Bytes uint64
	Flows          []report.Flow
	Src, Dst       []report.Host
	Dport          []report.Port
}

// Kth returns, per dimension (flows, sources, destinations, ports), the
// bytes of the K-th entry when the ranking holds k entries (it may have
// been cut there), else 0 (the ranking is complete).
func (p *Part) Kth(k int) [4]uint64 {
	var out [4]uint64
	if k <= 0 {
		return out
	}
	if len(p.Flows) >= k {
		out[0] = p.Flows[len(p.Flows)-1].Bytes
	}
	if len(p.Src) >= k {
		out[1] = p.Src[len(p.Src)-1].Bytes
	}
	if len(p.Dst) >= k {
		out[2] = p.Dst[len(p.Dst)-1].Bytes
	}
	if len(p.Dport) >= k {
		out[3] = p.Dport[len(p.Dport)-1].Bytes
	}
	return out
}

// Summarize copies r (built with rankings of at least k entries) into a
// Summary of probe's window keeping the top k of each ranking, without the
// addresses' enrichment.
func Summarize(r *report.Report, probe string, k int) *Summary {
	s := &Summary{
		Probe: probe, WindowStart: r.WindowStart.UTC(), WindowEnd: r.WindowEnd.UTC(), Partial: r.Partial,
		SampleRate: r.SampleRate, SampledOut: r.SampledOut, PortsCut: r.PortsCut, LinkBPS: r.LinkBPS, K: k,
		Skipped: make(map[string]uint64, len(r.Skipped)),
	}
	for reason, n := range r.Skipped {
		s.Skipped[reason] = n
	}
	s.All = partOf(r.Packets, r.Bytes, r.TopFlows, r.TopSrc, r.TopDst, r.TopDport, k)
	if d := r.Directions; d != nil {
		if d.ToAWS != nil {
			p := partOf(d.ToAWS.Packets, d.ToAWS.Bytes, d.ToAWS.TopFlows, d.ToAWS.TopSrc, d.ToAWS.TopDst, d.ToAWS.TopDport, k)
			s.ToAWS = &p
		}
		if d.FromAWS != nil {
			p := partOf(d.FromAWS.Packets, d.FromAWS.Bytes, d.FromAWS.TopFlows, d.FromAWS.TopSrc, d.FromAWS.TopDst, d.FromAWS.TopDport, k)
			s.FromAWS = &p
		}
	}
	return s
}

func partOf(packets, bytes uint64, flows []report.Flow, src, dst []report.Host, dport []report.Port, k int) Part {
	p := Part{Packets: packets, Bytes: bytes,
		Flows: make([]report.Flow, 0, min(k, len(flows))), Src: make([]report.Host, 0, min(k, len(src))),
		Dst: make([]report.Host, 0, min(k, len(dst))), Dport: append([]report.Port(nil), dport[:min(k, len(dport))]...)}
	for _, f := range flows[:min(k, len(flows))] {
		f.SrcInfo, f.DstInfo = nil, nil
		p.Flows = append(p.Flows, f)
	}
	for _, h := range src[:min(k, len(src))] {
		h.Info = nil
		p.Src = append(p.Src, h)
	}
	for _, h := range dst[:min(k, len(dst))] {
		h.Info = nil
		p.Dst = append(p.Dst, h)
	}
	return p
}

// Trim cuts r's rankings (overall and per direction) to top entries in
// place, and marks it as a probe's own report. The coordinator calls it in
// Emit, before anything else reads r, so that a pipeline ranking K entries
// for the summary still prints, serves and exports -top.
func Trim(r *report.Report, top int) {
	r.Scope = report.ScopeProbe
	r.TopFlows = r.TopFlows[:min(top, len(r.TopFlows))]
	r.TopSrc = r.TopSrc[:min(top, len(r.TopSrc))]
	r.TopDst = r.TopDst[:min(top, len(r.TopDst))]
	r.TopDport = r.TopDport[:min(top, len(r.TopDport))]
	if r.Directions != nil {
		for _, d := range []*report.Direction{r.Directions.ToAWS, r.Directions.FromAWS} {
			if d == nil {
				continue
			}
			d.TopFlows = d.TopFlows[:min(top, len(d.TopFlows))]
			d.TopSrc = d.TopSrc[:min(top, len(d.TopSrc))]
			d.TopDst = d.TopDst[:min(top, len(d.TopDst))]
			d.TopDport = d.TopDport[:min(top, len(d.TopDport))]
		}
	}
}
