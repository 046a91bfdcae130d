// Command mkcapture writes testdata/mirror-sample.pcap, the capture the
// README's quick start feeds to dxprobe: two 5-second windows of VPC
// Traffic Mirroring packets (VXLAN, VNI 12345, frames cut to 128 bytes)
// with a few heavy talkers among many light flows, IPv4 and IPv6, plus a
// little noise that dxprobe must skip. It is deterministic: rerunning it
// gives the same file.
//
//	go run ./internal/mkcapture -o testdata/mirror-sample.pcap
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/dxmon/dxmon/vxlan"
)

type talker struct {
	spec   vxlan.Spec
	weight int // packets per window
}

func main() {
	out := flag.String("o", "testdata/mirror-sample.pcap", "output file")
	flag.Parse()
	if err := write(*out); err != nil {
		fmt.Fprintln(os.Stderr, "mkcapture:", err)
		os.Exit(1)
	}
}

func write(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return err
	}
	a := netip.MustParseAddr
	heavy := []talker{
		// An on-prem backup host pushing to an S3 gateway endpoint's ENI.
		{vxlan.Spec{Src: a("172.16.20.15"), Dst: a("10.0.1.50"), Proto: vxlan.ProtoTCP, SrcPort: 50412, DstPort: 443, Length: 1500}, 200},
		// A database replica pulling over IPv6.
		{vxlan.Spec{Src: a("2001:db8:10::25"), Dst: a("2001:db8:ac10::7"), Proto: vxlan.ProtoTCP, SrcPort: 5432, DstPort: 41022, Length: 1440}, 300},
		// Video conferencing over UDP.
		{vxlan.Spec{Src: a("192.168.40.7"), Dst: a("10.0.2.31"), Proto: vxlan.ProtoUDP, SrcPort: 3478, DstPort: 50000, Length: 1200}, 200},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	mirrorSrc, probe := a("10.0.3.10"), a("10.0.3.200") // appliance ENI -> NLB/probe
	base := time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)
	var buf, frame []byte
	for win := 0; win < 2; win++ {
		var pkts []vxlan.Spec
		for _, h := range heavy {
			for range h.weight * (win + 1) {
				pkts = append(pkts, h.spec)
			}
		}
		for i := range 400 { // light flows: DNS, HTTPS, SSH from many hosts
			s := vxlan.Spec{Src: netip.AddrFrom4([4]byte{172, 16, byte(rng.IntN(8)), byte(1 + rng.IntN(250))}),
				Dst: netip.AddrFrom4([4]byte{10, 0, byte(1 + rng.IntN(3)), byte(1 + rng.IntN(60))}), Proto: vxlan.ProtoTCP,
				SrcPort: uint16(32768 + rng.IntN(28000)), DstPort: []uint16{443, 22, 8080}[i%3], Length: 60 + rng.IntN(900)}
			if i%7 == 0 {
				s.Proto, s.DstPort, s.Length = vxlan.ProtoUDP, 53, 80+rng.IntN(100)
			}
			if i%11 == 0 {
				s.Src = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0x10, 14: byte(rng.IntN(256)), 15: byte(rng.IntN(256))})
				s.Dst = a("2001:db8:ac10::7")
			}
			for range 1 + rng.IntN(4) {
				pkts = append(pkts, s)
			}
		}
		rng.Shuffle(len(pkts), func(i, j int) { pkts[i], pkts[j] = pkts[j], pkts[i] })
		t0 := base.Add(time.Duration(win) * 5 * time.Second)
		for i, s := range pkts {
			s.VNI, s.Snap = 12345, 128
			buf, err = vxlan.Append(buf[:0], &s)
			if err != nil {
				return err
			}
			frame = vxlan.Frame(frame[:0], mirrorSrc, probe, uint16(49152+i%1000), vxlan.PortVXLAN, buf)
			ts := t0.Add(time.Duration(i) * (5 * time.Second) / time.Duration(len(pkts)+1))
			if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(frame), Length: len(frame)}, frame); err != nil {
				return err
			}
		}
		// Noise: a packet of another VNI is counted; a non-VXLAN UDP packet is skipped.
		noise := vxlan.Frame(nil, mirrorSrc, probe, 5353, 5353, []byte("not a mirror packet"))
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: t0.Add(4 * time.Second), CaptureLength: len(noise), Length: len(noise)}, noise); err != nil {
			return err
		}
	}
	return nil
}
