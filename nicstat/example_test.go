package nicstat_test

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dxmon/dxmon/nicstat"
)

// staticStats stands for an ENA device (nicstat.Ethtool{} reads the real one).
type staticStats []nicstat.Stat

func (s staticStats) Stats(string) ([]nicstat.Stat, error) { return s, nil }

// A binary resolves its device once at start and registers the collector
// on its own registry; the counters are read at each scrape.
func ExampleNewCollector() {
	dev, err := nicstat.Resolve("lo", ":6081") // "auto": the listen address's, else the default route's
	if err != nil {
		fmt.Println(err)
		return
	}
	src := staticStats{{"pps_allowance_exceeded", 7}, {"bw_in_allowance_exceeded", 0},
		{"bw_out_allowance_exceeded", 0}, {"conntrack_allowance_exceeded", 0}, {"linklocal_allowance_exceeded", 0}}
	reg := prometheus.NewRegistry()
	c, err := nicstat.NewCollector(reg, src, dev)
	if err != nil {
		fmt.Println(err)
		return
	}
	v, supported, _ := c.Read()
	fmt.Println(c.Device(), supported, v[nicstat.PPSAllowanceExceeded])
	// Output: lo true 7
}
