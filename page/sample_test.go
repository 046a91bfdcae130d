package page

import (
	"math"
	"net/netip"
	"time"

	"github.com/dxmon/dxmon/enrich"
	"github.com/dxmon/dxmon/report"
)

// linkBPS is the sample link's capacity per direction: 20 Mbit/s.
const linkBPS = 20e6

// hostile is an instance Name tag that would run script if it became markup.
const hostile = `</script><img src=x onerror="document.title='pwned'"><b>db</b>`

// sample is a window with both directions, named instances (one named
// hostile), a GWLB endpoint and traffic that grows with i.
func sample(i int) *report.Report {
	s := t0.Add(time.Duration(i) * 5 * time.Second)
	onprem := netip.MustParseAddr("192.0.2.10")
	web := netip.MustParseAddr("198.18.1.20")
	db := netip.MustParseAddr("198.18.1.30")
	webInfo := &enrich.Info{InstanceID: "i-0abc1234567890def", Name: "web-1", ENI: "eni-0aa"}
	dbInfo := &enrich.Info{InstanceID: "i-0def", Name: hostile, ENI: "eni-0bb"}
	opInfo := &enrich.Info{OnPrem: "192.0.2.0/24"}
	// An hour with a rhythm, and traffic from AWS that surges at its end.
	up := uint64(4e6 + 3e6*math.Sin(float64(i)/60))
	down := uint64(6e6 + 2e6*math.Cos(float64(i)/35))
	if i > 690 {
		down += 3e6
	}
	to := &report.Direction{Packets: up / 500, Bytes: up, PPS: float64(up/500) / 5, BPS: float64(up) * 8 / 5, Utilization: float64(up) * 8 / 5 / linkBPS,
		TopFlows: []report.Flow{{Src: onprem, Dst: web, Proto: 6, Sport: 50123, Dport: 443, Packets: up / 500, Bytes: up,
			SrcInfo: opInfo, DstInfo: webInfo, GWLBE: "vpce-0123456789abcdef0", Dir: report.ToAWS}},
		TopSrc:   []report.Host{{IP: onprem, Packets: up / 500, Bytes: up, Info: opInfo}},
		TopDst:   []report.Host{{IP: web, Packets: up / 500, Bytes: up, Info: webInfo}},
		TopDport: []report.Port{{Proto: 6, Port: 443, Packets: up / 500, Bytes: up}}}
	from := &report.Direction{Packets: down / 1000, Bytes: down, PPS: float64(down/1000) / 5, BPS: float64(down) * 8 / 5, Utilization: float64(down) * 8 / 5 / linkBPS,
		TopFlows: []report.Flow{{Src: db, Dst: onprem, Proto: 17, Sport: 5432, Dport: 40000, Packets: down / 1000, Bytes: down,
			SrcInfo: dbInfo, DstInfo: opInfo, Dir: report.FromAWS}},
		TopSrc:   []report.Host{{IP: db, Packets: down / 1000, Bytes: down, Info: dbInfo}},
		TopDst:   []report.Host{{IP: onprem, Packets: down / 1000, Bytes: down, Info: opInfo}},
		TopDport: []report.Port{{Proto: 17, Port: 40000, Packets: down / 1000, Bytes: down}}}
	r := &report.Report{WindowStart: s, WindowEnd: s.Add(5 * time.Second), Scope: report.ScopeProbe,
		Packets: to.Packets + from.Packets, Bytes: up + down, SampleRate: 1, LinkBPS: linkBPS,
		Skipped: map[string]uint64{"not_ip": 3}, Directions: &report.Directions{ToAWS: to, FromAWS: from}}
	r.PPS, r.BPS = float64(r.Packets)/5, float64(r.Bytes)*8/5
	r.TopFlows = append(append([]report.Flow{}, from.TopFlows...), to.TopFlows...)
	r.TopSrc = append(append([]report.Host{}, from.TopSrc...), to.TopSrc...)
	r.TopDst = append(append([]report.Host{}, from.TopDst...), to.TopDst...)
	r.TopDport = append(append([]report.Port{}, from.TopDport...), to.TopDport...)
	return r
}
