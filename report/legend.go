package report

import (
	"fmt"
	"sort"
	"strings"
)

// skipReasons says in words what each reason in Report.Skipped means, for
// the text report's "not counted" line (the JSON keeps the labels).
var skipReasons = map[string]string{
	"vxlan_truncated":    "shorter than a VXLAN header",
	"vxlan_flags":        "VXLAN header without a valid VNI",
	"wrong_vni":          "another mirror session's VNI than -vni",
	"geneve_truncated":   "Geneve header or options cut",
	"geneve_version":     "Geneve version not 0",
	"geneve_protocol":    "Geneve carrying neither Ethernet nor IP",
	"geneve_options":     "Geneve option running past its header",
	"ethernet_truncated": "shorter than an Ethernet header",
	"vlan_truncated":     "VLAN tag cut",
	"vlan_too_deep":      "more than two VLAN tags",
	"not_ip":             "neither IPv4 nor IPv6: ARP, LLDP, …",
	"ipv4_truncated":     "IPv4 header cut",
	"ipv4_bad_header":    "malformed IPv4 header",
	"ipv6_truncated":     "IPv6 header cut",
	"ipv6_bad_header":    "malformed IPv6 header",
	"ipv6_ext_truncated": "IPv6 extension header cut",
	"ipv6_ext_too_many":  "more IPv6 extension headers than decoded (8)",
	"l4_truncated":       "ports cut",
	"outer_truncated":    "outer headers cut",
	"outer_not_udp":      "outer packet not UDP",
	"outer_port":         "sent to neither the -listen port nor Geneve's 6081",
	"not_onprem":         "not between -onprem-cidrs and -vpc-cidrs",
}

// skippedLine is "not counted: N frames: reason=N (words); …" with the
// reasons in name order, or "" when nothing was skipped.
func skippedLine(skipped map[string]uint64) string {
	if len(skipped) == 0 {
		return ""
	}
	keys := make([]string, 0, len(skipped))
	var total uint64
	for k, n := range skipped {
		keys = append(keys, k)
		total += n
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		p := fmt.Sprintf("%s=%d", k, skipped[k])
		if words := skipReasons[k]; words != "" {
			p += " (" + words + ")"
		}
		parts = append(parts, p)
	}
	frames := "frames"
	if total == 1 {
		frames = "frame"
	}
	return fmt.Sprintf("not counted: %d %s: %s", total, frames, strings.Join(parts, "; "))
}

// sampleNote says what the sample rate did to the counts: "all flows
// counted", or "1 in 4 flows counted, counts scaled ×4 (sample rate
// 0.25)".
func sampleNote(rate float64) string {
	if rate >= 1 || rate <= 0 {
		return "all flows counted"
	}
	return fmt.Sprintf("1 in %.3g flows counted, counts scaled ×%.3g (sample rate %.3g)", 1/rate, 1/rate, rate)
}

// hasPorts reports whether flows of protocol p carry ports: TCP, UDP,
// SCTP and UDP-Lite. Others (ICMP, ICMPv6, GRE, ESP, …) are counted with
// port 0, which the text report shows as "-".
func hasPorts(p uint8) bool { return p == 6 || p == 17 || p == 132 || p == 136 }
