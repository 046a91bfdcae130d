package main

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/dxmon/dxmon/flow"
	"github.com/dxmon/dxmon/reuseport"
	"github.com/dxmon/dxmon/vxlan"
)

// Flood test parameters: a random-5-tuple flood (every flow seen once) plus
// one flow carrying 10 % of the packets, at 150 kpps into one worker, with
// dxprobe's default flow cap (flow.DefaultMaxFlows per worker).
const (
	floodDistinct = 1_500_000
	floodRate     = 150_000 // packets per second
	floodPeakRSS  = 256 << 20
)

func TestFloodOneWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("flood test sends 1.67 M packets (skipped with -short)")
	}
	port := freeUDPPort(t)
	p := startProbe(t, "-listen", fmt.Sprintf("127.0.0.1:%d", port), "-workers", "1", "-format", "json",
		"-window", "1m", "-metrics", "127.0.0.1:0")
	snd, err := reuseport.NewSender(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()

	heavySpec := vxlan.Spec{VNI: 12345, Src: netip.MustParseAddr("172.16.99.1"), Dst: netip.MustParseAddr("10.0.9.9"),
		Proto: vxlan.ProtoTCP, SrcPort: 45678, DstPort: 443, Length: 1500, Snap: 128}
	heavy, _ := vxlan.Append(nil, &heavySpec)
	floodSpec := vxlan.Spec{VNI: 12345, Src: netip.MustParseAddr("198.18.0.0"), Dst: netip.MustParseAddr("10.0.8.8"),
		Proto: vxlan.ProtoUDP, SrcPort: 1, DstPort: 1, Length: 100, Snap: 128}
	tmpl, _ := vxlan.Append(nil, &floodSpec)
	const (
		srcOff   = 8 + 14 + 12 // VXLAN, Ethernet, IPv4 source address
		portsOff = 8 + 14 + 20 // UDP ports
		batch    = 64
	)
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = append([]byte(nil), tmpl...)
	}
	out := make([][]byte, batch)
	var sentPackets, heavyPackets, floodPackets uint64
	next := uint32(0)
	start := time.Now()
	deadline := start.Add(2 * time.Minute)
	for next < floodDistinct {
		n := 0
		for n < batch && next < floodDistinct {
			if sentPackets%10 == 9 { // every tenth packet: the heavy flow
				out[n] = heavy
				heavyPackets++
			} else {
				b := bufs[n]
				// A distinct 5-tuple: source 198.18.x.y and both ports from the counter.
				binary.BigEndian.PutUint16(b[srcOff+2:], uint16(next>>16))
				binary.BigEndian.PutUint16(b[portsOff:], uint16(next))
				binary.BigEndian.PutUint16(b[portsOff+2:], uint16(next>>8)^0x5a5a)
				out[n] = b
				next++
				floodPackets++
			}
			n++
			sentPackets++
		}
		if _, err := snd.Send(out[:n]); err != nil {
			t.Fatal(err)
		}
		// Pace to floodRate: sleep until this batch's scheduled time.
		if due := start.Add(time.Duration(sentPackets) * time.Second / floodRate); time.Until(due) > 0 {
			time.Sleep(time.Until(due))
		}
		if time.Now().After(deadline) {
			t.Fatalf("flood did not finish within 2 minutes (%d sent)", sentPackets)
		}
	}
	p.waitMetric(t, "dxmon_probe_received_packets_total", float64(sentPackets))
	drops := p.metric(t, "dxmon_probe_kernel_drops_total")
	reps := p.stop(t)
	// The peak after exit, so that the window's merge and report at the
	// stop count too.
	hwm := peakRSSAfterExit(t, p)

	var total, heavyCounted uint64
	hk := flow.NewKey(heavySpec.Src, heavySpec.Dst, heavySpec.Proto, heavySpec.SrcPort, heavySpec.DstPort)
	for _, r := range reps {
		total += r.Packets
		if len(r.TopFlows) == 0 {
			continue
		}
		f := r.TopFlows[0]
		if k := flow.NewKey(f.Src, f.Dst, f.Proto, f.Sport, f.Dport); k != hk {
			t.Errorf("window %v: top flow %+v, want the heavy hitter", r.WindowStart, f)
		} else {
			heavyCounted += f.Packets
		}
	}
	if drops != 0 || total != sentPackets {
		t.Errorf("sent %d, counted %d, kernel drops %v: want every packet counted", sentPackets, total, drops)
	}
	if heavyCounted != heavyPackets {
		t.Errorf("heavy hitter counted %d packets, sent %d", heavyCounted, heavyPackets)
	}
	if hwm > floodPeakRSS {
		t.Errorf("peak RSS %d MiB, want at most %d MiB", hwm>>20, floodPeakRSS>>20)
	}
	t.Logf("flood: %d packets (%d distinct flows + %d heavy) in %v, %d windows, peak RSS %d MiB, flow cap %d per worker",
		sentPackets, floodPackets, heavyPackets, time.Since(start).Round(time.Millisecond), len(reps), hwm>>20, flow.DefaultMaxFlows)
}

// peakRSSAfterExit returns the exited process's peak resident set, from
// its rusage (ru_maxrss, in KiB on Linux).
func peakRSSAfterExit(t *testing.T, p *probeProc) uint64 {
	t.Helper()
	ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok || ru.Maxrss <= 0 {
		t.Skip("no rusage for the exited process")
	}
	return uint64(ru.Maxrss) << 10
}
