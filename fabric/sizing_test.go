package fabric

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// AWS's values for the types of the examples (DescribeInstanceTypes:
// DefaultVCpus, NetworkCards[].BaselineBandwidthInGbps, Hypervisor).
var (
	c6gLarge   = InstanceTypeInfo{Type: "c6g.large", VCPUs: 2, BaselineGbps: 0.75, Archs: []string{"arm64"}, Hypervisor: "nitro"}
	c6g8xlarge = InstanceTypeInfo{Type: "c6g.8xlarge", VCPUs: 32, BaselineGbps: 12, Archs: []string{"arm64"}, Hypervisor: "nitro"}
	c6gn2x     = InstanceTypeInfo{Type: "c6gn.2xlarge", VCPUs: 8, BaselineGbps: 12.5, Archs: []string{"arm64"}, Hypervisor: "nitro"}
)

func TestParseBPS(t *testing.T) {
	for in, want := range map[string]float64{
		"10G": 10e9, "1.5G": 1.5e9, "500M": 500e6, "10Gbps": 10e9, "1e10": 1e10, "100k": 1e5,
		"10G,10G": 20e9, "1G 500M": 1.5e9, "2T": 2e12, "64000": 64000,
	} {
		got, err := ParseBPS(in)
		if err != nil || math.Abs(got-want) > 1e-6*want {
			t.Errorf("ParseBPS(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "G", "-1G", "0", "ten", "10X", "NaN", "Inf", "1G,,x"} {
		if got, err := ParseBPS(in); err == nil {
			t.Errorf("ParseBPS(%q) = %v, want an error", in, got)
		}
	}
}

func FuzzParseBPS(f *testing.F) {
	for _, s := range []string{"10G", "1.5G,500M", "1e10", "-0", "0x10G"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseBPS(s)
		if err == nil && !(v > 0) || math.IsInf(v, 0) || math.IsNaN(v) {
			t.Fatalf("ParseBPS(%q) = %v, %v", s, v, err)
		}
	})
}

// TestSizingTenGig: the defaults carry a 10 Gbps link, and the arithmetic
// is the documented one (sizing.go).
func TestSizingTenGig(t *testing.T) {
	s, err := ComputeSizing(Config{}, c6g8xlarge, c6gn2x)
	if err != nil {
		t.Fatal(err)
	}
	a, p := s.Appliance, s.Probe
	// 10e9 / 8 / 340 = 3.676 Mpps each way, 7.353 Mpps through the appliances.
	if math.Abs(a.NeedPPS-2*10e9/8/340) > 1 {
		t.Errorf("appliance pps %v", a.NeedPPS)
	}
	if a.InBytes != 340+68 || a.OutBytes != 340+68+164 || p.InBytes != 164 {
		t.Errorf("bytes per link packet: appliance in %d out %d, probe in %d", a.InBytes, a.OutBytes, p.InBytes)
	}
	// Out: 7.353 Mpps × 572 B × 8 = 33.6 Gbps over 12 Gbps → 3; packets:
	// 7.353 M over 32 × 125 k → 2; + 1 spare.
	got := []int{a.ForBW, a.ForPPS, a.Needed, a.PerAZ, p.ForBW, p.ForPPS, p.Needed, p.PerAZ}
	if diff := cmp.Diff([]int{3, 2, 4, 4, 1, 4, 5, 5}, got); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	rows := s.Rows()
	if len(rows) != 4 || !strings.Contains(rows[2], "c6g.8xlarge") || !strings.Contains(rows[2], "→ 4") || !strings.Contains(rows[3], "→ 5") {
		t.Errorf("table:\n%s", strings.Join(rows, "\n"))
	}
}

func TestSizingErrorsNameTheNumbers(t *testing.T) {
	for name, c := range map[string]struct {
		cfg       Config
		app, prob InstanceTypeInfo
		want      string
	}{
		"count below need": {Config{AppliancesPerAZ: 2}, c6g8xlarge, c6gn2x,
			"APPLIANCES_PER_AZ=2 cannot carry LINK_BPS=10 Gbps each way at LINK_MEAN_PACKET_BYTES=340: APPLIANCE_INSTANCE_TYPE c6g.8xlarge needs 4 per AZ"},
		"probes below need": {Config{ProbesPerAZ: 3}, c6g8xlarge, c6gn2x, "PROBES_PER_AZ=3 cannot carry LINK_BPS=10 Gbps"},
		"type too small":    {Config{}, c6gLarge, c6gn2x, "APPLIANCE_INSTANCE_TYPE c6g.large cannot carry LINK_BPS=10 Gbps each way at LINK_MEAN_PACKET_BYTES=340 with at most 16 appliances per AZ"},
	} {
		_, err := ComputeSizing(c.cfg, c.app, c.prob)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err = %v, want one line containing %q", name, err, c.want)
		}
	}
	// Raising is allowed and wins.
	s, err := ComputeSizing(Config{AppliancesPerAZ: 6, ProbesPerAZ: 7}, c6g8xlarge, c6gn2x)
	if err != nil || s.Appliance.PerAZ != 6 || s.Probe.PerAZ != 7 {
		t.Errorf("raised counts: %+v, %v", s, err)
	}
}

// TestSizingProperties: whatever the link and the types, each AZ gets at
// least two of each tier, and with one instance lost the rest carry the
// busier direction at baseline and the packets within the budget.
func TestSizingProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := Config{LinkBPS: rapid.Float64Range(1e6, 100e9).Draw(t, "bps"), LinkMeanPacketBytes: rapid.IntRange(40, 8500).Draw(t, "mean")}
		typ := func(name string) InstanceTypeInfo {
			return InstanceTypeInfo{Type: name, VCPUs: rapid.IntRange(1, 192).Draw(t, name+" vcpus"),
				BaselineGbps: rapid.Float64Range(0.05, 200).Draw(t, name+" gbps"), Archs: []string{"arm64"}}
		}
		s, err := ComputeSizing(c, typ("a.x"), typ("p.x"))
		for _, tr := range []TierSizing{s.Appliance, s.Probe} {
			if err != nil {
				if tr.Needed > MaxPerAZ {
					return // a too-small type, reported
				}
				continue
			}
			if tr.PerAZ < MinPerAZ {
				t.Fatalf("%s: %d per AZ", tr.Tier, tr.PerAZ)
			}
			left := float64(tr.PerAZ - 1)
			if left*tr.EachBPS < math.Max(tr.NeedIn, tr.NeedOut)*(1-1e-9) || left*tr.EachPPS < tr.NeedPPS*(1-1e-9) {
				t.Fatalf("%s: %d per AZ, one lost, cannot carry in %v out %v pps %v: %+v", tr.Tier, tr.PerAZ, tr.NeedIn, tr.NeedOut, tr.NeedPPS, tr)
			}
			// Minimal: one fewer (before the spare) would not do.
			if n := max(tr.ForBW, tr.ForPPS); n > 1 && float64(n-1)*tr.EachBPS >= math.Max(tr.NeedIn, tr.NeedOut)*(1+1e-9) && float64(n-1)*tr.EachPPS >= tr.NeedPPS*(1+1e-9) {
				t.Fatalf("%s: %d not minimal: %+v", tr.Tier, n, tr)
			}
		}
		if err != nil && s.Appliance.Needed <= MaxPerAZ && s.Probe.Needed <= MaxPerAZ {
			t.Fatalf("unexpected error %v", err)
		}
	})
}

func TestMirrorSourceError(t *testing.T) {
	for typ, ok := range map[string]bool{
		"c6g.large": true, "c6g.8xlarge": true, "m6g.xlarge": true, "c5n.9xlarge": true,
		"c6gn.2xlarge": false, "c7g.large": false, "m7i-flex.large": false, "c6in.xlarge": false, "hpc7g.4xlarge": false,
	} {
		err := MirrorSourceError(InstanceTypeInfo{Type: typ, Hypervisor: "nitro"})
		if (err == nil) != ok || (err != nil && !strings.Contains(err.Error(), "traffic-mirroring-network-limitations")) {
			t.Errorf("%s: %v", typ, err)
		}
	}
	if MirrorSourceError(InstanceTypeInfo{Type: "c6g.metal", BareMetal: true}) == nil {
		t.Error("bare metal accepted")
	}
	if MirrorSourceError(InstanceTypeInfo{Type: "t2.large", Hypervisor: "xen"}) == nil || MirrorSourceError(InstanceTypeInfo{Type: "c4.large", Hypervisor: "xen"}) != nil {
		t.Error("Xen families wrong")
	}
}

func TestBucketNameError(t *testing.T) {
	for name, ok := range map[string]bool{
		"dx-monitoring-123456789012-us-east-1": true, "a.b-c": true,
		"Dx-Monitoring": false, "ab": false, "a..b": false, "192.168.5.4": false, "xn--abc": false, "sthree-x": false,
		"amzn-s3-demo-x": false, "x-s3alias": false, "x--ol-s3": false, "-ab": false, "ab-": false, strings.Repeat("a", 64): false,
	} {
		if err := BucketNameError(name); (err == nil) != ok {
			t.Errorf("%q: %v", name, err)
		}
	}
}
