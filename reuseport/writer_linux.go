package reuseport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// UDPHeaderRoom is the IPv4 and UDP header RawWriter puts before each
// payload: 20 + 8 bytes.
const UDPHeaderRoom = 28

// maxRawPayload is the largest UDP payload in one IPv4 datagram.
const maxRawPayload = 65535 - UDPHeaderRoom

// RawWriter sends IPv4 UDP datagrams with any source address and port,
// queued by Add and sent by Flush with one sendmmsg call per batch, through
// a raw socket (AF_INET, SOCK_RAW, IPPROTO_RAW: the process needs
// CAP_NET_RAW). A UDP socket can only send from the port it is bound to; a
// raw socket lets a server answer from the very address and port a peer
// expects, as AWS's Gateway Load Balancer does (package gwlb).
//
// The headers are built in the writer's own memory and the payload is sent
// from the caller's buffer (two iovecs), so nothing is copied or allocated
// per datagram. The UDP checksum is 0, which IPv4 allows (RFC 768); the
// kernel fills in the IPv4 header checksum and identification.
//
// A RawWriter belongs to one goroutine.
type RawWriter struct {
	f     *os.File
	rc    syscall.RawConn
	hdrs  []mmsghdr
	iovs  []unix.Iovec // two per message: header, payload
	heads []byte       // UDPHeaderRoom per message
	names []unix.RawSockaddrInet4
	n     int // queued

	// Shared with the bound RawConn callback.
	off    int // first message not yet tried
	sent   int
	bytes  int // payload bytes of the datagrams sent
	errno  syscall.Errno
	sendFn func(fd uintptr)
}

// NewRawWriter opens a raw socket and preallocates room for batch datagrams
// (1 to 1024).
func NewRawWriter(batch int) (*RawWriter, error) {
	if batch < 1 || batch > maxBatchSize {
		return nil, fmt.Errorf("reuseport: raw writer batch %d: must be 1 to %d", batch, maxBatchSize)
	}
	// Blocking mode, so that os.NewFile keeps it out of the netpoller: a
	// full send buffer makes sendmmsg wait rather than fail.
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return nil, fmt.Errorf("reuseport: raw socket (needs CAP_NET_RAW): %w", err)
	}
	// Best effort: a larger send buffer absorbs a burst of full batches.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 4<<20) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
	}
	f := os.NewFile(uintptr(fd), "raw-udp")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reuseport: raw conn: %w", err)
	}
	w := &RawWriter{f: f, rc: rc,
		hdrs:  make([]mmsghdr, batch),
		iovs:  make([]unix.Iovec, 2*batch),
		heads: make([]byte, UDPHeaderRoom*batch),
		names: make([]unix.RawSockaddrInet4, batch),
	}
	for i := range w.hdrs {
		h := &w.hdrs[i].hdr
		w.iovs[2*i].Base = &w.heads[i*UDPHeaderRoom]
		w.iovs[2*i].SetLen(UDPHeaderRoom)
		h.Iov = &w.iovs[2*i]
		h.SetIovlen(2)
		h.Name = (*byte)(unsafe.Pointer(&w.names[i]))
		h.Namelen = unix.SizeofSockaddrInet4
		w.names[i].Family = unix.AF_INET
	}
	w.sendFn = w.send
	return w, nil
}

// Add queues one datagram from src to dst (both IPv4) carrying payload,
// which must stay unchanged until Flush returns. It returns false, queuing
// nothing, when the batch is full, an address is not IPv4 or the payload
// does not fit in an IPv4 datagram.
func (w *RawWriter) Add(src, dst netip.AddrPort, payload []byte) bool {
	if w.n == len(w.hdrs) || !src.Addr().Is4() || !dst.Addr().Is4() || len(payload) > maxRawPayload || len(payload) == 0 {
		return false
	}
	i := w.n
	h := w.heads[i*UDPHeaderRoom : (i+1)*UDPHeaderRoom : (i+1)*UDPHeaderRoom]
	total := UDPHeaderRoom + len(payload)
	h[0] = 0x45 // IPv4, 5 words of header
	h[1] = 0
	binary.BigEndian.PutUint16(h[2:], uint16(total))
	binary.BigEndian.PutUint32(h[4:], 0) // identification (the kernel fills it), no flags
	h[8] = 64                            // TTL
	h[9] = unix.IPPROTO_UDP
	h[10], h[11] = 0, 0 // checksum: the kernel computes it
	s4, d4 := src.Addr().As4(), dst.Addr().As4()
	copy(h[12:16], s4[:])
	copy(h[16:20], d4[:])
	binary.BigEndian.PutUint16(h[20:], src.Port())
	binary.BigEndian.PutUint16(h[22:], dst.Port())
	binary.BigEndian.PutUint16(h[24:], uint16(8+len(payload)))
	h[26], h[27] = 0, 0 // no UDP checksum
	w.iovs[2*i+1].Base = &payload[0]
	w.iovs[2*i+1].SetLen(len(payload))
	// The port must be 0: the kernel refuses a raw send to a sockaddr with
	// one.
	w.names[i].Addr = d4
	w.n++
	return true
}

// Len returns the number of datagrams queued.
func (w *RawWriter) Len() int { return w.n }

// Flush sends the queued datagrams with as few sendmmsg calls as the kernel
// allows and empties the queue. A datagram the kernel refuses (for example
// no route to its destination) is skipped and the rest are still sent; sent
// counts the datagrams the kernel took, bytes their payload bytes, and err
// is the first refusal. It allocates nothing.
func (w *RawWriter) Flush() (sent, bytes int, err error) {
	if w.n == 0 {
		return 0, 0, nil
	}
	w.off, w.sent, w.bytes, w.errno = 0, 0, 0, 0
	cerr := w.rc.Control(w.sendFn)
	w.n = 0
	if cerr != nil {
		return w.sent, w.bytes, fmt.Errorf("reuseport: raw send: %w", cerr)
	}
	if w.errno != 0 {
		return w.sent, w.bytes, os.NewSyscallError("sendmmsg", w.errno)
	}
	return w.sent, w.bytes, nil
}

// send is the RawConn.Control callback of Flush.
func (w *RawWriter) send(fd uintptr) {
	for w.off < w.n {
		// Without waiting first (RawSyscall6: no scheduler hand-off, as
		// recvmmsgNow); only a full send buffer makes it wait in the
		// kernel, through the scheduler.
		n, e := sendmmsgNow(fd, w.hdrs[w.off:w.n])
		if e == unix.EAGAIN {
			n, e = sendmmsg(fd, w.hdrs[w.off:w.n], 0)
		}
		switch {
		case e == unix.EINTR:
			continue
		case e != 0:
			// The message at w.off failed: note the first error, skip it.
			if w.errno == 0 {
				w.errno = e
			}
			w.off++
		default:
			for i := w.off; i < w.off+n; i++ {
				w.bytes += int(w.iovs[2*i+1].Len)
			}
			w.sent += n
			w.off += n
		}
	}
}

// sendmmsgNow is sendmmsg with MSG_DONTWAIT through RawSyscall6: a
// datagram handed to loopback or a NIC queue does not block, and skipping
// entersyscall saves waking sysmon and a second thread on every batch.
func sendmmsgNow(fd uintptr, hs []mmsghdr) (int, syscall.Errno) {
	n, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&hs[0])), uintptr(len(hs)), unix.MSG_DONTWAIT, 0, 0)
	return int(n), e
}

// Close closes the raw socket.
func (w *RawWriter) Close() error {
	if err := w.f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("reuseport: close raw socket: %w", err)
	}
	return nil
}
