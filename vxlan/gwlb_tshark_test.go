package vxlan_test

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/dxmon/dxmon/vxlan"
)

// TestGWLBAgreesWithTshark writes GWLB-in-VXLAN frames (IPv4 and IPv6
// clients, TCP and UDP, an 802.1Q tag, AWS's options plus foreign ones, a
// 128-byte cut) to a capture and compares dxmon's reading of each frame
// with tshark's dissection: the innermost IP header's addresses, protocol
// and length, its ports, and the GWLB endpoint ID in AWS's option.
func TestGWLBAgreesWithTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		if v, _ := strconv.ParseBool(os.Getenv("CI")); v {
			t.Fatalf("tshark not installed (required in CI): %v", err)
		}
		t.Skipf("tshark not installed: %v", err)
	}
	a := netip.MustParseAddr
	specs := []vxlan.Spec{
		{GWLB: true, GWLBEndpointID: 0x0123456789abcdef, GWLBFlowCookie: 1, VNI: 12345, Src: a("192.0.2.1"), Dst: a("192.0.2.200"),
			Proto: vxlan.ProtoTCP, SrcPort: 443, DstPort: 51514, Length: 1500, Snap: 128},
		{GWLB: true, GWLBEndpointID: 0x0fedcba987654321, GWLBFlowCookie: 2, VNI: 12345, Src: a("2001:db8:2::1"), Dst: a("2001:db8:2:1::5"),
			Proto: vxlan.ProtoUDP, SrcPort: 5000, DstPort: 53, Length: 200},
		{GWLB: true, GWLBEndpointID: 7, GWLBAttachmentID: 9, GWLBFlowCookie: 3, GWLBExtraOptions: 8, VLANs: []uint16{100}, VNI: 1,
			Src: a("192.0.2.2"), Dst: a("192.0.2.201"), Proto: vxlan.ProtoUDP, SrcPort: 1234, DstPort: 9999, Length: 300},
		{GWLB: true, GWLBEndpointID: 8, VNI: 2, Src: a("2001:db8:2::2"), Dst: a("2001:db8:2:1::6"), Proto: vxlan.ProtoTCP,
			SrcPort: 40000, DstPort: 443, Length: 120},
	}
	path := filepath.Join(t.TempDir(), "gwlb.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	var frames [][]byte
	for i := range specs {
		payload, err := vxlan.Append(nil, &specs[i])
		if err != nil {
			t.Fatal(err)
		}
		frame := vxlan.Frame(nil, a("198.18.2.2"), a("198.18.2.1"), 40000, 4789, payload)
		frames = append(frames, frame)
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, 0), CaptureLength: len(frame), Length: len(frame)}
		if err := w.WritePacket(ci, frame); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	fields := []string{"frame.protocols", "ip.src", "ip.dst", "ip.len", "ip.proto", "ipv6.src", "ipv6.dst", "ipv6.plen", "ipv6.nxt",
		"tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport", "vxlan.vni", "geneve.option.class", "geneve.option.type", "geneve.option.unknown.data"}
	args := []string{"-r", path, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=;", "-E", "separator=\t", "-d", "udp.port==6081,geneve"}
	for _, fl := range fields {
		args = append(args, "-e", fl)
	}
	out, err := exec.Command(tshark, args...).Output()
	if err != nil {
		t.Fatalf("tshark %v: %v", args, err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != len(frames) {
		t.Fatalf("tshark printed %d lines for %d frames:\n%s", len(lines), len(frames), out)
	}
	for i, line := range lines {
		col := map[string][]string{}
		for j, v := range strings.Split(line, "\t") {
			if v != "" && j < len(fields) {
				col[fields[j]] = strings.Split(v, ";")
			}
		}
		last := func(k string) string {
			if v := col[k]; len(v) > 0 {
				return v[len(v)-1]
			}
			return ""
		}
		num := func(k string) uint64 {
			s := last(k)
			n, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), map[bool]int{true: 16, false: 10}[strings.HasPrefix(s, "0x")], 64)
			if err != nil {
				t.Fatalf("frame %d: tshark field %s=%q: %v\n%s", i+1, k, s, err, line)
			}
			return n
		}
		protos := strings.Split(last("frame.protocols"), ":")
		innermost := ""
		for _, p := range protos {
			if p == "ip" || p == "ipv6" {
				innermost = p
			}
		}
		var src, dst netip.Addr
		var length, proto uint64
		if innermost == "ip" {
			src, dst, length, proto = netip.MustParseAddr(last("ip.src")), netip.MustParseAddr(last("ip.dst")), num("ip.len"), num("ip.proto")
		} else {
			src, dst, length, proto = netip.MustParseAddr(last("ipv6.src")), netip.MustParseAddr(last("ipv6.dst")), 40+num("ipv6.plen"), num("ipv6.nxt")
		}
		var sport, dport uint64
		if proto == 6 {
			sport, dport = num("tcp.srcport"), num("tcp.dstport")
		} else {
			sport, dport = num("udp.srcport"), num("udp.dstport")
		}
		// AWS's endpoint-ID option: class 0x0108, type 1.
		var endpoint uint64
		classes, types, data := col["geneve.option.class"], col["geneve.option.type"], col["geneve.option.unknown.data"]
		for j := range classes {
			if j < len(types) && j < len(data) && (classes[j] == "0x0108" || classes[j] == "264") && (types[j] == "0x01" || types[j] == "1") {
				endpoint, _ = strconv.ParseUint(strings.ReplaceAll(data[j], ":", ""), 16, 64)
			}
		}
		var p vxlan.Packet
		if r := p.DecodeFrame(frames[i], vxlan.PortVXLAN); r != vxlan.OK {
			t.Errorf("frame %d: reason %v; tshark: %s", i+1, r, line)
			continue
		}
		if uint64(p.VNI) != num("vxlan.vni") || p.SrcAddr() != src || p.DstAddr() != dst || uint64(p.Length) != length ||
			uint64(p.Proto) != proto || uint64(p.SrcPort) != sport || uint64(p.DstPort) != dport || p.GWLB.EndpointID != endpoint {
			t.Errorf("frame %d: dxmon vni=%d %v->%v len=%d proto=%d ports %d->%d endpoint %#x; tshark vni=%d %v->%v len=%d proto=%d ports %d->%d endpoint %#x\n%s",
				i+1, p.VNI, p.SrcAddr(), p.DstAddr(), p.Length, p.Proto, p.SrcPort, p.DstPort, p.GWLB.EndpointID,
				num("vxlan.vni"), src, dst, length, proto, sport, dport, endpoint, line)
		}
	}
}
