package nicstat

import (
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeSource returns fixed statistics, or an error.
type fakeSource struct {
	stats []Stat
	err   error
	devs  []string
}

func (f *fakeSource) Stats(dev string) ([]Stat, error) {
	f.devs = append(f.devs, dev)
	return f.stats, f.err
}

// enaStats is what an ENA device reports, with the allowance counters
// among other statistics (ethtool -S ens5 on a c6gn).
var enaStats = []Stat{
	{"tx_timeout", 0}, {"suspend", 0}, {"resume", 0}, {"wd_expired", 0},
	{"interface_up", 1}, {"interface_down", 0}, {"admin_q_pause", 0},
	{"bw_in_allowance_exceeded", 11}, {"bw_out_allowance_exceeded", 22},
	{"pps_allowance_exceeded", 33}, {"conntrack_allowance_exceeded", 44},
	{"linklocal_allowance_exceeded", 55},
	{"queue_0_tx_cnt", 123456},
}

func TestCollectorENA(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	src := &fakeSource{stats: enaStats}
	if _, err := NewCollector(reg, src, "ens5"); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP dxmon_nic_allowance_counters_supported 1 when the network device's driver reports the ENA allowance counters (dxmon_nic_*_allowance_exceeded_total), 0 when it does not or they could not be read.
# TYPE dxmon_nic_allowance_counters_supported gauge
dxmon_nic_allowance_counters_supported{interface="ens5"} 1
# HELP dxmon_nic_bw_in_allowance_exceeded_total Packets the ENA device queued or dropped because the inbound aggregate bandwidth exceeded the instance's allowance.
# TYPE dxmon_nic_bw_in_allowance_exceeded_total counter
dxmon_nic_bw_in_allowance_exceeded_total{interface="ens5"} 11
# HELP dxmon_nic_bw_out_allowance_exceeded_total Packets the ENA device queued or dropped because the outbound aggregate bandwidth exceeded the instance's allowance.
# TYPE dxmon_nic_bw_out_allowance_exceeded_total counter
dxmon_nic_bw_out_allowance_exceeded_total{interface="ens5"} 22
# HELP dxmon_nic_pps_allowance_exceeded_total Packets the ENA device queued or dropped because the bidirectional packets per second exceeded the instance's allowance.
# TYPE dxmon_nic_pps_allowance_exceeded_total counter
dxmon_nic_pps_allowance_exceeded_total{interface="ens5"} 33
# HELP dxmon_nic_conntrack_allowance_exceeded_total Packets the ENA device dropped because connection tracking exceeded the instance's allowance.
# TYPE dxmon_nic_conntrack_allowance_exceeded_total counter
dxmon_nic_conntrack_allowance_exceeded_total{interface="ens5"} 44
# HELP dxmon_nic_linklocal_allowance_exceeded_total Packets to link-local services (DNS, IMDS, time sync) the ENA device dropped past the interface's PPS allowance.
# TYPE dxmon_nic_linklocal_allowance_exceeded_total counter
dxmon_nic_linklocal_allowance_exceeded_total{interface="ens5"} 55
# HELP dxmon_nic_stats_read_errors_total Scrapes at which the device's driver statistics (SIOCETHTOOL) could not be read.
# TYPE dxmon_nic_stats_read_errors_total counter
dxmon_nic_stats_read_errors_total{interface="ens5"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	if len(src.devs) == 0 || src.devs[0] != "ens5" {
		t.Errorf("read devices %q, want ens5", src.devs)
	}
}

// A device with some but not all five counters, none, or a failing read
// is "unsupported": the gauge is 0 and no counter series exists.
func TestCollectorUnsupported(t *testing.T) {
	for name, src := range map[string]*fakeSource{
		"virtio":  {stats: []Stat{{"rx_drops", 0}, {"tx_kicks", 5568}}},
		"none":    {},
		"partial": {stats: enaStats[7:9]},
		"error":   {err: errors.New("no such device")},
	} {
		t.Run(name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			c, err := NewCollector(reg, src, "eth0")
			if err != nil {
				t.Fatal(err)
			}
			wantErrs := "0"
			if src.err != nil {
				wantErrs = "1"
			}
			want := `
# HELP dxmon_nic_allowance_counters_supported 1 when the network device's driver reports the ENA allowance counters (dxmon_nic_*_allowance_exceeded_total), 0 when it does not or they could not be read.
# TYPE dxmon_nic_allowance_counters_supported gauge
dxmon_nic_allowance_counters_supported{interface="eth0"} 0
# HELP dxmon_nic_stats_read_errors_total Scrapes at which the device's driver statistics (SIOCETHTOOL) could not be read.
# TYPE dxmon_nic_stats_read_errors_total counter
dxmon_nic_stats_read_errors_total{interface="eth0"} ` + wantErrs + "\n"
			if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
				t.Error(err)
			}
			if n, err := testutil.GatherAndCount(reg); err != nil || n != 2 {
				t.Errorf("%d series (err %v), want 2: no allowance counter", n, err)
			}
			if (c.LastError() != nil) != (src.err != nil) {
				t.Errorf("LastError %v with source error %v", c.LastError(), src.err)
			}
		})
	}
}
