package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dxmon/dxmon/vxlan"
)

// TestMain lets the test binary serve as the harness's reader and flood
// children, as the bench binary does.
func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		os.Exit(childMain(role))
	}
	os.Exit(m.Run())
}

// TestShortSmallest runs the short mode's smallest configuration and checks
// that the three files are well-formed and hold every part. No figure is
// asserted: timing belongs in the output, not in pass/fail.
func TestShortSmallest(t *testing.T) {
	dir := t.TempDir()
	var stderr bytes.Buffer
	args := []string{"-short", "-out", dir, "-reps", "1", "-micro-reps", "1", "-duration", "100ms",
		"-rates", "20000,max", "-benchtime", "5ms", "-flood-flows", "20000", "-max-flows", "4096", "-rcvbuf", "4194304"}
	if err := run(context.Background(), args, io.Discard, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}

	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res results
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	if res.Mode != "short" || res.Machine.Cores < 1 || res.Machine.Go == "" || res.Machine.Kernel == "" {
		t.Errorf("machine or mode missing: %+v %q", res.Machine, res.Mode)
	}
	// Two rates × (naive, pipeline, pipeline with WaitNetpoll, and the
	// blocking and tick C readers where gcc is).
	wantReaders := 2 * 5
	if res.Machine.GCC == "" {
		wantReaders = 2 * 3
	}
	if supported {
		if len(res.Readers) != wantReaders {
			t.Errorf("%d reader results, want %d", len(res.Readers), wantReaders)
		}
		for _, r := range res.Readers {
			if len(r.Runs) != 1 || r.CPUPerPkt.N != 1 || r.Runs[0].Sent <= 0 {
				t.Errorf("%s at %v: runs %+v", r.Reader, r.TargetPPS, r.Runs)
			}
			if r.Runs[0].Loss < 0 {
				t.Errorf("%s at %v counted more than was sent: %+v", r.Reader, r.TargetPPS, r.Runs[0])
			}
		}
		// The appliance scenario where raw sockets are allowed (root): two
		// rates × (dxappliance, and the blocking and tick C reflectors).
		if len(res.Appliance) > 0 {
			want := 2 * 3
			if res.Machine.GCC == "" {
				want = 2
			}
			if len(res.Appliance) != want {
				t.Errorf("%d appliance results, want %d", len(res.Appliance), want)
			}
			for _, a := range res.Appliance {
				r := a.Runs[0]
				if r.Returned == 0 || r.Heard == 0 || r.Heard > r.Returned || r.Returned > r.Received || int64(r.Received) > r.Sent {
					t.Errorf("%s at %v: sent %d, received %d, returned %d, heard %d", a.Reflector, a.TargetPPS, r.Sent, r.Received, r.Returned, r.Heard)
				}
			}
		}
		if len(res.Floods) != 2 || res.Floods[1].Flows != 20000 {
			t.Fatalf("flood results: %+v", res.Floods)
		}
		// Correctness, not timing: the pipeline must count the flood exactly
		// and rank the heavy hitter first.
		for _, f := range res.Floods {
			if !f.TotalsExact || f.HeavyRank != 1 || f.HeavySrcRank != 1 || f.HeavyShare < 0.01 {
				t.Errorf("flood: %+v", f)
			}
		}
	}
	impls := map[string]bool{}
	for _, m := range res.Micro {
		impls[m.Group+"/"+m.Impl] = true
		if m.NsPerOp.N != 1 || m.NsPerOp.Median <= 0 {
			t.Errorf("micro %+v", m)
		}
	}
	for _, want := range []string{"decode/dxmon", "decode/gopacket", "flow update/dxmon Add", "flow update/dxmon AddBatch(64)", "flow update/go map"} {
		if !impls[want] {
			t.Errorf("micro-benchmark %s missing; have %v", want, impls)
		}
	}

	md, err := os.ReadFile(filepath.Join(dir, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Machine: ", res.Machine.Go, "## Go micro-benchmarks", "| decode | IPv4 TCP | dxmon |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("results.md lacks %q", want)
		}
	}
	if supported {
		for _, want := range []string{"## Loopback readers", "| max | dxprobe pipeline |", "| totals exact | yes | yes |"} {
			if !strings.Contains(string(md), want) {
				t.Errorf("results.md lacks %q:\n%s", want, md)
			}
		}
	}
	checkSVG(t, filepath.Join(dir, "chart.svg"), len(res.Readers) > 0)
}

// checkSVG parses the chart as XML: one <svg> root, no element with a
// repeated attribute, and a polyline per reader when there are readers.
func checkSVG(t *testing.T, path string, readers bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	depth, roots, polylines := 0, 0, 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("chart.svg: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				if e.Name.Local != "svg" {
					t.Errorf("root element %q, want svg", e.Name.Local)
				}
			}
			seen := map[string]bool{}
			for _, a := range e.Attr {
				if seen[a.Name.Local] {
					t.Errorf("<%s> repeats attribute %s", e.Name.Local, a.Name.Local)
				}
				seen[a.Name.Local] = true
			}
			if e.Name.Local == "polyline" {
				polylines++
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
	if roots != 1 || depth != 0 {
		t.Errorf("chart.svg: %d roots, depth %d at the end", roots, depth)
	}
	if readers && polylines == 0 {
		t.Error("chart.svg has no polyline")
	}
}

// TestGenerate sends with both sender paths to a loopback socket and checks
// that the counts add up and that every datagram received is a mirror
// packet that decodes.
func TestGenerate(t *testing.T) {
	for _, tc := range []struct {
		name         string
		cfg          genConfig
		forceSyscall bool
	}{
		{"vxlan-zipf-reuseport-sender", genConfig{Flows: 100, Zipf: 1.1, IPv6: 0.3, Senders: 2, Batch: 16}, false},
		{"geneve-flood-syscall-sender", genConfig{Flows: 1, Flood: true, Geneve: true, IPv6: 0.5, Senders: 1, Batch: 8}, true},
		{"uniform-live-encoding", genConfig{Flows: poolMax + 1, Senders: 1, Batch: 32}, false},
		{"gwlb-zipf", genConfig{Flows: 100, Zipf: 1.1, IPv6: 0.3, GWLB: true, Senders: 1, Batch: 16}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetReadBuffer(4 << 20)
			cfg := tc.cfg
			cfg.Addr = conn.LocalAddr().(*net.UDPAddr).AddrPort()
			cfg.Rate, cfg.Duration, cfg.Count, cfg.VNI, cfg.Snap, cfg.Seed = 20_000, 10*time.Second, 300, 77, 128, 3
			type got struct {
				n, bad int
				encap  map[vxlan.Encap]bool
				v6     int
				gwlb   int
			}
			done := make(chan got, 1)
			go func() {
				g := got{encap: map[vxlan.Encap]bool{}}
				buf := make([]byte, 2048)
				var p vxlan.Packet
				for {
					n, _, err := conn.ReadFromUDPAddrPort(buf)
					if err != nil {
						done <- g
						return
					}
					g.n++
					r := p.Decode(buf[:n])
					if cfg.Geneve {
						r = p.DecodeGeneve(buf[:n])
					}
					if r != vxlan.OK || p.VNI != 77 {
						g.bad++
						continue
					}
					g.encap[p.Encap] = true
					if p.Version == 6 {
						g.v6++
					}
					if p.GWLB.Has != 0 {
						g.gwlb++
					}
				}
			}()
			st, err := generate(context.Background(), cfg, tc.forceSyscall)
			if err != nil {
				t.Fatal(err)
			}
			if st.Packets != 300 || len(st.Senders) != cfg.Senders {
				t.Errorf("sent %d packets from %d senders, want 300 from %d", st.Packets, len(st.Senders), cfg.Senders)
			}
			var sum int64
			for _, s := range st.Senders {
				sum += s.Packets
			}
			if sum != st.Packets {
				t.Errorf("senders sum to %d, total %d", sum, st.Packets)
			}
			// Let the reader see what loopback already delivered, then stop it.
			_ = conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			g := <-done
			if g.n == 0 || g.bad != 0 || g.n > 300 {
				t.Errorf("received %d datagrams, %d not decodable", g.n, g.bad)
			}
			want := map[vxlan.Encap]bool{vxlan.EncapVXLAN: true}
			if cfg.Geneve {
				want = map[vxlan.Encap]bool{vxlan.EncapGeneve: true}
			}
			if diff := cmp.Diff(want, g.encap); diff != "" {
				t.Errorf("encapsulations (-want +got):\n%s", diff)
			}
			if cfg.GWLB != (g.gwlb == g.n) || !cfg.GWLB && g.gwlb != 0 {
				t.Errorf("%d of %d packets decoded from GWLB's Geneve, with -gwlb %v", g.gwlb, g.n, cfg.GWLB)
			}
			if cfg.IPv6 > 0 && g.v6 == 0 {
				t.Errorf("no IPv6 packet among %d with -ipv6 %v", g.n, cfg.IPv6)
			}
			if !strings.Contains(describeGen(&cfg, &st), "sent 300 packets") {
				t.Errorf("description: %s", describeGen(&cfg, &st))
			}
		})
	}
}

// TestGenFlags checks that bad generator and harness settings fail at
// start with a message naming the setting.
func TestGenFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"gen", "-zipf", "0.5"}, "-zipf"},
		{[]string{"gen", "-ipv6", "2"}, "-ipv6"},
		{[]string{"gen", "-addr", "nowhere"}, "-addr"},
		{[]string{"gen", "-senders", "0"}, "-senders"},
		{[]string{"-short"}, "-out"},
		{[]string{"-out", "x", "-rates", "fast"}, "-rates"},
		{[]string{"-out", "x", "-skip", "everything"}, "-skip"},
		{[]string{"-out", "x", "-blocking", "maybe"}, "-blocking"},
		{[]string{"-out", "x", "-reps", "0", "-duration", "1ms"}, "-duration"},
	} {
		err := run(context.Background(), tc.args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one naming %s", tc.args, err, tc.want)
		}
	}
}

// TestFloodStreamDecodes checks the patched flood packets against the
// decoder and the stream's own accounting.
func TestFloodStreamDecodes(t *testing.T) {
	s, err := newFloodStream(1000, 100)
	if err != nil {
		t.Fatal(err)
	}
	var p vxlan.Packet
	buf := make([]byte, 0, 256)
	srcs := map[netip.Addr]bool{}
	var n, bytes, heavy uint64
	for b := s.next(buf); b != nil; b = s.next(buf) {
		if r := p.Decode(b); r != vxlan.OK {
			t.Fatalf("packet %d: %v", n, r)
		}
		n++
		bytes += uint64(p.Length)
		if p.SrcAddr() == heavySrc {
			heavy++
		} else {
			srcs[p.SrcAddr()] = true
		}
	}
	if len(srcs) != 1000 || n != s.packets || bytes != s.bytes || heavy != s.heavyPackets || heavy != 900/heavyEvery {
		t.Errorf("%d sources, %d packets (stream %d), %d bytes (stream %d), %d heavy (stream %d)",
			len(srcs), n, s.packets, bytes, s.bytes, heavy, s.heavyPackets)
	}
}

func TestStatOf(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want stat
	}{
		{nil, stat{}},
		{[]float64{3}, stat{3, 3, 3, 1}},
		{[]float64{5, 1, 3}, stat{3, 1, 5, 3}},
		{[]float64{4, 1, 2, 10}, stat{3, 1, 10, 4}},
	} {
		if diff := cmp.Diff(tc.want, statOf(tc.in)); diff != "" {
			t.Errorf("statOf(%v) (-want +got):\n%s", tc.in, diff)
		}
	}
}
