// Package gopacketoracle reads mirror captures with gopacket, a decoder
// nobody on this project wrote, so that tests can compare dxmon's counts
// with an independent reading of the same file.
package gopacketoracle

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/dxmon/dxmon/flow"
)

// Frames returns every frame of a pcap file, with its capture info.
func Frames(path string) ([][]byte, []gopacket.CaptureInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return nil, nil, fmt.Errorf("read pcap %s: %w", path, err)
	}
	var frames [][]byte
	var infos []gopacket.CaptureInfo
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return frames, infos, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read pcap %s: %w", path, err)
		}
		frames = append(frames, data)
		infos = append(infos, ci)
	}
}

// Flow reads one Ethernet frame carrying VXLAN or Geneve: the inner flow's
// key and the inner IP length its header declares. ok is false when
// gopacket finds no IP inside a tunnel.
func Flow(frame []byte) (k flow.Key, length uint64, ok bool) {
	pkt := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	tunnel, stage := false, 0
	var src, dst netip.Addr
	var proto uint8
	var sport, dport uint16
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
		return flow.Key{}, 0, false
	}
	return flow.NewKey(src, dst, proto, sport, dport), length, true
}

// Flows counts every inner flow of a capture: packets and inner IP bytes.
func Flows(path string) (map[flow.Key]flow.Counter, error) {
	frames, _, err := Frames(path)
	if err != nil {
		return nil, err
	}
	out := map[flow.Key]flow.Counter{}
	for _, f := range frames {
		k, length, ok := Flow(f)
		if !ok {
			continue
		}
		c := out[k]
		out[k] = flow.Counter{Packets: c.Packets + 1, Bytes: c.Bytes + length}
	}
	return out, nil
}
