package alert

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/dxmon/dxmon/enrich"
	"github.com/dxmon/dxmon/report"
)

// TopN is how many sources, destinations and flows a message lists.
const TopN = 5

// Format renders an alert (or resolved) message for r and d: which threshold
// was crossed and by how much, the window's totals, and the top sources,
// destinations and 5-tuples with what is known of each address, in human
// units. An address's Info is taken from the report when present, else from
// lookup (which may be nil). The subject is one line; sinks shorten it to
// their own limits.
func Format(r *report.Report, d Decision, lookup func(netip.Addr) enrich.Info) (subject, body string) {
	info := func(ip netip.Addr, have *enrich.Info) enrich.Info {
		switch {
		case have != nil:
			return *have
		case lookup != nil:
			return lookup(ip)
		}
		return enrich.Info{}
	}
	name := func(ip netip.Addr, have *enrich.Info) string { return describe(info(ip, have)) }
	short := func(ip netip.Addr, have *enrich.Info) string {
		if l := info(ip, have).Label(); l != "" {
			return l
		}
		return "-"
	}
	secs := r.Duration().Seconds()
	rate := func(bytes uint64) string {
		if secs <= 0 {
			return "-"
		}
		return report.Bps(float64(bytes) * 8 / secs)
	}

	var b strings.Builder
	switch d.Kind {
	case Resolve:
		subject = fmt.Sprintf("dxmon resolved: %s, %s under %s / %s",
			report.Bps(d.BPS), report.Pps(d.PPS), report.Bps(d.ThresholdBPS), report.Pps(d.ThresholdPPS))
		fmt.Fprintf(&b, "Traffic is back under the thresholds (alert fired %s).\n", stamp(d.LastFired))
	default:
		var over []string
		if d.OverBPS {
			over = append(over, fmt.Sprintf("%s > %s", report.Bps(d.BPS), report.Bps(d.ThresholdBPS)))
		}
		if d.OverPPS {
			over = append(over, fmt.Sprintf("%s > %s", report.Pps(d.PPS), report.Pps(d.ThresholdPPS)))
		}
		if len(over) == 0 {
			over = append(over, fmt.Sprintf("%s, %s", report.Bps(d.BPS), report.Pps(d.PPS)))
		}
		subject = "dxmon ALERT: " + strings.Join(over, ", ")
		if len(r.TopSrc) > 0 {
			top := r.TopSrc[0]
			subject += " top src " + top.IP.String()
			if n := info(top.IP, top.Info).Label(); n != "" {
				subject += " (" + n + ")"
			}
		}
		b.WriteString("Traffic over threshold.\n")
	}

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Window\t%s – %s (%s)%s\n", stamp(r.WindowStart), stamp(r.WindowEnd), r.Duration(), partial(r))
	fmt.Fprintf(tw, "Bandwidth\t%s\tthreshold %s\t%s\n", report.Bps(d.BPS), report.Bps(d.ThresholdBPS), excess(d.BPS, d.ThresholdBPS, report.Bps))
	fmt.Fprintf(tw, "Packets\t%s\tthreshold %s\t%s\n", report.Pps(d.PPS), report.Pps(d.ThresholdPPS), excess(d.PPS, d.ThresholdPPS, report.Pps))
	fmt.Fprintf(tw, "Totals\t%s\t%d packets\tsample rate %s\n", report.Bytes(float64(r.Bytes)), r.Packets,
		strconv.FormatFloat(r.SampleRate, 'g', 4, 64))
	tw.Flush()

	hosts := func(title string, hs []report.Host) {
		if len(hs) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n%s\n", title)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "#\tIP\tBytes\tRate\tPackets\tName")
		for i, h := range hs[:min(TopN, len(hs))] {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\n", i+1, h.IP, report.Bytes(float64(h.Bytes)), rate(h.Bytes), h.Packets, name(h.IP, h.Info))
		}
		tw.Flush()
	}
	hosts("Top sources", r.TopSrc)
	hosts("Top destinations", r.TopDst)
	if len(r.TopFlows) > 0 {
		b.WriteString("\nTop flows\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "#\tSource\tDestination\tProto\tBytes\tRate\tPackets\tNames")
		for i, f := range r.TopFlows[:min(TopN, len(r.TopFlows))] {
			names := short(f.Src, f.SrcInfo) + " → " + short(f.Dst, f.DstInfo)
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", i+1,
				netip.AddrPortFrom(f.Src, f.Sport), netip.AddrPortFrom(f.Dst, f.Dport), report.ProtoName(f.Proto),
				report.Bytes(float64(f.Bytes)), rate(f.Bytes), f.Packets, names)
		}
		tw.Flush()
	}
	return oneLine(subject), b.String()
}

// NewMessage formats r and d into a Message (see Format).
func NewMessage(r *report.Report, d Decision, lookup func(netip.Addr) enrich.Info) Message {
	subject, body := Format(r, d, lookup)
	return Message{Kind: d.Kind, Subject: subject, Body: body}
}

// describe is an address's name with its details: "web-01 (i-0abc, asg web,
// owner team-a)".
func describe(i enrich.Info) string {
	label := i.Label()
	if label == "" {
		return ""
	}
	var extra []string
	if i.InstanceID != "" && i.InstanceID != label {
		extra = append(extra, i.InstanceID)
	}
	if i.InstanceID == "" && i.InterfaceType != "" && i.InterfaceType != "interface" {
		extra = append(extra, i.InterfaceType)
	}
	if i.ASG != "" {
		extra = append(extra, "asg "+i.ASG)
	}
	if i.Owner != "" {
		extra = append(extra, "owner "+i.Owner)
	}
	if len(extra) == 0 {
		return label
	}
	return label + " (" + strings.Join(extra, ", ") + ")"
}

func excess(v, limit float64, unit func(float64) string) string {
	if v <= limit || limit <= 0 {
		return "under"
	}
	return fmt.Sprintf("OVER by %s (%.2f×)", unit(v-limit), v/limit)
}

func partial(r *report.Report) string {
	if r.Partial {
		return ", partial"
	}
	return ""
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// oneLine replaces line breaks and other control characters with spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}

// truncateRunes cuts s to at most n characters, on a character boundary,
// ending with "…" when it cut.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i, count := 0, 0
	for j := range s {
		if count == n-1 {
			i = j
			break
		}
		count++
	}
	return s[:i] + "…"
}

// truncateBytes cuts s to at most n bytes, on a character boundary, ending
// with mark when it cut.
func truncateBytes(s string, n int, mark string) string {
	if len(s) <= n {
		return s
	}
	i := n - len(mark)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + mark
}
