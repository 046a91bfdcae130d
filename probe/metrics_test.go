package probe_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dxmon/dxmon/probe"
	"github.com/dxmon/dxmon/report"
	"github.com/dxmon/dxmon/vxlan"
)

// TestMetricsSumAcrossProbes: dxmon_probe_decoded_{packets,bytes}_total,
// summed over every series of every probe (PromQL: sum without (instance,
// worker) (...)), are the exact global totals: two probes replay the
// sample capture, one sampling half the flows, and each probe's sum equals
// the unsampled report's totals, so the global sum is exactly twice them.
// Their only labels are worker and direction, closed sets.
func TestMetricsSumAcrossProbes(t *testing.T) {
	path := filepath.Join("..", "testdata", "mirror-sample.pcap")
	var reportPackets, reportBytes uint64 // the unsampled probe's reports
	var globalPackets, globalBytes float64
	for _, rate := range []float64{1, 0.5} {
		var reps []*report.Report
		pl, err := probe.New(probe.Config{SampleRate: rate, Emit: func(r *report.Report) { reps = append(reps, r) }}, 1)
		if err != nil {
			t.Fatal(err)
		}
		reg := prometheus.NewPedanticRegistry()
		probe.NewMetrics(reg, pl, nil)
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		err = pl.Replay(f, vxlan.PortVXLAN)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if rate == 1 {
			for _, r := range reps {
				reportPackets += r.Packets
				reportBytes += r.Bytes
			}
		}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		sums := map[string]float64{}
		for _, mf := range mfs {
			name := mf.GetName()
			if name != "dxmon_probe_decoded_packets_total" && name != "dxmon_probe_decoded_bytes_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					switch l.GetName() {
					case "worker":
					case "direction":
						if v := l.GetValue(); v != "to_aws" && v != "from_aws" && v != "unknown" {
							t.Errorf("%s has direction %q", name, v)
						}
					default:
						t.Errorf("%s has label %s", name, l.GetName())
					}
				}
				sums[name] += m.GetCounter().GetValue()
			}
		}
		if sums["dxmon_probe_decoded_packets_total"] != float64(reportPackets) || sums["dxmon_probe_decoded_bytes_total"] != float64(reportBytes) {
			t.Fatalf("rate %v: decoded %v, the unsampled reports count %d packets, %d bytes", rate, sums, reportPackets, reportBytes)
		}
		globalPackets += sums["dxmon_probe_decoded_packets_total"]
		globalBytes += sums["dxmon_probe_decoded_bytes_total"]
	}
	if globalPackets != float64(2*reportPackets) || globalBytes != float64(2*reportBytes) {
		t.Fatalf("global %v packets %v bytes, want twice %d, %d", globalPackets, globalBytes, reportPackets, reportBytes)
	}
}
