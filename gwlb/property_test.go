package gwlb

import (
	"bytes"
	"encoding/binary"
	"testing"

	"pgregory.net/rapid"

	"github.com/dxmon/dxmon/internal/gwlbtest"
	"github.com/dxmon/dxmon/vxlan"
)

// option is one Geneve option: class, type, data (a multiple of 4 bytes).
type option struct {
	class uint16
	typ   byte
	data  []byte
}

// geneve builds a Geneve header with the options in order, then inner.
func geneve(proto uint16, opts []option, inner []byte) []byte {
	n := 0
	for _, o := range opts {
		n += 4 + len(o.data)
	}
	p := []byte{byte(n / 4), 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(p[2:], proto)
	for _, o := range opts {
		p = append(p, byte(o.class>>8), byte(o.class), o.typ, byte(len(o.data)/4))
		p = append(p, o.data...)
	}
	return append(p, inner...)
}

// TestPropertyGWLBPackets: whatever the order of AWS's three TLVs and
// whatever foreign options surround them, a GWLB packet is accepted, its
// TLVs read, and answered byte for byte; without any one of the three it
// is refused.
func TestPropertyGWLBPackets(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ep, at, ck := rapid.Uint64().Draw(t, "endpoint"), rapid.Uint64().Draw(t, "attachment"), rapid.Uint32().Draw(t, "cookie")
		aws := []option{
			{vxlan.GWLBOptionClass, vxlan.GWLBOptEndpointID, binary.BigEndian.AppendUint64(nil, ep)},
			{vxlan.GWLBOptionClass, vxlan.GWLBOptAttachmentID, binary.BigEndian.AppendUint64(nil, at)},
			{vxlan.GWLBOptionClass, vxlan.GWLBOptFlowCookie, binary.BigEndian.AppendUint32(nil, ck)},
		}
		perm := rapid.Permutation([]int{0, 1, 2}).Draw(t, "order")
		var opts []option
		foreign := func(name string) {
			for range rapid.IntRange(0, 2).Draw(t, name) {
				words := rapid.IntRange(0, 4).Draw(t, name+" words")
				opts = append(opts, option{rapid.Uint16Range(0x0109, 0xffff).Draw(t, name+" class"), rapid.Byte().Draw(t, name+" type"),
					rapid.SliceOfN(rapid.Byte(), 4*words, 4*words).Draw(t, name+" data")})
			}
		}
		foreign("before")
		for _, i := range perm {
			opts = append(opts, aws[i])
			foreign("after")
		}
		v6 := rapid.Bool().Draw(t, "v6")
		proto := uint16(0x0800)
		if v6 {
			proto = 0x86DD
		}
		inner := gwlbtest.Inner(v6, rapid.IntRange(20, 8500).Draw(t, "inner size"), rapid.Byte().Draw(t, "seed"))
		p := geneve(proto, opts, inner)
		if len(p) > 8+252+len(inner) {
			t.Skip("options longer than Opt Len can say")
		}
		var m vxlan.GWLBMeta
		if r := Check(p, &m); r != OK {
			t.Fatalf("Check: %v", r)
		}
		if m.EndpointID != ep || m.AttachmentID != at || m.FlowCookie != ck {
			t.Fatalf("meta %+v, want %x %x %x", m, ep, at, ck)
		}
		f := &fakeWriter{keep: true}
		w := &worker{out: f, port: GenevePort}
		var tl tally
		w.reflect(&tl, p, gwlbAddr, applAddr, true, true)
		if len(f.queued) != 1 || !bytes.Equal(f.queued[0].Payload, p) {
			t.Fatal("not answered byte for byte")
		}
		// Without one of the three: refused.
		drop := rapid.IntRange(0, 2).Draw(t, "drop")
		var less []option
		for _, o := range opts {
			if o.class != vxlan.GWLBOptionClass || o.typ != aws[drop].typ {
				less = append(less, o)
			}
		}
		if r := Check(geneve(proto, less, inner), &m); r != NoGWLBOptions {
			t.Fatalf("without TLV type %d: %v, want %v", aws[drop].typ, r, NoGWLBOptions)
		}
	})
}
