package nicstat

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Auto is the device setting that lets Resolve choose.
const Auto = "auto"

// Resolve names the device whose statistics to read, once, at start: nic
// itself unless it is "" or Auto (it must then exist); else the device
// holding the listen address's IP when the address names one; else the
// device of the IPv4 default route, else of the IPv6 one (lowest metric).
func Resolve(nic, listen string) (string, error) {
	if nic != "" && nic != Auto {
		if _, err := net.InterfaceByName(nic); err != nil {
			return "", fmt.Errorf("nicstat: interface %q: %w", nic, err)
		}
		return nic, nil
	}
	if host, _, err := net.SplitHostPort(listen); err == nil && host != "" {
		if a, err := netip.ParseAddr(host); err == nil && !a.IsUnspecified() {
			if dev, err := deviceWithAddr(a); err == nil {
				return dev, nil
			}
		}
	}
	return defaultRouteDevice()
}

// deviceWithAddr returns the interface holding a.
func deviceWithAddr(a netip.Addr) (string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return "", err
	}
	for _, i := range ifs {
		addrs, err := i.Addrs()
		if err != nil {
			continue
		}
		for _, ad := range addrs {
			if p, err := netip.ParsePrefix(ad.String()); err == nil && p.Addr().Unmap() == a.Unmap() {
				return i.Name, nil
			}
		}
	}
	return "", fmt.Errorf("nicstat: no interface holds %s", a)
}

// Route flags of linux/route.h (RTF_UP, RTF_REJECT).
const (
	rtfUp     = 0x0001
	rtfReject = 0x0200
)

// errNoDefault is returned when a routing table has no usable default.
var errNoDefault = errors.New("nicstat: no default route")

// parseRoute4 finds the default route's device in /proc/net/route: the
// line with Destination and Mask 00000000, flag RTF_UP, lowest Metric.
func parseRoute4(r io.Reader) (string, error) {
	best, bestMetric := "", uint64(1<<63)
	sc := bufio.NewScanner(r)
	first := true
	for sc.Scan() {
		if first { // header: Iface Destination Gateway Flags RefCnt Use Metric Mask …
			first = false
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 8 || f[1] != "00000000" || f[7] != "00000000" {
			continue
		}
		flags, err1 := strconv.ParseUint(f[3], 16, 32)
		metric, err2 := strconv.ParseUint(f[6], 10, 32)
		if err1 != nil || err2 != nil || flags&rtfUp == 0 || flags&rtfReject != 0 {
			continue
		}
		if metric < bestMetric {
			best, bestMetric = f[0], metric
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("nicstat: reading the IPv4 routes: %w", err)
	}
	if best == "" {
		return "", errNoDefault
	}
	return best, nil
}

// parseRoute6 finds the default route's device in /proc/net/ipv6_route:
// destination ::/0, RTF_UP and not RTF_REJECT (the kernel's unreachable
// ::/0 on lo), lowest metric. Columns: dest, dest len, src, src len, next
// hop, metric, refcnt, use, flags (hex), device.
func parseRoute6(r io.Reader) (string, error) {
	best, bestMetric := "", uint64(1<<63)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[0] != strings.Repeat("0", 32) || f[1] != "00" {
			continue
		}
		metric, err1 := strconv.ParseUint(f[5], 16, 32)
		flags, err2 := strconv.ParseUint(f[8], 16, 32)
		if err1 != nil || err2 != nil || flags&rtfUp == 0 || flags&rtfReject != 0 || f[9] == "lo" {
			continue
		}
		if metric < bestMetric {
			best, bestMetric = f[9], metric
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("nicstat: reading the IPv6 routes: %w", err)
	}
	if best == "" {
		return "", errNoDefault
	}
	return best, nil
}
