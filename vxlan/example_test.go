package vxlan_test

import (
	"fmt"
	"net/netip"

	"github.com/dxmon/dxmon/vxlan"
)

func ExamplePacket_Decode() {
	// A mirror packet as VPC Traffic Mirroring sends it: 128 bytes of a
	// 1500-byte TCP segment.
	pkt, _ := vxlan.Append(nil, &vxlan.Spec{
		VNI: 12345, Src: netip.MustParseAddr("10.0.1.5"), Dst: netip.MustParseAddr("172.16.8.9"),
		Proto: vxlan.ProtoTCP, SrcPort: 443, DstPort: 51514, Length: 1500, Snap: 128,
	})
	var p vxlan.Packet // reuse one per worker: Decode does not allocate
	if r := p.Decode(pkt); r != vxlan.OK {
		fmt.Println("skipped:", r)
		return
	}
	fmt.Printf("vni %d: %v:%d -> %v:%d proto %d, %d bytes\n",
		p.VNI, p.SrcAddr(), p.SrcPort, p.DstAddr(), p.DstPort, p.Proto, p.Length)

	// A frame that is not IP is counted by its reason.
	fmt.Println(p.Decode(pkt[:20]))
	// Output:
	// vni 12345: 10.0.1.5:443 -> 172.16.8.9:51514 proto 6, 1500 bytes
	// ethernet_truncated
}
