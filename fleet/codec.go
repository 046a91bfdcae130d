package fleet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/dxmon/dxmon/report"
)

// A Part is stored as one binary attribute, in this layout (uvarint is
// encoding/binary's unsigned varint):
//
//	part    = uvarint packets, uvarint bytes,
//	          uvarint n, n × flow, uvarint n, n × host (sources),
//	          uvarint n, n × host (destinations), uvarint n, n × port
//	flow    = flags, src (4 or 16 bytes), dst (4 or 16), proto, sport (2, big endian),
//	          dport (2), uvarint packets, uvarint bytes [, uvarint len, gwlbe]
//	          flags: bit 0 src is IPv6, bit 1 dst is IPv6, bits 2–3 direction
//	          (0 none, 1 to_aws, 2 from_aws), bit 4 a GWLB endpoint follows
//	host    = flags (bit 0 IPv6), ip, uvarint packets, uvarint bytes
//	port    = proto, port (2), uvarint packets, uvarint bytes
//
// Binary, because an item's size is what a write costs (one write request
// unit per KB) and what the 400 KB limit bounds: an IPv4 flow takes about
// 20 bytes here against about 150 as a DynamoDB map of named attributes.

// Flag bits of a flow or host record.
const (
	flagSrc6  = 1 << 0
	flagDst6  = 1 << 1
	dirShift  = 2
	dirMask   = 3 << dirShift
	flagGWLBE = 1 << 4
)

// maxGWLBE bounds a GWLB endpoint name in a record (vpce- IDs are 22).
const maxGWLBE = 64

// ErrCorrupt is wrapped by every decoding error: the item was not written
// by this version's encoder.
var ErrCorrupt = errors.New("fleet: corrupt summary")

func appendAddr(b []byte, a netip.Addr) ([]byte, bool) {
	if a.Is4() {
		v := a.As4()
		return append(b, v[:]...), false
	}
	v := a.As16()
	return append(b, v[:]...), true
}

func dirCode(d string) byte {
	switch d {
	case report.ToAWS:
		return 1
	case report.FromAWS:
		return 2
	}
	return 0
}

// encodePart appends p's encoding to b.
func encodePart(b []byte, p *Part) []byte {
	b = binary.AppendUvarint(b, p.Packets)
	b = binary.AppendUvarint(b, p.Bytes)
	b = binary.AppendUvarint(b, uint64(len(p.Flows)))
	for i := range p.Flows {
		f := &p.Flows[i]
		at := len(b)
		b = append(b, 0)
		var v6 bool
		flags := dirCode(f.Dir) << dirShift
		if b, v6 = appendAddr(b, f.Src); v6 {
			flags |= flagSrc6
		}
		if b, v6 = appendAddr(b, f.Dst); v6 {
			flags |= flagDst6
		}
		b = append(b, f.Proto)
		b = binary.BigEndian.AppendUint16(b, f.Sport)
		b = binary.BigEndian.AppendUint16(b, f.Dport)
		b = binary.AppendUvarint(b, f.Packets)
		b = binary.AppendUvarint(b, f.Bytes)
		if g := f.GWLBE; g != "" {
			flags |= flagGWLBE
			g = g[:min(len(g), maxGWLBE)]
			b = binary.AppendUvarint(b, uint64(len(g)))
			b = append(b, g...)
		}
		b[at] = flags
	}
	for _, hs := range [][]report.Host{p.Src, p.Dst} {
		b = binary.AppendUvarint(b, uint64(len(hs)))
		for i := range hs {
			at := len(b)
			b = append(b, 0)
			var v6 bool
			if b, v6 = appendAddr(b, hs[i].IP); v6 {
				b[at] = flagSrc6
			}
			b = binary.AppendUvarint(b, hs[i].Packets)
			b = binary.AppendUvarint(b, hs[i].Bytes)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(p.Dport)))
	for _, pt := range p.Dport {
		b = append(b, pt.Proto)
		b = binary.BigEndian.AppendUint16(b, pt.Port)
		b = binary.AppendUvarint(b, pt.Packets)
		b = binary.AppendUvarint(b, pt.Bytes)
	}
	return b
}

// decoder reads a Part's encoding; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at %d bytes from the end", ErrCorrupt, what, len(d.b))
	}
	d.b = nil
}

func (d *decoder) uvarint(what string) uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n int, what string) []byte {
	if n < 0 || len(d.b) < n {
		d.fail(what)
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) addr(v6 bool, what string) netip.Addr {
	if v6 {
		if v := d.bytes(16, what); v != nil {
			return netip.AddrFrom16([16]byte(v))
		}
		return netip.Addr{}
	}
	if v := d.bytes(4, what); v != nil {
		return netip.AddrFrom4([4]byte(v))
	}
	return netip.Addr{}
}

// count reads a record count, refusing more than the bytes left could hold
// (each record takes at least min bytes), so that hostile input cannot make
// the decoder allocate much.
func (d *decoder) count(min int, what string) int {
	n := d.uvarint(what + " count")
	if d.err != nil || n > uint64(len(d.b)/min) {
		d.fail(what + " count")
		return 0
	}
	return int(n)
}

// decodePart decodes what encodePart wrote; any other input gives an error
// wrapping ErrCorrupt, never a panic.
func decodePart(b []byte) (Part, error) {
	d := &decoder{b: b}
	var p Part
	p.Packets = d.uvarint("packets")
	p.Bytes = d.uvarint("bytes")
	n := d.count(15, "flow")
	p.Flows = make([]report.Flow, 0, n)
	for range n {
		fl := d.bytes(1, "flow flags")
		if fl == nil {
			break
		}
		flags := fl[0]
		if flags&^(flagSrc6|flagDst6|dirMask|flagGWLBE) != 0 || flags&dirMask == dirMask {
			d.fail("flow flags")
			break
		}
		f := report.Flow{Src: d.addr(flags&flagSrc6 != 0, "flow src"), Dst: d.addr(flags&flagDst6 != 0, "flow dst")}
		switch flags & dirMask >> dirShift {
		case 1:
			f.Dir = report.ToAWS
		case 2:
			f.Dir = report.FromAWS
		}
		if v := d.bytes(5, "flow ports"); v != nil {
			f.Proto, f.Sport, f.Dport = v[0], binary.BigEndian.Uint16(v[1:]), binary.BigEndian.Uint16(v[3:])
		}
		f.Packets = d.uvarint("flow packets")
		f.Bytes = d.uvarint("flow bytes")
		if flags&flagGWLBE != 0 {
			l := d.uvarint("gwlbe length")
			if l > maxGWLBE {
				d.fail("gwlbe length")
			}
			f.GWLBE = string(d.bytes(int(l), "gwlbe"))
		}
		if d.err != nil {
			break
		}
		p.Flows = append(p.Flows, f)
	}
	for _, hs := range []*[]report.Host{&p.Src, &p.Dst} {
		n := d.count(7, "host")
		*hs = make([]report.Host, 0, n)
		for range n {
			fl := d.bytes(1, "host flags")
			if fl == nil || fl[0]&^flagSrc6 != 0 {
				d.fail("host flags")
				break
			}
			h := report.Host{IP: d.addr(fl[0] != 0, "host ip")}
			h.Packets = d.uvarint("host packets")
			h.Bytes = d.uvarint("host bytes")
			if d.err != nil {
				break
			}
			*hs = append(*hs, h)
		}
	}
	n = d.count(5, "port")
	p.Dport = make([]report.Port, 0, n)
	for range n {
		v := d.bytes(3, "port")
		if v == nil {
			break
		}
		pt := report.Port{Proto: v[0], Port: binary.BigEndian.Uint16(v[1:])}
		pt.Packets = d.uvarint("port packets")
		pt.Bytes = d.uvarint("port bytes")
		if d.err != nil {
			break
		}
		p.Dport = append(p.Dport, pt)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return Part{}, d.err
	}
	return p, nil
}
