package reuseport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// blockTimeout is SO_RCVTIMEO in WaitBlocking mode: the longest a blocked
// recvmmsg can miss Close if the shutdown wake-up were ever lost.
const blockTimeout = 50 * time.Millisecond

// Listen opens cfg.Sockets UDP sockets on cfg.Addr with SO_REUSEPORT, sizes
// their receive buffers and turns on the kernel's drop counter (SO_RXQ_OVFL)
// and, if asked, UDP_GRO.
//
// Listen fails if any other socket already holds the address — even one of
// another process with SO_REUSEPORT — so a second probe cannot silently take
// a share of the packets: "listen udp :4789: address already in use".
func Listen(cfg Config) (*Group, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	host, port, err := splitAddr(cfg.Addr)
	if err != nil {
		return nil, err
	}

	// Exclusivity check: a socket without SO_REUSEPORT binds only if nobody
	// holds the address. It also picks the port when port 0 was asked. UDP
	// has no TIME_WAIT, so the port is free again as soon as it is closed.
	probe, err := net.ListenPacket("udp", cfg.Addr)
	if err != nil {
		return nil, listenErr(cfg.Addr, err)
	}
	if port == 0 {
		port = addrPortOf(probe.LocalAddr()).Port()
	}
	probe.Close()
	addr := net.JoinHostPort(host, strconv.Itoa(int(port)))

	lc := net.ListenConfig{}
	if cfg.Sockets > 1 {
		lc.Control = setReusePort
	}
	g := &Group{}
	for i := 0; i < cfg.Sockets; i++ {
		pc, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			g.Close()
			return nil, listenErr(cfg.Addr, err)
		}
		r, err := newReader(pc.(*net.UDPConn), cfg)
		if err != nil {
			pc.Close()
			g.Close()
			return nil, err
		}
		g.readers = append(g.readers, r)
	}
	g.local = g.readers[0].local
	if got := g.readers[0].granted; got < cfg.RecvBuffer {
		cfg.Log.Warn("reuseport: receive buffer smaller than asked; raise net.core.rmem_max or give the process CAP_NET_ADMIN",
			"addr", g.local.String(), "asked_bytes", cfg.RecvBuffer, "granted_bytes", got,
			"sysctl", "net.core.rmem_max="+strconv.Itoa(cfg.RecvBuffer))
	}
	return g, nil
}

func setReusePort(network, address string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("set SO_REUSEPORT: %w", serr)
	}
	return nil
}

// Reader reads one socket of a Group. It must be used by one goroutine at a
// time; Drops, KernelDrops, Truncated, BufferGranted, LocalAddr and
// SetReadDeadline may be called from any goroutine.
type Reader struct {
	conn    *net.UDPConn // nil in WaitTick mode
	file    *os.File     // the socket in WaitTick mode, outside the netpoller
	local   netip.AddrPort
	rc      syscall.RawConn
	wait    WaitMode
	gro     bool
	pktinfo bool // Config.PacketInfo: Batch records senders and local addresses
	batch   int
	msgSize int
	granted int

	closed    atomic.Bool
	drops     dropCounter
	truncated atomic.Uint64
	deadline  atomic.Int64 // unix nanoseconds, 0: none; read by recvBlock and readTick
	timedOut  bool         // set by recvBlock and readTick when the deadline passed

	// WaitTick state. reading is set while a Read runs, so that Close can
	// wait for it; woken is closed by Close to cut a sleep short; nudged
	// holds a token when the deadline was brought forward, which cuts the
	// next sleep short. The rest belongs to the reading goroutine.
	reading  atomic.Bool
	woken    chan struct{}
	nudged   chan struct{}
	timer    *time.Timer
	restNext bool          // the last batch drained the socket: sleep a tick first
	idle     time.Duration // the next sleep while the socket stays empty
	maxIdle  time.Duration // the longest: MaxIdleInterval or what the buffer holds

	// State shared with the RawConn callbacks, which are bound once in
	// newReader so that Read allocates no closure.
	cur     *Batch
	n       int
	errno   syscall.Errno
	pollFn  func(fd uintptr) bool
	blockFn func(fd uintptr)
	tickFn  func(fd uintptr)
	shutFn  func(fd uintptr)
}

func newReader(conn *net.UDPConn, cfg Config) (*Reader, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("reuseport: raw conn: %w", err)
	}
	r := &Reader{conn: conn, rc: rc, local: addrPortOf(conn.LocalAddr()), wait: cfg.Wait, gro: cfg.GRO,
		pktinfo: cfg.PacketInfo, batch: cfg.BatchSize, msgSize: cfg.MsgSize, idle: TickInterval}
	r.pollFn = r.recvPoll
	r.blockFn = r.recvBlock
	r.tickFn = r.recvTick
	r.shutFn = r.shutdown
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = r.setup(int(fd), cfg) }); err != nil {
		return nil, fmt.Errorf("reuseport: control: %w", err)
	}
	if serr != nil {
		return nil, serr
	}
	if r.wait == WaitDefault {
		r.wait = WaitNetpoll
		if r.granted >= TickMinBuffer {
			r.wait = WaitTick
		}
	}
	if r.wait == WaitTick {
		// 1 µs per KiB: the buffer's packets (about 1 KiB each) at 1 Mpps.
		r.maxIdle = min(max(time.Duration(r.granted>>10)*time.Microsecond, TickInterval), MaxIdleInterval)
		if err := r.leaveNetpoll(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// leaveNetpoll moves the socket out of Go's netpoller for WaitTick. The
// netpoller watches every socket it knows edge-triggered, so while a tick
// sleeps each arriving packet would still wake the thread waiting in
// epoll_wait: the very wake-ups WaitTick exists to avoid. A duplicate of the
// descriptor keeps the socket (and its place in the SO_REUSEPORT group)
// while the net.UDPConn is closed, which removes it from the epoll set. The
// duplicate stays in blocking mode, so os.NewFile does not register it
// again; reads pass MSG_DONTWAIT instead.
func (r *Reader) leaveNetpoll() error {
	var dup int
	var derr error
	if err := r.rc.Control(func(fd uintptr) { dup, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return fmt.Errorf("reuseport: control: %w", err)
	}
	if derr != nil {
		return fmt.Errorf("reuseport: dup socket: %w", derr)
	}
	if err := unix.SetNonblock(dup, false); err != nil {
		unix.Close(dup)
		return fmt.Errorf("reuseport: clear O_NONBLOCK: %w", err)
	}
	if err := r.conn.Close(); err != nil {
		unix.Close(dup)
		return fmt.Errorf("reuseport: close netpoll socket: %w", err)
	}
	f := os.NewFile(uintptr(dup), "udp:"+r.local.String())
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return fmt.Errorf("reuseport: raw conn: %w", err)
	}
	r.conn, r.file, r.rc = nil, f, rc
	r.woken = make(chan struct{})
	r.nudged = make(chan struct{}, 1)
	r.timer = time.NewTimer(time.Hour)
	r.timer.Stop()
	return nil
}

// setup sets the socket options of one socket.
func (r *Reader) setup(fd int, cfg Config) error {
	// SO_RCVBUFFORCE ignores net.core.rmem_max but needs CAP_NET_ADMIN;
	// without it fall back to SO_RCVBUF, which the kernel silently caps.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, cfg.RecvBuffer); err != nil {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, cfg.RecvBuffer); err != nil {
			return fmt.Errorf("reuseport: set SO_RCVBUF %d: %w", cfg.RecvBuffer, err)
		}
	}
	// The kernel stores and reports twice the value set, the extra half
	// standing for its bookkeeping (each queued packet is charged its
	// sk_buff's truesize, not its payload). Half of it is comparable with
	// what was asked.
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil {
		return fmt.Errorf("reuseport: get SO_RCVBUF: %w", err)
	}
	r.granted = v / 2
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1); err != nil {
		// Best effort: every Linux since 2.6.33 has it, but emulators and
		// sandboxes (qemu-user, gVisor) may not. KernelDrops (SO_MEMINFO)
		// still counts drops; Drops then moves only with it.
		cfg.Log.Warn("reuseport: SO_RXQ_OVFL not available; drop counts come from SO_MEMINFO only", "err", err)
	}
	if cfg.PacketInfo {
		if err := setPacketInfo(fd); err != nil {
			return err
		}
	}
	if cfg.GRO {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_UDP, unix.UDP_GRO, 1); err != nil {
			return fmt.Errorf("reuseport: set UDP_GRO: %w: %w", ErrNotSupported, err)
		}
	}
	if cfg.Wait == WaitBlocking {
		// Go made the socket non-blocking for its netpoller; recvmmsg must
		// block here. The receive timeout bounds how long a missed Close
		// could go unnoticed.
		if err := unix.SetNonblock(fd, false); err != nil {
			return fmt.Errorf("reuseport: clear O_NONBLOCK: %w", err)
		}
		tv := unix.NsecToTimeval(blockTimeout.Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return fmt.Errorf("reuseport: set SO_RCVTIMEO %v: %w", blockTimeout, err)
		}
	}
	return nil
}

// Batch is the preallocated memory of one Reader's recvmmsg call: message
// buffers, iovecs, mmsghdrs, control buffers and packet views. It belongs to
// the Reader that made it; the views of Packet are valid until the next Read
// into the same Batch.
type Batch struct {
	r     *Reader
	hdrs  []mmsghdr
	iovs  []unix.Iovec
	buf   []byte
	ctrl  []byte
	views [][]byte
	names []unix.RawSockaddrInet6 // senders, with Config.PacketInfo only
	used  int                     // messages filled by the last Read
}

// NewBatch allocates a Batch for r.
func (r *Reader) NewBatch() *Batch {
	b := &Batch{
		r:    r,
		hdrs: make([]mmsghdr, r.batch),
		iovs: make([]unix.Iovec, r.batch),
		buf:  make([]byte, r.batch*r.msgSize),
		ctrl: newCtrl(r.batch * ctrlSpace),
	}
	views := r.batch
	if r.gro {
		views *= maxGROSegments
	}
	b.views = make([][]byte, 0, views)
	for i := range b.hdrs {
		b.iovs[i].Base = &b.buf[i*r.msgSize]
		b.iovs[i].SetLen(r.msgSize)
		h := &b.hdrs[i].hdr
		h.Iov = &b.iovs[i]
		h.SetIovlen(1)
		h.Control = &b.ctrl[i*ctrlSpace]
		h.SetControllen(ctrlSpace)
	}
	if r.pktinfo {
		b.names = make([]unix.RawSockaddrInet6, r.batch)
		for i := range b.hdrs {
			b.hdrs[i].hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
			b.hdrs[i].hdr.Namelen = unix.SizeofSockaddrInet6
		}
	}
	b.used = len(b.hdrs)
	return b
}

// maxGROSegments bounds the datagrams in one super-packet: GRO coalesces at
// most 64 (UDP_GRO_CNT_MAX), and a local UDP_SEGMENT sender's super-packet,
// which loopback delivers whole to a GRO socket, holds at most 128
// (UDP_MAX_SEGMENTS). Views beyond it would still be correct, but allocate.
const maxGROSegments = 128

// Len returns the number of packets the last Read delivered.
func (b *Batch) Len() int { return len(b.views) }

// Packet returns the i-th UDP payload of the last Read (0 <= i < Len()). GRO
// super-packets are already split into their datagrams. The view is valid
// until the next Read into b.
func (b *Batch) Packet(i int) []byte { return b.views[i] }

var errForeignBatch = errors.New("reuseport: batch belongs to another reader")

// Read waits for at least one datagram and receives up to the batch size
// with one recvmmsg. It returns the number of packets now in b (more than
// the datagrams received when GRO super-packets were split). After Close it
// returns net.ErrClosed; past a read deadline (SetReadDeadline), in every
// wait mode, an error wrapping os.ErrDeadlineExceeded, after which Read may
// be called again: WaitNetpoll's poller wakes at the deadline, WaitTick
// sleeps to it, WaitBlocking sees it within 50 ms (TestReadDeadline runs
// all three).
// It allocates nothing.
func (r *Reader) Read(b *Batch) (int, error) { return r.read(b, false) }

// ReadQueued receives what the socket already holds, up to the batch size,
// with one recvmmsg that does not wait, in every wait mode. It returns 0
// and a nil error when nothing is queued, and net.ErrClosed after Close.
// It ignores the read deadline. A probe that stops reads with it until the
// socket is empty, so that it counts every datagram that reached the
// socket before it stopped and knows when there are no more. It allocates
// nothing.
func (r *Reader) ReadQueued(b *Batch) (int, error) { return r.read(b, true) }

// read is Read, or ReadQueued when queued is set.
func (r *Reader) read(b *Batch, queued bool) (int, error) {
	b.views = b.views[:0]
	if b.r != r {
		return 0, errForeignBatch
	}
	if r.wait == WaitTick {
		// Set before the closed check: Close sets closed, then waits
		// while reading is set.
		r.reading.Store(true)
		defer r.reading.Store(false)
	}
	if r.closed.Load() {
		return 0, net.ErrClosed
	}
	// The kernel overwrites msg_controllen and msg_flags: reset the ones the
	// last call used.
	for i := 0; i < b.used; i++ {
		b.hdrs[i].hdr.SetControllen(ctrlSpace)
		b.hdrs[i].hdr.Flags = 0
		if b.names != nil {
			b.hdrs[i].hdr.Namelen = unix.SizeofSockaddrInet6
		}
	}
	b.used = 0
	r.cur, r.n, r.errno, r.timedOut = b, 0, 0, false
	var err error
	switch {
	case queued:
		// recvTick's recvmmsg takes MSG_DONTWAIT: it does not wait
		// whatever the descriptor's mode.
		err = r.rc.Control(r.tickFn)
		if err == nil && r.closed.Load() {
			// A socket shut down by Close reads as empty datagrams.
			return 0, net.ErrClosed
		}
	case r.wait == WaitNetpoll:
		err = r.rc.Read(r.pollFn)
	case r.wait == WaitTick:
		err = r.readTick()
	default:
		err = r.rc.Control(r.blockFn)
	}
	r.cur = nil
	switch {
	case err != nil:
		if r.closed.Load() || errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed) {
			return 0, net.ErrClosed
		}
		return 0, fmt.Errorf("reuseport: read: %w", err)
	case r.errno != 0:
		if r.closed.Load() {
			return 0, net.ErrClosed
		}
		return 0, os.NewSyscallError("recvmmsg", r.errno)
	case r.timedOut:
		return 0, fmt.Errorf("reuseport: read: %w", os.ErrDeadlineExceeded)
	case r.n == 0 && queued: // nothing queued
		return 0, nil
	case r.n == 0: // woken by Close
		return 0, net.ErrClosed
	}
	return r.finish(b, r.n), nil
}

// recvPoll is the RawConn.Read callback: returning false parks the goroutine
// in the netpoller until the socket is readable.
func (r *Reader) recvPoll(fd uintptr) bool {
	for {
		n, e := recvmmsgNow(fd, r.cur.hdrs)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		r.n, r.errno = n, e
		return true
	}
}

// readTick is Read in WaitTick mode: a non-blocking recvmmsg, and while the
// socket is empty a sleep, doubling from TickInterval to r.maxIdle,
// then another. After a batch that was not full (the socket was drained) it
// sleeps one tick before reading, so the next batch is full at high rates.
// Close cuts a sleep short, and no sleep runs past the read deadline.
func (r *Reader) readTick() error {
	for {
		if r.restNext {
			r.restNext = false
			r.sleep(TickInterval)
		}
		if err := r.rc.Control(r.tickFn); err != nil {
			return err
		}
		if r.n > 0 || r.errno != 0 {
			r.restNext = r.n < r.batch
			r.idle = TickInterval
			return nil
		}
		if r.closed.Load() {
			return nil // n == 0: Read returns net.ErrClosed
		}
		sleep := r.idle
		if d := r.deadline.Load(); d != 0 {
			left := time.Duration(d - time.Now().UnixNano())
			if left <= 0 {
				r.timedOut = true
				return nil
			}
			sleep = min(sleep, left)
		}
		r.sleep(sleep)
		r.idle = min(2*r.idle, r.maxIdle)
	}
}

// sleep waits d, or until Close or a deadline brought forward.
func (r *Reader) sleep(d time.Duration) {
	r.timer.Reset(d)
	select {
	case <-r.timer.C:
	case <-r.woken:
		r.timer.Stop()
	case <-r.nudged:
		r.timer.Stop()
	}
}

// recvTick is the RawConn.Control callback of WaitTick: one recvmmsg that
// does not wait (recvPoll's, leaving r.n at 0 when the socket is empty).
// The descriptor is in blocking mode (outside the netpoller), so
// MSG_DONTWAIT is what keeps it from blocking.
func (r *Reader) recvTick(fd uintptr) { r.recvPoll(fd) }

// recvBlock is the RawConn.Control callback of WaitBlocking: it blocks in
// recvmmsg until at least one datagram (MSG_WAITFORONE: then it takes what
// is queued, up to the batch size, without waiting for more), Close, or an
// error. Control holds a reference on the descriptor, so Close waits for
// this to return instead of closing the descriptor under it.
//
// SO_RCVTIMEO wakes it every blockTimeout to check the read deadline, so in
// this mode a deadline is seen within blockTimeout.
func (r *Reader) recvBlock(fd uintptr) {
	for {
		if d := r.deadline.Load(); d != 0 && time.Now().UnixNano() >= d {
			r.timedOut = true
			return
		}
		n, e := recvmmsg(fd, r.cur.hdrs, unix.MSG_WAITFORONE)
		switch {
		case r.closed.Load():
			// Shut down by Close. recvmmsg counts each end-of-file
			// return of the shut-down socket as an empty datagram, so
			// n > 0 proves nothing here: check the flag first.
			r.n, r.errno = 0, 0
			return
		case e == 0 && n > 0:
			r.n = n
			return
		case e == 0, e == unix.EAGAIN, e == unix.EINTR:
			// EAGAIN: SO_RCVTIMEO expired; loop.
		default:
			r.errno = e
			return
		}
	}
}

// finish turns n received messages into packet views and records the drop
// count and truncations.
func (r *Reader) finish(b *Batch, n int) int {
	b.used = n
	var trunc uint64
	var drops uint32
	var haveDrops bool
	for i := 0; i < n; i++ {
		h := &b.hdrs[i]
		ln := int(h.n)
		if h.hdr.Flags&unix.MSG_TRUNC != 0 {
			trunc++
		}
		seg := 0
		// Without GRO only the last message's drop count matters: the
		// count each packet carries was read when it was queued, so the
		// last is the newest.
		if (r.gro || i == n-1) && h.hdr.Controllen > 0 {
			c := b.ctrl[i*ctrlSpace : i*ctrlSpace+int(h.hdr.Controllen)]
			d, ok, s := parseCmsgs(c)
			if ok {
				drops, haveDrops = d, true
			}
			seg = s
		}
		p := b.buf[i*r.msgSize : i*r.msgSize+ln : i*r.msgSize+ln]
		if seg <= 0 || seg >= ln {
			b.views = append(b.views, p)
			continue
		}
		for len(p) > 0 {
			m := min(seg, len(p))
			b.views = append(b.views, p[:m:m])
			p = p[m:]
		}
	}
	if haveDrops {
		r.drops.observe(drops)
	}
	if trunc > 0 {
		r.truncated.Add(trunc)
	}
	return len(b.views)
}

// Drops returns the kernel's count of packets dropped on this socket
// (mostly: receive buffer full), as last seen: in the SO_RXQ_OVFL count the
// kernel attaches to received packets, or by KernelDrops. Drops after the
// last packet read are not seen until KernelDrops or Close is called; after
// Close the count is final.
func (r *Reader) Drops() uint64 { return r.drops.load() }

// KernelDrops asks the kernel for the socket's drop count now (SO_MEMINFO,
// SK_MEMINFO_DROPS), so a final count is exact even if no packet followed
// the last drop. It returns net.ErrClosed after Close.
func (r *Reader) KernelDrops() (uint64, error) {
	// Not a hot path and callable from any goroutine: a closure over local
	// scratch is simpler than shared state.
	var mi [unix.SK_MEMINFO_VARS]uint32
	var errno syscall.Errno
	err := r.rc.Control(func(fd uintptr) {
		l := uint32(unsafe.Sizeof(mi))
		_, _, errno = unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
			uintptr(unsafe.Pointer(&mi)), uintptr(unsafe.Pointer(&l)), 0)
	})
	if err != nil {
		if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed) {
			return r.drops.load(), net.ErrClosed
		}
		return r.drops.load(), fmt.Errorf("reuseport: control: %w", err)
	}
	if errno != 0 {
		return r.drops.load(), os.NewSyscallError("getsockopt SO_MEMINFO", errno)
	}
	return r.drops.observe(mi[unix.SK_MEMINFO_DROPS]), nil
}

// Truncated returns how many datagrams were longer than the message buffer
// (Config.MsgSize) and were cut.
func (r *Reader) Truncated() uint64 { return r.truncated.Load() }

// BufferGranted returns the receive buffer the kernel granted, in the units
// of Config.RecvBuffer: half of what SO_RCVBUF reads back, since the kernel
// doubles the value set to leave room for its per-packet bookkeeping. Each
// queued packet is charged its sk_buff's truesize (on loopback about 1 KiB
// for a 200-byte datagram) against the doubled value.
func (r *Reader) BufferGranted() int { return r.granted }

// LocalAddr returns the socket's local address.
func (r *Reader) LocalAddr() netip.AddrPort { return r.local }

// Wait returns how Read waits: the Config's mode, or the one WaitDefault
// chose for this socket.
func (r *Reader) Wait() WaitMode { return r.wait }

// wake marks r closed and wakes a recvmmsg blocked in WaitBlocking mode:
// shutdown(SHUT_RD) makes it return 0 at once (the call itself reports
// ENOTCONN on an unconnected UDP socket, but still wakes the sleeper).
func (r *Reader) wake() {
	if r.closed.Swap(true) {
		return
	}
	switch r.wait {
	case WaitBlocking:
		_ = r.rc.Control(r.shutFn)
	case WaitTick:
		close(r.woken)
	}
}

func (r *Reader) shutdown(fd uintptr) { _ = unix.Shutdown(int(fd), unix.SHUT_RD) }

// close closes the socket, waiting for a read in progress to return. It
// reads the kernel's drop count one last time, so Drops is final after Close.
func (r *Reader) close() error {
	r.wake()
	_, _ = r.KernelDrops()
	var err error
	if r.file != nil {
		err = r.file.Close()
		// A Read woken from its sleep returns at once; one in recvmmsg
		// holds the descriptor, which Close above waited for.
		for r.reading.Load() {
			time.Sleep(100 * time.Microsecond)
		}
	} else {
		err = r.conn.Close()
	}
	if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("reuseport: close %s: %w", r.LocalAddr(), err)
	}
	return nil
}

// noteDeadline records the read deadline for WaitBlocking and WaitTick
// reads, which Go's netpoller does not see, and cuts a WaitTick sleep short
// when the deadline is brought forward.
func (r *Reader) noteDeadline(t time.Time) {
	var d int64
	if !t.IsZero() {
		d = t.UnixNano()
	}
	old := r.deadline.Swap(d)
	if r.nudged != nil && d != 0 && (old == 0 || d < old) {
		// Brought forward: a WaitTick sleep planned for the old deadline
		// would oversleep the new one.
		select {
		case r.nudged <- struct{}{}:
		default:
		}
	}
}
