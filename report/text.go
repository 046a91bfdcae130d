package report

import (
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dxmon/dxmon/enrich"
)

// ProtoName names common IP protocols, else gives the number.
func ProtoName(p uint8) string {
	switch p {
	case 1:
		return "icmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 47:
		return "gre"
	case 50:
		return "esp"
	case 58:
		return "icmpv6"
	case 132:
		return "sctp"
	case 136:
		return "udplite"
	}
	return fmt.Sprintf("proto-%d", p)
}

func hostLabel(a netip.Addr, i *enrich.Info) string {
	if i == nil || i.Label() == "" {
		return a.String()
	}
	return a.String() + " (" + i.Label() + ")"
}

func endpoint(a netip.Addr, port uint16, proto uint8, i *enrich.Info) string {
	s := a.String()
	if a.Is6() {
		s = "[" + s + "]"
	}
	if proto == 6 || proto == 17 || proto == 132 || proto == 136 {
		s += fmt.Sprintf(":%d", port)
	}
	if i != nil && i.Label() != "" {
		s += " (" + i.Label() + ")"
	}
	return s
}

// WriteText writes the report as a table for people, in human units.
func WriteText(w io.Writer, r *Report) error {
	var b strings.Builder
	partial := ""
	if r.Partial {
		partial = " (partial)"
	}
	fmt.Fprintf(&b, "=== %s – %s%s  %s  %s  %s pkts  %s  sample %.3g\n",
		r.WindowStart.Format(time.DateTime), r.WindowEnd.Format("15:04:05"), partial,
		Bps(r.BPS), Pps(r.PPS), humanCount(r.Packets), Bytes(float64(r.Bytes)), r.SampleRate)
	if r.Scope == ScopeFleet {
		fmt.Fprintf(&b, "fleet: the windows of %d probes merged\n", r.Probes)
	}
	if len(r.Skipped) > 0 {
		keys := make([]string, 0, len(r.Skipped))
		for k := range r.Skipped {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s=%d", k, r.Skipped[k]))
		}
		fmt.Fprintf(&b, "skipped: %s\n", strings.Join(parts, " "))
	}
	if r.PortsCut > 0 {
		fmt.Fprintf(&b, "counted without ports (cut by the mirror): %d\n", r.PortsCut)
	}
	writeDirections(&b, r)
	secs := r.Duration().Seconds()
	rate := func(bytes uint64) string {
		if secs <= 0 {
			return "-"
		}
		return Bps(float64(bytes) * 8 / secs)
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\nTOP FLOWS\tPROTO\tBYTES\tPACKETS\tRATE\n")
	for _, f := range r.TopFlows {
		via := ""
		if f.GWLBE != "" {
			via = " via " + f.GWLBE
		}
		fmt.Fprintf(tw, "%s -> %s%s\t%s\t%s\t%s\t%s\n", endpoint(f.Src, f.Sport, f.Proto, f.SrcInfo),
			endpoint(f.Dst, f.Dport, f.Proto, f.DstInfo), via, ProtoName(f.Proto), Bytes(float64(f.Bytes)), humanCount(f.Packets), rate(f.Bytes))
	}
	fmt.Fprintf(tw, "\nTOP SOURCES\t\tBYTES\tPACKETS\tRATE\n")
	for _, h := range r.TopSrc {
		fmt.Fprintf(tw, "%s\t\t%s\t%s\t%s\n", hostLabel(h.IP, h.Info), Bytes(float64(h.Bytes)), humanCount(h.Packets), rate(h.Bytes))
	}
	fmt.Fprintf(tw, "\nTOP DESTINATIONS\t\tBYTES\tPACKETS\tRATE\n")
	for _, h := range r.TopDst {
		fmt.Fprintf(tw, "%s\t\t%s\t%s\t%s\n", hostLabel(h.IP, h.Info), Bytes(float64(h.Bytes)), humanCount(h.Packets), rate(h.Bytes))
	}
	fmt.Fprintf(tw, "\nTOP DESTINATION PORTS\tPROTO\tBYTES\tPACKETS\tRATE\n")
	for _, p := range r.TopDport {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", p.Port, ProtoName(p.Proto), Bytes(float64(p.Bytes)), humanCount(p.Packets), rate(p.Bytes))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// humanCount formats a count: 950, 12.3K, 4.50M.
func humanCount(n uint64) string {
	s := human(float64(n), 1000, []string{"", "K", "M", "G", "T"})
	return strings.TrimSuffix(strings.Replace(s, " ", "", 1), " ")
}
