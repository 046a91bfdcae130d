package main

import (
	"flag"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/dxmon/dxmon/flow"
	"github.com/dxmon/dxmon/vxlan"
)

// microResult is one Go micro-benchmark over repeated runs.
type microResult struct {
	Group       string `json:"group"` // "decode" or "flow update"
	Case        string `json:"case"`  // packet kind or table size
	Impl        string `json:"impl"`  // "dxmon", "gopacket", "go map"
	NsPerOp     stat   `json:"ns_per_op"`
	AllocsPerOp int64  `json:"allocs_per_op"`
}

// microBench is one benchmark function to repeat.
type microBench struct {
	group, name, impl string
	fn                func(b *testing.B)
}

// setBenchtime sets how long testing.Benchmark runs each function.
func setBenchtime(d time.Duration) error {
	testing.Init() // registers test.benchtime on flag.CommandLine; a no-op under go test
	return flag.CommandLine.Set("test.benchtime", d.String())
}

// runMicro runs every micro-benchmark reps times, interleaved, and keeps the
// median, minimum and maximum ns/op.
func runMicro(reps int, benchtime time.Duration, geneve bool) ([]microResult, error) {
	if err := setBenchtime(benchtime); err != nil {
		return nil, err
	}
	benches, err := microBenches(geneve)
	if err != nil {
		return nil, err
	}
	samples := make([][]float64, len(benches))
	allocs := make([]int64, len(benches))
	for range reps {
		for i, mb := range benches {
			r := testing.Benchmark(mb.fn)
			if r.N == 0 {
				return nil, fmt.Errorf("benchmark %s %s %s failed", mb.group, mb.name, mb.impl)
			}
			samples[i] = append(samples[i], float64(r.T.Nanoseconds())/float64(r.N))
			allocs[i] = r.AllocsPerOp()
		}
	}
	var out []microResult
	for i, mb := range benches {
		out = append(out, microResult{Group: mb.group, Case: mb.name, Impl: mb.impl, NsPerOp: statOf(samples[i]), AllocsPerOp: allocs[i]})
	}
	return out, nil
}

func microBenches(geneve bool) ([]microBench, error) {
	cases := []struct {
		name string
		spec vxlan.Spec
	}{
		{"IPv4 TCP", vxlan.Spec{VNI: 12345, Src: netip.MustParseAddr("10.0.1.5"), Dst: netip.MustParseAddr("172.16.8.9"),
			Proto: vxlan.ProtoTCP, SrcPort: 443, DstPort: 51514, Length: 1500, Snap: 128}},
		{"IPv6 TCP", vxlan.Spec{VNI: 12345, Src: netip.MustParseAddr("2001:db8::5"), Dst: netip.MustParseAddr("2001:db8:1::9"),
			Proto: vxlan.ProtoTCP, SrcPort: 443, DstPort: 51514, Length: 1500, Snap: 128}},
	}
	if geneve {
		cases = append(cases, struct {
			name string
			spec vxlan.Spec
		}{"Geneve IPv4 UDP", vxlan.Spec{Geneve: true, GeneveOptions: 8, VNI: 7, Src: netip.MustParseAddr("10.0.1.5"),
			Dst: netip.MustParseAddr("172.16.8.9"), Proto: vxlan.ProtoUDP, SrcPort: 53, DstPort: 40000, Length: 512, Snap: 128}})
	}
	var out []microBench
	for _, c := range cases {
		pkt, err := vxlan.Append(nil, &c.spec)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", c.name, err)
		}
		gen := c.spec.Geneve
		out = append(out, microBench{"decode", c.name, "dxmon", func(b *testing.B) {
			var p vxlan.Packet
			b.ReportAllocs()
			for b.Loop() {
				var r vxlan.Reason
				if gen {
					r = p.DecodeGeneve(pkt)
				} else {
					r = p.Decode(pkt)
				}
				if r != vxlan.OK {
					b.Fatal("decode failed")
				}
			}
		}})
		out = append(out, microBench{"decode", c.name, "gopacket", func(b *testing.B) {
			b.ReportAllocs()
			if gen { // gopacket's Geneve is not a DecodingLayer: NewPacket is its only way in
				for b.Loop() {
					p := gopacket.NewPacket(pkt, layers.LayerTypeGeneve, gopacket.DecodeOptions{NoCopy: true, Lazy: true})
					if p.TransportLayer() == nil {
						b.Fatal("gopacket found no transport layer")
					}
				}
				return
			}
			var (
				vx      layers.VXLAN
				eth     layers.Ethernet
				ip4     layers.IPv4
				ip6     layers.IPv6
				tcp     layers.TCP
				udp     layers.UDP
				decoded = make([]gopacket.LayerType, 0, 8)
			)
			parser := gopacket.NewDecodingLayerParser(layers.LayerTypeVXLAN, &vx, &eth, &ip4, &ip6, &tcp, &udp)
			parser.IgnoreUnsupported = true
			for b.Loop() {
				_ = parser.DecodeLayers(pkt, &decoded)
				if len(decoded) < 4 {
					b.Fatalf("gopacket decoded only %v", decoded)
				}
			}
		}})
	}
	const n = 100_000
	keys := make([]flow.Key, n)
	hashes := make([]uint64, n)
	for i := range keys {
		keys[i] = flow.NewKey(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}),
			netip.MustParseAddr("172.16.0.1"), vxlan.ProtoTCP, uint16(1024+i%50000), 443)
		hashes[i] = keys[i].Hash()
	}
	// Keys are read in order, as packets arrive (their bytes are in cache,
	// as a decoded packet's are); the slots they hash to are scattered over
	// the table. Every table and map first holds all n flows, so that the
	// timed loop updates flows already held (the steady state of a window)
	// and page faults of first touches stay out of the figure.
	next := func(j int) int {
		if j++; j == n {
			return 0
		}
		return j
	}
	full := func(b *testing.B) *flow.Table {
		t, err := flow.NewTable(n)
		if err != nil {
			b.Fatal(err)
		}
		for j := range keys {
			t.Add(&keys[j], hashes[j], 100)
		}
		return t
	}
	out = append(out, microBench{"flow update", "100k flows", "dxmon Add", func(b *testing.B) {
		t := full(b)
		b.ReportAllocs()
		j := 0
		for b.Loop() {
			t.Add(&keys[j], hashes[j], 100)
			j = next(j)
		}
	}})
	// AddBatch is what a worker calls once per recvmmsg batch: its first
	// pass starts every slot's cache miss, so the misses overlap.
	batch := func(hash bool) func(b *testing.B) {
		return func(b *testing.B) {
			t := full(b)
			const size = 64
			hs, sizes := make([]uint64, size), make([]uint64, size)
			for i := range sizes {
				sizes[i] = 100
			}
			b.ReportAllocs()
			j := 0
			for b.Loop() { // one op is one packet; a batch every 64 ops
				if j%size == 0 {
					if j+size > n {
						j = 0
					}
					ks := keys[j : j+size]
					if hash {
						for i := range ks {
							hs[i] = ks[i].Hash()
						}
						t.AddBatch(ks, hs, sizes)
					} else {
						t.AddBatch(ks, hashes[j:j+size], sizes)
					}
				}
				j++
			}
		}
	}
	out = append(out, microBench{"flow update", "100k flows", "dxmon AddBatch(64)", batch(false)})
	out = append(out, microBench{"flow update", "100k flows", "dxmon AddBatch(64) + key hash", batch(true)})
	out = append(out, microBench{"flow update", "100k flows", "go map", func(b *testing.B) {
		m := make(map[flow.Key]flow.Counter, n)
		for _, k := range keys {
			m[k] = flow.Counter{Packets: 1, Bytes: 100}
		}
		b.ReportAllocs()
		j := 0
		for b.Loop() {
			c := m[keys[j]]
			m[keys[j]] = flow.Counter{Packets: c.Packets + 1, Bytes: c.Bytes + 100}
			j = next(j)
		}
	}})
	return out, nil
}
