package fabric

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Sizing the in-line tier from the link (stage 00).
//
// Every packet of the link passes one appliance, both ways (RETURN_ROUTES):
// it enters as Geneve from the GWLB and leaves as Geneve back to it, and
// the traffic mirror session on the appliance's ENI sends a copy of every
// packet it receives (the filter takes inbound Geneve, FilterRules) to the
// probes' NLB. So, per packet of the link of mean IP size S:
//
//	appliance in : S + 68          (GWLB's Geneve: 20 IPv4 + 8 UDP + 8 Geneve + 32 TLVs, package gwlb)
//	appliance out: S + 68 + 164    (the same back, and the mirror copy: 20 IPv4 + 8 UDP + 8 VXLAN
//	                                + the received frame cut to 128 bytes, MirrorPacketLength)
//	probe in     : 164
//
// "Mirrored traffic counts toward instance bandwidth" (Amazon VPC Traffic
// Mirroring, "Traffic Mirroring limitations": traffic bandwidth), and an
// instance's bandwidth is a limit on each direction, not on their sum:
// "Instance bandwidth specifications apply to both inbound and outbound
// traffic for the instance. For example, if an instance specifies up to
// 10 Gbps of bandwidth, that means it has up to 10 Gbps of bandwidth for
// inbound traffic and, simultaneously, up to 10 Gbps for outbound traffic"
// (Amazon EC2 User Guide, "Amazon EC2 instance network bandwidth",
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-network-bandwidth.html).
// fabric therefore checks the busier direction of each tier against the
// type's baseline bandwidth (DescribeInstanceTypes,
// NetworkInfo.NetworkCards[].BaselineBandwidthInGbps, summed over the
// cards), never its "up to" peak, which lasts minutes.
//
// Packets per second have no published per-type allowance (the ENA
// driver's pps_allowance_exceeded counter says when one was hit), so each
// tier gets a per-vCPU budget from dxmon's own measurements (README,
// "Performance"): dxappliance returns a packet for about 7.4 µs of CPU
// over loopback on the shared dev VM, kernel work included, so
// ApplianceVCPUPPS budgets 8 µs a packet (125 kpps per vCPU); dxprobe's
// pipeline takes 0.7-2.6 µs a mirror packet, so ProbeVCPUPPS budgets 4 µs
// (250 kpps per vCPU).
//
// Each AZ gets enough instances of each tier to carry the whole link on
// its own, at baseline and within the pps budget, with one instance lost
// (N+1), and never fewer than two: traffic that arrives in one AZ may all
// stay there, and cross-zone load balancing (failover.go) lets any AZ's
// appliances take it. APPLIANCES_PER_AZ and PROBES_PER_AZ may raise the
// counts; a value below what the link needs fails stage 00, naming the
// numbers, before anything is written.
//
// LINK_MEAN_PACKET_BYTES defaults to 340 bytes, the mean IP packet of the
// "Simple IMIX" that network equipment vendors test with (7 packets of 40
// bytes, 4 of 576, 1 of 1500: 4084/12 = 340.3). Real Direct Connect traffic
// of bulk transfers averages more; a smaller mean means more packets for
// the same bits, so the default errs towards more appliances and probes.

// Sizing constants; see the comment above for where each comes from.
const (
	// GeneveOverhead is what GWLB's encapsulation adds to every packet.
	GeneveOverhead = 68
	// MirrorFrameBytes is one mirror copy as it leaves the appliance: outer
	// IPv4, UDP, VXLAN and the frame cut to MirrorPacketLength.
	MirrorFrameBytes = 20 + 8 + 8 + MirrorPacketLength
	// ApplianceVCPUPPS is the appliance's budget of link packets per vCPU.
	ApplianceVCPUPPS = 125_000
	// ProbeVCPUPPS is the probe's budget of mirror packets per vCPU.
	ProbeVCPUPPS = 250_000
	// MinPerAZ is the fewest appliances or probes an AZ gets: one may be
	// lost, or replaced by a deployment, while the other carries the link.
	MinPerAZ = 2
	// MaxPerAZ bounds the instances of one tier in one AZ: a configuration
	// needing more picks a larger instance type.
	MaxPerAZ = 16
)

// AMIArchitecture is the architecture of the AMI in AMIParameter: both
// instance types must support it.
const AMIArchitecture = "arm64"

// InstanceTypeInfo is what sizing reads of an instance type from
// DescribeInstanceTypes.
type InstanceTypeInfo struct {
	Type         string
	VCPUs        int
	BaselineGbps float64 // sum of NetworkCards[].BaselineBandwidthInGbps
	Archs        []string
	BareMetal    bool
	Hypervisor   string // "nitro" or "xen"
}

// TierSizing is the arithmetic for one tier (appliances or probes).
type TierSizing struct {
	Tier     string // "appliance" or "probe"
	Key      string // APPLIANCES_PER_AZ or PROBES_PER_AZ
	Type     InstanceTypeInfo
	InBytes  int     // bytes received per link packet
	OutBytes int     // bytes sent per link packet
	NeedIn   float64 // bits per second received, whole link, both directions
	NeedOut  float64 // bits per second sent
	NeedPPS  float64 // packets per second handled
	EachBPS  float64 // one instance's baseline, each direction
	EachPPS  float64 // one instance's packet budget
	ForBW    int     // instances the busier direction needs
	ForPPS   int     // instances the packets need
	Needed   int     // max(ForBW, ForPPS) + 1 spare, at least MinPerAZ
	Set      int     // the configuration's count, 0 = not set
	PerAZ    int     // what fabric launches: max(Needed, Set)
}

// Sizing is stage 00's arithmetic, shown by plan as a small table.
type Sizing struct {
	LinkBPS    float64 // each direction
	MeanPacket int
	PPSEachWay float64
	Appliance  TierSizing
	Probe      TierSizing
}

// ComputeSizing sizes both tiers for the configuration's link. The error,
// when a configured count is below what the link needs or a tier would
// need more than MaxPerAZ, names the numbers and the keys.
func ComputeSizing(c Config, app, probe InstanceTypeInfo) (Sizing, error) {
	c = c.withSizingDefaults()
	s := Sizing{LinkBPS: c.LinkBPS, MeanPacket: c.LinkMeanPacketBytes}
	s.PPSEachWay = c.LinkBPS / 8 / float64(c.LinkMeanPacketBytes)
	pps := 2 * s.PPSEachWay // both directions pass the appliances
	geneve := c.LinkMeanPacketBytes + GeneveOverhead
	s.Appliance = tier("appliance", "APPLIANCES_PER_AZ", app, pps, geneve, geneve+MirrorFrameBytes, ApplianceVCPUPPS, c.AppliancesPerAZ)
	s.Probe = tier("probe", "PROBES_PER_AZ", probe, pps, MirrorFrameBytes, 0, ProbeVCPUPPS, c.ProbesPerAZ)
	for _, t := range []TierSizing{s.Appliance, s.Probe} {
		if err := t.check(s); err != nil {
			return s, err
		}
	}
	return s, nil
}

func tier(name, key string, it InstanceTypeInfo, pps float64, in, out, vcpuPPS, set int) TierSizing {
	t := TierSizing{Tier: name, Key: key, Type: it, InBytes: in, OutBytes: out, Set: set,
		NeedIn: pps * float64(in) * 8, NeedOut: pps * float64(out) * 8, NeedPPS: pps,
		EachBPS: it.BaselineGbps * 1e9, EachPPS: float64(it.VCPUs * vcpuPPS)}
	t.ForBW = ceilDiv(math.Max(t.NeedIn, t.NeedOut), t.EachBPS)
	t.ForPPS = ceilDiv(t.NeedPPS, t.EachPPS)
	t.Needed = max(t.ForBW, t.ForPPS) + 1
	t.Needed = max(t.Needed, MinPerAZ)
	t.PerAZ = max(t.Needed, t.Set)
	return t
}

// ceilDiv is ⌈need/each⌉, with a type that has no capacity needing
// infinitely many (MaxInt, caught by check).
func ceilDiv(need, each float64) int {
	if need <= 0 {
		return 0
	}
	if each <= 0 {
		return math.MaxInt32
	}
	// A hair below an integer is that integer: 10 Gbps over 5 × 2 Gbps.
	return int(math.Ceil(need/each - 1e-9))
}

func (t TierSizing) check(s Sizing) error {
	typeKey := map[string]string{"appliance": "APPLIANCE_INSTANCE_TYPE", "probe": "PROBE_INSTANCE_TYPE"}[t.Tier]
	if t.Needed > MaxPerAZ {
		return fmt.Errorf("%s %s cannot carry LINK_BPS=%s each way at LINK_MEAN_PACKET_BYTES=%d with at most %d %ss per AZ: %s; choose a larger type",
			typeKey, t.Type.Type, FormatBPS(s.LinkBPS), s.MeanPacket, MaxPerAZ, t.Tier, t.Arithmetic())
	}
	if t.Set > 0 && t.Set < t.Needed {
		return fmt.Errorf("%s=%d cannot carry LINK_BPS=%s each way at LINK_MEAN_PACKET_BYTES=%d: %s %s needs %d per AZ (%s)",
			t.Key, t.Set, FormatBPS(s.LinkBPS), s.MeanPacket, typeKey, t.Type.Type, t.Needed, t.Arithmetic())
	}
	return nil
}

// Arithmetic renders how the count was reached, in one line.
func (t TierSizing) Arithmetic() string {
	return fmt.Sprintf("in %s, out %s, %s; each %s baseline per direction, %d vCPU × %s = %s; %d for bandwidth, %d for packets, +1 spare = %d",
		FormatBPS(t.NeedIn), FormatBPS(t.NeedOut), formatPPS(t.NeedPPS), FormatBPS(t.EachBPS), t.Type.VCPUs,
		formatPPS(t.EachPPS/float64(max(t.Type.VCPUs, 1))), formatPPS(t.EachPPS), t.ForBW, t.ForPPS, max(t.ForBW, t.ForPPS)+1)
}

// Rows renders the sizing as a small table, one line a row, columns
// aligned: the link, then each tier.
func (s Sizing) Rows() []string {
	rows := [][]string{
		{"", "type", "per link packet", "need (whole link, both ways)", "each instance (baseline)", "count per AZ"},
		{"link", "", fmt.Sprintf("%d B mean", s.MeanPacket), fmt.Sprintf("%s each way = %s each way", FormatBPS(s.LinkBPS), formatPPS(s.PPSEachWay)), "", ""},
	}
	for _, t := range []TierSizing{s.Appliance, s.Probe} {
		per := fmt.Sprintf("in %d B, out %d B", t.InBytes, t.OutBytes)
		if t.OutBytes == 0 {
			per = fmt.Sprintf("in %d B", t.InBytes)
		}
		count := fmt.Sprintf("max(%d bw, %d pps)+1 = %d", t.ForBW, t.ForPPS, t.Needed)
		if t.Set > t.Needed {
			count += fmt.Sprintf(", %s=%d", t.Key, t.Set)
		}
		need := fmt.Sprintf("in %s, out %s, %s", FormatBPS(t.NeedIn), FormatBPS(t.NeedOut), formatPPS(t.NeedPPS))
		if t.OutBytes == 0 {
			need = fmt.Sprintf("in %s, %s", FormatBPS(t.NeedIn), formatPPS(t.NeedPPS))
		}
		rows = append(rows, []string{t.Tier, t.Type.Type, per, need,
			fmt.Sprintf("%s, %d vCPU = %s", FormatBPS(t.EachBPS), t.Type.VCPUs, formatPPS(t.EachPPS)),
			fmt.Sprintf("%s → %d", count, t.PerAZ)})
	}
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	out := make([]string, len(rows))
	for j, r := range rows {
		var b strings.Builder
		for i, c := range r {
			if i > 0 {
				b.WriteString(" | ")
			}
			b.WriteString(c + strings.Repeat(" ", width[i]-len([]rune(c))))
		}
		out[j] = strings.TrimRight(b.String(), " ")
	}
	return out
}

// ParseBPS reads LINK_BPS: bits per second, plain ("1e10", "10000000000")
// or with an SI suffix k, M, G or T, optionally followed by "bps" ("500M",
// "1.5G", "10Gbps"); several links, separated by commas or spaces, add up.
func ParseBPS(v string) (float64, error) {
	parts := SplitList(v)
	if len(parts) == 0 {
		return 0, fmt.Errorf("%q is empty", v)
	}
	sum := 0.0
	for _, p := range parts {
		s := strings.TrimSuffix(strings.TrimSuffix(p, "bps"), "b")
		mult := 1.0
		if n := len(s); n > 0 {
			switch s[n-1] {
			case 'k', 'K':
				mult = 1e3
			case 'M':
				mult = 1e6
			case 'G':
				mult = 1e9
			case 'T':
				mult = 1e12
			}
			if mult != 1 {
				s = s[:n-1]
			}
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 {
			return 0, fmt.Errorf("%q is not a positive rate such as 500M, 1.5G or 10G", p)
		}
		sum += f * mult
	}
	return sum, nil
}

// FormatBPS renders bits per second for people: "10 Gbps", "1.5 Gbps".
func FormatBPS(v float64) string { return siFormat(v, "bps") }

func formatPPS(v float64) string { return siFormat(v, "pps") }

func siFormat(v float64, unit string) string {
	for _, u := range []struct {
		f float64
		p string
	}{{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if v >= u.f {
			return strconv.FormatFloat(math.Round(v/u.f*100)/100, 'f', -1, 64) + " " + u.p + unit
		}
	}
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) + " " + unit
}

// parseSizing reads the sizing and failover keys of ParseConfig.
func (c *Config) parseSizing(kv map[string]string) error {
	if v := kv["LINK_BPS"]; v != "" {
		bps, err := ParseBPS(v)
		if err != nil {
			return fmt.Errorf("LINK_BPS: %v", err)
		}
		c.LinkBPS = bps
	}
	for _, k := range []struct {
		key string
		to  *int
	}{{"LINK_MEAN_PACKET_BYTES", &c.LinkMeanPacketBytes}, {"APPLIANCES_PER_AZ", &c.AppliancesPerAZ}, {"PROBES_PER_AZ", &c.ProbesPerAZ}} {
		if v := kv[k.key]; v != "" {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%s: %q is not a whole number", k.key, v)
			}
			*k.to = n
		}
	}
	if v := strings.TrimSpace(kv["GWLB_TCP_IDLE_TIMEOUT"]); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			n, nerr := strconv.Atoi(v)
			if nerr != nil {
				return fmt.Errorf("GWLB_TCP_IDLE_TIMEOUT: %q is not seconds (350) or a duration (350s, 10m)", v)
			}
			d = time.Duration(n) * time.Second
		}
		c.GWLBTCPIdleTimeout = d
	}
	*c = c.withSizingDefaults()
	return nil
}

// GWLB listener attribute tcp.idle_timeout.seconds: "The valid range is
// 60-6000 seconds. The default is 350 seconds." (Elastic Load Balancing,
// Gateway Load Balancers, "Listeners for your Gateway Load Balancers",
// Listener attributes.)
const (
	MinGWLBTCPIdleTimeout = 60 * time.Second
	MaxGWLBTCPIdleTimeout = 6000 * time.Second
)

// validateSizing checks the sizing keys' ranges (0 means the default).
func (c Config) validateSizing() error {
	c = c.withSizingDefaults()
	switch {
	case c.LinkBPS <= 0 || c.LinkBPS > 10e12:
		return fmt.Errorf("LINK_BPS: %s is outside 1 bps-10 Tbps", FormatBPS(c.LinkBPS))
	case c.LinkMeanPacketBytes < 40 || c.LinkMeanPacketBytes > 8500:
		return fmt.Errorf("LINK_MEAN_PACKET_BYTES: %d is outside 40-8500 (an IPv4 TCP header to GWLB's MTU)", c.LinkMeanPacketBytes)
	case c.AppliancesPerAZ < 0 || c.AppliancesPerAZ > MaxPerAZ:
		return fmt.Errorf("APPLIANCES_PER_AZ: %d is outside 0 (computed)-%d", c.AppliancesPerAZ, MaxPerAZ)
	case c.ProbesPerAZ < 0 || c.ProbesPerAZ > MaxPerAZ:
		return fmt.Errorf("PROBES_PER_AZ: %d is outside 0 (computed)-%d", c.ProbesPerAZ, MaxPerAZ)
	case c.GWLBTCPIdleTimeout%time.Second != 0 || c.GWLBTCPIdleTimeout < MinGWLBTCPIdleTimeout || c.GWLBTCPIdleTimeout > MaxGWLBTCPIdleTimeout:
		return fmt.Errorf("GWLB_TCP_IDLE_TIMEOUT: %s is not whole seconds in AWS's range 60s-6000s (the GWLB listener's tcp.idle_timeout.seconds)", c.GWLBTCPIdleTimeout)
	}
	return nil
}

// withSizingDefaults fills the sizing keys a Config built in code may
// leave zero.
func (c Config) withSizingDefaults() Config {
	if c.LinkBPS == 0 {
		c.LinkBPS = DefaultLinkBPS
	}
	if c.LinkMeanPacketBytes == 0 {
		c.LinkMeanPacketBytes = DefaultLinkMeanPacketBytes
	}
	if c.GWLBTCPIdleTimeout == 0 {
		c.GWLBTCPIdleTimeout = DefaultGWLBTCPIdleTimeout
	}
	return c
}

// applianceNameN names the i-th appliance of an AZ (from 1): the first
// keeps the name of the single appliance earlier versions launched, so an
// existing deployment is found and completed, not duplicated.
func (d *Deployer) applianceNameN(az string, i int) string {
	if i <= 1 {
		return d.applianceName(az)
	}
	return d.name("appliance", az, strconv.Itoa(i))
}

// probeNameN names the i-th probe of an AZ, like applianceNameN.
func (d *Deployer) probeNameN(az string, i int) string {
	if i <= 1 {
		return d.probeName(az)
	}
	return d.name("probe", az, strconv.Itoa(i))
}

// perAZ is how many instances of a role ("appliance", "probe") each AZ
// gets: stage 00's count, or MinPerAZ for a run without stage 00.
func (r *run) perAZ(role string) int {
	n := r.env.sizing.Appliance.PerAZ
	if role == "probe" {
		n = r.env.sizing.Probe.PerAZ
	}
	return max(n, MinPerAZ)
}
