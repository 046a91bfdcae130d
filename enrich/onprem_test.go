package enrich_test

import (
	"net/netip"
	"testing"

	"github.com/dxmon/dxmon/enrich"
)

// TestOnPremLookup: the first prefix that holds an address names it, by
// its masked CIDR; IPv4-mapped and zoned addresses are looked up as the
// plain address; an address in no prefix is unknown.
func TestOnPremLookup(t *testing.T) {
	o, err := enrich.NewOnPrem([]netip.Prefix{
		netip.MustParsePrefix("192.168.1.0/24"),
		netip.MustParsePrefix("192.168.7.7/16"), // masked: 192.168.0.0/16
		netip.MustParsePrefix("2001:db8::/32"),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ip   string
		want string // Info.OnPrem; "" = unknown
	}{
		{"192.168.1.9", "192.168.1.0/24"}, // in both: the first wins
		{"192.168.2.1", "192.168.0.0/16"},
		{"::ffff:192.168.2.1", "192.168.0.0/16"},
		{"2001:db8::1", "2001:db8::/32"},
		{"fe80::1%eth0", ""},
		{"2001:db8::1%eth0", "2001:db8::/32"},
		{"10.0.0.1", ""},
	} {
		i, ok := o.Lookup(netip.MustParseAddr(c.ip))
		if ok != (c.want != "") || i != (enrich.Info{OnPrem: c.want}) {
			t.Errorf("Lookup(%s) = %+v, %v; want OnPrem %q", c.ip, i, ok, c.want)
		}
	}
}

func TestOnPremEmptyAndNilKnowNothing(t *testing.T) {
	empty, err := enrich.NewOnPrem(nil)
	if err != nil {
		t.Fatal(err)
	}
	var none *enrich.OnPrem
	for _, o := range []*enrich.OnPrem{empty, none} {
		if i, ok := o.Lookup(netip.MustParseAddr("10.0.0.1")); ok || !i.IsZero() {
			t.Errorf("%v: Lookup = %+v, %v; want nothing", o, i, ok)
		}
	}
}

func TestNewOnPremRejectsInvalidPrefix(t *testing.T) {
	if _, err := enrich.NewOnPrem([]netip.Prefix{{}}); err == nil {
		t.Error("NewOnPrem accepted the zero prefix")
	}
}

// TestOnPremLookupDoesNotAllocate: it runs once per reported address per
// window, on the coordinator.
func TestOnPremLookupDoesNotAllocate(t *testing.T) {
	o, err := enrich.NewOnPrem([]netip.Prefix{netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("2001:db8::/32")})
	if err != nil {
		t.Fatal(err)
	}
	ips := []netip.Addr{netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("::ffff:192.168.1.1"),
		netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("8.8.8.8")}
	var sink int
	if allocs := testing.AllocsPerRun(1000, func() {
		for _, ip := range ips {
			i, _ := o.Lookup(ip)
			sink += len(i.OnPrem)
		}
	}); allocs != 0 {
		t.Errorf("Lookup allocates %v times per run, want 0", allocs)
	}
	_ = sink
}
