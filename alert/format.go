package alert

import (
	"fmt"
	"net/netip"
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
// units. With directions (d.Dirs), it says which direction and how full
// ("to AWS 9.30 Gbps, 93 % of 10.0 Gbps") and lists that direction's top
// talkers (see formatDirections). An address's Info is taken from the
// report when present, else from lookup (which may be nil). The subject is
// one line; sinks shorten it to their own limits.
func Format(r *report.Report, d Decision, lookup func(netip.Addr) enrich.Info) (subject, body string) {
	f := &formatter{r: r, lookup: lookup}
	if len(d.Dirs) > 0 && r.Directions != nil {
		return f.directions(d)
	}
	b := &f.b
	switch d.Kind {
	case Resolve:
		subject = fmt.Sprintf("dxmon resolved: %s, %s under %s / %s",
			report.Bps(d.BPS), report.Pps(d.PPS), report.Bps(d.ThresholdBPS), report.Pps(d.ThresholdPPS))
		fmt.Fprintf(b, "Traffic is back under the thresholds (alert fired %s).\n", stamp(d.LastFired))
	default:
		var over []string
		if d.OverBPS {
			over = append(over, fmt.Sprintf("%s > %s", report.Bps(d.BPS), report.Bps(d.ThresholdBPS)))
		}
		if d.OverPPS {
			over = append(over, fmt.Sprintf("%s > %s", report.Pps(d.PPS), report.Pps(d.ThresholdPPS)))
		}
		if d.OverUtil {
			over = append(over, fmt.Sprintf("%s of %s (both directions together) > %s", percent(d.BPS/d.LinkBPS), report.Bps(d.LinkBPS), percent(d.ThresholdUtil)))
		}
		if len(over) == 0 {
			over = append(over, fmt.Sprintf("%s, %s", report.Bps(d.BPS), report.Pps(d.PPS)))
		}
		subject = "dxmon ALERT: " + strings.Join(over, ", ") + f.topSource(r.TopSrc)
		b.WriteString("Traffic over threshold.\n")
	}
	f.scope()
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Window\t%s – %s (%s)%s\n", stamp(r.WindowStart), stamp(r.WindowEnd), r.Duration(), partial(r))
	fmt.Fprintf(tw, "Bandwidth\t%s\tthreshold %s\t%s\n", report.Bps(d.BPS), report.Bps(d.ThresholdBPS), excess(d.BPS, d.ThresholdBPS, report.Bps))
	fmt.Fprintf(tw, "Packets\t%s\tthreshold %s\t%s\n", report.Pps(d.PPS), report.Pps(d.ThresholdPPS), excess(d.PPS, d.ThresholdPPS, report.Pps))
	if d.LinkBPS > 0 && d.ThresholdUtil > 0 {
		fmt.Fprintf(tw, "Utilization\t%s of %s\tthreshold %s\t(both directions together)\n", percent(d.BPS/d.LinkBPS), report.Bps(d.LinkBPS), percent(d.ThresholdUtil))
	}
	f.totals(tw)
	tw.Flush()
	f.talkers("", r.TopSrc, r.TopDst, r.TopFlows, nil)
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
