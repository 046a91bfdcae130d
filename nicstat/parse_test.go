package nicstat

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// gstrings builds a struct ethtool_gstrings as the kernel fills it.
func gstrings(n uint32, names ...string) []byte {
	b := make([]byte, 12+len(names)*ethGStringLen)
	binary.NativeEndian.PutUint32(b[8:], n)
	for i, s := range names {
		copy(b[12+i*ethGStringLen:], s)
	}
	return b
}

func TestParseGStrings(t *testing.T) {
	full := strings.Repeat("x", ethGStringLen) // no NUL: the record's end ends it
	got, err := parseGStrings(gstrings(3, "rx_drops", full, ""), 3)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"rx_drops", full, ""}, got); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	for name, c := range map[string]struct {
		b   []byte
		cap int
	}{
		"len past capacity": {gstrings(4, "a", "b", "c", "d"), 3},
		"len past buffer":   {gstrings(5, "a"), 10},
		"huge len":          {gstrings(1<<31, "a"), 1 << 31},
		"short header":      {[]byte{1, 2, 3}, 1},
	} {
		if _, err := parseGStrings(c.b, c.cap); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseGStats(t *testing.T) {
	b := make([]byte, 8+3*8)
	binary.NativeEndian.PutUint32(b[4:], 2)
	binary.NativeEndian.PutUint64(b[8:], 7)
	binary.NativeEndian.PutUint64(b[16:], 1<<63)
	got, err := parseGStats(b, 3)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]uint64{7, 1 << 63}, got); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	binary.NativeEndian.PutUint32(b[4:], 4)
	if _, err := parseGStats(b, 10); err == nil {
		t.Error("4 values in a buffer of 3: no error")
	}
	if _, err := parseGStats(b, 2); err == nil {
		t.Error("4 values for a capacity of 2: no error")
	}
}

// Every name of 0 to 31 bytes without NUL comes back as written.
func TestParseGStringsRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		raw := rapid.SliceOfN(rapid.SliceOfN(rapid.ByteRange(1, 255), 0, ethGStringLen-1), 0, 50).Draw(t, "names")
		names := make([]string, len(raw))
		for i, r := range raw {
			names[i] = string(r)
		}
		got, err := parseGStrings(gstrings(uint32(len(names)), names...), len(names))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(names, got); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	})
}

// FuzzParseKernelAnswers feeds hostile buffers and counts to the parsers of
// the kernel's string table and values: they must return an error, never
// panic or read past the buffer.
func FuzzParseKernelAnswers(f *testing.F) {
	f.Add(gstrings(2, "rx_drops", "tx_kicks"), 2)
	f.Add(gstrings(1<<31), 1<<20)
	f.Add([]byte{}, 0)
	f.Fuzz(func(t *testing.T, b []byte, capacity int) {
		if names, err := parseGStrings(b, capacity); err == nil {
			for _, n := range names {
				if len(n) > ethGStringLen || strings.IndexByte(n, 0) >= 0 {
					t.Fatalf("name %q: longer than a record or holds a NUL", n)
				}
			}
		}
		if vals, err := parseGStats(b, capacity); err == nil && 8+8*len(vals) > len(b) {
			t.Fatalf("%d values from %d bytes", len(vals), len(b))
		}
		_, _ = parseStrings(b, capacity)
	})
}

func TestParseRoute(t *testing.T) {
	route4 := `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
eth1	00000000	010200C0	0003	0	0	200	00000000	0	0	0
ens5	00000000	010200C0	0003	0	0	100	00000000	0	0	0
ens6	00000000	010200C0	0001	0	0	50	FFFFFFFF	0	0	0
down0	00000000	010200C0	0002	0	0	1	00000000	0	0	0
ens5	000200C0	00000000	0001	0	0	0	00FFFFFF	0	0	0
`
	if dev, err := parseRoute4(strings.NewReader(route4)); err != nil || dev != "ens5" {
		t.Errorf("IPv4: %q, %v; want ens5 (the lowest metric of the up defaults)", dev, err)
	}
	if _, err := parseRoute4(strings.NewReader("Iface\tDestination\n")); err == nil {
		t.Error("IPv4 table without a default: no error")
	}
	z := strings.Repeat("0", 32)
	route6 := z + " 00 " + z + " 00 " + z + " ffffffff 00000001 00000000 00200200       lo\n" +
		z + " 00 " + z + " 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003     ens5\n" +
		"20010db8000000000000000000000000 40 " + z + " 00 " + z + " 00000100 00000001 00000000 00000001     ens5\n"
	if dev, err := parseRoute6(strings.NewReader(route6)); err != nil || dev != "ens5" {
		t.Errorf("IPv6: %q, %v; want ens5 (lo's ::/0 is the kernel's unreachable route)", dev, err)
	}
}

func TestResolveNamed(t *testing.T) {
	if dev, err := Resolve("lo", ""); err != nil || dev != "lo" {
		t.Errorf("Resolve(lo) = %q, %v", dev, err)
	}
	if _, err := Resolve("dxena-none0", ""); err == nil || !strings.Contains(err.Error(), "dxena-none0") {
		t.Errorf("Resolve of a missing interface: %v; want an error naming it", err)
	}
	if dev, err := Resolve(Auto, "127.0.0.1:6081"); err != nil || dev != "lo" {
		t.Errorf("Resolve(auto, 127.0.0.1:6081) = %q, %v; want lo, which holds the address", dev, err)
	}
}
