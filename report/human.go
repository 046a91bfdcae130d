package report

import (
	"math"
	"strconv"
	"strings"
)

// Every unit here is decimal SI (1 k = 1000), bytes and rates alike, so that
// a flow of 432 000 B over 5 s reads "432 kB" and "691 kbps", and the two
// agree: 432 kB × 8 / 5 s = 691 kbps.

// Bytes formats a byte count: "512 B", "1.50 kB", "3.20 MB", "1.00 GB",
// "2.10 TB" (1 kB = 1000 B).
func Bytes(n float64) string { return human(n, []string{"B", "kB", "MB", "GB", "TB", "PB"}) }

// Bps formats a bit rate: "950 bps", "12.5 kbps", "1.20 Gbps"; below 10
// bps with two decimals, so that a trickle does not read as 0.
func Bps(n float64) string {
	return human(n, []string{"bps", "kbps", "Mbps", "Gbps", "Tbps"})
}

// Pps formats a packet rate: "800 pps", "12.0 kpps", "1.50 Mpps"; a
// packet in a 5-second window is "0.20 pps", not "0 pps".
func Pps(n float64) string { return human(n, []string{"pps", "kpps", "Mpps", "Gpps"}) }

// humanCount formats a count of packets: "950", "12.3k", "4.50M".
func humanCount(n uint64) string {
	return strings.Replace(strings.TrimSuffix(human(float64(n), []string{"", "k", "M", "G", "T", "P"}), " "), " ", "", 1)
}

// human writes n with three significant digits in the largest unit of
// units (each 1000 times the one before) that keeps it at least 1; whole
// numbers in the first unit stay whole ("512 B", "3 pps").
func human(n float64, units []string) string {
	if math.IsNaN(n) || math.IsInf(n, 0) {
		return strconv.FormatFloat(n, 'f', -1, 64) + " " + units[0]
	}
	neg := n < 0
	if neg {
		n = -n
	}
	i := 0
	for n >= 999.5 && i < len(units)-1 {
		n /= 1000
		i++
	}
	var s string
	switch {
	case i == 0 && n == math.Trunc(n):
		s = strconv.FormatFloat(n, 'f', 0, 64)
	case n >= 99.95:
		s = strconv.FormatFloat(n, 'f', 0, 64)
	case n >= 9.995:
		s = strconv.FormatFloat(n, 'f', 1, 64)
	default:
		s = strconv.FormatFloat(n, 'f', 2, 64)
	}
	if neg {
		s = "-" + s
	}
	return s + " " + units[i]
}
