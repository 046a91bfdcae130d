//go:build !linux

package reuseport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"time"
)

// Listen opens one UDP socket on cfg.Addr: the portable fallback. Off Linux
// there is no recvmmsg and SO_REUSEPORT does not spread unicast datagrams
// over sockets, so only one socket is opened whatever cfg.Sockets says (a
// warning is logged when it asked for more): size workers from
// len(Group.Readers()). GRO is not supported. The receive buffer is asked
// with SetReadBuffer and cannot be read back.
func Listen(cfg Config) (*Group, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if _, _, err := splitAddr(cfg.Addr); err != nil {
		return nil, err
	}
	if cfg.GRO {
		return nil, fmt.Errorf("reuseport: GRO: %w", ErrNotSupported)
	}
	if cfg.PacketInfo {
		return nil, fmt.Errorf("reuseport: packet info: %w", ErrNotSupported)
	}
	pc, err := net.ListenPacket("udp", cfg.Addr)
	if err != nil {
		return nil, listenErr(cfg.Addr, err)
	}
	conn := pc.(*net.UDPConn)
	if err := conn.SetReadBuffer(cfg.RecvBuffer); err != nil {
		cfg.Log.Warn("reuseport: could not set receive buffer", "asked_bytes", cfg.RecvBuffer, "err", err)
	}
	if cfg.Sockets > 1 {
		cfg.Log.Warn("reuseport: one socket only on this platform", "asked_sockets", cfg.Sockets)
	}
	r := &Reader{conn: conn, msgSize: cfg.MsgSize}
	return &Group{readers: []*Reader{r}, local: addrPortOf(conn.LocalAddr())}, nil
}

// Reader reads one socket of a Group. It must be used by one goroutine at a
// time.
type Reader struct {
	conn      *net.UDPConn
	msgSize   int
	closed    atomic.Bool
	truncated atomic.Uint64
}

// Batch holds one packet on this platform.
type Batch struct {
	r     *Reader
	buf   []byte
	views [][]byte
}

// NewBatch allocates a Batch for r.
func (r *Reader) NewBatch() *Batch {
	// One byte more than MsgSize detects truncation.
	return &Batch{r: r, buf: make([]byte, r.msgSize+1), views: make([][]byte, 0, 1)}
}

// Len returns the number of packets the last Read delivered.
func (b *Batch) Len() int { return len(b.views) }

// Packet returns the i-th payload of the last Read; valid until the next Read
// into b.
func (b *Batch) Packet(i int) []byte { return b.views[i] }

var errForeignBatch = errors.New("reuseport: batch belongs to another reader")

// Read waits for one datagram (ReadFromUDPAddrPort) and returns 1, or
// net.ErrClosed after Close.
func (r *Reader) Read(b *Batch) (int, error) {
	b.views = b.views[:0]
	if b.r != r {
		return 0, errForeignBatch
	}
	n, _, err := r.conn.ReadFromUDPAddrPort(b.buf)
	if err != nil {
		if r.closed.Load() || errors.Is(err, net.ErrClosed) {
			return 0, net.ErrClosed
		}
		return 0, fmt.Errorf("reuseport: read: %w", err)
	}
	if n > r.msgSize {
		n = r.msgSize
		r.truncated.Add(1)
	}
	b.views = append(b.views, b.buf[:n:n])
	return 1, nil
}

// ReadQueued returns an error wrapping ErrNotSupported and
// errors.ErrUnsupported: the portable reader cannot read without waiting.
func (r *Reader) ReadQueued(b *Batch) (int, error) {
	b.views = b.views[:0]
	return 0, fmt.Errorf("reuseport: read without waiting: %w: %w", ErrNotSupported, errors.ErrUnsupported)
}

// Drops returns 0: the platform has no per-socket drop counter.
func (r *Reader) Drops() uint64 { return 0 }

// KernelDrops returns ErrNotSupported on this platform.
func (r *Reader) KernelDrops() (uint64, error) {
	return 0, fmt.Errorf("reuseport: kernel drop count: %w", ErrNotSupported)
}

// Truncated returns how many datagrams were longer than Config.MsgSize and
// were cut.
func (r *Reader) Truncated() uint64 { return r.truncated.Load() }

// BufferGranted returns 0: the platform cannot read the granted size back.
func (r *Reader) BufferGranted() int { return 0 }

// LocalAddr returns the socket's local address.
func (r *Reader) LocalAddr() netip.AddrPort { return addrPortOf(r.conn.LocalAddr()) }

func (r *Reader) wake() { r.closed.Store(true) }

func (r *Reader) close() error {
	r.closed.Store(true)
	if err := r.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("reuseport: close %s: %w", r.LocalAddr(), err)
	}
	return nil
}

func (r *Reader) noteDeadline(time.Time) {}

// Wait returns WaitNetpoll: the portable reader waits in Go's netpoller
// whatever the Config asked.
func (r *Reader) Wait() WaitMode { return WaitNetpoll }
