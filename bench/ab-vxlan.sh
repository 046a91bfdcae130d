#!/bin/sh
# ab-vxlan.sh: A/B timing of vxlan.Decode, the working tree's package against
# the one at a base commit, in one process (single go test -bench runs on a
# shared VM vary by 2x; ratios taken within one round do not).
#
#   bench/ab-vxlan.sh [base-commit] [rounds] [packets-per-round]
#   bench/ab-vxlan.sh 8072f73 300 200000
#   CALLGRIND=1 bench/ab-vxlan.sh 8072f73    # instructions per decode instead
#
# It copies both packages (non-test files) into a scratch module under
# $TMPDIR, builds one program that decodes the same packets with each in
# turn (order rotated every round), and prints, per path, the median of the
# per-round ratios new/old-VXLAN-IPv4 etc. and the best ns/decode of each.
# With CALLGRIND=1 it runs each loop once under valgrind --tool=callgrind
# and prints instructions per decode (stable on a noisy VM).
set -eu
base=${1:-8072f73}
rounds=${2:-300}
n=${3:-200000}
repo=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/old" "$dir/new"
for f in $(git -C "$repo" ls-tree --name-only "$base" vxlan/ | grep '\.go$' | grep -v '_test\.go$'); do
	git -C "$repo" show "$base:$f" >"$dir/old/$(basename "$f")"
done
for f in "$repo"/vxlan/*.go; do
	case $f in *_test.go) ;; *) cp "$f" "$dir/new/" ;; esac
done
# Each package gets its own timing loop, so that the base's code and loop
# keep their addresses whatever the size of the new code (the linker places
# the base package first): a loop in main, after both, moved with the new
# code's size and made the base 35% slower in one build on an AMD EPYC.
for d in old new; do
	cat >"$dir/$d/zz_abloop.go" <<'LOOP'
package vxlan

// ABLoop decodes b n times (bench/ab-vxlan.sh).
//
//go:noinline
func ABLoop(p *Packet, b []byte, n int) (r Reason) {
	for range n {
		r |= p.Decode(b)
	}
	return r
}
LOOP
done
cat >"$dir/go.mod" <<'MOD'
module ab

go 1.26
MOD
cat >"$dir/main.go" <<'GO'
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"time"

	old "ab/old"
	vx "ab/new"
)

func spec(gwlb bool, src, dst string) *vx.Spec {
	return &vx.Spec{GWLB: gwlb, GWLBEndpointID: 0x0123456789abcdef, GWLBFlowCookie: 7, VNI: 12345,
		Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst),
		Proto: vx.ProtoTCP, SrcPort: 443, DstPort: 51514, Length: 1500, Snap: 128}
}

func main() {
	rounds := flag.Int("rounds", 300, "rounds")
	n := flag.Int("n", 200000, "packets per path per round")
	only := flag.String("only", "", "run one path once (old-v4, old-v6, new-v4, new-v6, new-gwlb4, new-gwlb6), for callgrind")
	flag.Parse()
	must := func(b []byte, err error) []byte {
		if err != nil {
			panic(err)
		}
		return b
	}
	v4 := must(vx.Append(nil, spec(false, "10.0.1.5", "172.16.8.9")))
	v6 := must(vx.Append(nil, spec(false, "2001:db8::5", "2001:db8:1::9")))
	g4 := must(vx.Append(nil, spec(true, "192.0.2.1", "192.0.2.2")))
	g6 := must(vx.Append(nil, spec(true, "2001:db8:2::1", "2001:db8:2::2")))
	var po old.Packet
	var pn vx.Packet
	type path struct {
		name string
		run  func(int) int
	}
	paths := []path{
		{"old-v4", func(n int) int { return int(old.ABLoop(&po, v4, n)) }},
		{"old-v6", func(n int) int { return int(old.ABLoop(&po, v6, n)) }},
		{"new-v4", func(n int) int { return int(vx.ABLoop(&pn, v4, n)) }},
		{"new-v6", func(n int) int { return int(vx.ABLoop(&pn, v6, n)) }},
		{"new-gwlb4", func(n int) int { return int(vx.ABLoop(&pn, g4, n)) }},
		{"new-gwlb6", func(n int) int { return int(vx.ABLoop(&pn, g6, n)) }},
	}
	for _, p := range paths[2:] {
		if p.run(1) != 0 {
			fmt.Fprintln(os.Stderr, p.name, "does not decode")
			os.Exit(1)
		}
	}
	if pn.Decode(g4); pn.GWLB.Has == 0 {
		fmt.Fprintln(os.Stderr, "gwlb4 not decoded as GWLB")
		os.Exit(1)
	}
	if *only != "" {
		for _, p := range paths {
			if p.name == *only {
				p.run(*n)
				return
			}
		}
		fmt.Fprintln(os.Stderr, "no path", *only)
		os.Exit(2)
	}
	ns := make([][]float64, len(paths))
	for r := range *rounds {
		for i := range paths {
			k := (i + r) % len(paths)
			t := time.Now()
			paths[k].run(*n)
			ns[k] = append(ns[k], float64(time.Since(t).Nanoseconds())/float64(*n))
		}
	}
	idx := func(name string) int {
		for i, p := range paths {
			if p.name == name {
				return i
			}
		}
		panic(name)
	}
	ratio := func(a, b string) {
		x, y := ns[idx(a)], ns[idx(b)]
		rs := make([]float64, len(x))
		for i := range x {
			rs[i] = x[i] / y[i]
		}
		slices.Sort(rs)
		fmt.Printf("%-10s / %-7s median %.3fx  (p25 %.3f, p75 %.3f)  best %.2f / %.2f ns\n", a, b,
			rs[len(rs)/2], rs[len(rs)/4], rs[3*len(rs)/4], slices.Min(x), slices.Min(y))
	}
	fmt.Printf("%d rounds x %d packets per path\n", *rounds, *n)
	ratio("new-v4", "old-v4")
	ratio("new-v6", "old-v6")
	ratio("new-gwlb4", "old-v4")
	ratio("new-gwlb6", "old-v4")
	ratio("new-gwlb6", "old-v6")
}
GO
cd "$dir"
go build -o ab .
if [ -z "${CALLGRIND:-}" ]; then
	./ab -rounds "$rounds" -n "$n"
	exit
fi
# Instructions per decode: Ir inclusive of the loop function, over n calls.
cn=1000000
for p in old-v4 old-v6 new-v4 new-v6 new-gwlb4 new-gwlb6; do
	case $p in old-*) fn=ab/old.ABLoop ;; *) fn=ab/new.ABLoop ;; esac
	GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 valgrind --tool=callgrind --callgrind-out-file="$dir/cg.$p" --toggle-collect="$fn" ./ab -only "$p" -n $cn >"$dir/vg.$p" 2>&1 || { head -40 "$dir/vg.$p"; exit 1; }
	ir=$(callgrind_annotate "$dir/cg.$p" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
	awk -v p="$p" -v ir="$ir" -v n=$cn 'BEGIN { printf "%-10s %6.1f instructions/decode\n", p, ir / n }'
done
