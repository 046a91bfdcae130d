package probe_test

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dxmon/dxmon/flow"
	"github.com/dxmon/dxmon/internal/gopacketoracle"
	"github.com/dxmon/dxmon/probe"
	"github.com/dxmon/dxmon/report"
	"github.com/dxmon/dxmon/reuseport"
	"github.com/dxmon/dxmon/vxlan"
)

// traffic is nFlows flows of perFlow packets each; flow i's packets declare
// 100+i bytes, so every flow's byte count differs and the ranking is known.
func traffic(t *testing.T, nFlows, perFlow int) (pkts [][]byte, want map[flow.Key]flow.Counter) {
	t.Helper()
	want = map[flow.Key]flow.Counter{}
	for i := range nFlows {
		s := vxlan.Spec{VNI: 12345, Src: netip.AddrFrom4([4]byte{10, 1, 0, byte(i)}), Dst: netip.MustParseAddr("10.2.0.1"),
			Proto: vxlan.ProtoTCP, SrcPort: uint16(40000 + i), DstPort: 443, Length: 100 + i, Snap: 128}
		if i%5 == 0 {
			s.Src, s.Dst = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i)}), netip.MustParseAddr("2001:db8::ffff")
		}
		b, err := vxlan.Append(nil, &s)
		if err != nil {
			t.Fatal(err)
		}
		k := flow.NewKey(s.Src, s.Dst, s.Proto, s.SrcPort, s.DstPort)
		want[k] = flow.Counter{Packets: uint64(perFlow), Bytes: uint64(perFlow * (100 + i))}
		for range perFlow {
			pkts = append(pkts, b)
		}
	}
	return pkts, want
}

type collector struct {
	mu      sync.Mutex
	reports []*report.Report
}

func (c *collector) emit(r *report.Report) {
	c.mu.Lock()
	c.reports = append(c.reports, r)
	c.mu.Unlock()
}

// requireTotals fails the test unless the reports count n packets and the
// bytes of want's flows, and returns the reported flows.
func (c *collector) requireTotals(t *testing.T, n int, want map[flow.Key]flow.Counter) map[flow.Key]flow.Counter {
	t.Helper()
	pk, by, flows := c.totals()
	var wantBytes uint64
	for _, v := range want {
		wantBytes += v.Bytes
	}
	if pk != uint64(n) || by != wantBytes {
		t.Fatalf("counted %d packets / %d bytes, sent %d / %d", pk, by, n, wantBytes)
	}
	return flows
}

func (c *collector) totals() (pk, by uint64, flows map[flow.Key]flow.Counter) {
	flows = map[flow.Key]flow.Counter{}
	for _, r := range c.reports {
		pk += r.Packets
		by += r.Bytes
		for _, f := range r.TopFlows {
			k := flow.NewKey(f.Src, f.Dst, f.Proto, f.Sport, f.Dport)
			o := flows[k]
			flows[k] = flow.Counter{Packets: o.Packets + f.Packets, Bytes: o.Bytes + f.Bytes}
		}
	}
	return pk, by, flows
}

// TestRunCountsEveryPacket sends 50 flows × 200 packets over loopback to a
// pipeline of two reuseport workers, from many source ports, and stops it:
// every packet is counted, exactly, and the partial window is reported.
func TestRunCountsEveryPacket(t *testing.T) {
	for _, mode := range []reuseport.WaitMode{reuseport.WaitTick, reuseport.WaitNetpoll, reuseport.WaitBlocking} {
		t.Run(mode.String(), func(t *testing.T) { testRunCountsEveryPacket(t, mode) })
	}
}

func testRunCountsEveryPacket(t *testing.T, mode reuseport.WaitMode) {
	g, err := reuseport.Listen(reuseport.Config{Addr: "127.0.0.1:0", Sockets: 2, Wait: mode})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	var c collector
	reg := prometheus.NewPedanticRegistry()
	pl, err := probe.New(probe.Config{Top: 50, Emit: c.emit}, len(g.Readers()))
	if err != nil {
		t.Fatal(err)
	}
	var socks []probe.DropCounter
	for _, r := range g.Readers() {
		socks = append(socks, r)
	}
	m := probe.NewMetrics(reg, pl, socks)
	pl.OnReport(m.Observe)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pl.Run(ctx, probe.Sources(g)) }()

	pkts, want := traffic(t, 50, 200)
	var senders []*reuseport.Sender
	for range 16 { // 16 source ports: the kernel spreads them over both sockets
		s, err := reuseport.NewSender(g.LocalAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		senders = append(senders, s)
	}
	for i := 0; i < len(pkts); i += 10 {
		if _, err := senders[(i/10)%len(senders)].Send(pkts[i:min(i+10, len(pkts))]); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until the workers have read them all before stopping them.
	// Loopback usually queues a datagram within its send, but a loaded
	// kernel defers that to ksoftirqd, and a datagram queued after the
	// drain found the sockets empty is, rightly, not counted. What is
	// under test here is the counting and the partial window's report;
	// drain_test.go tests the drain.
	for deadline := time.Now().Add(time.Minute); ; {
		var rx uint64
		for _, w := range pl.Workers() {
			rx += w.Stats().RxPackets
		}
		if rx == uint64(len(pkts)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("workers read %d of %d packets in a minute", rx, len(pkts))
		}
		time.Sleep(time.Millisecond) // polling a counter the workers publish, not ordering test logic
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	var drops uint64
	for _, r := range g.Readers() {
		n, _ := r.KernelDrops()
		drops += n
	}
	if drops != 0 {
		t.Fatalf("kernel dropped %d packets", drops)
	}
	flows := c.requireTotals(t, len(pkts), want)
	if d := cmp.Diff(want, flows); d != "" {
		t.Errorf("flows differ (-sent +reported):\n%s", d)
	}
	last := c.reports[len(c.reports)-1]
	if !last.Partial {
		t.Errorf("last report not marked partial")
	}
	if top := last.TopFlows[0]; len(c.reports) == 1 && (top.Sport != 40049 || top.Dport != 443) {
		t.Errorf("top flow %+v, want the 149-byte flow from port 40049", top)
	}
	used := 0
	for _, w := range pl.Workers() {
		if w.Stats().RxPackets > 0 {
			used++
		}
	}
	if used != 2 {
		t.Errorf("%d of 2 workers received packets", used)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("metrics lint: %v %v", err, problems)
	}
	if got := testutil.ToFloat64(m.WindowsMetric()); got != float64(len(c.reports)) {
		t.Errorf("dxmon_probe_windows_total = %v, want %d", got, len(c.reports))
	}
}

// TestReplayAgreesWithGopacket replays the sample capture and compares the
// per-flow counts with gopacket's reading of the same file.
func TestReplayAgreesWithGopacket(t *testing.T) {
	path := filepath.Join("..", "testdata", "mirror-sample.pcap")
	want, err := gopacketoracle.Flows(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var c collector
	pl, err := probe.New(probe.Config{Top: 1000, Emit: c.emit}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := pl.Replay(f, vxlan.PortVXLAN); err != nil {
		t.Fatal(err)
	}
	if len(c.reports) != 2 {
		t.Fatalf("%d reports, want 2 (the capture spans two windows)", len(c.reports))
	}
	_, _, got := c.totals()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("replay differs from gopacket (-gopacket +dxmon):\n%s", d)
	}
	if c.reports[0].Skipped["outer_port"] != 1 {
		t.Errorf("skipped %v, want outer_port=1", c.reports[0].Skipped)
	}
}

func TestWorkerHandleDoesNotAllocate(t *testing.T) {
	pl, err := probe.New(probe.Config{SampleRate: 0.5}, 1)
	if err != nil {
		t.Fatal(err)
	}
	pkts, _ := traffic(t, 20, 1)
	w := pl.Workers()[0]
	i := 0
	if n := testing.AllocsPerRun(5000, func() { w.Handle(pkts[i%len(pkts)]); i++ }); n != 0 {
		t.Errorf("Worker.Handle allocates %v times per packet", n)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []probe.Config{{SampleRate: 1.5}, {SampleRate: -1}, {Top: -1}, {VNI: 1 << 24}, {Window: 1}} {
		if _, err := probe.New(cfg, 1); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	if _, err := probe.New(probe.Config{}, 0); err == nil {
		t.Errorf("New with 0 workers accepted")
	}
}

// sliceSource serves fixed packets as one batch, for allocation tests.
type sliceSource struct{ pkts [][]byte }

func (s *sliceSource) Read() (int, error)              { return len(s.pkts), nil }
func (s *sliceSource) Packet(i int) []byte             { return s.pkts[i] }
func (s *sliceSource) SetReadDeadline(time.Time) error { return nil }

func TestWorkerHandleBatchDoesNotAllocate(t *testing.T) {
	pl, err := probe.New(probe.Config{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	pkts, _ := traffic(t, 64, 1)
	w := pl.Workers()[0]
	src := &sliceSource{pkts}
	w.HandleBatch(src, len(pkts)) // sizes the batch arrays once
	if n := testing.AllocsPerRun(500, func() { w.HandleBatch(src, len(pkts)) }); n != 0 {
		t.Errorf("Worker.HandleBatch allocates %v times per batch", n)
	}
}

// failingSource fails its first Read, as a socket with a hard error would.
type failingSource struct{}

func (failingSource) Read() (int, error)              { return 0, errors.New("boom") }
func (failingSource) Packet(int) []byte               { return nil }
func (failingSource) SetReadDeadline(time.Time) error { return nil }

// TestWorkerFailureDoesNotStopReports: when one worker stops on an error,
// the other's windows are still reported, and Run returns the error.
func TestWorkerFailureDoesNotStopReports(t *testing.T) {
	g, err := reuseport.Listen(reuseport.Config{Addr: "127.0.0.1:0", Wait: reuseport.WaitNetpoll})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	reports := make(chan *report.Report, 16)
	pl, err := probe.New(probe.Config{Window: 20 * time.Millisecond, MaxFlows: 1024, Emit: func(r *report.Report) {
		select {
		case reports <- r:
		default:
		}
	}}, 2)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pl.Run(ctx, []probe.Source{probe.Sources(g)[0], failingSource{}}) }()
	for range 3 { // three windows end while one worker is gone
		select {
		case <-reports:
		case <-time.After(30 * time.Second):
			t.Fatal("no report while one worker had failed")
		}
	}
	cancel()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Run returned %v, want the worker's error", err)
	}
}
