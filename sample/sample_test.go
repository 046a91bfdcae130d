package sample_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"testing"

	"pgregory.net/rapid"

	"github.com/dxmon/dxmon/flow"
	"github.com/dxmon/dxmon/sample"
)

func TestNewRejectsBadRates(t *testing.T) {
	for _, r := range []float64{0, -0.5, 1.0000001, 2, math.NaN(), math.Inf(1), math.Inf(-1)} {
		if _, err := sample.New(r); err == nil {
			t.Errorf("New(%v) accepted", r)
		}
	}
	for _, r := range []float64{1, 0.5, 1e-9} {
		s, err := sample.New(r)
		if err != nil || s.Rate() != r || s.Scale() != 1/r {
			t.Errorf("New(%v) = %+v, %v", r, s, err)
		}
	}
}

// TestHashIsStable pins the flow hash: a change would make probes of two
// versions sample different flows.
func TestHashIsStable(t *testing.T) {
	k := flow.NewKey(netip.MustParseAddr("10.0.1.5"), netip.MustParseAddr("172.16.8.9"), 6, 443, 51514)
	const want = 0x703cab052782031e
	if got := k.Hash(); got != want {
		t.Fatalf("hash of %v = %#x, want %#x", k, got, uint64(want))
	}
}

func TestKeepAllAtRateOne(t *testing.T) {
	s, _ := sample.New(1)
	for _, h := range []uint64{0, 1, math.MaxUint64} {
		if !s.Keep(h) {
			t.Errorf("rate 1 skipped hash %#x", h)
		}
	}
}

func genKey(t *rapid.T, label string) flow.Key {
	a := netip.AddrFrom4([4]byte(rapid.SliceOfN(rapid.Byte(), 4, 4).Draw(t, label+"src")))
	b := netip.AddrFrom4([4]byte(rapid.SliceOfN(rapid.Byte(), 4, 4).Draw(t, label+"dst")))
	return flow.NewKey(a, b, rapid.SampledFrom([]uint8{6, 17}).Draw(t, label+"proto"),
		rapid.Uint16().Draw(t, label+"sport"), rapid.Uint16().Draw(t, label+"dport"))
}

// TestDeterministic: two samplers (two workers, two probes, a restart)
// decide the same for the same 5-tuple.
func TestDeterministic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rate := rapid.Float64Range(1e-6, 1).Draw(t, "rate")
		a, _ := sample.New(rate)
		b, _ := sample.New(rate)
		k := genKey(t, "")
		k2 := k // a copy made elsewhere
		if a.Keep(k.Hash()) != b.Keep(k2.Hash()) {
			t.Fatalf("rate %v: decisions differ for %v", rate, k)
		}
	})
}

// TestKeptFractionBinomial: over n random flows the kept count is within
// 5 standard deviations of n×rate (a false failure has odds below 1e-6).
func TestKeptFractionBinomial(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rate := rapid.Float64Range(0.01, 1).Draw(t, "rate")
		seed := rapid.Uint64().Draw(t, "seed")
		s, _ := sample.New(rate)
		rng := rand.New(rand.NewPCG(seed, 1))
		const n = 20000
		kept := 0
		for range n {
			var a, b [4]byte
			binary.BigEndian.PutUint32(a[:], rng.Uint32())
			binary.BigEndian.PutUint32(b[:], rng.Uint32())
			k := flow.NewKey(netip.AddrFrom4(a), netip.AddrFrom4(b), 6, uint16(rng.Uint32()), uint16(rng.Uint32()))
			if s.Keep(k.Hash()) {
				kept++
			}
		}
		mean, sd := n*rate, math.Sqrt(n*rate*(1-rate))
		if math.Abs(float64(kept)-mean) > 5*sd+1 {
			t.Fatalf("rate %v: kept %d of %d, expected %.0f ± %.0f", rate, kept, n, mean, 5*sd)
		}
	})
}

// TestScaledSumUnbiased: with Zipf-distributed flow sizes (a few elephants,
// many mice), the kept bytes × 1/rate estimate the true total within 5
// standard deviations of the Horvitz–Thompson estimator: σ² = (1/r − 1) Σ sᵢ².
func TestScaledSumUnbiased(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rate := rapid.SampledFrom([]float64{0.1, 0.25, 0.5, 0.9}).Draw(t, "rate")
		seed := rapid.Uint64().Draw(t, "seed")
		s, _ := sample.New(rate)
		rng := rand.New(rand.NewPCG(seed, 2))
		zipf := rand.NewZipf(rand.New(rand.NewPCG(seed, 3)), 1.2, 1, 1<<20)
		var truth, est, sumSq float64
		for range 5000 {
			var a [4]byte
			binary.BigEndian.PutUint32(a[:], rng.Uint32())
			k := flow.NewKey(netip.AddrFrom4(a), netip.MustParseAddr("192.0.2.1"), 17, uint16(rng.Uint32()), 53)
			size := float64(zipf.Uint64()+1) * 100
			truth += size
			sumSq += size * size
			if s.Keep(k.Hash()) {
				est += size * s.Scale()
			}
		}
		sd := math.Sqrt((1/rate - 1) * sumSq)
		if math.Abs(est-truth) > 5*sd {
			t.Fatalf("rate %v: estimate %.0f, truth %.0f, 5σ = %.0f", rate, est, truth, 5*sd)
		}
	})
}

func BenchmarkHashAndKeep(b *testing.B) {
	s, _ := sample.New(0.5)
	k := flow.NewKey(netip.MustParseAddr("10.0.1.5"), netip.MustParseAddr("172.16.8.9"), 6, 443, 51514)
	b.ReportAllocs()
	kept := 0
	for b.Loop() {
		k[33]++
		if s.Keep(k.Hash()) {
			kept++
		}
	}
	_ = kept
}

func ExampleSampler() {
	s, err := sample.New(0.25) // keep a quarter of the flows
	if err != nil {
		panic(err)
	}
	kept, weighted := 0, 0.0
	for port := range uint16(1000) {
		k := flow.NewKey(netip.MustParseAddr("10.0.1.5"), netip.MustParseAddr("172.16.8.9"), 6, 443, 50000+port)
		h := k.Hash() // once per packet, shared with the flow table
		if s.Keep(h) {
			kept++
			weighted += s.Scale() // each kept packet stands for 1/rate packets
		}
	}
	fmt.Println(kept, weighted) // the hash has a fixed seed: the same on every probe and run
	// Output: 267 1068
}
