package fleet_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/dxmon/dxmon/fleet"
	"github.com/dxmon/dxmon/report"
)

// ExampleMerge merges two probes' summaries of one window: the totals are
// the sums, and the source both probes saw ranks first.
func ExampleMerge() {
	start := time.Date(2026, 12, 4, 3, 30, 0, 0, time.UTC)
	heavy, light := netip.MustParseAddr("198.18.0.10"), netip.MustParseAddr("198.18.0.20")
	probe := func(id string, hosts ...report.Host) *fleet.Summary {
		r := &report.Report{WindowStart: start, WindowEnd: start.Add(5 * time.Second), SampleRate: 1, TopSrc: hosts}
		for _, h := range hosts {
			r.Packets += h.Packets
			r.Bytes += h.Bytes
		}
		return fleet.Summarize(r, id, 100)
	}
	r := fleet.Merge([]*fleet.Summary{
		probe("i-0aaa", report.Host{IP: heavy, Packets: 400, Bytes: 600_000}, report.Host{IP: light, Packets: 500, Bytes: 700_000}),
		probe("i-0bbb", report.Host{IP: heavy, Packets: 400, Bytes: 600_000}),
	}, 10, nil)
	fmt.Println(r.Scope, r.Probes, r.Bytes, report.Bps(r.BPS))
	for _, h := range r.TopSrc {
		fmt.Println(h.IP, h.Bytes)
	}
	// Output:
	// fleet 2 1900000 3.04 Mbps
	// 198.18.0.10 1200000
	// 198.18.0.20 700000
}
