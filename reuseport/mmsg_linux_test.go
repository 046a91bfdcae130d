package reuseport

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// cmsg builds one control message as the kernel lays it out.
func cmsg(level, typ int32, data []byte) []byte {
	b := make([]byte, unix.CmsgSpace(len(data)))
	// struct cmsghdr: a size_t length, then level and type as ints.
	var hdr [64]byte
	n := unix.CmsgLen(len(data))
	if unix.SizeofCmsghdr == 16 {
		binary.NativeEndian.PutUint64(hdr[0:], uint64(n))
		binary.NativeEndian.PutUint32(hdr[8:], uint32(level))
		binary.NativeEndian.PutUint32(hdr[12:], uint32(typ))
	} else {
		binary.NativeEndian.PutUint32(hdr[0:], uint32(n))
		binary.NativeEndian.PutUint32(hdr[4:], uint32(level))
		binary.NativeEndian.PutUint32(hdr[8:], uint32(typ))
	}
	copy(b, hdr[:cmsgHdrLen])
	copy(b[cmsgHdrLen:], data)
	return b
}

func newCtrlCopy(b []byte) []byte {
	c := newCtrl(max(len(b), 1))
	copy(c, b)
	return c
}

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

func TestParseCmsgs(t *testing.T) {
	ovfl := cmsg(unix.SOL_SOCKET, unix.SO_RXQ_OVFL, u32(1234))
	gro := cmsg(unix.SOL_UDP, unix.UDP_GRO, u32(178))
	other := cmsg(unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, make([]byte, 16))
	tests := []struct {
		name  string
		c     []byte
		drops uint32
		ok    bool
		seg   int
	}{
		{"empty", nil, 0, false, 0},
		{"drops", ovfl, 1234, true, 0},
		{"gro", gro, 0, false, 178},
		{"both", append(append([]byte(nil), ovfl...), gro...), 1234, true, 178},
		{"unknown first", append(append([]byte(nil), other...), ovfl...), 1234, true, 0},
		{"truncated", ovfl[:cmsgHdrLen+2], 0, false, 0},
		{"short header", ovfl[:4], 0, false, 0},
	}
	for _, tt := range tests {
		d, ok, seg := parseCmsgs(newCtrlCopy(tt.c)[:len(tt.c)])
		if d != tt.drops || ok != tt.ok || seg != tt.seg {
			t.Errorf("%s: parseCmsgs = %d, %v, %d; want %d, %v, %d", tt.name, d, ok, seg, tt.drops, tt.ok, tt.seg)
		}
	}
}

// FuzzParseCmsgs: control data the kernel would never write must not make
// the parser panic or read past the buffer.
func FuzzParseCmsgs(f *testing.F) {
	f.Add(cmsg(unix.SOL_SOCKET, unix.SO_RXQ_OVFL, u32(7)))
	f.Add(append(cmsg(unix.SOL_SOCKET, unix.SO_RXQ_OVFL, u32(7)), cmsg(unix.SOL_UDP, unix.UDP_GRO, u32(100))...))
	f.Fuzz(func(t *testing.T, c []byte) {
		parseCmsgs(newCtrlCopy(c)[:len(c)]) // aligned, as the kernel's buffer is
	})
}
