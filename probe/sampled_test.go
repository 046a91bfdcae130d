package probe_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dxmon/dxmon/probe"
	"github.com/dxmon/dxmon/sample"
)

// TestSampledOutReported: the packets the sampler skips in a window are the
// report's sampled_out (unscaled), and the same count is
// dxmon_probe_sampled_out_packets_total; sampled_out plus the kept packets
// is every packet.
func TestSampledOutReported(t *testing.T) {
	pkts, flows := traffic(t, 60, 7)
	smp, _ := sample.New(0.5)
	var out, kept uint64
	for k, c := range flows {
		if smp.Keep(k.Hash()) {
			kept += c.Packets
		} else {
			out += c.Packets
		}
	}
	if out == 0 || kept == 0 {
		t.Fatalf("test traffic: %d sampled out, %d kept; want some of each", out, kept)
	}
	var c collector
	pl, err := probe.New(probe.Config{SampleRate: 0.5, MaxFlows: 1024, Emit: c.emit}, 1)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	probe.NewMetrics(reg, pl, nil)
	if err := pl.Run(context.Background(), []probe.Source{&onceSource{pkts: pkts}}); err != nil {
		t.Fatal(err)
	}
	var reported, counted uint64
	for _, r := range c.reports {
		reported += r.SampledOut
		counted += r.Packets
	}
	if reported != out || counted != 2*kept {
		t.Fatalf("sampled_out %d (want %d), packets %d (want 2 × %d kept)", reported, out, counted, kept)
	}
	if got, err := testutil.GatherAndCount(reg, "dxmon_probe_sampled_out_packets_total"); err != nil || got != 1 {
		t.Fatalf("sampled_out metric series: %d, %v", got, err)
	}
	if s := pl.Workers()[0].Stats(); s.SampledOut != out {
		t.Fatalf("worker's sampled_out %d, want %d", s.SampledOut, out)
	}
}

// onceSource serves its packets as one batch, then reports itself closed.
type onceSource struct {
	pkts [][]byte
	done bool
}

func (s *onceSource) Read() (int, error) {
	if s.done {
		return 0, net.ErrClosed
	}
	s.done = true
	return len(s.pkts), nil
}
func (s *onceSource) Packet(i int) []byte             { return s.pkts[i] }
func (s *onceSource) SetReadDeadline(time.Time) error { return nil }
