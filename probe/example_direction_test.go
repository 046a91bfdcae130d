package probe_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/dxmon/dxmon/flow"
	"github.com/dxmon/dxmon/probe"
	"github.com/dxmon/dxmon/report"
	"github.com/dxmon/dxmon/vxlan"
)

// With the on-premises prefixes, each window is split by direction, and
// with the link's capacity each direction says how full it is.
func ExamplePipeline_Replay_directions() {
	onPrem := []netip.Prefix{netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("2001:db8:ac10::/48")}
	pl, err := probe.New(probe.Config{Top: 1, OnPrem: onPrem, LinkBPS: 10e6, Emit: func(r *report.Report) {
		to, from := r.Directions.ToAWS, r.Directions.FromAWS
		fmt.Printf("%s: to AWS %d packets (%.1f %%), from AWS %d packets (%.1f %%), top from AWS %v\n", r.WindowStart.Format("15:04:05"),
			to.Packets, 100*to.Utilization, from.Packets, 100*from.Utilization, from.TopSrc[0].IP)
	}}, 1)
	if err != nil {
		panic(err)
	}
	f, err := os.Open(filepath.Join("..", "testdata", "mirror-sample.pcap"))
	if err != nil {
		panic(err)
	}
	defer f.Close()
	if err := pl.Replay(f, vxlan.PortVXLAN); err != nil {
		panic(err)
	}
	// Output:
	// 09:30:00: to AWS 1302 packets (15.2 %), from AWS 391 packets (7.5 %), top from AWS 2001:db8:10::25
	// 09:30:05: to AWS 1717 packets (24.3 %), from AWS 690 packets (14.5 %), top from AWS 2001:db8:10::25
}

// NewClassifier gives a flow's direction by the pipeline's rule, for users
// of the flows outside it (an IPFIX exporter's flowDirection).
func ExampleNewClassifier() {
	cls, err := probe.NewClassifier([]netip.Prefix{netip.MustParsePrefix("172.16.0.0/12")}, nil)
	if err != nil {
		panic(err)
	}
	up := flow.NewKey(netip.MustParseAddr("172.16.20.15"), netip.MustParseAddr("10.0.1.50"), 6, 50412, 443)
	down := flow.NewKey(netip.MustParseAddr("10.0.1.50"), netip.MustParseAddr("172.16.20.15"), 6, 443, 50412)
	fmt.Println(cls(&up), cls(&down))
	// Output: to_aws from_aws
}
