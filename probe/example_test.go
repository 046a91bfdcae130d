package probe_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/dxmon/dxmon/probe"
	"github.com/dxmon/dxmon/report"
	"github.com/dxmon/dxmon/vxlan"
)

// Replaying a capture runs the same decode and aggregation as the live probe.
func ExamplePipeline_Replay() {
	pl, err := probe.New(probe.Config{Top: 3, Emit: func(r *report.Report) {
		f := r.TopFlows[0]
		fmt.Printf("%s: %d packets; top flow %v -> %v, %s\n", r.WindowStart.Format("15:04:05"), r.Packets,
			netip.AddrPortFrom(f.Src, f.Sport), netip.AddrPortFrom(f.Dst, f.Dport), report.Bytes(float64(f.Bytes)))
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
	// 09:30:00: 1693 packets; top flow [2001:db8:10::25]:5432 -> [2001:db8:ac10::7]:41022, 432 kB
	// 09:30:05: 2407 packets; top flow [2001:db8:10::25]:5432 -> [2001:db8:ac10::7]:41022, 864 kB
}
