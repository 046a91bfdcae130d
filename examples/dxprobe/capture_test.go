package main

import (
	"errors"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/dxmon/dxmon/flow"
)

// gopacketFlows reads a capture with gopacket, an independent decoder: for
// every VXLAN (UDP 4789) or Geneve (UDP 6081) frame carrying IP, the inner
// 5-tuple and IP length.
func gopacketFlows(t *testing.T, path string) map[flow.Key]flow.Counter {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	out := map[flow.Key]flow.Counter{}
	for {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		pkt := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		tunnel, stage := false, 0
		var src, dst netip.Addr
		var proto uint8
		var sport, dport uint16
		var length uint64
		for _, l := range pkt.Layers() {
			switch v := l.(type) {
			case *layers.VXLAN, *layers.Geneve:
				tunnel = true
			case *layers.IPv4:
				if tunnel && stage == 0 {
					src, _ = netip.AddrFromSlice(v.SrcIP.To4())
					dst, _ = netip.AddrFromSlice(v.DstIP.To4())
					proto, length, stage = uint8(v.Protocol), uint64(v.Length), 1
				}
			case *layers.IPv6:
				if tunnel && stage == 0 {
					src, _ = netip.AddrFromSlice(v.SrcIP)
					dst, _ = netip.AddrFromSlice(v.DstIP)
					proto, length, stage = uint8(v.NextHeader), 40+uint64(v.Length), 1
				}
			case *layers.TCP:
				if stage == 1 {
					sport, dport, stage = uint16(v.SrcPort), uint16(v.DstPort), 2
				}
			case *layers.UDP:
				if stage == 1 {
					sport, dport, stage = uint16(v.SrcPort), uint16(v.DstPort), 2
				}
			}
		}
		if stage == 0 {
			continue
		}
		k := flow.NewKey(src, dst, proto, sport, dport)
		c := out[k]
		out[k] = flow.Counter{Packets: c.Packets + 1, Bytes: c.Bytes + length}
	}
}

// TestReadCaptures: dxprobe -r on real captures from tcpdump's test suite
// and on the sample capture reports the flows gopacket finds.
func TestReadCaptures(t *testing.T) {
	files := []string{
		filepath.Join("..", "..", "testdata", "pcap", "vxlan.pcap"),
		filepath.Join("..", "..", "testdata", "pcap", "geneve.pcap"),
		filepath.Join("..", "..", "testdata", "pcap", "gso-ipv4-vxlan-ipv4.pcap"),
		filepath.Join("..", "..", "testdata", "mirror-sample.pcap"),
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			want := gopacketFlows(t, path)
			if len(want) == 0 {
				t.Fatalf("gopacket found no flow in %s", path)
			}
			out, err := exec.Command(probeBin, "-r", path, "-format", "json", "-top", "1000").Output()
			if err != nil {
				t.Fatalf("dxprobe -r %s: %v", path, err)
			}
			_, _, got := sumReports(parseReports(t, out))
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("dxprobe differs from gopacket (-gopacket +dxprobe):\n%s", d)
			}
		})
	}
}

// TestReadCaptureText: the README's quick start prints a readable table.
func TestReadCaptureText(t *testing.T) {
	out, err := exec.Command(probeBin, "-r", filepath.Join("..", "..", "testdata", "mirror-sample.pcap")).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"TOP FLOWS", "172.16.20.15:50412 -> 10.0.1.50:443", "TOP SOURCES", "TOP DESTINATION PORTS", "Mbps", "skipped: outer_port=1"} {
		if !contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }
