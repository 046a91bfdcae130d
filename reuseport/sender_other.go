//go:build !linux

package reuseport

import (
	"fmt"
	"net"
	"net/netip"
)

// Sender sends datagrams from one UDP socket to one loopback address, for
// tests and benchmarks; off Linux one write per datagram.
type Sender struct {
	conn *net.UDPConn
}

// NewSender opens a socket on an ephemeral loopback port connected to dst.
func NewSender(dst netip.AddrPort) (*Sender, error) {
	if err := checkLoopback(dst); err != nil {
		return nil, err
	}
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst))
	if err != nil {
		return nil, fmt.Errorf("reuseport: sender to %s: %w", dst, err)
	}
	return &Sender{conn: conn}, nil
}

// LocalAddr returns the sender's source address.
func (s *Sender) LocalAddr() netip.AddrPort { return addrPortOf(s.conn.LocalAddr()) }

// Send sends every packet, one datagram each, and returns how many were sent.
func (s *Sender) Send(pkts [][]byte) (int, error) {
	for i, p := range pkts {
		if _, err := s.conn.Write(p); err != nil {
			return i, fmt.Errorf("reuseport: send: %w", err)
		}
	}
	return len(pkts), nil
}

// SendSegments returns ErrNotSupported off Linux.
func (s *Sender) SendSegments(buf []byte, seg int) error {
	return fmt.Errorf("reuseport: send in segments: %w", ErrNotSupported)
}

// Close closes the sender's socket.
func (s *Sender) Close() error { return s.conn.Close() }
