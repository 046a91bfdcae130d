package main

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/dxmon/dxmon/internal/netnstest"

	"github.com/dxmon/dxmon/flow"
	"github.com/dxmon/dxmon/report"
)

// The kernel's own VXLAN device is an encoder nobody on this project wrote.
// In a network namespace of the test's own, a vxlan interface (VNI 12345,
// UDP 4789) sends known UDP traffic over a veth pair to dxprobe, which must
// report it exactly. Addresses: veth .1 (host) / .2 (ns) of the test
// binary's own 198.18.X.0/24 (netnstest.HostBlock), as a /30; inside the
// tunnel 192.0.2.1 → 192.0.2.2 and 2001:db8:1::1 → 2001:db8:1::2.

const (
	nsSendCount   = 300
	nsPayload     = 100
	nsSenderEnv   = "DXMON_NETNS_SENDER"
	nsDstPort     = 9999
	nsInnerSrc4   = "192.0.2.1"
	nsInnerDst4   = "192.0.2.2"
	nsInnerSrc6   = "2001:db8:1::1"
	nsInnerDst6   = "2001:db8:1::2"
	nsInnerSport4 = 40001
	nsInnerSport6 = 40002
)

// TestNetnsSender is not a test: it is the sender that the kernel VXLAN
// test runs inside the namespace.
func TestNetnsSender(t *testing.T) {
	if os.Getenv(nsSenderEnv) == "" {
		t.Skip("helper process for TestKernelVXLAN")
	}
	send := func(src, dst string, sport int, n int) {
		c, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(src), uint16(sport))),
			net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(dst), nsDstPort)))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		buf := make([]byte, nsPayload)
		for range n {
			if _, err := c.Write(buf); err != nil {
				t.Fatal(err)
			}
		}
	}
	send(nsInnerSrc4, nsInnerDst4, nsInnerSport4, nsSendCount)
	send(nsInnerSrc6, nsInnerDst6, nsInnerSport6, nsSendCount/2)
}

func ip(t *testing.T, args ...string) {
	t.Helper()
	netnstest.Run(t, args...)
}

func TestKernelVXLAN(t *testing.T) {
	netnstest.Require(t)
	ns := "dxmon-test-" + strconv.Itoa(os.Getpid())
	hostIf, nsIf := "dxv"+strconv.Itoa(os.Getpid()%100000)+"h", "dxv"+strconv.Itoa(os.Getpid()%100000)+"n"
	if out, err := netnstest.Try("netns", "add", ns); err != nil {
		t.Skipf("cannot create a network namespace here: %v %s", err, out)
	}
	t.Cleanup(func() {
		_, _ = netnstest.Try("link", "del", hostIf)
		_, _ = netnstest.Try("netns", "del", ns)
	})
	ip(t, "link", "add", hostIf, "type", "veth", "peer", "name", nsIf)
	ip(t, "link", "set", nsIf, "netns", ns)
	nsHostVethIP, nsVethIP := netnstest.HostAddr(t, 1), netnstest.HostAddr(t, 2)
	ip(t, "addr", "add", nsHostVethIP+"/30", "dev", hostIf)
	ip(t, "link", "set", hostIf, "up")
	in := func(args ...string) { ip(t, append([]string{"-n", ns}, args...)...) }
	in("addr", "add", nsVethIP+"/30", "dev", nsIf)
	in("link", "set", nsIf, "up")
	in("link", "set", "lo", "up")
	in("link", "add", "vx0", "type", "vxlan", "id", "12345", "remote", nsHostVethIP, "local", nsVethIP,
		"dstport", "4789", "dev", nsIf)
	in("addr", "add", nsInnerSrc4+"/24", "dev", "vx0")
	in("addr", "add", nsInnerSrc6+"/64", "dev", "vx0", "nodad")
	// No multicast: the kernel sends no MLD reports of its own on vx0.
	in("link", "set", "vx0", "multicast", "off")
	if out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.vx0.router_solicitations=0").CombinedOutput(); err != nil {
		t.Logf("sysctl router_solicitations: %v %s", err, out)
	}
	in("link", "set", "vx0", "up")
	// Static neighbours: no ARP or ND, so every frame is the test's traffic.
	in("neigh", "add", nsInnerDst4, "lladdr", "02:00:00:00:00:02", "dev", "vx0")
	in("neigh", "add", nsInnerDst6, "lladdr", "02:00:00:00:00:02", "dev", "vx0")

	p := startProbe(t, "-listen", nsHostVethIP+":4789", "-workers", "2", "-format", "json", "-window", "1s",
		"-vni", "12345")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, self, "-test.run=^TestNetnsSender$", "-test.count=1")
	cmd.Env = append(os.Environ(), nsSenderEnv+"=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sender in namespace: %v\n%s", err, out)
	}
	want := uint64(nsSendCount + nsSendCount/2)
	k4 := flow.NewKey(netip.MustParseAddr(nsInnerSrc4), netip.MustParseAddr(nsInnerDst4), 17, nsInnerSport4, nsDstPort)
	k6 := flow.NewKey(netip.MustParseAddr(nsInnerSrc6), netip.MustParseAddr(nsInnerDst6), 17, nsInnerSport6, nsDstPort)
	want4 := flow.Counter{Packets: nsSendCount, Bytes: nsSendCount * (20 + 8 + nsPayload)}
	want6 := flow.Counter{Packets: nsSendCount / 2, Bytes: nsSendCount / 2 * (40 + 8 + nsPayload)}
	// The veth hands packets to the host's softirq, and the kernel adds
	// ICMPv6 of its own at any time: wait (with 1 s windows) until the
	// reports hold at least the test's flows, then stop.
	p.waitReports(t, func(reps []report.Report) bool {
		_, _, flows := sumReports(reps)
		return flows[k4].Packets >= want4.Packets && flows[k6].Packets >= want6.Packets
	})
	reps := p.stop(t)
	pk, by, flows := sumReports(reps)
	if flows[k4] != want4 || flows[k6] != want6 {
		t.Errorf("kernel VXLAN flows: v4 %+v want %+v; v6 %+v want %+v\nall: %v", flows[k4], want4, flows[k6], want6, flows)
	}
	// Bringing vx0 up makes the kernel send a few ICMPv6 packets of its own
	// (MLD reports, router solicitations): those are counted too, exactly.
	extra := flow.Counter{}
	for k, c := range flows {
		if k == k4 || k == k6 {
			continue
		}
		if k.Proto() != 58 {
			t.Errorf("unexpected flow %v: %+v", k, c)
		}
		extra.Packets += c.Packets
		extra.Bytes += c.Bytes
	}
	if pk != want+extra.Packets || by != want4.Bytes+want6.Bytes+extra.Bytes {
		t.Errorf("totals %d packets / %d bytes, want %d / %d", pk, by, want+extra.Packets, want4.Bytes+want6.Bytes+extra.Bytes)
	}
	for _, r := range reps {
		if len(r.Skipped) != 0 {
			t.Errorf("skipped %v: the kernel sent only the test's traffic", r.Skipped)
		}
	}
	t.Logf("kernel VXLAN: reported %+v and %+v, plus %d ICMPv6 packets of the kernel's own", flows[k4], flows[k6], extra.Packets)
}
