package envflag

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// HostPort checks a listen address "host:port" whose host is empty (every
// address) or an IP address, IPv4 only when v4 is true, and returns its
// parts. Its errors are "want …" phrases for Invalid.
func HostPort(addr string, v4 bool) (netip.Addr, uint16, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.Addr{}, 0, fmt.Errorf("want HOST:PORT or :PORT, such as :4789 or 127.0.0.1:9100")
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.Addr{}, 0, fmt.Errorf("want a port from 0 to 65535 after the colon, not %q", port)
	}
	if host == "" {
		return netip.Addr{}, uint16(p), nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, 0, fmt.Errorf("want an IP address or nothing before the port, not %q", host)
	}
	if v4 && !a.Is4() {
		return netip.Addr{}, 0, fmt.Errorf("want an IPv4 address or nothing before the port, not %q", host)
	}
	return a, uint16(p), nil
}

// Prefixes parses CIDRs separated by commas or spaces ("10.0.0.0/8,
// 2001:db8::/32") into masked prefixes. Its errors are "want …" phrases
// for Invalid that name the CIDR at fault.
func Prefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		p, err := parsePrefix(f)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func parsePrefix(f string) (netip.Prefix, error) {
	addr, bits, ok := strings.Cut(f, "/")
	if !ok {
		return netip.Prefix{}, fmt.Errorf("want CIDRs such as 10.0.0.0/16 or 2001:db8::/32; %q has no /length", f)
	}
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("want CIDRs such as 10.0.0.0/16 or 2001:db8::/32; %q is not an IP address", addr)
	}
	n, err := strconv.Atoi(bits)
	if err != nil || n < 0 || n > a.BitLen() || bits != strconv.Itoa(n) {
		return netip.Prefix{}, fmt.Errorf("want CIDRs with a prefix length from 0 to %d for IPv%d; %q has %q", a.BitLen(), map[int]int{32: 4, 128: 6}[a.BitLen()], f, bits)
	}
	return netip.PrefixFrom(a, n), nil
}

// ListenFailure says in words why a listener on a flag's address could
// not open, for Set.Failed: "permission denied: ports below 1024 need
// CAP_NET_BIND_SERVICE or root", "the address is in use by another
// process", or the system's own words without Go's "listen tcp …" prefix.
func ListenFailure(err error) string {
	switch {
	case errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM):
		return "permission denied: ports below 1024 need CAP_NET_BIND_SERVICE or root"
	case errors.Is(err, syscall.EADDRINUSE):
		return "the address is in use by another process"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no interface of this host has that address"
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err.Error()
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}
