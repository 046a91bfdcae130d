package gwlb

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/dxmon/dxmon/internal/gwlbtest"
	"github.com/dxmon/dxmon/vxlan"
)

func TestCheckGood(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		for _, size := range []int{40, 100, 1500, 8500} {
			p := gwlbtest.Packet(v6, size, 7)
			var m vxlan.GWLBMeta
			if r := Check(p, &m); r != OK {
				t.Errorf("v6=%v size %d: %v, want ok", v6, size, r)
			}
			if m.EndpointID != 0x0123456789abcdef || m.FlowCookie != 0x07c0ffee {
				t.Errorf("v6=%v size %d: meta %+v", v6, size, m)
			}
		}
	}
}

func TestCheckMalformed(t *testing.T) {
	for label, p := range gwlbtest.Malformed() {
		var m vxlan.GWLBMeta
		if got := Check(p, &m).String(); got != label {
			t.Errorf("%s: Check says %s", label, got)
		}
	}
	// More ways to be wrong than gwlbtest's set.
	cases := map[string]struct {
		p    []byte
		want Reason
	}{
		"empty":               {nil, Truncated},
		"short":               {[]byte{0, 0, 8, 0}, Truncated},
		"no inner":            {gwlbtest.Header(0x0800, 1, 0, 1), InnerHeader},
		"v4 total too long":   {setU16(gwlbtest.Packet(false, 100, 1), 40+2, 101), InnerHeader},
		"v4 ihl 4":            {setByte(gwlbtest.Packet(false, 100, 1), 40, 0x44), InnerHeader},
		"v6 payload too long": {setU16(gwlbtest.Packet(true, 100, 1), 40+4, 61), InnerHeader},
		"two of three TLVs":   {twoTLVs(), NoGWLBOptions},
	}
	for name, c := range cases {
		var m vxlan.GWLBMeta
		if got := Check(c.p, &m); got != c.want {
			t.Errorf("%s: %v, want %v", name, got, c.want)
		}
	}
}

func setU16(p []byte, off int, v uint16) []byte { binary.BigEndian.PutUint16(p[off:], v); return p }
func setByte(p []byte, off int, v byte) []byte  { p[off] = v; return p }

// twoTLVs is a Geneve header with the endpoint ID and attachment ID but no
// flow cookie (Opt Len 6 words).
func twoTLVs() []byte {
	full := gwlbtest.Header(0x0800, 1, 2, 3)
	p := append([]byte(nil), full[:32]...)
	p[0] = 6
	return append(p, gwlbtest.Inner(false, 60, 0)...)
}

func TestCheckAddrs(t *testing.T) {
	g := netip.MustParseAddrPort("198.18.1.1:40000")
	a := netip.MustParseAddr("198.18.1.2")
	cases := []struct {
		name        string
		from        netip.AddrPort
		to          netip.Addr
		unicast, ok bool
		want        Reason
	}{
		{"good", g, a, true, true, OK},
		{"loopback", netip.MustParseAddrPort("127.0.0.2:1"), netip.MustParseAddr("127.0.0.1"), true, true, OK},
		{"no pktinfo", g, netip.Addr{}, false, false, Destination},
		{"to broadcast", g, netip.MustParseAddr("198.18.1.255"), false, true, Destination},
		{"to multicast", g, netip.MustParseAddr("239.1.1.1"), true, true, Destination},
		{"to limited broadcast", g, netip.MustParseAddr("255.255.255.255"), true, true, Destination},
		{"from port 0", netip.MustParseAddrPort("198.18.1.1:0"), a, true, true, Sender},
		{"from multicast", netip.MustParseAddrPort("224.0.0.1:5"), a, true, true, Sender},
		{"from unspecified", netip.MustParseAddrPort("0.0.0.0:5"), a, true, true, Sender},
		{"from IPv6", netip.MustParseAddrPort("[2001:db8::1]:5"), a, true, true, Sender},
		{"from nothing", netip.AddrPort{}, a, true, true, Sender},
		{"from itself", netip.AddrPortFrom(a, 6081), a, true, true, Sender},
	}
	for _, c := range cases {
		if got := CheckAddrs(c.from, c.to, c.unicast, c.ok); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestReasonStrings(t *testing.T) {
	seen := map[string]bool{}
	for r := OK; r < numReasons; r++ {
		s := r.String()
		if s == "" || s == "unknown" || seen[s] {
			t.Errorf("reason %d: label %q", r, s)
		}
		seen[s] = true
	}
	if Reason(200).String() != "unknown" {
		t.Error("out of range reason")
	}
}

// FuzzCheck: Check never panics, and whatever it accepts really is a GWLB
// Geneve packet, by a second, independent reading.
func FuzzCheck(f *testing.F) {
	f.Add(gwlbtest.Packet(false, 100, 1))
	f.Add(gwlbtest.Packet(true, 100, 1))
	for _, p := range gwlbtest.Malformed() {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		var m vxlan.GWLBMeta
		if Check(p, &m) != OK {
			return
		}
		if msg := independentCheck(p); msg != "" {
			t.Fatalf("Check accepted %x: %s", p, msg)
		}
	})
}

// independentCheck re-reads an accepted packet without package vxlan.
func independentCheck(p []byte) string {
	if len(p) < 8 || p[0]>>6 != 0 {
		return "not Geneve v0"
	}
	n := 8 + int(p[0]&0x3f)*4
	if n > len(p) {
		return "options past the end"
	}
	var have [4]bool
	for o := 8; o < n; {
		if o+4 > n {
			return "option header past the options"
		}
		l := int(p[o+3]&0x1f) * 4
		if o+4+l > n {
			return "option data past the options"
		}
		if p[o] == 0x01 && p[o+1] == 0x08 && p[o+2] >= 1 && p[o+2] <= 3 {
			want := map[byte]int{1: 8, 2: 8, 3: 4}[p[o+2]]
			if l == want {
				have[p[o+2]] = true
			}
		}
		o += 4 + l
	}
	if !have[1] || !have[2] || !have[3] {
		return "an AWS TLV is missing"
	}
	inner := p[n:]
	switch binary.BigEndian.Uint16(p[2:]) {
	case 0x0800:
		if len(inner) < 20 || inner[0]>>4 != 4 || int(binary.BigEndian.Uint16(inner[2:])) > len(inner) {
			return "bad inner IPv4"
		}
	case 0x86DD:
		if len(inner) < 40 || inner[0]>>4 != 6 || 40+int(binary.BigEndian.Uint16(inner[4:])) > len(inner) {
			return "bad inner IPv6"
		}
	default:
		return "protocol"
	}
	return ""
}
