#!/bin/sh
# ab-worker.sh: A/B timing of a probe worker's packet path (decode, VNI and
# on-premises filters, direction, hash, sample, count: Worker.HandleBatch),
# the working tree's probe package against the one at a base commit, in one
# process, rounds interleaved (single go test -bench runs on a shared VM
# vary by 2x; ratios taken within one round do not).
#
#   bench/ab-worker.sh [base-commit] [rounds] [batches-per-round]
#   bench/ab-worker.sh 302b199 200 2000
#
# It copies both probe packages (non-test files) into a scratch module under
# $TMPDIR that uses this repository for every other package (flow, vxlan,
# sample, report: the base's probe must compile against them), builds one
# program that feeds the same batches of 64 mirror packets to a worker of
# each in turn (order rotated every round), and prints per case the median
# of the per-round ratios new/old, the best ns/packet of each, and the
# allocations per packet of each (runtime.MemStats.Mallocs over all rounds).
set -eu
base=${1:-302b199}
rounds=${2:-200}
n=${3:-2000}
repo=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/old" "$dir/new"
for f in $(git -C "$repo" ls-tree --name-only "$base" probe/ | grep '\.go$' | grep -v '_test\.go$'); do
	git -C "$repo" show "$base:$f" >"$dir/old/$(basename "$f")"
done
for f in "$repo"/probe/*.go; do
	case $f in *_test.go) ;; *) cp "$f" "$dir/new/" ;; esac
done
# Each package gets its own timing loop, so that each side's code and loop
# keep their addresses whatever the size of the other (see ab-vxlan.sh).
for d in old new; do
	cat >"$dir/$d/zz_abloop.go" <<'LOOP'
package probe

// ABLoop hands src's batch to w n times (bench/ab-worker.sh).
//
//go:noinline
func ABLoop(w *Worker, src Source, batch, n int) {
	for range n {
		w.HandleBatch(src, batch)
	}
}
LOOP
done
cat >"$dir/go.mod" <<MOD
module ab

go 1.26

require github.com/dxmon/dxmon v0.0.0

replace github.com/dxmon/dxmon => $repo
MOD
cp "$repo/go.sum" "$dir/go.sum"
cat >"$dir/main.go" <<'GO'
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"time"

	"github.com/dxmon/dxmon/vxlan"

	old "ab/old"
	nw "ab/new"
)

// src is one batch, read again and again; it satisfies both packages'
// Source.
type src struct{ pkts [][]byte }

func (s *src) Read() (int, error)              { return len(s.pkts), nil }
func (s *src) Packet(i int) []byte             { return s.pkts[i] }
func (s *src) SetReadDeadline(time.Time) error { return nil }

func prefixes(ss ...string) (out []netip.Prefix) {
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// batch is 64 mirror packets of 64 flows, half on-premises to the VPC,
// half the other way (the new worker counts each direction).
func batch() *src {
	s := &src{}
	for i := range 64 {
		on, vpc := netip.AddrFrom4([4]byte{198, 18, 1, byte(i)}), netip.MustParseAddr("10.0.1.5")
		sp := vxlan.Spec{VNI: 12345, Src: on, Dst: vpc, Proto: vxlan.ProtoTCP, SrcPort: uint16(40000 + i), DstPort: 443, Length: 1500, Snap: 128}
		if i%2 == 1 {
			sp.Src, sp.Dst, sp.SrcPort, sp.DstPort = vpc, on, 443, uint16(40000+i)
		}
		b, err := vxlan.Append(nil, &sp)
		if err != nil {
			panic(err)
		}
		s.pkts = append(s.pkts, b)
	}
	return s
}

func main() {
	rounds := flag.Int("rounds", 200, "rounds")
	n := flag.Int("n", 2000, "batches per case per round")
	flag.Parse()
	onPrem, vpc := prefixes("198.18.0.0/16", "2001:db8:2::/64"), prefixes("10.0.0.0/8", "2001:db8:2:1::/64")
	type kase struct {
		name string
		run  func(int)
	}
	var cases []kase
	for _, filter := range []bool{false, true} {
		name := "plain"
		oc, nc := old.Config{}, nw.Config{}
		if filter {
			name = "onprem"
			oc.OnPrem, oc.VPC, nc.OnPrem, nc.VPC = onPrem, vpc, onPrem, vpc
		}
		op, err := old.New(oc, 1)
		if err != nil {
			panic(err)
		}
		np, err := nw.New(nc, 1)
		if err != nil {
			panic(err)
		}
		ow, nwk := op.Workers()[0], np.Workers()[0]
		ob, nb := batch(), batch()
		cases = append(cases,
			kase{"old-" + name, func(k int) { old.ABLoop(ow, ob, len(ob.pkts), k) }},
			kase{"new-" + name, func(k int) { nw.ABLoop(nwk, nb, len(nb.pkts), k) }})
	}
	for _, c := range cases {
		c.run(10) // warm: tables hold the flows
	}
	per := make([][]float64, len(cases))
	allocs := make([]uint64, len(cases))
	var ms runtime.MemStats
	for r := range *rounds {
		for i := range cases {
			k := (i + r) % len(cases)
			runtime.ReadMemStats(&ms)
			m0 := ms.Mallocs
			t := time.Now()
			cases[k].run(*n)
			d := time.Since(t)
			runtime.ReadMemStats(&ms)
			allocs[k] += ms.Mallocs - m0
			per[k] = append(per[k], float64(d.Nanoseconds())/float64(*n*64))
		}
	}
	fmt.Printf("%d rounds x %d batches of 64 packets per case\n", *rounds, *n)
	for i := 0; i < len(cases); i += 2 {
		o, nn := per[i], per[i+1]
		rs := make([]float64, len(o))
		for j := range o {
			rs[j] = nn[j] / o[j]
		}
		slices.Sort(rs)
		pk := float64(*rounds * *n * 64)
		fmt.Printf("%-13s / %-13s median %.3fx (p25 %.3f, p75 %.3f)  best %.2f / %.2f ns/packet  allocs/packet %.4f / %.4f\n",
			cases[i+1].name, cases[i].name, rs[len(rs)/2], rs[len(rs)/4], rs[3*len(rs)/4], slices.Min(nn), slices.Min(o),
			float64(allocs[i+1])/pk, float64(allocs[i])/pk)
	}
}
GO
cd "$dir"
GOFLAGS=-mod=mod go build -o ab . 
./ab -rounds "$rounds" -n "$n"
