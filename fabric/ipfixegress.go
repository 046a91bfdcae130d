package fabric

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/dxmon/dxmon/ipfix"
)

// The probes export IPFIX to PROBE_IPFIX (udp://HOST:PORT). Their security
// group lets them talk to the VPC and to HTTPS anywhere, which drops the
// export to a collector outside the VPC (on premises, across the Direct
// Connect link) without a word. ipfixEgress is the one rule that lets it
// through: UDP to the collector's address and port, or, when HOST is a
// name whose addresses may change, UDP to that port anywhere.

// ipfixCollector parses PROBE_IPFIX as dxprobe does (ipfix.ParseURL) and
// returns the host and port.
func ipfixCollector(v string) (host string, port int32, err error) {
	hp, err := ipfix.ParseURL(v)
	if err != nil {
		return "", 0, err
	}
	h, p, _ := net.SplitHostPort(hp)
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return "", 0, fmt.Errorf("port %q is not 1-65535", p)
	}
	return h, int32(n), nil
}

// ipfixEgress returns the probe security group's rule for PROBE_IPFIX, if
// one is needed beyond the VPC rule.
func (c Config) ipfixEgress() (Rule, bool) {
	if c.ProbeIPFIX == "" {
		return Rule{}, false
	}
	host, port, err := ipfixCollector(c.ProbeIPFIX)
	if err != nil {
		return Rule{}, false // Validate refuses it
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if c.VPCCIDR.Contains(a) {
			return Rule{}, false // the VPC rule allows it
		}
		return Rule{"udp", port, port, netip.PrefixFrom(a, 32).String()}, true
	}
	return Rule{"udp", port, port, "0.0.0.0/0"}, true
}

// validateIPFIX checks PROBE_IPFIX as dxprobe will (udp://HOST:PORT), and
// that an address is IPv4, which the security group rules hold.
func (c Config) validateIPFIX() error {
	if c.ProbeIPFIX == "" {
		return nil
	}
	host, _, err := ipfixCollector(c.ProbeIPFIX)
	if err != nil {
		return fmt.Errorf("PROBE_IPFIX: %q is not a collector URL (e.g. udp://192.0.2.10:4739): %v", c.ProbeIPFIX, err)
	}
	if a, err := netip.ParseAddr(host); err == nil && !a.Is4() {
		return fmt.Errorf("PROBE_IPFIX: %q: the probes' security group takes an IPv4 collector address or a name", c.ProbeIPFIX)
	}
	return nil
}
