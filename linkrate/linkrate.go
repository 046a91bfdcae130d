// Package linkrate parses the capacity of a link in bits per second as
// people write it: plain ("1e9", "10000000000") or with an SI suffix
// ("500M", "1.5G", "10G", "1T"; k, M, G and T are powers of 1000, as link
// speeds are), optionally followed by "bps". Several links, separated by
// commas, add up: "10G,10G" is two Direct Connect connections of one link
// aggregation group, 20 Gbps in each direction. dxprobe's -link-bps and
// dxdeploy's LINK_BPS config key read it.
package linkrate

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// MaxBPS bounds a parsed rate: 1 Pbps, far above any link, so that a typo
// of many zeros is an error rather than a threshold nothing reaches.
const MaxBPS = 1e15

// Parse returns the rate s names in bits per second; "" is 0 (unknown).
// Each comma-separated part is a non-negative number with an optional SI
// suffix (k, K, M, G, T) and an optional "bps"; the parts add up. An error
// quotes the part that is wrong and says what is expected.
func Parse(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	var total float64
	for part := range strings.SplitSeq(s, ",") {
		v, err := parseOne(strings.TrimSpace(part))
		if err != nil {
			return 0, err
		}
		total += v
	}
	if total > MaxBPS {
		return 0, fmt.Errorf("%q: %g bps is more than %g", s, total, float64(MaxBPS))
	}
	return total, nil
}

func parseOne(p string) (float64, error) {
	num := strings.TrimSuffix(strings.TrimSuffix(p, "bps"), "b/s")
	mult := 1.0
	if n := len(num); n > 0 {
		switch num[n-1] {
		case 'k', 'K':
			mult = 1e3
		case 'M':
			mult = 1e6
		case 'G':
			mult = 1e9
		case 'T':
			mult = 1e12
		}
		if mult != 1 {
			num = num[:n-1]
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) || num == "" {
		return 0, fmt.Errorf("%q: want bits per second, a number ≥ 0 with an optional k, M, G or T suffix (500M, 1.5G, 10G)", p)
	}
	return v * mult, nil
}

// Format writes bps in the form Parse reads and people read: "10G",
// "1.5G", "500M", "0".
func Format(bps float64) string {
	for _, u := range []struct {
		div    float64
		suffix string
	}{{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if bps >= u.div {
			return strconv.FormatFloat(bps/u.div, 'f', -1, 64) + u.suffix
		}
	}
	return strconv.FormatFloat(bps, 'f', -1, 64)
}

// Value is a link rate as a flag.Value: flag.Var(&v, "link-bps", …).
type Value float64

// Set parses s (see Parse).
func (v *Value) Set(s string) error {
	f, err := Parse(s)
	if err != nil {
		return err
	}
	*v = Value(f)
	return nil
}

// String formats the rate (see Format).
func (v *Value) String() string {
	if v == nil {
		return "0"
	}
	return Format(float64(*v))
}
