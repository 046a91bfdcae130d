package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// maxCaptureLen bounds the length of one captured packet (and a pcapng
// interface's snap length) that Replay accepts: tcpdump's largest default
// snap length. Capture readers size their buffers from these header
// fields, so a hostile file could otherwise make them allocate gigabytes.
const maxCaptureLen = 262144

// ngGuard passes a pcapng stream through unchanged while checking each
// block's length and the packet and snap lengths that gopacket's reader
// would allocate from. A block that fails is withheld, with everything after
// it, and the read returns an error instead, so that no reader ever sees the
// field it would trust.
type ngGuard struct {
	r     io.Reader
	err   error
	order binary.ByteOrder

	hdr     [24]byte // the current block's first bytes
	have    int      // bytes of the block seen so far
	length  uint32   // the block's total length, once known
	checked bool     // the current block's header passed
}

func newNgGuard(r io.Reader) *ngGuard { return &ngGuard{r: r, order: binary.LittleEndian} }

func (g *ngGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	for i := 0; i < n; {
		if g.checked {
			// Skip the rest of a block already checked.
			skip := min(int(g.length)-g.have, n-i)
			g.have += skip
			i += skip
			if g.have == int(g.length) {
				g.have, g.checked = 0, false
			}
			continue
		}
		start := i - g.have // where this block began in p (negative: an earlier read)
		for i < n && g.have < len(g.hdr) && !g.checked {
			g.hdr[g.have] = p[i]
			g.have++
			i++
			if bad := g.check(); bad != nil {
				g.err = bad
				return max(start, 0), nil
			}
		}
	}
	if err != nil {
		g.err = err
	}
	return n, err
}

// check validates the block header as far as it has been read, and marks
// the block checked once every field it needs is in.
func (g *ngGuard) check() error {
	h := g.hdr[:g.have]
	if len(h) < 8 {
		return nil
	}
	typ := binary.LittleEndian.Uint32(h[0:4]) // the section header's type reads the same either way
	if typ == 0x0a0d0d0a {
		if len(h) < 12 {
			return nil
		}
		switch {
		case binary.LittleEndian.Uint32(h[8:12]) == 0x1a2b3c4d:
			g.order = binary.LittleEndian
		case binary.BigEndian.Uint32(h[8:12]) == 0x1a2b3c4d:
			g.order = binary.BigEndian
		default:
			return errors.New("pcapng: section header with a bad byte-order magic")
		}
	}
	g.length = g.order.Uint32(h[4:8])
	if g.length < 12 || g.length%4 != 0 || (typ == 0x0a0d0d0a && g.length < 28) {
		return fmt.Errorf("pcapng: block length %d", g.length)
	}
	typ = g.order.Uint32(h[0:4])
	var need int
	var field uint32
	switch typ {
	case 1: // interface description: snap length at 12
		need = 16
	case 2, 6: // packet, enhanced packet: captured length at 20
		need = 24
	case 3: // simple packet: original length at 8
		need = 12
	default:
		need = 8
	}
	if len(h) < need {
		return nil
	}
	switch typ {
	case 1:
		if field = g.order.Uint32(h[12:16]); field > maxCaptureLen {
			return fmt.Errorf("pcapng: interface snap length %d exceeds %d", field, maxCaptureLen)
		}
	case 2, 6:
		if field = g.order.Uint32(h[20:24]); g.length < 32 || field > maxCaptureLen || field > g.length-32 {
			return fmt.Errorf("pcapng: captured length %d in a block of %d bytes", field, g.length)
		}
	case 3:
		if field = g.order.Uint32(h[8:12]); field > maxCaptureLen {
			return fmt.Errorf("pcapng: packet length %d exceeds %d", field, maxCaptureLen)
		}
	}
	g.checked = true
	if g.have >= int(g.length) {
		g.have, g.checked = 0, false
	}
	return nil
}
