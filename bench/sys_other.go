//go:build !linux

package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// supported is false off Linux: the loopback reader comparison and the
// flood measurement need getrusage, SO_RCVBUFFORCE and sendmmsg.
const supported = false

var errNotSupported = errors.New("bench: not supported off Linux")

// usage is the CPU time and peak memory of this process so far.
type usage struct {
	User, Sys time.Duration
	MaxRSSKB  int64
}

func selfUsage() (usage, error) { return usage{}, errNotSupported }

func setRecvBuffer(c *net.UDPConn, n int) error { return c.SetReadBuffer(n) }

func startPinned(cpu int, start func() error) error { return start() }

// mmsgSender sends one datagram per write off Linux.
type mmsgSender struct{ conn *net.UDPConn }

func newMmsgSender(dst netip.AddrPort) (*mmsgSender, error) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", dst, err)
	}
	return &mmsgSender{conn: c}, nil
}

// Send sends every packet as one datagram each and returns how many went.
func (s *mmsgSender) Send(pkts [][]byte) (int, error) {
	for i, p := range pkts {
		if _, err := s.conn.Write(p); err != nil {
			return i, fmt.Errorf("send to %s: %w", s.conn.RemoteAddr(), err)
		}
	}
	return len(pkts), nil
}

// Close closes the socket.
func (s *mmsgSender) Close() error { return s.conn.Close() }

func kernelRelease() string { return "unknown" }

func pinThread(cpu int) (func(), error) { return func() {}, nil }
