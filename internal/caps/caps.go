// Package caps reads the process's effective Linux capabilities, so that a
// binary can name every privilege it lacks in one line at start instead
// of failing on the first socket that needs one.
//
// The effective set is the CapEff line of /proc/self/status, a
// hexadecimal bit mask indexed by the capability numbers of
// linux/capability.h (proc(5), capabilities(7)).
package caps

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Cap is a Linux capability number.
type Cap uint

// The capabilities dxmon's binaries use (linux/capability.h).
const (
	NetBindService Cap = 10 // bind TCP/UDP ports below 1024
	NetAdmin       Cap = 12 // SO_RCVBUFFORCE: receive buffers beyond net.core.rmem_max
	NetRaw         Cap = 13 // raw sockets
)

// String returns the capability's name as capabilities(7) spells it.
func (c Cap) String() string {
	switch c {
	case NetBindService:
		return "CAP_NET_BIND_SERVICE"
	case NetAdmin:
		return "CAP_NET_ADMIN"
	case NetRaw:
		return "CAP_NET_RAW"
	}
	return "CAP_" + strconv.Itoa(int(c))
}

// Set is a capability set as a bit mask.
type Set uint64

// Has reports whether c is in s.
func (s Set) Has(c Cap) bool { return c < 64 && s&(1<<c) != 0 }

// Effective returns the process's effective set, read from
// /proc/self/status; off Linux, or without /proc, an error.
func Effective() (Set, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("read effective capabilities: %w", err)
	}
	return ParseStatus(b)
}

// ParseStatus returns the CapEff set of a /proc/PID/status file's text.
func ParseStatus(status []byte) (Set, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("CapEff %q is not a hexadecimal mask", strings.TrimSpace(v))
			}
			return Set(n), nil
		}
	}
	return 0, fmt.Errorf("no CapEff line in /proc/self/status")
}

// Missing returns those of need that s lacks, in need's order.
func (s Set) Missing(need ...Cap) []Cap {
	var out []Cap
	for _, c := range need {
		if !s.Has(c) {
			out = append(out, c)
		}
	}
	return out
}

// RmemMax returns net.core.rmem_max, the largest receive buffer a socket
// may ask for without CAP_NET_ADMIN, or 0 when it cannot be read.
func RmemMax() int {
	b, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return n
}
