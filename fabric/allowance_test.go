package fabric_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dxmon/dxmon/fabric"
	"github.com/dxmon/dxmon/nicstat"
)

// fabric names the counters as nicstat exports them.
func TestAllowanceNamesMatchNicstat(t *testing.T) {
	var names []string
	for _, c := range fabric.AllowanceCounters {
		names = append(names, c.Stat)
	}
	if diff := cmp.Diff(nicstat.AllowanceCounters, names); diff != "" {
		t.Errorf("(-nicstat +fabric):\n%s", diff)
	}
}

func TestParseNICMetrics(t *testing.T) {
	text := `dxmon_nic_allowance_counters_supported{interface="ens5"} 1
dxmon_nic_bw_in_allowance_exceeded_total{interface="ens5"} 1.5e+06
dxmon_nic_bw_out_allowance_exceeded_total{interface="ens5"} 2
dxmon_nic_pps_allowance_exceeded_total{interface="ens5"} 3
dxmon_nic_conntrack_allowance_exceeded_total{interface="ens5"} 0
dxmon_nic_linklocal_allowance_exceeded_total{interface="ens5"} 5
dxmon_nic_stats_read_errors_total{interface="ens5"} 9
`
	got, err := fabric.ParseNICMetrics(text)
	if err != nil {
		t.Fatal(err)
	}
	want := fabric.NICAllowance{Supported: true, Devices: []string{"ens5"},
		Counters: map[string]uint64{"bw_in": 1500000, "bw_out": 2, "pps": 3, "conntrack": 0, "linklocal": 5}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for name, bad := range map[string]string{
		"no lines":          "go_goroutines 7\n",
		"missing counter":   "dxmon_nic_allowance_counters_supported{interface=\"ens5\"} 1\n",
		"negative":          text + "dxmon_nic_pps_allowance_exceeded_total{interface=\"ens6\"} -1\n",
		"not a number":      text + "dxmon_nic_pps_allowance_exceeded_total{interface=\"ens6\"} x\n",
		"unbalanced braces": "dxmon_nic_allowance_counters_supported}interface{ 1\n",
	} {
		if _, err := fabric.ParseNICMetrics(bad); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	un, err := fabric.ParseNICMetrics(`dxmon_nic_allowance_counters_supported{interface="eth0"} 0` + "\n")
	if err != nil || un.Supported {
		t.Errorf("a device without the counters: %+v, %v; want unsupported", un, err)
	}
}

func TestAllowanceTagAndIncreases(t *testing.T) {
	c := map[string]uint64{"bw_in": 1, "bw_out": 2, "pps": 1 << 63, "conntrack": 0, "linklocal": 5}
	v := fabric.FormatAllowanceTag(c)
	if len(v) > 256 || strings.ContainsFunc(v, func(r rune) bool { return !strings.ContainsRune("abcdefghijklmnopqrstuvwxyz0123456789_= ", r) }) {
		t.Errorf("tag value %q: longer than 256 or outside the characters every service allows", v)
	}
	if diff := cmp.Diff(c, fabric.ParseAllowanceTag(v)); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	inc := fabric.AllowanceIncreases(map[string]uint64{"pps": 10, "bw_in": 100}, map[string]uint64{"pps": 15, "bw_in": 4})
	if inc["pps"] != 5 || inc["bw_in"] != 4 || inc["conntrack"] != 0 {
		t.Errorf("increases %v: want pps 5, bw_in 4 (reset: its whole value)", inc)
	}
	if got := fabric.ParseAllowanceTag("garbage pps=x bw_in=3"); got["bw_in"] != 3 || len(got) != 1 {
		t.Errorf("a hand-edited tag: %v", got)
	}
}

// FuzzParseNICMetrics: what an instance prints never panics the parser.
func FuzzParseNICMetrics(f *testing.F) {
	f.Add(`dxmon_nic_allowance_counters_supported{interface="ens5"} 1` + "\n")
	f.Add("dxmon_nic_x{} \ndxmon_nic_y 1e400\ndxmon_nic_pps_allowance_exceeded_total 1e30\n")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := fabric.ParseNICMetrics(s)
		if err == nil && a.Supported && len(a.Counters) != len(fabric.AllowanceCounters) {
			t.Fatalf("supported without the five counters: %+v", a)
		}
	})
}
