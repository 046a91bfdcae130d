package enrich

import (
	"fmt"
	"net/netip"
)

// OnPrem names addresses by the on-premises CIDR that holds them, the
// first of its prefixes that contains the address: what an Enricher tells
// of an address outside its VPC, without asking AWS (a probe that knows
// its on-premises prefixes but reads no VPC). It is read-only once made:
// Lookup is safe for concurrent use, never locks and never allocates. A
// nil *OnPrem knows nothing.
type OnPrem struct {
	prefixes []netip.Prefix // masked
	infos    []Info         // one per prefix, OnPrem set
}

// NewOnPrem returns the OnPrem of prefixes, masked (10.1.2.3/8 names
// addresses as "10.0.0.0/8"). An invalid (zero) prefix is an error.
func NewOnPrem(prefixes []netip.Prefix) (*OnPrem, error) {
	o := &OnPrem{}
	for _, p := range prefixes {
		if !p.IsValid() {
			return nil, fmt.Errorf("enrich: invalid on-prem CIDR %v", p)
		}
		p = p.Masked()
		o.prefixes = append(o.prefixes, p)
		o.infos = append(o.infos, Info{OnPrem: p.String()})
	}
	return o, nil
}

// Lookup returns the Info of the first prefix that contains ip, whose
// OnPrem names the prefix; ok is false when none does. IPv4-mapped IPv6
// addresses are looked up as IPv4. Its signature is report.Lookup's.
func (o *OnPrem) Lookup(ip netip.Addr) (Info, bool) {
	if p := o.get(ip.Unmap().WithZone("")); p != nil {
		return *p, true
	}
	return Info{}, false
}

// get is Lookup's pointer into infos, or nil; ip is unmapped and unzoned.
func (o *OnPrem) get(ip netip.Addr) *Info {
	if o == nil {
		return nil
	}
	for i, p := range o.prefixes {
		if p.Contains(ip) {
			return &o.infos[i]
		}
	}
	return nil
}
