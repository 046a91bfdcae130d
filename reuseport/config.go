package reuseport

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"
)

// ErrNotSupported is returned (wrapped) for a feature the platform lacks, such
// as GRO or exact kernel drop counts off Linux.
var ErrNotSupported = errors.New("reuseport: not supported")

// Defaults applied by Listen to zero fields of Config.
const (
	DefaultRecvBuffer = 128 << 20 // bytes per socket: seconds of a busy link's mirror
	DefaultBatchSize  = 64        // messages per recvmmsg
	DefaultMsgSize    = 2048      // bytes per message; mirror packets are <= ~200 B
	GROMsgSize        = 64 << 10  // bytes per message when GRO is on: a super-packet may reach 64 KiB
	maxBatchSize      = 1024      // UIO_MAXIOV: the kernel caps one recvmmsg at this many messages
	maxRecvBuffer     = 1 << 30   // the kernel doubles the value into an int
)

// WaitMode says how a Reader waits for packets. The choice decides the CPU
// spent per packet; see the package documentation for the measurements.
type WaitMode uint8

const (
	// WaitDefault lets the package choose per socket: WaitTick when the
	// kernel granted a receive buffer of at least TickMinBuffer, which then
	// holds the packets of a sleep even at high rates, and WaitNetpoll
	// otherwise. Reader.Wait tells which was chosen.
	WaitDefault WaitMode = iota
	// WaitNetpoll parks the reading goroutine in Go's netpoller (through the
	// socket's syscall.RawConn) when the socket is empty; no OS thread is held
	// while idle, but every wake-up costs an extra recvmmsg that returns
	// EAGAIN and a trip through the scheduler.
	WaitNetpoll
	// WaitBlocking blocks in recvmmsg on the calling goroutine's OS thread,
	// with a short SO_RCVTIMEO so Close is noticed even if the wake-up is
	// missed. One OS thread per socket is held while waiting.
	WaitBlocking
	// WaitTick takes the socket out of Go's netpoller and polls it: after a
	// batch that drained the socket the reader sleeps one tick (TickInterval)
	// so that packets accumulate, and reads them with full batches on the
	// next wake-up. Wake-ups no longer follow packet arrivals, which at high
	// rates is where netpoll spends its CPU; in exchange packets wait up to a
	// tick in the receive buffer, which must hold a tick's worth of them.
	// While the socket stays empty the sleep doubles up to MaxIdleInterval
	// or what the buffer holds, whichever is shorter.
	WaitTick
)

// Polling intervals of WaitTick.
const (
	// TickInterval is WaitTick's sleep after a batch that drained the
	// socket. Go's timers sleep at least about a millisecond when the
	// process is otherwise idle (the netpoller waits in milliseconds), so a
	// shorter tick would not be kept.
	TickInterval = time.Millisecond
	// MaxIdleInterval bounds WaitTick's sleep while no packet comes. A
	// burst after a quiet spell waits up to the sleep in the receive
	// buffer, so a socket's sleep is further bounded by what its buffer
	// holds at 1 Mpps: about 1 µs per KiB granted (the kernel charges each
	// queued mirror packet about 1 KiB), 8 ms for TickMinBuffer, the whole
	// 50 ms from 50 MiB (the default 128 MiB). Idle, a socket then wakes 20
	// times a second. Close cuts a sleep short; a read deadline is slept to
	// exactly.
	MaxIdleInterval = 50 * time.Millisecond
	// TickMinBuffer is the receive buffer (as BufferGranted counts it) from
	// which WaitDefault chooses WaitTick: 8 MiB hold about 8000 queued
	// mirror packets, 8 ms of 1 Mpps into one socket.
	TickMinBuffer = 8 << 20
)

// String returns the mode's name as used in flags and benchmarks.
func (m WaitMode) String() string {
	switch m {
	case WaitDefault:
		return "auto"
	case WaitNetpoll:
		return "netpoll"
	case WaitBlocking:
		return "blocking"
	case WaitTick:
		return "tick"
	}
	return "WaitMode(" + strconv.Itoa(int(m)) + ")"
}

// ParseWaitMode parses the names String returns.
func ParseWaitMode(s string) (WaitMode, error) {
	switch s {
	case "auto", "":
		return WaitDefault, nil
	case "netpoll":
		return WaitNetpoll, nil
	case "blocking":
		return WaitBlocking, nil
	case "tick":
		return WaitTick, nil
	}
	return 0, fmt.Errorf("unknown wait mode %q (want auto, tick, netpoll or blocking)", s)
}

// Config says what Listen opens. Zero fields take the defaults above.
type Config struct {
	// Addr is "host:port", for example ":4789" or "127.0.0.1:0". With port
	// 0 the first socket picks a free port and the others share it.
	Addr string
	// Sockets is how many SO_REUSEPORT sockets to open (>= 1). The kernel
	// spreads packets over them by a hash of the 4-tuple, so one sender's
	// packets always reach the same socket. Off Linux only one is opened.
	Sockets int
	// RecvBuffer is the receive buffer asked for each socket, in bytes
	// (default 128 MiB). SO_RCVBUFFORCE is used where the process may
	// (CAP_NET_ADMIN), SO_RCVBUF (capped by net.core.rmem_max) otherwise.
	RecvBuffer int
	// BatchSize is the number of messages one recvmmsg may return (default
	// 64, at most 1024).
	BatchSize int
	// MsgSize is the buffer size of one message in bytes (default 2048);
	// longer datagrams are truncated. With GRO it is forced to 64 KiB.
	MsgSize int
	// GRO turns on UDP_GRO: the kernel may hand over several same-sized
	// datagrams of one 4-tuple as one super-packet, which Batch splits back
	// by the segment size from the control message. Linux only.
	GRO bool
	// Wait says how Read waits for packets (default: WaitTick where the
	// receive buffer allows, WaitNetpoll otherwise). Off Linux it is
	// ignored.
	Wait WaitMode
	// PacketInfo records, for every datagram, its sender's address and the
	// local address it was sent to (IP_PKTINFO), for Batch.Addrs: what a
	// server that answers each datagram needs on a host with several
	// addresses. It excludes GRO. Linux only.
	PacketInfo bool
	// Log receives warnings such as a receive buffer smaller than asked.
	// Nil means slog.Default().
	Log *slog.Logger
}

// withDefaults validates c and fills its zero fields.
func (c Config) withDefaults() (Config, error) {
	if c.Sockets == 0 {
		c.Sockets = 1
	}
	if c.Sockets < 0 {
		return c, fmt.Errorf("reuseport: sockets %d: must be at least 1", c.Sockets)
	}
	if c.RecvBuffer == 0 {
		c.RecvBuffer = DefaultRecvBuffer
	}
	if c.RecvBuffer < 0 || c.RecvBuffer > maxRecvBuffer {
		return c, fmt.Errorf("reuseport: receive buffer %d: must be 0 to %d bytes", c.RecvBuffer, maxRecvBuffer)
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.BatchSize < 0 || c.BatchSize > maxBatchSize {
		return c, fmt.Errorf("reuseport: batch size %d: must be 1 to %d", c.BatchSize, maxBatchSize)
	}
	if c.MsgSize == 0 {
		c.MsgSize = DefaultMsgSize
	}
	if c.MsgSize < 0 || c.MsgSize > GROMsgSize {
		return c, fmt.Errorf("reuseport: message size %d: must be 1 to %d", c.MsgSize, GROMsgSize)
	}
	if c.GRO && c.PacketInfo {
		return c, errors.New("reuseport: GRO and PacketInfo exclude each other: a super-packet has one sender but is many datagrams")
	}
	if c.GRO {
		c.MsgSize = GROMsgSize
	}
	switch c.Wait {
	case WaitDefault, WaitNetpoll, WaitBlocking, WaitTick:
	default:
		return c, fmt.Errorf("reuseport: wait mode %d: unknown", c.Wait)
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c, nil
}

// splitAddr checks addr ("host:port", host empty or an IP address, no
// names: a probe must not depend on DNS to start) and returns its parts.
func splitAddr(addr string) (host string, port uint16, err error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("listen udp %s: %w", addr, err)
	}
	p, err := strconv.ParseUint(ps, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("listen udp %s: bad port %q", addr, ps)
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil {
			return "", 0, fmt.Errorf("listen udp %s: host %q is not an IP address", addr, host)
		}
	}
	return host, uint16(p), nil
}

// addrPortOf converts a socket's local address.
func addrPortOf(a net.Addr) netip.AddrPort {
	if u, ok := a.(*net.UDPAddr); ok {
		ap := u.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

// Group is the set of sockets Listen opened on one address.
type Group struct {
	readers []*Reader
	local   netip.AddrPort

	closeOnce sync.Once
	closeErr  error
}

// Readers returns one Reader per socket. Each must be used by one goroutine
// at a time; off Linux there is only one.
func (g *Group) Readers() []*Reader { return g.readers }

// LocalAddr returns the address the sockets are bound to, with the port the
// kernel chose when Config.Addr asked for port 0.
func (g *Group) LocalAddr() netip.AddrPort { return g.local }

// Close closes every socket. A Read blocked on any of them returns
// net.ErrClosed promptly (well within 100 ms); so does every later Read.
// Close waits until the blocked reads have returned, so the caller may free
// what they used. It is safe to call more than once and from any goroutine.
func (g *Group) Close() error {
	g.closeOnce.Do(func() {
		// Wake every reader first so the closes below, which wait for
		// reads in progress, do not add up.
		for _, r := range g.readers {
			r.wake()
		}
		var errs []error
		for _, r := range g.readers {
			if err := r.close(); err != nil {
				errs = append(errs, err)
			}
		}
		g.closeErr = errors.Join(errs...)
	})
	return g.closeErr
}

// KernelDrops returns the sum of every socket's exact kernel drop count (see
// Reader.KernelDrops). Call it after the last Read for a final count.
func (g *Group) KernelDrops() (uint64, error) {
	var sum uint64
	var errs []error
	for _, r := range g.readers {
		d, err := r.KernelDrops()
		sum += d
		if err != nil {
			errs = append(errs, err)
		}
	}
	return sum, errors.Join(errs...)
}

// listenErr formats a bind error as "listen udp ADDR: address already in
// use", keeping the errno for errors.Is.
func listenErr(addr string, err error) error {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return fmt.Errorf("listen udp %s: %w", addr, se.Err)
	}
	return fmt.Errorf("listen udp %s: %w", addr, err)
}
