package main

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/dxmon/dxmon/internal/netnstest"

	"github.com/dxmon/dxmon/flow"
	"github.com/dxmon/dxmon/report"
	"github.com/dxmon/dxmon/vxlan"
)

// TestKernelGWLB: a mirror of a Gateway Load Balancer appliance's ENI, built
// from the kernel's own devices in a network namespace of the test's own,
// read by a live dxprobe that filters on-premises ↔ VPC traffic.
//
//	sender (namespace) ── real UDP and TCP from 192.0.2.1 / 2001:db8:2::1
//	  → routes to the VPC (192.0.2.128/25, 2001:db8:2:1::/64) and elsewhere
//	    (198.51.100.0/24) lead into a TUN device, where the kernel hands the
//	    IP packets it built to the "GWLB" (this test's helper process)
//	  → the GWLB wraps each in Geneve with AWS's three TLVs (IPv4 flows through
//	    endpoint A, IPv6 through endpoint B) and sends it as UDP from
//	    198.19.2.10 (GWLB) to 198.19.2.20:6081 (appliance)
//	  → the kernel routes that over its VXLAN device (VNI 12345, UDP 4789) as
//	    VPC Traffic Mirroring would, across a veth (.6 → .5 of the test
//	    binary's own 198.18.X.0/24, netnstest.HostBlock)
//	  → dxprobe on the host side.
//
// The kernel builds every header but Geneve's: this kernel is built without
// CONFIG_GENEVE, so there is no kernel Geneve device (ip link add … type
// geneve … innerprotoinherit, with geneve_opts on an encap route) to add it;
// the helper adds it with vxlan.AppendGWLBOptions, as gwlbtun does on an
// appliance, whose bytes TestScapyGeneveMatchesVXLAN checks against scapy's
// Geneve. (Do not try the encap route here: on this 6.18 build,
// `ip route … encap ip … geneve_opts` hits a kernel BUG in ip_tun_parse_opts
// that leaves the RTNL lock held until reboot.) dxprobe must report the clients' 5-tuples with exact packet and
// byte counts (the lengths the kernel put in the inner headers) and their
// endpoints, count the out-of-scope flow as skipped (not_onprem), and never
// report the GWLB ↔ appliance pair. Subnets: 198.18.X.4/30 (veth),
// 198.19.2.0/24 (GWLB leg), 192.0.2.0/24 and 2001:db8:2::/48 (clients).

const (
	gwHelperEnv  = "DXMON_GWLB_HELPER"
	gwTunEnv     = "DXMON_GWLB_TUN"
	gwLBAddr     = "198.19.2.10"
	gwAppliance  = "198.19.2.20"
	gwClient4    = "192.0.2.1"
	gwClient6    = "2001:db8:2::1"
	gwVPC4UDP    = "192.0.2.200"
	gwVPC4TCP    = "192.0.2.201"
	gwVPC6UDP    = "2001:db8:2:1::5"
	gwVPC6TCP    = "2001:db8:2:1::6"
	gwElsewhere  = "198.51.100.7"
	gwEndpointA  = 0x0123456789abcdef // IPv4 clients' GWLB endpoint
	gwEndpointB  = 0x0fedcba987654321 // IPv6 clients'
	gwPayload    = 100                // UDP payload bytes
	gwTCPPayload = 60                 // TCP payload bytes
)

// gwFlow is one flow the helper sends: n packets.
type gwFlow struct {
	tcp        bool
	src, dst   string
	sport      uint16
	dport      uint16
	n          int
	inScope    bool
	wantLength int // inner IP length the kernel declares
}

var gwFlows = []gwFlow{
	{false, gwClient4, gwVPC4UDP, 41001, 9999, 200, true, 20 + 8 + gwPayload},
	{false, gwClient6, gwVPC6UDP, 41002, 9999, 100, true, 40 + 8 + gwPayload},
	{true, gwClient4, gwVPC4TCP, 41003, 443, 50, true, 20 + 20 + gwTCPPayload},
	{true, gwClient6, gwVPC6TCP, 41004, 443, 40, true, 40 + 20 + gwTCPPayload},
	{false, gwClient4, gwElsewhere, 41005, 9999, 30, false, 20 + 8 + gwPayload}, // on-prem to outside the VPC
}

// TestGWLBHelper is not a test: it is the sender and GWLB emulator that
// TestKernelGWLB runs inside its namespace.
func TestGWLBHelper(t *testing.T) {
	if os.Getenv(gwHelperEnv) == "" {
		t.Skip("helper process for TestKernelGWLB")
	}
	tun, err := openTUN(os.Getenv(gwTunEnv))
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	// Attaching raises the device's carrier, but the kernel starts its
	// queue (and drops what is sent until then) only when its link watch
	// runs, which also sets the operational state: wait for that.
	for deadline := time.Now().Add(10 * time.Second); ; {
		state, err := os.ReadFile("/sys/class/net/" + os.Getenv(gwTunEnv) + "/operstate")
		if err != nil {
			t.Fatal(err)
		}
		if s := strings.TrimSpace(string(state)); s == "up" || s == "unknown" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("TUN device still %q 10s after attaching", strings.TrimSpace(string(state)))
		}
		time.Sleep(10 * time.Millisecond) // polling the kernel's state
	}
	out := map[bool]*net.UDPConn{} // by inner version 6: one GWLB flow per endpoint
	for i, v6 := range []bool{false, true} {
		c, err := net.DialUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(gwLBAddr), uint16(50000+i))),
			net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(gwAppliance), vxlan.PortGeneve)))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		out[v6] = c
	}
	total := 0
	for _, f := range gwFlows {
		total += f.n
	}
	// The GWLB: every IP packet the kernel routed into the TUN device goes
	// to the appliance in Geneve with AWS's options. The sender waits for
	// each packet to be forwarded before it sends the next, so that no
	// queue on the way (the TUN device's, the veth's) overflows on a busy
	// machine.
	forwarded := make(chan error, 1) // the forwarder's error, if it stops early
	each := make(chan struct{}, total)
	go func() {
		buf := make([]byte, 65536)
		pkt := make([]byte, 0, 65536)
		for n := 0; n < total; {
			m, err := tun.Read(buf)
			if err != nil {
				forwarded <- err
				return
			}
			ipPkt := buf[:m]
			v6 := ipPkt[0]>>4 == 6
			proto, ep := uint16(0x0800), uint64(gwEndpointA)
			if v6 {
				proto, ep = 0x86dd, gwEndpointB
				if ipPkt[24] == 0xff || (ipPkt[24] == 0xfe && ipPkt[25]&0xc0 == 0x80) {
					continue // multicast or link-local: never routed to a GWLB endpoint
				}
			}
			pkt = append(pkt[:0], 8, 0, byte(proto>>8), byte(proto), 0, 0, 0, 0) // Geneve: 8 words of options
			pkt = vxlan.AppendGWLBOptions(pkt, ep, 0, uint32(n))
			pkt = append(pkt, ipPkt...)
			if _, err := out[v6].Write(pkt); err != nil {
				forwarded <- err
				return
			}
			n++
			each <- struct{}{}
		}
	}()
	sent := 0
	wait := func() error {
		sent++
		select {
		case <-each:
			return nil
		case err := <-forwarded:
			return fmt.Errorf("forwarder stopped: %v", err)
		case <-time.After(10 * time.Second):
			return fmt.Errorf("packet %d sent did not come out of the TUN device within 10s", sent)
		}
	}
	for _, f := range gwFlows {
		if err := sendGWFlow(f, wait); err != nil {
			t.Fatalf("flow %+v: %v", f, err)
		}
	}
}

// sendGWFlow sends f's packets through the kernel: UDP from a socket, TCP
// segments from a raw socket (no peer answers, so no handshake; the kernel
// still builds the IP header). After each packet it calls wait.
func sendGWFlow(f gwFlow, wait func() error) error {
	src, dst := netip.MustParseAddr(f.src), netip.MustParseAddr(f.dst)
	if !f.tcp {
		c, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, f.sport)), net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, f.dport)))
		if err != nil {
			return err
		}
		defer c.Close()
		buf := make([]byte, gwPayload)
		for range f.n {
			if _, err := c.Write(buf); err != nil {
				return err
			}
			if err := wait(); err != nil {
				return err
			}
		}
		return nil
	}
	network := "ip4:tcp"
	if src.Is6() {
		network = "ip6:tcp"
	}
	c, err := net.ListenPacket(network, src.String())
	if err != nil {
		return err
	}
	defer c.Close()
	seg := make([]byte, 20+gwTCPPayload)
	binary.BigEndian.PutUint16(seg[0:], f.sport)
	binary.BigEndian.PutUint16(seg[2:], f.dport)
	seg[12], seg[13] = 5<<4, 0x18 // data offset 5 words; PSH, ACK
	for i := range f.n {
		binary.BigEndian.PutUint32(seg[4:], uint32(1+i*gwTCPPayload)) // sequence number
		if _, err := c.WriteTo(seg, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
			return err
		}
		if err := wait(); err != nil {
			return err
		}
	}
	return nil
}

// openTUN attaches to the existing TUN device name (IFF_TUN, no packet
// information header: reads return bare IP packets).
func openTUN(name string) (*os.File, error) {
	fd, err := syscall.Open("/dev/net/tun", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	var req [40]byte // struct ifreq: name, then flags
	copy(req[:16], name)
	binary.NativeEndian.PutUint16(req[16:], 0x0001|0x1000) // IFF_TUN | IFF_NO_PI
	const tunSetIff = 0x400454ca
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), tunSetIff, uintptr(unsafe.Pointer(&req[0]))); errno != 0 {
		syscall.Close(fd)
		return nil, fmt.Errorf("TUNSETIFF %s: %w", name, errno)
	}
	return os.NewFile(uintptr(fd), name), nil
}

func TestKernelGWLB(t *testing.T) {
	netnstest.Require(t)
	pid := strconv.Itoa(os.Getpid())
	ns := "dxmon-gwlb-" + pid
	short := strconv.Itoa(os.Getpid() % 100000)
	hostIf, nsIf, tunIf := "dxg"+short+"h", "dxg"+short+"n", "dxg"+short+"t"
	if out, err := netnstest.Try("netns", "add", ns); err != nil {
		t.Skipf("cannot create a network namespace here: %v %s", err, out)
	}
	t.Cleanup(func() {
		_, _ = netnstest.Try("link", "del", hostIf)
		_, _ = netnstest.Try("netns", "del", ns)
	})
	in := func(args ...string) { ip(t, append([]string{"-n", ns}, args...)...) }
	sysctl := func(kv string) {
		if out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-q", "-w", kv).CombinedOutput(); err != nil {
			t.Fatalf("sysctl %s: %v %s", kv, err, out)
		}
	}
	ip(t, "link", "add", hostIf, "type", "veth", "peer", "name", nsIf)
	ip(t, "link", "set", nsIf, "netns", ns)
	gwHostVeth, gwNsVeth := netnstest.HostAddr(t, 5), netnstest.HostAddr(t, 6)
	ip(t, "addr", "add", gwHostVeth+"/30", "dev", hostIf)
	ip(t, "link", "set", hostIf, "up")
	in("addr", "add", gwNsVeth+"/30", "dev", nsIf)
	in("link", "set", nsIf, "up")
	in("link", "set", "lo", "up")
	in("addr", "add", gwClient4+"/32", "dev", "lo")
	in("addr", "add", gwClient6+"/128", "dev", "lo", "nodad")
	// The mirror: the kernel's VXLAN device carries the GWLB ↔ appliance
	// leg only (no IPv6, no ARP: a static neighbour), so dxprobe sees
	// nothing but the test's traffic.
	in("link", "add", "vx0", "type", "vxlan", "id", "12345", "remote", gwHostVeth, "local", gwNsVeth, "dstport", "4789", "dev", nsIf)
	sysctl("net.ipv6.conf.vx0.disable_ipv6=1")
	in("link", "set", "vx0", "multicast", "off")
	in("addr", "add", gwLBAddr+"/24", "dev", "vx0")
	in("link", "set", "vx0", "up")
	in("neigh", "add", gwAppliance, "lladdr", "02:00:00:00:00:14", "dev", "vx0")
	// The GWLB endpoint's route: the clients' packets go into the TUN device.
	in("tuntap", "add", "dev", tunIf, "mode", "tun")
	sysctl("net.ipv6.conf." + tunIf + ".addr_gen_mode=1") // no link-local address, so no MLD or RS
	in("link", "set", tunIf, "multicast", "off")
	in("link", "set", tunIf, "up")
	in("route", "add", "192.0.2.128/25", "dev", tunIf, "src", gwClient4)
	in("route", "add", "198.51.100.0/24", "dev", tunIf, "src", gwClient4)
	in("-6", "route", "add", "2001:db8:2:1::/64", "dev", tunIf, "src", gwClient6)

	p := startProbe(t, "-listen", gwHostVeth+":4789", "-workers", "2", "-format", "json", "-window", "1s", "-top", "20",
		"-vni", "12345", "-onprem-cidrs", "192.0.2.0/25,2001:db8:2::/64", "-vpc-cidrs", "192.0.2.128/25,2001:db8:2:1::/64")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, self, "-test.run=^TestGWLBHelper$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), gwHelperEnv+"=1", gwTunEnv+"="+tunIf)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "--- PASS: TestGWLBHelper") {
		stats, _ := netnstest.Try("-n", ns, "-s", "link", "show", tunIf)
		t.Fatalf("helper in namespace: %v\n%s\n%s", err, out, stats)
	}

	type got struct {
		flow.Counter
		gwlbe map[string]bool
	}
	wantFlows := map[flow.Key]flow.Counter{}
	wantEP := map[flow.Key]string{}
	var wantSkipped uint64
	for _, f := range gwFlows {
		proto := uint8(17)
		if f.tcp {
			proto = 6
		}
		k := flow.NewKey(netip.MustParseAddr(f.src), netip.MustParseAddr(f.dst), proto, f.sport, f.dport)
		if !f.inScope {
			wantSkipped += uint64(f.n)
			continue
		}
		wantFlows[k] = flow.Counter{Packets: uint64(f.n), Bytes: uint64(f.n * f.wantLength)}
		wantEP[k] = "vpce-00123456789abcdef"
		if netip.MustParseAddr(f.src).Is6() {
			wantEP[k] = "vpce-00fedcba987654321"
		}
	}
	sum := func(reps []report.Report) (map[flow.Key]*got, uint64) {
		flows := map[flow.Key]*got{}
		var skipped uint64
		for _, r := range reps {
			skipped += r.Skipped["not_onprem"]
			for _, f := range r.TopFlows {
				k := flow.NewKey(f.Src, f.Dst, f.Proto, f.Sport, f.Dport)
				g := flows[k]
				if g == nil {
					g = &got{gwlbe: map[string]bool{}}
					flows[k] = g
				}
				g.Packets += f.Packets
				g.Bytes += f.Bytes
				g.gwlbe[f.GWLBE] = true
			}
		}
		return flows, skipped
	}
	p.waitReports(t, func(reps []report.Report) bool {
		flows, skipped := sum(reps)
		for k, w := range wantFlows {
			if flows[k] == nil || flows[k].Packets < w.Packets {
				return false
			}
		}
		return skipped >= wantSkipped
	})
	reps := p.stop(t)
	flows, skipped := sum(reps)
	for k, w := range wantFlows {
		g := flows[k]
		if g == nil {
			t.Errorf("flow %v not reported", k)
			continue
		}
		if g.Counter != w || len(g.gwlbe) != 1 || !g.gwlbe[wantEP[k]] {
			t.Errorf("flow %v: %+v via %v; want %+v via %s", k, g.Counter, g.gwlbe, w, wantEP[k])
		}
	}
	for k, g := range flows {
		if _, ok := wantFlows[k]; !ok {
			t.Errorf("unexpected flow %v: %+v (the GWLB ↔ appliance pair must never show)", k, g.Counter)
		}
		if s, d := k.Src().String(), k.Dst().String(); s == gwLBAddr || d == gwLBAddr || s == gwAppliance || d == gwAppliance {
			t.Errorf("the GWLB ↔ appliance leg was reported: %v", k)
		}
	}
	if skipped != wantSkipped {
		t.Errorf("skipped not_onprem %d, want %d (the flow to %s)", skipped, wantSkipped, gwElsewhere)
	}
	for _, r := range reps {
		for reason, n := range r.Skipped {
			if reason != "not_onprem" {
				t.Errorf("skipped %s=%d: the kernel sent only the test's traffic", reason, n)
			}
		}
	}
	t.Logf("kernel GWLB mirror: %d flows reported exactly with their endpoints, %d packets skipped as not_onprem", len(wantFlows), skipped)
}
