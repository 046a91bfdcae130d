package nicstat

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ifreqData is struct ifreq with its union holding a pointer (ifr_data),
// as SIOCETHTOOL takes it. A type of its own, not unix.Ifreq's raw bytes,
// so that the pointer stays a pointer for the garbage collector.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [unsafe.Sizeof(unix.Ifreq{}) - unix.IFNAMSIZ - unsafe.Sizeof(uintptr(0))]byte
}

// slack is how many more records than announced each buffer holds. The
// kernel writes as many names and values as the driver has at the time of
// each call, not as many as the caller asked for (net/ethtool/ioctl.c,
// ethtool_get_strings and ethtool_get_stats set len and n_stats from
// get_sset_count): a driver that grows its set between two calls (ENA
// when queues are added) must not write past the buffer.
const slack = 256

func ethtoolStats(dev string) ([]Stat, error) {
	if len(dev) == 0 || len(dev) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("nicstat: interface name %q: want 1 to %d bytes", dev, unix.IFNAMSIZ-1)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("nicstat: socket for SIOCETHTOOL: %w", err)
	}
	defer unix.Close(fd)
	ioctl := func(what string, p unsafe.Pointer) error {
		var ifr ifreqData
		copy(ifr.name[:], dev)
		ifr.data = p
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
		runtime.KeepAlive(p)
		if errno != 0 {
			return fmt.Errorf("nicstat: SIOCETHTOOL %s on %s: %w", what, dev, errno)
		}
		return nil
	}

	// struct ethtool_sset_info { u32 cmd; u32 reserved; u64 sset_mask; u32 data[]; }
	info := struct {
		cmd, reserved uint32
		mask          uint64
		count         uint32
		_             uint32
	}{cmd: unix.ETHTOOL_GSSET_INFO, mask: 1 << ethSSStats}
	if err := ioctl("ETHTOOL_GSSET_INFO", unsafe.Pointer(&info)); err != nil {
		return nil, err
	}
	if info.mask&(1<<ethSSStats) == 0 || info.count == 0 {
		return nil, nil // the driver has no statistics
	}
	if info.count > maxStats {
		return nil, fmt.Errorf("nicstat: %s announces %d statistics: want at most %d", dev, info.count, maxStats)
	}
	n := int(info.count)
	capacity := n + slack

	// struct ethtool_gstrings { u32 cmd; u32 string_set; u32 len; u8 data[]; }
	strs := make([]byte, 12+capacity*ethGStringLen)
	ne := binary.NativeEndian
	ne.PutUint32(strs[0:], unix.ETHTOOL_GSTRINGS)
	ne.PutUint32(strs[4:], ethSSStats)
	ne.PutUint32(strs[8:], uint32(n))
	if err := ioctl("ETHTOOL_GSTRINGS", unsafe.Pointer(&strs[0])); err != nil {
		return nil, err
	}
	names, err := parseGStrings(strs, capacity)
	if err != nil {
		return nil, fmt.Errorf("%w (device %s)", err, dev)
	}

	// struct ethtool_stats { u32 cmd; u32 n_stats; u64 data[]; }
	vals := make([]byte, 8+capacity*8)
	ne.PutUint32(vals[0:], unix.ETHTOOL_GSTATS)
	ne.PutUint32(vals[4:], uint32(n))
	if err := ioctl("ETHTOOL_GSTATS", unsafe.Pointer(&vals[0])); err != nil {
		return nil, err
	}
	values, err := parseGStats(vals, capacity)
	if err != nil {
		return nil, fmt.Errorf("%w (device %s)", err, dev)
	}
	if len(values) != len(names) {
		return nil, fmt.Errorf("nicstat: %s changed its statistics while read: %d names, %d values", dev, len(names), len(values))
	}
	out := make([]Stat, len(names))
	for i := range names {
		out[i] = Stat{names[i], values[i]}
	}
	return out, nil
}

// ethSSStats is ETH_SS_STATS, the second entry of enum ethtool_stringset
// (ETH_SS_TEST = 0, ETH_SS_STATS, …); x/sys/unix does not define it.
const ethSSStats = 1
