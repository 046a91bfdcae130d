package reuseport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Sender sends datagrams from one UDP socket (one source port) to one
// loopback address with sendmmsg, for tests and benchmarks. It refuses any
// destination that is not loopback. A Sender is used by one goroutine at a
// time.
type Sender struct {
	conn *net.UDPConn
	rc   syscall.RawConn
	hdrs []mmsghdr
	iovs []unix.Iovec

	// State of the bound RawConn.Write callback.
	off, end int
	errno    syscall.Errno
	sendFn   func(fd uintptr) bool
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
	rc, err := conn.SyscallConn()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("reuseport: sender raw conn: %w", err)
	}
	s := &Sender{conn: conn, rc: rc}
	s.sendFn = s.send
	return s, nil
}

// LocalAddr returns the sender's source address.
func (s *Sender) LocalAddr() netip.AddrPort { return addrPortOf(s.conn.LocalAddr()) }

// Send sends every packet, one datagram each, with as few sendmmsg calls as
// the kernel allows, waiting in the netpoller while the send buffer is full.
// It returns how many were sent. It allocates only when len(pkts) exceeds
// every earlier call's.
func (s *Sender) Send(pkts [][]byte) (int, error) {
	if len(pkts) == 0 {
		return 0, nil
	}
	if len(pkts) > len(s.hdrs) {
		s.hdrs = make([]mmsghdr, len(pkts))
		s.iovs = make([]unix.Iovec, len(pkts))
	}
	for i, p := range pkts {
		s.iovs[i].Base = nil
		if len(p) > 0 {
			s.iovs[i].Base = &p[0]
		}
		s.iovs[i].SetLen(len(p))
		s.hdrs[i].hdr.Iov = &s.iovs[i]
		s.hdrs[i].hdr.SetIovlen(1)
	}
	s.off, s.end, s.errno = 0, len(pkts), 0
	err := s.rc.Write(s.sendFn)
	sent := s.off
	for i := range pkts {
		s.iovs[i].Base = nil // do not keep the caller's buffers alive
	}
	if err != nil {
		return sent, fmt.Errorf("reuseport: send: %w", err)
	}
	if s.errno != 0 {
		return sent, os.NewSyscallError("sendmmsg", s.errno)
	}
	return sent, nil
}

func (s *Sender) send(fd uintptr) bool {
	for s.off < s.end {
		n, e := sendmmsg(fd, s.hdrs[s.off:s.end], 0)
		switch e {
		case 0:
			s.off += n
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default:
			s.errno = e
			return true
		}
	}
	return true
}

// SendSegments sends buf as one UDP GSO super-packet (UDP_SEGMENT): the
// kernel cuts it into datagrams of seg bytes (the last may be shorter). At
// most 64 segments and 65507 bytes per call.
func (s *Sender) SendSegments(buf []byte, seg int) error {
	if seg <= 0 || seg > 0xffff || len(buf) == 0 {
		return fmt.Errorf("reuseport: segment size %d for %d bytes: out of range", seg, len(buf))
	}
	oob := newCtrl(unix.CmsgSpace(2))
	h := (*unix.Cmsghdr)(unsafeCmsg(oob))
	h.Level = unix.SOL_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(oob[cmsgHdrLen:], uint16(seg))
	var serr error
	err := s.rc.Write(func(fd uintptr) bool {
		_, serr = unix.SendmsgN(int(fd), buf, oob, nil, 0)
		return !errors.Is(serr, unix.EAGAIN)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		if errors.Is(err, unix.EIO) || errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("reuseport: send %d bytes in segments of %d: %w: %w", len(buf), seg, ErrNotSupported, err)
		}
		return fmt.Errorf("reuseport: send %d bytes in segments of %d: %w", len(buf), seg, err)
	}
	return nil
}

// Close closes the sender's socket.
func (s *Sender) Close() error { return s.conn.Close() }
