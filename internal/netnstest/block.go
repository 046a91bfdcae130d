package netnstest

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// The host's side of a test's namespace needs addresses of its own on
// the host: two test binaries that put the same address on two veths (two
// checkouts tested at once, say) would bind each other's sockets or route
// into each other's namespaces. HostBlock hands each test binary a /24 of
// 198.18.0.0/16 (RFC 2544's benchmarking range; 198.19.0.0/16 is left to
// the tests' in-namespace legs) that no other process on the host holds:
// it holds an flock on a file of the block's in a folder of the temporary
// directory, and the kernel lets go of it when the process ends, however
// it ends, so no block stays taken by a test binary that died.

var (
	blockOnce sync.Once
	block     netip.Prefix
	blockErr  error
)

// HostBlock returns the test binary's /24 of 198.18.0.0/16, the same one
// on every call, held until the process exits.
func HostBlock() (netip.Prefix, error) {
	blockOnce.Do(func() { block, blockErr = takeBlock() })
	return block, blockErr
}

// HostAddr returns the address host (1 to 254) of HostBlock's /24, as a
// string for a command line or a socket address; it fails t when no block
// can be had.
func HostAddr(t testing.TB, host byte) string {
	t.Helper()
	b, err := HostBlock()
	if err != nil {
		t.Fatalf("%v", err)
	}
	return BlockAddr(b, host)
}

// BlockAddr returns address host (1 to 254) of the /24 b.
func BlockAddr(b netip.Prefix, host byte) string {
	a := b.Addr().As4()
	a[3] = host
	return netip.AddrFrom4(a).String()
}

// takeBlock locks the first free block, starting from one picked by the
// process ID so that concurrent test binaries seldom try the same one.
func takeBlock() (netip.Prefix, error) {
	dir := filepath.Join(os.TempDir(), "dxmon-netns-blocks")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return netip.Prefix{}, fmt.Errorf("netnstest: folder for address-block locks %s: %w", dir, err)
	}
	start := os.Getpid() % 256
	for i := range 256 {
		third := byte((start + i) % 256)
		path := filepath.Join(dir, fmt.Sprintf("198.18.%d.0-24", third))
		held, err := lockFile(path)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("netnstest: address-block lock %s: %w", path, err)
		}
		if held {
			return netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, third, 0}), 24), nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("netnstest: all 256 address blocks of 198.18.0.0/16 are held by other processes (locks in %s)", dir)
}
