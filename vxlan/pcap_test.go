package vxlan_test

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/gopacket/layers"

	"github.com/dxmon/dxmon/internal/gopacketoracle"
	"github.com/dxmon/dxmon/vxlan"
)

var captures = []string{"vxlan.pcap", "geneve.pcap", "gso-ipv4-vxlan-ipv4.pcap"}

func readCapture(t *testing.T, name string) [][]byte {
	t.Helper()
	frames, _, err := gopacketoracle.Frames(filepath.Join("..", "testdata", "pcap", name))
	if err != nil {
		t.Fatal(err)
	}
	return frames
}

// TestCapturesAgreeWithGopacket decodes real captures from tcpdump's test
// suite and compares every frame with gopacket.
func TestCapturesAgreeWithGopacket(t *testing.T) {
	for _, name := range captures {
		t.Run(name, func(t *testing.T) {
			decoded := 0
			for i, frame := range readCapture(t, name) {
				var p vxlan.Packet
				r := p.DecodeFrame(frame, vxlan.PortVXLAN)
				o, ok := gopacketDecode(frame, layers.LayerTypeEthernet)
				if r != vxlan.OK {
					if r == vxlan.NotIP && ok && o.version != 0 && o.src.IsValid() && o.vni == 0 {
						continue
					}
					if r != vxlan.NotIP {
						t.Errorf("frame %d: reason %v", i+1, r)
					}
					continue
				}
				if !ok {
					t.Errorf("frame %d: dxmon decoded, gopacket found no IP", i+1)
					continue
				}
				if p.LengthCaptured {
					o.length = p.Length // gopacket reports the TSO length its own way
				}
				compareOracle(t, &p, o)
				decoded++
			}
			if decoded == 0 {
				t.Fatalf("%s: no frame decoded", name)
			}
		})
	}
}

// TestCapturesAgreeWithTshark compares every frame of the captures with
// tshark's dissection. tshark must be installed in CI (.ci/run installs it).
func TestCapturesAgreeWithTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		if v, _ := strconv.ParseBool(os.Getenv("CI")); v {
			t.Fatalf("tshark not installed (required in CI): %v", err)
		}
		t.Skipf("tshark not installed: %v", err)
	}
	fields := []string{"vxlan.vni", "geneve.vni", "ip.src", "ip.dst", "ip.len", "ip.proto",
		"ipv6.src", "ipv6.dst", "ipv6.plen", "ipv6.nxt", "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport"}
	for _, name := range captures {
		t.Run(name, func(t *testing.T) {
			args := []string{"-r", filepath.Join("..", "testdata", "pcap", name), "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,", "-E", "separator=\t"}
			for _, f := range fields {
				args = append(args, "-e", f)
			}
			out, err := exec.Command(tshark, args...).Output()
			if err != nil {
				t.Fatalf("tshark %v: %v", args, err)
			}
			lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
			frames := readCapture(t, name)
			if len(lines) != len(frames) {
				t.Fatalf("tshark printed %d lines for %d frames", len(lines), len(frames))
			}
			for i, line := range lines {
				col := map[string][]string{}
				for j, v := range strings.Split(line, "\t") {
					if v != "" {
						col[fields[j]] = strings.Split(v, ",")
					}
				}
				var p vxlan.Packet
				r := p.DecodeFrame(frames[i], vxlan.PortVXLAN)
				inner4 := len(col["ip.src"]) == 2
				inner6 := len(col["ipv6.src"]) == 2 || (len(col["ip.src"]) == 1 && len(col["ipv6.src"]) == 1)
				if !inner4 && !inner6 {
					if r == vxlan.OK {
						t.Errorf("frame %d: dxmon decoded what tshark sees as no inner IP: %q", i+1, line)
					}
					continue
				}
				if r != vxlan.OK {
					t.Errorf("frame %d: reason %v, tshark: %q", i+1, r, line)
					continue
				}
				last := func(k string) string { v := col[k]; return v[len(v)-1] }
				num := func(k string) uint64 {
					s := last(k)
					n, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), map[bool]int{true: 16, false: 10}[strings.HasPrefix(s, "0x")], 32)
					if err != nil {
						t.Fatalf("frame %d: tshark field %s=%q: %v", i+1, k, s, err)
					}
					return n
				}
				vni := "vxlan.vni"
				if p.Encap == vxlan.EncapGeneve {
					vni = "geneve.vni"
				}
				var src, dst netip.Addr
				var length, proto uint64
				if inner4 {
					src, dst = netip.MustParseAddr(last("ip.src")), netip.MustParseAddr(last("ip.dst"))
					length, proto = num("ip.len"), num("ip.proto")
				} else {
					src, dst = netip.MustParseAddr(last("ipv6.src")), netip.MustParseAddr(last("ipv6.dst"))
					length, proto = 40+num("ipv6.plen"), num("ipv6.nxt")
				}
				var sport, dport uint64
				switch proto {
				case 6:
					sport, dport = num("tcp.srcport"), num("tcp.dstport")
				case 17:
					if len(col["udp.srcport"]) == 2 {
						sport, dport = num("udp.srcport"), num("udp.dstport")
					}
				}
				if uint64(p.VNI) != num(vni) || p.SrcAddr() != src || p.DstAddr() != dst || uint64(p.Length) != length ||
					uint64(p.Proto) != proto || uint64(p.SrcPort) != sport || uint64(p.DstPort) != dport {
					t.Errorf("frame %d: dxmon vni=%d %v->%v len=%d proto=%d ports %d->%d; tshark vni=%d %v->%v len=%d proto=%d ports %d->%d",
						i+1, p.VNI, p.SrcAddr(), p.DstAddr(), p.Length, p.Proto, p.SrcPort, p.DstPort,
						num(vni), src, dst, length, proto, sport, dport)
				}
			}
		})
	}
}
