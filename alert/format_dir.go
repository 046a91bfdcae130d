package alert

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/dxmon/dxmon/enrich"
	"github.com/dxmon/dxmon/report"
)

// formatter writes one message's body; it holds what every section needs.
type formatter struct {
	r      *report.Report
	lookup func(netip.Addr) enrich.Info
	b      strings.Builder
}

// info is what is known of ip: the report's, else the lookup's.
func (f *formatter) info(ip netip.Addr, have *enrich.Info) enrich.Info {
	switch {
	case have != nil:
		return *have
	case f.lookup != nil:
		return f.lookup(ip)
	}
	return enrich.Info{}
}

// rate is bytes over the window, in bits per second.
func (f *formatter) rate(bytes uint64) string {
	secs := f.r.Duration().Seconds()
	if secs <= 0 {
		return "-"
	}
	return report.Bps(float64(bytes) * 8 / secs)
}

// topSource is " top src IP (name)" for the subject, "" without sources.
func (f *formatter) topSource(hs []report.Host) string {
	if len(hs) == 0 {
		return ""
	}
	s := " top src " + hs[0].IP.String()
	if n := f.info(hs[0].IP, hs[0].Info).Label(); n != "" {
		s += " (" + n + ")"
	}
	return s
}

// scope says, for a fleet report, that the message is about the whole
// link and how many probes' windows it merged.
func (f *formatter) scope() {
	if f.r.Scope == report.ScopeFleet {
		fmt.Fprintf(&f.b, "The whole link: the windows of %d probes merged.\n", f.r.Probes)
	}
}

// totals writes the window's totals row.
func (f *formatter) totals(tw *tabwriter.Writer) {
	fmt.Fprintf(tw, "Totals\t%s\t%d packets\tsample rate %s\n", report.Bytes(float64(f.r.Bytes)), f.r.Packets,
		strconv.FormatFloat(f.r.SampleRate, 'g', 4, 64))
}

// talkers writes the top sources, destinations, flows and (when ports is
// not nil) destination ports, TopN of each, titled with prefix.
func (f *formatter) talkers(prefix string, srcs, dsts []report.Host, flows []report.Flow, ports []report.Port) {
	b := &f.b
	hosts := func(title string, hs []report.Host) {
		if len(hs) == 0 {
			return
		}
		fmt.Fprintf(b, "\n%s%s\n", prefix, title)
		tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "#\tIP\tBytes\tRate\tPackets\tName")
		for i, h := range hs[:min(TopN, len(hs))] {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\n", i+1, h.IP, report.Bytes(float64(h.Bytes)), f.rate(h.Bytes), h.Packets, describe(f.info(h.IP, h.Info)))
		}
		tw.Flush()
	}
	short := func(ip netip.Addr, have *enrich.Info) string {
		if l := f.info(ip, have).Label(); l != "" {
			return l
		}
		return "-"
	}
	title := func(s string) string {
		if prefix == "" {
			return s
		}
		return strings.ToLower(s[:1]) + s[1:]
	}
	hosts(title("Top sources"), srcs)
	hosts(title("Top destinations"), dsts)
	if len(flows) > 0 {
		fmt.Fprintf(b, "\n%s%s\n", prefix, title("Top flows"))
		tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "#\tSource\tDestination\tProto\tBytes\tRate\tPackets\tNames")
		for i, fl := range flows[:min(TopN, len(flows))] {
			names := short(fl.Src, fl.SrcInfo) + " → " + short(fl.Dst, fl.DstInfo)
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", i+1,
				netip.AddrPortFrom(fl.Src, fl.Sport), netip.AddrPortFrom(fl.Dst, fl.Dport), report.ProtoName(fl.Proto),
				report.Bytes(float64(fl.Bytes)), f.rate(fl.Bytes), fl.Packets, names)
		}
		tw.Flush()
	}
	if len(ports) > 0 {
		fmt.Fprintf(b, "\n%s%s\n", prefix, title("Top destination ports"))
		tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "#\tProto\tPort\tBytes\tRate\tPackets")
		for i, p := range ports[:min(TopN, len(ports))] {
			fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%d\n", i+1, report.ProtoName(p.Proto), p.Port,
				report.Bytes(float64(p.Bytes)), f.rate(p.Bytes), p.Packets)
		}
		tw.Flush()
	}
}

// dirTitle names a direction for people: "to AWS", "from AWS".
func dirTitle(dir string) string {
	switch dir {
	case report.ToAWS:
		return "to AWS"
	case report.FromAWS:
		return "from AWS"
	}
	return dir
}

// percent formats a fraction as "93 %" (one decimal under 10 %).
func percent(frac float64) string {
	p := frac * 100
	if p < 10 {
		return strconv.FormatFloat(p, 'f', 1, 64) + " %"
	}
	return strconv.FormatFloat(p, 'f', 0, 64) + " %"
}

// fullness is a direction's rate and, when the link is known, how full it
// is: "9.30 Gbps, 93 % of 10.0 Gbps".
func fullness(v DirDecision, link float64) string {
	s := report.Bps(v.BPS)
	if link > 0 {
		s += ", " + percent(v.Utilization) + " of " + report.Bps(link)
	}
	return s
}

// overWhat lists what a direction exceeded: "> 1.00 Gbps", "> 80 %", "750
// Kpps > 500 Kpps".
func overWhat(v DirDecision, d *Decision) string {
	var over []string
	if v.OverBPS {
		over = append(over, "over "+report.Bps(d.ThresholdBPS))
	}
	if v.OverUtil {
		over = append(over, "over "+percent(d.ThresholdUtil))
	}
	if v.OverPPS {
		over = append(over, fmt.Sprintf("%s over %s", report.Pps(v.PPS), report.Pps(d.ThresholdPPS)))
	}
	return strings.Join(over, ", ")
}

// direction returns the report's share of direction dir.
func (f *formatter) direction(dir string) *report.Direction {
	var out *report.Direction
	if f.r.Directions != nil {
		out = f.r.Directions.ToAWS
		if dir == report.FromAWS {
			out = f.r.Directions.FromAWS
		}
	}
	if out == nil {
		out = &report.Direction{}
	}
	return out
}

// directions formats a decision on a report with directions: the subject
// names each direction that fires (or resolves), how full it is and, when
// it fires, its top source; the body has a row per direction and then,
// for each acting direction, its top sources, destinations, flows and
// ports.
func (f *formatter) directions(d Decision) (subject, body string) {
	b := &f.b
	acting := d.Acting()
	var parts []string
	for _, v := range acting {
		if v.Kind != d.Kind {
			continue
		}
		p := dirTitle(v.Dir) + " " + fullness(v, d.LinkBPS)
		if d.Kind == Fire {
			if o := overWhat(v, &d); o != "" {
				p += " (" + o + ")"
			}
			// Each firing direction names its own top source: the
			// on-call reads "from AWS …" and needs from-AWS's sender.
			p += f.topSource(f.direction(v.Dir).TopSrc)
		}
		parts = append(parts, p)
	}
	switch d.Kind {
	case Resolve:
		subject = "dxmon resolved: " + strings.Join(parts, "; ")
		fmt.Fprintf(b, "Traffic %s is back under the thresholds (alert fired %s).\n", strings.Join(dirTitles(acting, Resolve), " and "), stamp(d.LastFired))
	case Fire:
		subject = "dxmon ALERT: " + strings.Join(parts, "; ")
		fmt.Fprintf(b, "Traffic %s over threshold.\n", strings.Join(dirTitles(acting, Fire), " and "))
	default:
		subject = fmt.Sprintf("dxmon: %s, %s", report.Bps(d.BPS), report.Pps(d.PPS))
	}
	f.scope()

	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Window\t%s – %s (%s)%s\n", stamp(f.r.WindowStart), stamp(f.r.WindowEnd), f.r.Duration(), partial(f.r))
	th := report.Bps(d.ThresholdBPS) + ", " + report.Pps(d.ThresholdPPS)
	if d.ThresholdUtil > 0 {
		th += ", " + percent(d.ThresholdUtil) + " of " + report.Bps(d.LinkBPS)
	}
	fmt.Fprintf(tw, "Thresholds\t%s, each direction\n", th)
	for _, v := range d.Dirs {
		status := "under"
		switch {
		case v.Kind == Fire:
			status = "ALERT (" + overWhat(v, &d) + ")"
		case v.Suppressed:
			status = "over (alerted " + stamp(v.LastFired) + ")"
		case v.Kind == Resolve:
			status = "resolved"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", capitalize(dirTitle(v.Dir)), fullness(v, d.LinkBPS), report.Pps(v.PPS), status)
	}
	f.totals(tw)
	tw.Flush()
	if d.Kind != Fire {
		return oneLine(subject), b.String()
	}
	for _, v := range acting {
		if v.Kind != Fire {
			continue
		}
		dr := f.direction(v.Dir)
		f.talkers(capitalize(dirTitle(v.Dir))+": ", dr.TopSrc, dr.TopDst, dr.TopFlows, dr.TopDport)
	}
	return oneLine(subject), b.String()
}

// dirTitles names the directions of kind k.
func dirTitles(vs []DirDecision, k Kind) []string {
	var out []string
	for _, v := range vs {
		if v.Kind == k {
			out = append(out, dirTitle(v.Dir))
		}
	}
	return out
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
