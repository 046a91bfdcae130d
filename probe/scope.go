package probe

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/dxmon/dxmon/flow"
)

// maxScopePrefixes bounds each list of Config.OnPrem and Config.VPC: the
// packet path scans them.
const maxScopePrefixes = 64

// scopePrefix is a CIDR in the layout of vxlan.Packet addresses (IPv4 as
// IPv4-mapped IPv6), as two big-endian words and their masks, so that a
// test is four loads, two ANDs and two compares.
type scopePrefix struct {
	hi, lo         uint64
	maskHi, maskLo uint64
}

// scope is the on-premises ↔ VPC filter (Config.OnPrem, Config.VPC).
// Read-only once built: workers share it without locks.
type scope struct {
	onPrem, vpc []scopePrefix
}

// newScope checks and converts the lists; a nil scope counts everything.
func newScope(onPrem, vpc []netip.Prefix) (*scope, error) {
	if len(onPrem) == 0 {
		if len(vpc) > 0 {
			return nil, fmt.Errorf("vpc cidrs %v: need on-premises cidrs as well", vpc)
		}
		return nil, nil
	}
	s := &scope{}
	var err error
	if s.onPrem, err = scopePrefixes("onprem", onPrem); err != nil {
		return nil, err
	}
	if s.vpc, err = scopePrefixes("vpc", vpc); err != nil {
		return nil, err
	}
	return s, nil
}

func scopePrefixes(what string, ps []netip.Prefix) ([]scopePrefix, error) {
	if len(ps) > maxScopePrefixes {
		return nil, fmt.Errorf("%s cidrs: %d given, at most %d", what, len(ps), maxScopePrefixes)
	}
	out := make([]scopePrefix, 0, len(ps))
	for _, p := range ps {
		if !p.IsValid() {
			return nil, fmt.Errorf("%s cidr %v: invalid", what, p)
		}
		bits := p.Bits()
		if p.Addr().Is4() {
			bits += 96
		}
		a := p.Addr().Unmap()
		if p.Addr().Is4() {
			a = netip.AddrFrom16(a.As16()) // IPv4-mapped, as packets hold IPv4
		}
		b := a.As16()
		var mhi, mlo uint64
		switch {
		case bits >= 64:
			mhi, mlo = ^uint64(0), ^uint64(0)<<(128-bits)
			if bits == 64 {
				mlo = 0
			}
		default:
			mhi = ^uint64(0) << (64 - bits)
			if bits == 0 {
				mhi = 0
			}
		}
		hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
		out = append(out, scopePrefix{hi: hi & mhi, lo: lo & mlo, maskHi: mhi, maskLo: mlo})
	}
	return out, nil
}

func inPrefixes(ps []scopePrefix, hi, lo uint64) bool {
	for i := range ps {
		p := &ps[i]
		if hi&p.maskHi == p.hi && lo&p.maskLo == p.lo {
			return true
		}
	}
	return false
}

// classify reports whether a packet from src to dst (vxlan.Packet layout)
// is on-premises ↔ VPC traffic, and its direction: keep when one end is on
// premises and, when VPC CIDRs are given, the other in the VPC (without VPC
// CIDRs, traffic between two on-premises addresses is kept too). The
// direction is flow.DirToAWS when the source is the on-premises end,
// flow.DirFromAWS when the destination is, and flow.DirUnknown when both
// ends qualify (two on-premises addresses, or overlapping lists). It
// neither allocates nor locks.
func (s *scope) classify(src, dst *[16]byte) (keep bool, dir flow.Direction) {
	be := binary.BigEndian
	shi, slo := be.Uint64(src[:8]), be.Uint64(src[8:])
	dhi, dlo := be.Uint64(dst[:8]), be.Uint64(dst[8:])
	srcOn, dstOn := inPrefixes(s.onPrem, shi, slo), inPrefixes(s.onPrem, dhi, dlo)
	to, from := srcOn, dstOn
	if len(s.vpc) != 0 {
		to = srcOn && inPrefixes(s.vpc, dhi, dlo)
		from = dstOn && inPrefixes(s.vpc, shi, slo)
	}
	switch {
	case to && !from:
		return true, flow.DirToAWS
	case from && !to:
		return true, flow.DirFromAWS
	}
	return to, flow.DirUnknown // to == from here
}

// keep reports whether a packet from src to dst is counted (see classify).
func (s *scope) keep(src, dst *[16]byte) bool {
	k, _ := s.classify(src, dst)
	return k
}

// NewClassifier returns the flow.Classifier of on-premises (and VPC)
// prefixes as a pipeline with Config.OnPrem and Config.VPC classifies its
// packets, for users of the flows outside the pipeline (an IPFIX
// exporter's flowDirection); nil when onPrem is empty. The error names the
// list and the value at fault.
func NewClassifier(onPrem, vpc []netip.Prefix) (flow.Classifier, error) {
	s, err := newScope(onPrem, vpc)
	if s == nil || err != nil {
		return nil, err
	}
	return s.direction, nil
}

// direction is the direction of a flow's key, as classify tells it for
// the flow's packets; a flow.Classifier.
func (s *scope) direction(k *flow.Key) flow.Direction {
	_, d := s.classify((*[16]byte)(k[0:16]), (*[16]byte)(k[16:32]))
	return d
}
