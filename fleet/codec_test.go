package fleet

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dxmon/dxmon/report"
)

func samplePart() Part {
	v4 := netip.MustParseAddr("198.18.0.10")
	v6 := netip.MustParseAddr("2001:db8::7")
	return Part{Packets: 1 << 40, Bytes: 1<<63 + 5,
		Flows: []report.Flow{
			{Src: v4, Dst: v6, Proto: 6, Sport: 443, Dport: 65535, Packets: 3, Bytes: 4500, Dir: report.ToAWS, GWLBE: "vpce-0123456789abcdef0"},
			{Src: v6, Dst: v4, Proto: 17, Sport: 0, Dport: 53, Packets: 1, Bytes: 90, Dir: report.FromAWS},
			{Src: v4, Dst: v4, Proto: 1, Packets: 1, Bytes: 84},
		},
		Src:   []report.Host{{IP: v4, Packets: 4, Bytes: 4584}, {IP: v6, Packets: 1, Bytes: 90}},
		Dst:   []report.Host{{IP: v6, Packets: 3, Bytes: 4500}},
		Dport: []report.Port{{Proto: 6, Port: 65535, Packets: 3, Bytes: 4500}, {Proto: 17, Port: 53, Packets: 1, Bytes: 90}},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for _, p := range []Part{{}, samplePart()} {
		b := encodePart(nil, &p)
		got, err := decodePart(b)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if d := cmp.Diff(p, got, cmpopts.EquateEmpty(), cmpopts.EquateComparable(netip.Addr{})); d != "" {
			t.Errorf("round trip (-want +got):\n%s", d)
		}
	}
}

// TestCodecRejects: every truncation, and a few corruptions, of a valid
// encoding is an error wrapping ErrCorrupt.
func TestCodecRejects(t *testing.T) {
	p := samplePart()
	b := encodePart(nil, &p)
	for n := range len(b) {
		if _, err := decodePart(b[:n]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("truncated to %d of %d bytes: err %v, want ErrCorrupt", n, len(b), err)
		}
	}
	for name, bad := range map[string][]byte{
		"trailing byte":      append(append([]byte(nil), b...), 0),
		"huge flow count":    {0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"flow flags 0x80":    {0, 0, 1, 0x80, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
		"direction 3":        {0, 0, 1, 3 << dirShift, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
		"overlong varint":    {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"gwlbe length 65":    {0, 0, 1, flagGWLBE, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 1, 1, 65},
		"host flags 2":       {0, 0, 0, 1, 2, 1, 2, 3, 4, 1, 1},
		"missing port count": {0, 0, 0, 0, 0},
	} {
		if _, err := decodePart(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err %v, want ErrCorrupt", name, err)
		}
	}
}

// FuzzDecodePart: hostile table content never panics, and whatever
// decodes encodes back to the same bytes.
func FuzzDecodePart(f *testing.F) {
	p := samplePart()
	f.Add(encodePart(nil, &p))
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodePart(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if again := encodePart(nil, &got); string(again) != string(b) {
			// Non-minimal varints decode too; the re-encoding must at
			// least decode to the same part.
			back, err := decodePart(again)
			if err != nil || !cmp.Equal(got, back, cmpopts.EquateEmpty(), cmpopts.EquateComparable(netip.Addr{})) {
				t.Fatalf("re-encoding differs: %v", err)
			}
		}
	})
}
