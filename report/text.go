package report

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
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
	if hasPorts(proto) {
		s += fmt.Sprintf(":%d", port)
	}
	if i != nil && i.Label() != "" {
		s += " (" + i.Label() + ")"
	}
	return s
}

// WriteText writes the report as a table for people: decimal SI units
// (1 kB = 1000 B, as for rates), times in UTC and labelled so, the frames
// not counted with their reasons in words, and what sampling did to the
// counts. Protocols without ports are "-" under destination ports.
func WriteText(w io.Writer, r *Report) error {
	var b strings.Builder
	partial := ""
	if r.Partial {
		partial = " (partial)"
	}
	pkts := "pkts"
	if r.Packets == 1 {
		pkts = "pkt"
	}
	fmt.Fprintf(&b, "=== %s – %s UTC%s  %s  %s  %s %s  %s  %s\n",
		r.WindowStart.UTC().Format(time.DateTime), r.WindowEnd.UTC().Format("15:04:05"), partial,
		Bps(r.BPS), Pps(r.PPS), humanCount(r.Packets), pkts, Bytes(float64(r.Bytes)), sampleNote(r.SampleRate))
	if r.Scope == ScopeFleet {
		fmt.Fprintf(&b, "fleet: the windows of %d probes merged\n", r.Probes)
	}
	if line := skippedLine(r.Skipped); line != "" {
		b.WriteString(line + "\n")
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
		port := "-" // ICMP and other protocols without ports, counted with port 0
		if hasPorts(p.Proto) {
			port = strconv.Itoa(int(p.Port))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", port, ProtoName(p.Proto), Bytes(float64(p.Bytes)), humanCount(p.Packets), rate(p.Bytes))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}
