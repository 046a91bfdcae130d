package flow_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/dxmon/dxmon/flow"
)

// A worker counts into its own Table; the coordinator merges the tables of
// all workers and ranks them.
func ExampleMerged_Top() {
	a, _ := flow.NewTable(1000) // worker 0
	b, _ := flow.NewTable(1000) // worker 1
	add := func(t *flow.Table, src string, dport uint16, n int, size uint64) {
		k := flow.NewKey(netip.MustParseAddr(src), netip.MustParseAddr("10.0.1.50"), 6, 40000, dport)
		h := k.Hash() // computed once per packet, shared with the sampler
		for range n {
			t.Add(&k, h, size)
		}
	}
	add(a, "172.16.0.9", 443, 1000, 1500)
	add(b, "172.16.0.7", 22, 300, 100)
	add(b, "172.16.0.9", 443, 500, 1500) // the same flow on another worker

	m := flow.NewMerged()
	m.AddTable(a)
	m.AddTable(b)
	fmt.Println("total:", m.Total.Packets, "packets,", m.Total.Bytes, "bytes")
	for _, e := range m.Top(flow.DimFlow, 2) {
		fmt.Println(e.Key, e.Packets, e.Bytes)
	}
	for _, e := range m.Top(flow.DimPort, 1) {
		fmt.Println("top port:", e.Key.DstPort())
	}
	// Output:
	// total: 1800 packets, 2280000 bytes
	// 172.16.0.9:40000 > 10.0.1.50:443 proto 6 1500 2250000
	// 172.16.0.7:40000 > 10.0.1.50:22 proto 6 300 30000
	// top port: 443
}

func ExampleWindowStart() {
	t := mustTime("2026-11-26T09:30:07.250Z")
	fmt.Println(flow.WindowStart(t, 5e9).Format("15:04:05.000"))
	// Output: 09:30:05.000
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}
