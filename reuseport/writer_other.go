//go:build !linux

package reuseport

import (
	"fmt"
	"net/netip"
)

// UDPHeaderRoom is the IPv4 and UDP header RawWriter puts before each
// payload: 20 + 8 bytes.
const UDPHeaderRoom = 28

// RawWriter sends IPv4 UDP datagrams from any address and port; it exists
// only on Linux.
type RawWriter struct{}

// NewRawWriter returns an error wrapping ErrNotSupported off Linux.
func NewRawWriter(batch int) (*RawWriter, error) {
	return nil, fmt.Errorf("reuseport: raw writer: %w", ErrNotSupported)
}

// Add queues nothing off Linux.
func (w *RawWriter) Add(src, dst netip.AddrPort, payload []byte) bool { return false }

// Len is 0 off Linux.
func (w *RawWriter) Len() int { return 0 }

// Flush sends nothing off Linux.
func (w *RawWriter) Flush() (sent, bytes int, err error) { return 0, 0, nil }

// Close does nothing off Linux.
func (w *RawWriter) Close() error { return nil }
