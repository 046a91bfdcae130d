package reuseport

import (
	"fmt"
	"net/netip"
)

// checkLoopback refuses a sender destination off the loopback interface:
// Sender exists for tests and benchmarks and must never spray a network.
func checkLoopback(dst netip.AddrPort) error {
	if !dst.Addr().Unmap().IsLoopback() || dst.Port() == 0 {
		return fmt.Errorf("reuseport: sender destination %s: must be a loopback address with a port", dst)
	}
	return nil
}
