package nicstat

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrNotSupported is wrapped by the errors of reads this platform cannot
// make (anything but Linux).
var ErrNotSupported = errors.New("nicstat: not supported")

// Allowance counter names, as the ENA driver calls its statistics.
const (
	BWInAllowanceExceeded      = "bw_in_allowance_exceeded"
	BWOutAllowanceExceeded     = "bw_out_allowance_exceeded"
	PPSAllowanceExceeded       = "pps_allowance_exceeded"
	ConntrackAllowanceExceeded = "conntrack_allowance_exceeded"
	LinklocalAllowanceExceeded = "linklocal_allowance_exceeded"
)

// AllowanceCounters lists the five ENA allowance statistics, in a fixed
// order.
var AllowanceCounters = []string{
	BWInAllowanceExceeded, BWOutAllowanceExceeded, PPSAllowanceExceeded,
	ConntrackAllowanceExceeded, LinklocalAllowanceExceeded,
}

// Stat is one driver statistic: its name in the ETH_SS_STATS string set
// and its value.
type Stat struct {
	Name  string
	Value uint64
}

// Source reads a device's driver statistics. Ethtool is the real one;
// tests give a fake.
type Source interface {
	// Stats returns every statistic of the device, in the driver's order.
	Stats(dev string) ([]Stat, error)
}

// Ethtool reads statistics with the SIOCETHTOOL ioctl.
type Ethtool struct{}

var _ Source = Ethtool{}

// Stats implements Source with ETHTOOL_GSSET_INFO, ETHTOOL_GSTRINGS and
// ETHTOOL_GSTATS on an AF_INET datagram socket opened for the call.
func (Ethtool) Stats(dev string) ([]Stat, error) { return ethtoolStats(dev) }

// Allowances picks the allowance counters out of stats: the values found,
// by name, and whether all five were there.
func Allowances(stats []Stat) (map[string]uint64, bool) {
	out := map[string]uint64{}
	for _, s := range stats {
		for _, n := range AllowanceCounters {
			if s.Name == n {
				out[n] = s.Value
			}
		}
	}
	return out, len(out) == len(AllowanceCounters)
}

// ethGStringLen is ETH_GSTRING_LEN: the size of one name in a string set.
const ethGStringLen = 32

// maxStats bounds the string set a driver may announce: ENA has about a
// hundred statistics per queue pair and at most 32 pairs; a count past
// this is not believed (it would size a buffer from a kernel answer).
const maxStats = 1 << 16

// parseStrings splits a ETHTOOL_GSTRINGS answer of n names: n records of
// ETH_GSTRING_LEN bytes, each a name ended by the first NUL or the record's
// end. It refuses an n that the data cannot hold.
func parseStrings(data []byte, n int) ([]string, error) {
	if n < 0 || n > maxStats {
		return nil, fmt.Errorf("nicstat: string set of %d names: want 0 to %d", n, maxStats)
	}
	if len(data) < n*ethGStringLen {
		return nil, fmt.Errorf("nicstat: string set of %d names needs %d bytes, have %d", n, n*ethGStringLen, len(data))
	}
	names := make([]string, n)
	for i := range names {
		rec := data[i*ethGStringLen : (i+1)*ethGStringLen]
		end := 0
		for end < len(rec) && rec[end] != 0 {
			end++
		}
		names[i] = string(rec[:end])
	}
	return names, nil
}

// parseGStrings decodes a struct ethtool_gstrings as the kernel filled
// it: its len field, then len names. capacity is how many names the
// buffer was made for; a len beyond it, or beyond the buffer, is refused.
func parseGStrings(b []byte, capacity int) ([]string, error) {
	if len(b) < 12 {
		return nil, fmt.Errorf("nicstat: ethtool_gstrings of %d bytes: want at least 12", len(b))
	}
	n := binary.NativeEndian.Uint32(b[8:])
	if uint64(n) > uint64(capacity) {
		return nil, fmt.Errorf("nicstat: kernel returned %d statistic names for a buffer of %d", n, capacity)
	}
	return parseStrings(b[12:], int(n))
}

// parseGStats decodes a struct ethtool_stats: n_stats, then n_stats
// values. A count beyond capacity or the buffer is refused.
func parseGStats(b []byte, capacity int) ([]uint64, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("nicstat: ethtool_stats of %d bytes: want at least 8", len(b))
	}
	n := binary.NativeEndian.Uint32(b[4:])
	if uint64(n) > uint64(capacity) || uint64(len(b)-8) < uint64(n)*8 {
		return nil, fmt.Errorf("nicstat: kernel returned %d statistic values for a buffer of %d", n, min(capacity, (len(b)-8)/8))
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = binary.NativeEndian.Uint64(b[8+8*i:])
	}
	return out, nil
}
