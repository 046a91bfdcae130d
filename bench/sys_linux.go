package main

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// supported is true where the loopback reader comparison and the flood
// measurement run: they need getrusage, SO_RCVBUFFORCE and sendmmsg.
const supported = true

// usage is the CPU time and peak memory of this process so far.
type usage struct {
	User, Sys time.Duration
	MaxRSSKB  int64
}

func selfUsage() (usage, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return usage{}, fmt.Errorf("getrusage: %w", err)
	}
	return usage{User: time.Duration(ru.Utime.Nano()), Sys: time.Duration(ru.Stime.Nano()), MaxRSSKB: int64(ru.Maxrss)}, nil
}

// setRecvBuffer asks for n bytes of receive buffer on c, with
// SO_RCVBUFFORCE (root) and else SO_RCVBUF (capped by net.core.rmem_max),
// so that every reader of the comparison gets the same buffer.
func setRecvBuffer(c *net.UDPConn, n int) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, n)
		if serr != nil {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// cpuSet is a sched_setaffinity mask of up to 1024 CPUs.
type cpuSet [16]uint64

func schedSetaffinity(tid int, s *cpuSet) error {
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, uintptr(tid), unsafe.Sizeof(*s), uintptr(unsafe.Pointer(s)))
	if e != 0 {
		return e
	}
	return nil
}

func schedGetaffinity(tid int, s *cpuSet) error {
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_GETAFFINITY, uintptr(tid), unsafe.Sizeof(*s), uintptr(unsafe.Pointer(s)))
	if e != 0 {
		return e
	}
	return nil
}

// pinThread pins the calling goroutine's OS thread to cpu. The caller must
// have called runtime.LockOSThread; it returns a function restoring the
// previous mask.
func pinThread(cpu int) (restore func(), err error) {
	var old, s cpuSet
	tid := syscall.Gettid()
	if err := schedGetaffinity(tid, &old); err != nil {
		return nil, fmt.Errorf("sched_getaffinity: %w", err)
	}
	s[cpu/64] |= 1 << (cpu % 64)
	if err := schedSetaffinity(tid, &s); err != nil {
		return nil, fmt.Errorf("sched_setaffinity cpu %d: %w", cpu, err)
	}
	return func() { _ = schedSetaffinity(tid, &old) }, nil
}

// startPinned starts start() from an OS thread pinned to cpu, so that the
// child process it forks inherits that CPU mask (cpu < 0: no pinning).
func startPinned(cpu int, start func() error) error {
	if cpu < 0 {
		return start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	restore, err := pinThread(cpu)
	if err != nil {
		return err
	}
	defer restore()
	return start()
}

// mmsghdr is struct mmsghdr of linux/socket.h.
type mmsghdr struct {
	hdr syscall.Msghdr
	len uint32
	_   [4]byte
}

// mmsgSender sends datagrams with sendmmsg from one connected UDP socket to
// any destination, for the production setting; the loopback harness uses
// reuseport.Sender.
type mmsgSender struct {
	conn  *net.UDPConn
	rc    syscall.RawConn
	hdrs  []mmsghdr
	iovs  []syscall.Iovec
	pkts  [][]byte
	sent  int
	errno syscall.Errno
	write func(fd uintptr) bool // bound once: no closure per call
}

func newMmsgSender(dst netip.AddrPort) (*mmsgSender, error) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", dst, err)
	}
	rc, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetWriteBuffer(4 << 20)
	s := &mmsgSender{conn: c, rc: rc}
	s.write = s.doWrite
	return s, nil
}

func (s *mmsgSender) doWrite(fd uintptr) bool {
	for s.sent < len(s.pkts) {
		if sysSENDMMSG == 0 { // an architecture this file does not know the call number of
			_, _, e := syscall.Syscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(unsafe.SliceData(s.pkts[s.sent]))), uintptr(len(s.pkts[s.sent])))
			if e == syscall.EAGAIN {
				return false
			}
			if e != 0 && e != syscall.EINTR {
				s.errno = e
				return true
			}
			if e == 0 {
				s.sent++
			}
			continue
		}
		n, _, e := syscall.Syscall6(sysSENDMMSG, fd, uintptr(unsafe.Pointer(&s.hdrs[s.sent])),
			uintptr(len(s.pkts)-s.sent), 0, 0, 0)
		switch e {
		case 0:
			s.sent += int(n)
		case syscall.EAGAIN:
			return false // wait in the netpoller until writable
		case syscall.EINTR:
		default:
			s.errno = e
			return true
		}
	}
	return true
}

// Send sends every packet as one datagram each and returns how many went.
func (s *mmsgSender) Send(pkts [][]byte) (int, error) {
	if len(pkts) == 0 {
		return 0, nil
	}
	if cap(s.hdrs) < len(pkts) {
		s.hdrs = make([]mmsghdr, len(pkts))
		s.iovs = make([]syscall.Iovec, len(pkts))
	}
	s.hdrs, s.iovs = s.hdrs[:len(pkts)], s.iovs[:len(pkts)]
	for i, p := range pkts {
		s.iovs[i] = syscall.Iovec{Base: unsafe.SliceData(p)}
		s.iovs[i].SetLen(len(p))
		s.hdrs[i] = mmsghdr{}
		s.hdrs[i].hdr.Iov = &s.iovs[i]
		s.hdrs[i].hdr.Iovlen = 1
	}
	s.pkts, s.sent, s.errno = pkts, 0, 0
	err := s.rc.Write(s.write)
	sent := s.sent
	s.pkts = nil
	if err != nil {
		return sent, fmt.Errorf("sendmmsg to %s: %w", s.conn.RemoteAddr(), err)
	}
	if s.errno != 0 {
		return sent, fmt.Errorf("sendmmsg to %s: %w", s.conn.RemoteAddr(), s.errno)
	}
	return sent, nil
}

// Close closes the socket.
func (s *mmsgSender) Close() error { return s.conn.Close() }

// kernelRelease is uname -r.
func kernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return string(trimNL(b))
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}
