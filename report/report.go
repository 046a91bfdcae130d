package report

import (
	"net/netip"
	"time"

	"github.com/dxmon/dxmon/enrich"
)

// Report is one window's result: the JSON object that dxprobe prints, one
// per line, with -format json. Field names and meanings are a contract other
// tools parse (docs/CONTRACTS.md, "The JSON report"); add fields, never rename them.
type Report struct {
	// WindowStart and WindowEnd bound the window: [start, end).
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	// Partial marks a window cut short by shutdown.
	Partial bool `json:"partial,omitempty"`
	// Scope is "probe" for one probe's own window and "fleet" for the
	// merge of every probe's window of the same period (ScopeProbe,
	// ScopeFleet); omitted by callers that do not say.
	Scope string `json:"scope,omitempty"`
	// Probes is how many probes' windows a fleet report merged; omitted
	// in a probe's own report.
	Probes int `json:"probes,omitempty"`
	// Packets and Bytes count decoded IP packets and their inner IP lengths,
	// scaled by 1/SampleRate.
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	// PPS and BPS are Packets and Bytes*8 divided by the window's length.
	PPS float64 `json:"pps"`
	BPS float64 `json:"bps"`
	// SampleRate is the fraction of flows kept, in (0, 1].
	SampleRate float64 `json:"sample_rate"`
	// SampledOut counts the packets the sampler skipped in this window
	// (unscaled; omitted when 0).
	SampledOut uint64 `json:"sampled_out,omitempty"`
	// LinkBPS is the capacity of each direction of the link in bits per
	// second, as configured (-link-bps); omitted when unknown.
	LinkBPS float64 `json:"link_bps,omitempty"`
	// Skipped counts frames not counted, by reason (unscaled).
	Skipped map[string]uint64 `json:"skipped"`
	// PortsCut counts packets counted with ports 0 because the mirror's
	// packet length cut them before their ports: client packets inside a
	// Gateway Load Balancer's Geneve (unscaled; omitted when 0).
	PortsCut uint64 `json:"ports_cut,omitempty"`
	// TopFlows, TopSrc, TopDst and TopDport rank by bytes, then packets.
	TopFlows []Flow `json:"top_flows"`
	TopSrc   []Host `json:"top_src"`
	TopDst   []Host `json:"top_dst"`
	TopDport []Port `json:"top_dport"`
	// Directions splits the window by direction when the on-premises
	// prefixes are known (-onprem-cidrs); omitted otherwise.
	Directions *Directions `json:"directions,omitempty"`
}

// Scope values of Report.Scope.
const (
	ScopeProbe = "probe"
	ScopeFleet = "fleet"
)

// Direction names, as they appear in Directions' keys and Flow.Dir.
const (
	// ToAWS is traffic whose source is on-premises.
	ToAWS = "to_aws"
	// FromAWS is traffic whose destination is on-premises.
	FromAWS = "from_aws"
)

// Directions holds each direction's share of a window; a direction with no
// traffic is still present (zero totals, empty rankings) so that readers
// can tell "idle" from "unknown".
type Directions struct {
	ToAWS   *Direction `json:"to_aws,omitempty"`
	FromAWS *Direction `json:"from_aws,omitempty"`
}

// Direction is one direction's totals, rates and rankings in a window.
// Totals are exact and scaled by 1/SampleRate like Report.Packets.
type Direction struct {
	Packets uint64  `json:"packets"`
	Bytes   uint64  `json:"bytes"`
	PPS     float64 `json:"pps"`
	BPS     float64 `json:"bps"`
	// Utilization is BPS / Report.LinkBPS; omitted when the link's
	// capacity is unknown.
	Utilization float64 `json:"utilization,omitempty"`
	TopFlows    []Flow  `json:"top_flows"`
	TopSrc      []Host  `json:"top_src"`
	TopDst      []Host  `json:"top_dst"`
	TopDport    []Port  `json:"top_dport"`
}

// Flow is one 5-tuple's traffic in a window.
type Flow struct {
	Src     netip.Addr   `json:"src"`
	Dst     netip.Addr   `json:"dst"`
	Proto   uint8        `json:"proto"`
	Sport   uint16       `json:"sport"`
	Dport   uint16       `json:"dport"`
	Packets uint64       `json:"packets"`
	Bytes   uint64       `json:"bytes"`
	SrcInfo *enrich.Info `json:"src_info,omitempty"`
	DstInfo *enrich.Info `json:"dst_info,omitempty"`
	// GWLBE is the Gateway Load Balancer endpoint (vpce-…) the flow's
	// packets last came through, when the probe mirrors an appliance
	// behind a GWLB; omitted otherwise.
	GWLBE string `json:"gwlbe,omitempty"`
	// Dir is the flow's direction (ToAWS or FromAWS) when the on-premises
	// prefixes are known; omitted otherwise.
	Dir string `json:"dir,omitempty"`
}

// Host is one address's traffic, as source or as destination.
type Host struct {
	IP      netip.Addr   `json:"ip"`
	Packets uint64       `json:"packets"`
	Bytes   uint64       `json:"bytes"`
	Info    *enrich.Info `json:"info,omitempty"`
}

// Port is one (protocol, destination port) pair's traffic.
type Port struct {
	Proto   uint8  `json:"proto"`
	Port    uint16 `json:"port"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// Duration is the window's length.
func (r *Report) Duration() time.Duration { return r.WindowEnd.Sub(r.WindowStart) }
