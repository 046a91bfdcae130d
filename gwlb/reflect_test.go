package gwlb

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dxmon/dxmon/internal/gwlbtest"
	"github.com/dxmon/dxmon/reuseport"
)

// fakeWriter records what a worker queues, for tests without CAP_NET_RAW.
type fakeWriter struct {
	queued []answer
	keep   bool // copy the queued answers (for assertions)
	n      int
	bytes  int
	refuse int // Flush reports this many as refused
}

type answer struct {
	Src, Dst netip.AddrPort
	Payload  []byte
}

func (f *fakeWriter) Add(src, dst netip.AddrPort, p []byte) bool {
	if f.keep {
		f.queued = append(f.queued, answer{src, dst, append([]byte(nil), p...)})
	}
	f.n++
	f.bytes += len(p)
	return true
}

func (f *fakeWriter) Flush() (int, int, error) {
	n, b := f.n-f.refuse, f.bytes
	f.n, f.bytes = 0, 0
	if f.refuse > 0 {
		return n, b, errors.New("refused")
	}
	return n, b, nil
}

func (f *fakeWriter) Close() error { return nil }

var (
	gwlbAddr = netip.MustParseAddrPort("198.18.1.1:51234")
	applAddr = netip.MustParseAddr("198.18.1.2")
)

func TestReflectAnswersTheSenderWithPortsKept(t *testing.T) {
	f := &fakeWriter{keep: true}
	w := &worker{out: f, port: GenevePort}
	var tl tally
	good4 := gwlbtest.Packet(false, 200, 3)
	good6 := gwlbtest.Packet(true, 8500, 4)
	w.reflect(&tl, good4, gwlbAddr, applAddr, true, true)
	w.reflect(&tl, good6, gwlbAddr, applAddr, true, true)
	for _, p := range gwlbtest.Malformed() {
		w.reflect(&tl, p, gwlbAddr, applAddr, true, true)
	}
	w.reflect(&tl, good4, gwlbAddr, netip.MustParseAddr("198.18.1.255"), false, true)       // to a broadcast
	w.reflect(&tl, make([]byte, MsgSize), gwlbAddr, applAddr, true, true)                   // filled the buffer
	w.reflect(&tl, good4, netip.MustParseAddrPort("[2001:db8::1]:5"), applAddr, true, true) // IPv6 sender
	w.flush(&tl)

	src := netip.AddrPortFrom(applAddr, gwlbAddr.Port())
	dst := netip.AddrPortFrom(gwlbAddr.Addr(), GenevePort)
	want := []answer{{src, dst, good4}, {src, dst, good6}}
	if diff := cmp.Diff(want, f.queued, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
		t.Fatalf("answers (-want +got):\n%s", diff)
	}
	s := &w.stats
	if s.rxPkts.Load() != 11 || s.txPkts.Load() != 2 || s.txBytes.Load() != uint64(len(good4)+len(good6)) {
		t.Errorf("rx %d tx %d tx bytes %d", s.rxPkts.Load(), s.txPkts.Load(), s.txBytes.Load())
	}
	for _, r := range Reasons() {
		want := uint64(1)
		if r == OK {
			want = 0
		}
		if got := s.malformed[r].Load(); got != want {
			t.Errorf("malformed %s: %d, want %d", r, got, want)
		}
	}
}

func TestReflectCountsRefusedSends(t *testing.T) {
	f := &fakeWriter{refuse: 1}
	w := &worker{out: f, port: GenevePort}
	var tl tally
	p := gwlbtest.Packet(false, 100, 1)
	w.reflect(&tl, p, gwlbAddr, applAddr, true, true)
	w.reflect(&tl, p, gwlbAddr, applAddr, true, true)
	w.flush(&tl)
	if w.stats.sendErrors.Load() != 1 || w.stats.txPkts.Load() != 1 {
		t.Errorf("send errors %d, returned %d", w.stats.sendErrors.Load(), w.stats.txPkts.Load())
	}
}

// TestReflectAllocs: deciding on and queuing a batch allocates nothing.
func TestReflectAllocs(t *testing.T) {
	w := &worker{out: &fakeWriter{}, port: GenevePort}
	pkts := [][]byte{gwlbtest.Packet(false, 1500, 1), gwlbtest.Packet(true, 100, 2), gwlbtest.Malformed()["geneve_options"]}
	allocs := testing.AllocsPerRun(100, func() {
		var tl tally
		for _, p := range pkts {
			w.reflect(&tl, p, gwlbAddr, applAddr, true, true)
		}
		w.flush(&tl)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per batch, want 0", allocs)
	}
}

func BenchmarkReflect(b *testing.B) {
	w := &worker{out: &fakeWriter{}, port: GenevePort}
	p := gwlbtest.Packet(false, 1500, 1)
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		var tl tally
		for range 64 {
			w.reflect(&tl, p, gwlbAddr, applAddr, true, true)
		}
		w.flush(&tl)
	}
}

// FuzzReflect: whatever the datagram and its addresses, an answer goes only
// to the sender, from the address it came to, with the payload unchanged,
// and only for a packet a second reading accepts.
func FuzzReflect(f *testing.F) {
	f.Add(gwlbtest.Packet(false, 100, 1), []byte{198, 18, 1, 1}, uint16(4000), []byte{198, 18, 1, 2}, true)
	f.Add(gwlbtest.Packet(true, 100, 1), []byte{127, 0, 0, 1}, uint16(1), []byte{127, 0, 0, 2}, true)
	f.Add(gwlbtest.Malformed()["geneve_options"], []byte{10, 0, 0, 1}, uint16(6081), []byte{10, 0, 0, 2}, false)
	f.Fuzz(func(t *testing.T, p, from []byte, port uint16, to []byte, unicast bool) {
		fa, _ := netip.AddrFromSlice(from)
		ta, _ := netip.AddrFromSlice(to)
		fw := &fakeWriter{keep: true}
		w := &worker{out: fw, port: GenevePort}
		var tl tally
		in := append([]byte(nil), p...)
		w.reflect(&tl, p, netip.AddrPortFrom(fa, port), ta, unicast, true)
		if len(fw.queued) == 0 {
			return
		}
		a := fw.queued[0]
		if a.Dst != netip.AddrPortFrom(fa, GenevePort) || a.Src != netip.AddrPortFrom(ta, port) {
			t.Fatalf("answer %v -> %v for a packet %v:%d -> %v", a.Src, a.Dst, fa, port, ta)
		}
		if !bytes.Equal(a.Payload, in) {
			t.Fatal("payload changed")
		}
		if msg := independentCheck(in); msg != "" {
			t.Fatalf("returned a malformed packet: %s", msg)
		}
		if !fa.Is4() || !ta.Is4() || !unicast || port == 0 {
			t.Fatalf("answered %v:%d -> %v (unicast %v)", fa, port, ta, unicast)
		}
	})
}

func TestMetricsLint(t *testing.T) {
	g, err := reuseport.Listen(reuseport.Config{Addr: "127.0.0.1:0", RecvBuffer: 1 << 20, Wait: reuseport.WaitNetpoll})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	w := &worker{out: &fakeWriter{}, port: GenevePort}
	rf := &Reflector{group: g, workers: []*worker{w}}
	var tl tally
	w.reflect(&tl, gwlbtest.Packet(false, 100, 1), gwlbAddr, applAddr, true, true)
	w.reflect(&tl, gwlbtest.Malformed()["geneve_version"], gwlbAddr, applAddr, true, true)
	w.flush(&tl)
	reg := prometheus.NewPedanticRegistry()
	if err := rf.Register(reg); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	want := `
# HELP dxmon_appliance_returned_packets_total Geneve datagrams returned to the GWLB that sent them.
# TYPE dxmon_appliance_returned_packets_total counter
dxmon_appliance_returned_packets_total 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "dxmon_appliance_returned_packets_total"); err != nil {
		t.Error(err)
	}
	if got := testutil.ToFloat64(collectorFor(t, reg, "geneve_version")); got != 1 {
		t.Errorf("malformed geneve_version %v, want 1", got)
	}
}

// collectorFor returns a collector of the one malformed series with the
// reason, for ToFloat64.
func collectorFor(t *testing.T, reg *prometheus.Registry, reason string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
	for _, mf := range mfs {
		if mf.GetName() != "dxmon_appliance_malformed_packets_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == reason {
				g.Set(m.GetCounter().GetValue())
			}
		}
	}
	return g
}

// needRaw skips a test that opens raw sockets when the process may not.
func needRaw(t *testing.T) {
	t.Helper()
	w, err := reuseport.NewRawWriter(1)
	if err != nil {
		if errors.Is(err, os.ErrPermission) || strings.Contains(err.Error(), "operation not permitted") {
			t.Skipf("needs CAP_NET_RAW (run as root): %v", err)
		}
		t.Fatal(err)
	}
	w.Close()
}

// TestLoopbackReflector runs a Reflector in process on 127.0.0.1 and a GWLB
// on 127.0.0.2 over loopback: every valid packet comes back unchanged from
// 127.0.0.1 with the GWLB's source port to the GWLB's address and the
// Geneve port; no malformed one does.
func TestLoopbackReflector(t *testing.T) {
	needRaw(t)
	rf, err := New(Config{Addr: "127.0.0.1:0", Workers: 2, RecvBuffer: 4 << 20, Wait: reuseport.WaitNetpoll})
	if err != nil {
		t.Fatal(err)
	}
	port := rf.LocalAddr().Port()
	// The GWLB's end: it sends from an ephemeral port and hears answers on
	// the Geneve port of its own address.
	back, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), port)))
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	out, err := net.DialUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.2:0")), net.UDPAddrFromAddrPort(rf.LocalAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rf.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		if rf.Healthy() {
			t.Error("healthy after Run returned")
		}
	}()

	var sent [][]byte
	for i, size := range []int{20, 100, 576, 1500, 4000, 8500} {
		sent = append(sent, gwlbtest.Packet(i%2 == 1, size, byte(i)))
	}
	for _, p := range gwlbtest.Malformed() {
		if _, err := out.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range sent {
		if _, err := out.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	srcPort := netip.MustParseAddrPort(out.LocalAddr().String()).Port()
	buf := make([]byte, 65536)
	var got [][]byte
	back.SetReadDeadline(time.Now().Add(10 * time.Second))
	for len(got) < len(sent) {
		n, from, err := back.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("after %d answers: %v", len(got), err)
		}
		if want := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), srcPort); from != want {
			t.Errorf("answer from %v, want %v", from, want)
		}
		got = append(got, append([]byte(nil), buf[:n]...))
	}
	if diff := cmp.Diff(sent, got); diff != "" {
		t.Errorf("answers (-sent +got):\n%s", diff)
	}
	// Nothing else arrives: a sentinel valid packet sent after the rest is
	// the next thing heard.
	sentinel := gwlbtest.Packet(false, 64, 99)
	out.Write(sentinel)
	n, _, err := back.ReadFromUDPAddrPort(buf)
	if err != nil || !bytes.Equal(buf[:n], sentinel) {
		t.Errorf("after the answers: %d bytes, %v; want the sentinel", n, err)
	}
	if !rf.Healthy() {
		t.Error("not healthy while running")
	}
}
