package fleet

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/dxmon/dxmon/enrich"
	"github.com/dxmon/dxmon/report"
)

// Merge returns the fleet's report of one window from the summaries of
// every probe that wrote one (at least one, all of the same window): the
// report.Report contract with Scope "fleet" and Probes = len(ss). Totals,
// skipped, sampled_out and ports_cut are the exact sums; rates are over the
// window's length; each ranking (overall and per direction) sums a key's
// traffic over the summaries that hold it and keeps the top entries
// (see the package documentation for the error bound). Addresses are named
// by lookup (nil: none). The result does not depend on the order of ss.
func Merge(ss []*Summary, top int, lookup report.Lookup) *report.Report {
	ss = slices.Clone(ss)
	slices.SortFunc(ss, func(a, b *Summary) int { return cmp.Compare(a.Probe, b.Probe) })
	first := ss[0]
	r := &report.Report{
		WindowStart: first.WindowStart.UTC(), WindowEnd: first.WindowEnd.UTC(),
		Scope: report.ScopeFleet, Probes: len(ss), SampleRate: first.SampleRate,
		Skipped: map[string]uint64{},
	}
	var all []*Part
	var to, from []*Part
	for _, s := range ss {
		r.Partial = r.Partial || s.Partial
		r.SampleRate = min(r.SampleRate, s.SampleRate)
		r.SampledOut += s.SampledOut
		r.PortsCut += s.PortsCut
		r.LinkBPS = max(r.LinkBPS, s.LinkBPS)
		for reason, n := range s.Skipped {
			r.Skipped[reason] += n
		}
		all = append(all, &s.All)
		if s.ToAWS != nil {
			to = append(to, s.ToAWS)
		}
		if s.FromAWS != nil {
			from = append(from, s.FromAWS)
		}
	}
	secs := r.Duration().Seconds()
	info := func(a netip.Addr) *enrich.Info {
		if lookup == nil {
			return nil
		}
		if i, ok := lookup(a); ok && !i.IsZero() {
			return &i
		}
		return nil
	}
	var d report.Direction
	mergeParts(&d, all, top, secs, info)
	r.Packets, r.Bytes, r.PPS, r.BPS = d.Packets, d.Bytes, d.PPS, d.BPS
	r.TopFlows, r.TopSrc, r.TopDst, r.TopDport = d.TopFlows, d.TopSrc, d.TopDst, d.TopDport
	if len(to) > 0 || len(from) > 0 {
		r.Directions = &report.Directions{ToAWS: &report.Direction{}, FromAWS: &report.Direction{}}
		mergeParts(r.Directions.ToAWS, to, top, secs, info)
		mergeParts(r.Directions.FromAWS, from, top, secs, info)
		if r.LinkBPS > 0 {
			r.Directions.ToAWS.Utilization = r.Directions.ToAWS.BPS / r.LinkBPS
			r.Directions.FromAWS.Utilization = r.Directions.FromAWS.BPS / r.LinkBPS
		}
	}
	return r
}

func mergeParts(d *report.Direction, ps []*Part, top int, secs float64, info func(netip.Addr) *enrich.Info) {
	var flows [][]report.Flow
	var src, dst [][]report.Host
	var ports [][]report.Port
	for _, p := range ps {
		d.Packets += p.Packets
		d.Bytes += p.Bytes
		flows, src, dst, ports = append(flows, p.Flows), append(src, p.Src), append(dst, p.Dst), append(ports, p.Dport)
	}
	if secs > 0 {
		d.PPS = float64(d.Packets) / secs
		d.BPS = float64(d.Bytes) * 8 / secs
	}
	type flowKey struct {
		src, dst     netip.Addr
		proto        uint8
		sport, dport uint16
		dir          string
	}
	d.TopFlows = mergeRanking(flows, top,
		func(f report.Flow) flowKey { return flowKey{f.Src, f.Dst, f.Proto, f.Sport, f.Dport, f.Dir} },
		func(f *report.Flow) (*uint64, *uint64) { return &f.Packets, &f.Bytes },
		func(into *report.Flow, f report.Flow) {
			if into.GWLBE == "" {
				into.GWLBE = f.GWLBE
			}
		})
	for i := range d.TopFlows {
		d.TopFlows[i].SrcInfo, d.TopFlows[i].DstInfo = info(d.TopFlows[i].Src), info(d.TopFlows[i].Dst)
	}
	hostKey := func(h report.Host) netip.Addr { return h.IP }
	hostCounts := func(h *report.Host) (*uint64, *uint64) { return &h.Packets, &h.Bytes }
	d.TopSrc = mergeRanking(src, top, hostKey, hostCounts, nil)
	d.TopDst = mergeRanking(dst, top, hostKey, hostCounts, nil)
	for _, hs := range [][]report.Host{d.TopSrc, d.TopDst} {
		for i := range hs {
			hs[i].Info = info(hs[i].IP)
		}
	}
	type portKey struct {
		proto uint8
		port  uint16
	}
	d.TopDport = mergeRanking(ports, top, func(p report.Port) portKey { return portKey{p.Proto, p.Port} },
		func(p *report.Port) (*uint64, *uint64) { return &p.Packets, &p.Bytes }, nil)
}

// mergeRanking sums each key's counts over lists and returns the top
// entries by bytes, then packets, then first appearance (lists come in
// probe order, so every probe ranks ties alike). It never returns nil.
func mergeRanking[E any, K comparable](lists [][]E, top int, key func(E) K, counts func(*E) (*uint64, *uint64), also func(into *E, e E)) []E {
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	at := make(map[K]int, n)
	out := make([]E, 0, n)
	for _, l := range lists {
		for _, e := range l {
			k := key(e)
			i, ok := at[k]
			if !ok {
				at[k] = len(out)
				out = append(out, e)
				continue
			}
			p, b := counts(&out[i])
			ep, eb := counts(&e)
			*p += *ep
			*b += *eb
			if also != nil {
				also(&out[i], e)
			}
		}
	}
	slices.SortStableFunc(out, func(x, y E) int {
		xp, xb := counts(&x)
		yp, yb := counts(&y)
		if c := cmp.Compare(*yb, *xb); c != 0 {
			return c
		}
		return cmp.Compare(*yp, *xp)
	})
	return out[:min(top, len(out))]
}
