package main

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dxmon/dxmon/gwlb"
	"github.com/dxmon/dxmon/internal/gwlbtest"
)

// bounded waits for ch, failing the test after limit (a bound on a hang,
// not a timing assertion).
func bounded(t *testing.T, ch <-chan struct{}, limit time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(limit):
		t.Fatalf("%s: not within %s", what, limit)
	}
}

// On SIGTERM the real binary stops answering its health check first,
// keeps returning packets (one sent after the signal comes back), and
// exits once the drain delay has passed.
func TestApplianceDrainOnSIGTERM(t *testing.T) {
	ns := netns(t, []string{gwlb1}, []string{appl1})
	bin := buildBinary(t)
	// The delay has to outlast what the test does while draining (a log
	// line, a refused dial, one packet's round trip: milliseconds), and the
	// test waits it out in full before it may see the exit.
	const delay = 3 * time.Second
	a := startAppliance(t, bin, ns, "-workers", "1", "-metrics", "", "-drain-delay", delay.String())
	back := listenUDP(t, gwlb1+":6081")
	out := dialUDP(t, gwlb1+":0", appl1+":6081")
	from := netip.AddrPortFrom(netip.MustParseAddr(appl1), netip.MustParseAddrPort(out.LocalAddr().String()).Port())
	before := gwlbtest.Packet(false, 64, 1)
	out.Write(before)
	receive(t, back, 1, from) // the worker runs: healthy
	c, err := net.DialTimeout("tcp", appl1+":80", 5*time.Second)
	if err != nil {
		t.Fatalf("health check before SIGTERM: %v", err)
	}
	c.Close()

	signalled := time.Now()
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	bounded(t, a.draining, 20*time.Second, "the draining log line")
	if c, err := net.DialTimeout("tcp", appl1+":80", 5*time.Second); err == nil {
		c.Close()
		t.Error("the health check still accepts while draining: GWLB would keep the target")
	}
	after := gwlbtest.Packet(true, 1500, 2)
	if _, err := out.Write(after); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, back, 1, from); !bytes.Equal(got[0], after) {
		t.Error("the packet sent after SIGTERM came back changed")
	}
	bounded(t, a.exited, delay+30*time.Second, "exit after the drain delay")
	<-a.logged
	if d := time.Since(signalled); d < delay {
		t.Errorf("exited %v after SIGTERM, before the %v drain delay", d, delay)
	}
	if !a.cmd.ProcessState.Success() || !strings.Contains(a.stderr.String(), "drained: stopping") {
		t.Errorf("exit %v; want 0 after a full drain:\n%s", a.cmd.ProcessState, a.stderr)
	}
}

// A second SIGTERM or SIGINT ends the drain at once.
func TestApplianceSecondSignal(t *testing.T) {
	ns := netns(t, []string{gwlb1}, []string{appl1})
	bin := buildBinary(t)
	a := startAppliance(t, bin, ns, "-workers", "1", "-metrics", "", "-drain-delay", "1h")
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	bounded(t, a.draining, 20*time.Second, "the draining log line")
	if err := a.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	bounded(t, a.exited, 30*time.Second, "exit on the second signal, an hour before the drain's end")
	<-a.logged
	if !a.cmd.ProcessState.Success() || !strings.Contains(a.stderr.String(), "second stop request") {
		t.Errorf("exit %v; want 0 after the second signal:\n%s", a.cmd.ProcessState, a.stderr)
	}
}

// systemd must not kill the appliance before its drain is over.
func TestUnitStopTimeoutAboveDrain(t *testing.T) {
	unit, err := os.ReadFile("dxappliance.service")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^TimeoutStopSec=(\d+)$`).FindSubmatch(unit)
	if m == nil {
		t.Fatal("dxappliance.service has no TimeoutStopSec=<seconds>: systemd's default (90s) is not what the drain was sized against")
	}
	stop, _ := strconv.Atoi(string(m[1]))
	if min := gwlb.DefaultDrainDelay + 5*time.Second; time.Duration(stop)*time.Second < min {
		t.Errorf("TimeoutStopSec=%ds: want at least %v (the drain delay and 5s to close)", stop, min)
	}
}
