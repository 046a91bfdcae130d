package report

import (
	"math"
	"strconv"
)

// Bytes formats a byte count with binary-free SI-like units as the seed did:
// "512 B", "1.50 KB", "3.20 MB", "1.00 GB", "2.10 TB" (1 KB = 1024 B).
func Bytes(n float64) string { return human(n, 1024, []string{"B", "KB", "MB", "GB", "TB", "PB"}) }

// Bps formats a bit rate: "950 bps", "12.5 Kbps", "1.20 Gbps" (1 K = 1000).
func Bps(n float64) string {
	return human(n, 1000, []string{"bps", "Kbps", "Mbps", "Gbps", "Tbps"})
}

// Pps formats a packet rate: "800 pps", "12.0 Kpps", "1.50 Mpps" (1 K = 1000).
func Pps(n float64) string { return human(n, 1000, []string{"pps", "Kpps", "Mpps", "Gpps"}) }

func human(n, base float64, units []string) string {
	if math.IsNaN(n) || math.IsInf(n, 0) {
		return strconv.FormatFloat(n, 'f', -1, 64) + " " + units[0]
	}
	neg := n < 0
	if neg {
		n = -n
	}
	i := 0
	for n >= base && i < len(units)-1 {
		n /= base
		i++
	}
	var s string
	switch {
	case i == 0:
		s = strconv.FormatFloat(math.Round(n), 'f', 0, 64)
	case n >= 100:
		s = strconv.FormatFloat(n, 'f', 0, 64)
	case n >= 10:
		s = strconv.FormatFloat(n, 'f', 1, 64)
	default:
		s = strconv.FormatFloat(n, 'f', 2, 64)
	}
	if neg {
		s = "-" + s
	}
	return s + " " + units[i]
}
