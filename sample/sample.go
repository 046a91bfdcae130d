// Package sample decides deterministically which flows a probe counts when
// it samples: a flow is kept when its 64-bit hash falls below a threshold,
// so every packet of a flow gets the same decision on every worker, every
// probe and after every restart, and the kept flows' counts scaled by
// 1/rate estimate the whole traffic without bias.
//
// The hash is flow.Key.Hash: xxhash64 with seed 0 over the key's canonical
// bytes. A salted per-process hash (Python's hash(), say) would sample
// different flows on two workers, and another sample after a restart.
//
// The comparison with a threshold has no modulo bias (hash % 10000 would
// quantise the rate to 1/10000 and skew it).
package sample

import (
	"fmt"
	"math"
)

// Sampler keeps the flows whose hash is below its threshold. The zero value
// is not valid; use New.
type Sampler struct {
	rate      float64
	threshold uint64
	all       bool
}

// New returns a sampler that keeps the fraction rate of flows, rate in
// (0, 1]. Any other rate (0, negative, above 1, NaN) is an error naming it.
func New(rate float64) (Sampler, error) {
	if math.IsNaN(rate) || rate <= 0 || rate > 1 {
		return Sampler{}, fmt.Errorf("sample rate %v outside (0, 1]", rate)
	}
	if rate == 1 {
		return Sampler{rate: 1, all: true}, nil
	}
	// rate × 2^64, computed in float64 (53-bit mantissa: exact to 2^-53).
	return Sampler{rate: rate, threshold: uint64(rate * (1 << 64))}, nil
}

// Keep reports whether the flow with hash h is counted.
func (s Sampler) Keep(h uint64) bool { return s.all || h < s.threshold }

// Rate is the fraction of flows kept.
func (s Sampler) Rate() float64 { return s.rate }

// Scale is the factor that turns kept counts into estimated totals: 1/rate.
func (s Sampler) Scale() float64 { return 1 / s.rate }
