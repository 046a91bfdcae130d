package reuseport

import (
	"encoding/binary"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is struct mmsghdr from <sys/socket.h>: a msghdr and the byte count
// the kernel fills in. unix.Msghdr is laid out per GOARCH; Go pads the struct
// to the msghdr's alignment exactly as C does, so this is 64 bytes on amd64
// and arm64 (56 + 4 + 4 padding) and 32 bytes on 32-bit ports. The
// assertions below fail to compile if that ever differs from x/sys's own
// generated Mmsghdr.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

var (
	_ [unsafe.Sizeof(mmsghdr{}) - unsafe.Sizeof(unix.Mmsghdr{})]struct{}
	_ [unsafe.Sizeof(unix.Mmsghdr{}) - unsafe.Sizeof(mmsghdr{})]struct{}
	_ [unsafe.Offsetof(mmsghdr{}.n) - unsafe.Offsetof(unix.Mmsghdr{}.Len)]struct{}
	_ [unsafe.Offsetof(unix.Mmsghdr{}.Len) - unsafe.Offsetof(mmsghdr{}.n)]struct{}
)

// recvmmsg receives up to len(hs) datagrams. x/sys/unix has no wrapper.
func recvmmsg(fd uintptr, hs []mmsghdr, flags int) (int, syscall.Errno) {
	n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&hs[0])), uintptr(len(hs)), uintptr(flags), 0, 0)
	return int(n), e
}

// recvmmsgNow is recvmmsg for a call that cannot block (MSG_DONTWAIT). It
// uses RawSyscall6, which skips the scheduler's entersyscall/exitsyscall:
// those wake sysmon (when it sleeps) on every call, which then wakes again
// to retake the P. A non-blocking recvmmsg of at most a batch of datagrams
// takes microseconds, so keeping the P through it costs nothing.
func recvmmsgNow(fd uintptr, hs []mmsghdr) (int, syscall.Errno) {
	n, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&hs[0])), uintptr(len(hs)), unix.MSG_DONTWAIT, 0, 0)
	return int(n), e
}

// sendmmsg sends up to len(hs) datagrams.
func sendmmsg(fd uintptr, hs []mmsghdr, flags int) (int, syscall.Errno) {
	n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&hs[0])), uintptr(len(hs)), uintptr(flags), 0, 0)
	return int(n), e
}

// ctrlSpace is the control buffer of one message: room for SO_RXQ_OVFL
// (uint32) and UDP_GRO (int), each CmsgSpace(4) = 24 bytes on 64-bit, with
// slack for a timestamp should one ever be turned on.
const ctrlSpace = 64

// cmsgHdrLen is the aligned size of struct cmsghdr.
var cmsgHdrLen = unix.CmsgLen(0)

// parseCmsgs walks one message's control data without allocating and
// returns the SO_RXQ_OVFL drop count (ok reports whether there was one) and
// the UDP_GRO segment size (0 if none).
func parseCmsgs(c []byte) (drops uint32, ok bool, seg int) {
	for len(c) >= cmsgHdrLen {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&c[0])) // c is 8-byte aligned: see newCtrl
		l := int(h.Len)
		if l < cmsgHdrLen || l > len(c) {
			break
		}
		data := c[cmsgHdrLen:l]
		switch {
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SO_RXQ_OVFL && len(data) >= 4:
			drops, ok = binary.NativeEndian.Uint32(data), true
		case h.Level == unix.SOL_UDP && h.Type == unix.UDP_GRO && len(data) >= 4:
			seg = int(int32(binary.NativeEndian.Uint32(data)))
		}
		next := unix.CmsgSpace(l - cmsgHdrLen)
		if next >= len(c) {
			break
		}
		c = c[next:]
	}
	return drops, ok, seg
}

// newCtrl returns n bytes aligned for struct cmsghdr.
func newCtrl(n int) []byte {
	w := make([]uint64, (n+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), n)
}

func unsafeCmsg(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }
