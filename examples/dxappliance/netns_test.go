package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dxmon/dxmon/internal/netnstest"
	"github.com/dxmon/dxmon/internal/testbin"

	"github.com/google/go-cmp/cmp"

	"github.com/dxmon/dxmon/internal/gwlbtest"
)

// A GWLB emulator in the host talks to the real dxappliance binary running
// in a network namespace of the test's own, over a veth pair with EC2's
// jumbo MTU (9001). Addresses, in the test binary's own /24 of
// 198.18.0.0/16 (netnstest.HostBlock: no other process on the host has it),
// 198.18.X.0/24:
//
//	host: .1   the GWLB        (sends from an ephemeral port, hears answers on 6081)
//	      .3   a second GWLB   (sends to the appliance's second address)
//	      .4   a bystander     (never sends; must hear nothing)
//	ns:   .2, .12 the appliance
//
// TestMain sets them.
var gwlb1, gwlb2, bystander, appl1, appl2 string

func ip(t *testing.T, args ...string) {
	t.Helper()
	netnstest.Run(t, args...)
}

// buildBinary builds dxappliance (testbin.Build: linked again only when
// it changed), once per test binary.
func buildBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() { built.bin, built.remove, built.err = testbin.Build("dxappliance") })
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

// built is the binary the tests share. TestMain removes it if it is in a
// temporary folder.
var built struct {
	once   sync.Once
	bin    string
	remove func()
	err    error
}

func TestMain(m *testing.M) {
	block, err := netnstest.HostBlock()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	a := func(host byte) string { return netnstest.BlockAddr(block, host) }
	gwlb1, gwlb2, bystander, appl1, appl2 = a(1), a(3), a(4), a(2), a(12)
	code := m.Run()
	if built.remove != nil {
		built.remove()
	}
	os.Exit(code)
}

// netns creates a namespace joined to the host by a veth pair, with the
// given addresses (/24) on each end, and removes both at cleanup.
func netns(t *testing.T, hostAddrs, nsAddrs []string) string {
	t.Helper()
	netnstest.Require(t)
	pid := strconv.Itoa(os.Getpid())
	ns := "dxappl-" + pid
	hostIf, nsIf := "dxa"+strconv.Itoa(os.Getpid()%100000)+"h", "dxa"+strconv.Itoa(os.Getpid()%100000)+"n"
	if out, err := netnstest.Try("netns", "add", ns); err != nil {
		t.Skipf("cannot create a network namespace here: %v %s", err, out)
	}
	t.Cleanup(func() {
		_, _ = netnstest.Try("link", "del", hostIf)
		_, _ = netnstest.Try("netns", "del", ns)
	})
	ip(t, "link", "add", hostIf, "mtu", "9001", "type", "veth", "peer", "name", nsIf, "mtu", "9001")
	ip(t, "link", "set", nsIf, "netns", ns)
	for _, a := range hostAddrs {
		ip(t, "addr", "add", a+"/24", "dev", hostIf)
	}
	ip(t, "link", "set", hostIf, "up")
	in := func(args ...string) { ip(t, append([]string{"-n", ns}, args...)...) }
	for _, a := range nsAddrs {
		in("addr", "add", a+"/24", "dev", nsIf)
	}
	in("link", "set", nsIf, "up")
	in("link", "set", "lo", "up")
	return ns
}

// appliance is a dxappliance process in a namespace.
type appliance struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer // written by the log reader; read once it is done
	exited chan struct{} // closed when the process has exited
	logged chan struct{} // closed when its stderr is read to the end
	// draining is closed when it logs that its health check stopped on
	// SIGTERM.
	draining chan struct{}
}

// startAppliance runs the binary in ns and waits for its "started" line.
// It drains for 0s on SIGTERM unless args say otherwise.
func startAppliance(t *testing.T, bin, ns string, args ...string) *appliance {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, bin, "-drain-delay", "0s"}, args...)...)
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a := &appliance{cmd: cmd, stderr: &bytes.Buffer{}, exited: make(chan struct{}), logged: make(chan struct{}),
		draining: make(chan struct{})}
	started := make(chan bool, 1)
	go func() {
		defer close(a.logged)
		sc := bufio.NewScanner(pr)
		said, draining := false, false
		for sc.Scan() {
			a.stderr.WriteString(sc.Text() + "\n") // read only after the process exited
			if !draining && strings.Contains(sc.Text(), "draining: health check stopped") {
				draining = true
				close(a.draining)
			}
			if !said && strings.Contains(sc.Text(), "dxappliance started") {
				said = true
				started <- true
			}
		}
		if !said {
			started <- false
		}
	}()
	go func() { cmd.Wait(); pw.Close(); close(a.exited) }()
	t.Cleanup(func() {
		select {
		case <-a.exited:
		default:
			cmd.Process.Kill()
			<-a.exited
		}
	})
	if !<-started {
		<-a.logged
		t.Fatalf("dxappliance did not start:\n%s", a.stderr)
	}
	return a
}

// stop sends SIGTERM and waits for the exit status.
func (a *appliance) stop(t *testing.T) {
	t.Helper()
	a.cmd.Process.Signal(syscall.SIGTERM)
	<-a.exited
	<-a.logged
	if !a.cmd.ProcessState.Success() {
		t.Errorf("dxappliance exited with %v:\n%s", a.cmd.ProcessState, a.stderr)
	}
}

func listenUDP(t *testing.T, addr string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func dialUDP(t *testing.T, from, to string) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(from)), net.UDPAddrFromAddrPort(netip.MustParseAddrPort(to)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// receive reads n datagrams, each of which must come from want.
func receive(t *testing.T, c *net.UDPConn, n int, want netip.AddrPort) [][]byte {
	t.Helper()
	var got [][]byte
	buf := make([]byte, 65536)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for len(got) < n {
		m, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("%v: after %d of %d answers: %v", c.LocalAddr(), len(got), n, err)
		}
		if from != want {
			t.Errorf("%v: answer from %v, want %v", c.LocalAddr(), from, want)
		}
		got = append(got, append([]byte(nil), buf[:m]...))
	}
	return got
}

// queued reports whether a datagram is waiting on c, without waiting.
func queued(c *net.UDPConn) bool {
	c.SetReadDeadline(time.Now())
	_, _, err := c.ReadFromUDPAddrPort(make([]byte, 65536))
	return err == nil
}

func TestApplianceNetns(t *testing.T) {
	ns := netns(t, []string{gwlb1, gwlb2, bystander}, []string{appl1, appl2})
	bin := buildBinary(t)
	nsIf := "dxa" + strconv.Itoa(os.Getpid()%100000) + "n" // netns's name for the namespace's end
	a := startAppliance(t, bin, ns, "-workers", "2", "-health", ":80", "-health-protocol", "http",
		"-health-path", "/healthz", "-metrics", ":9102", "-recv-buffer", "4194304", "-nic", nsIf)

	// Each GWLB hears answers on the Geneve port of its own address.
	back1 := listenUDP(t, gwlb1+":6081")
	back2 := listenUDP(t, gwlb2+":6081")
	silent := listenUDP(t, bystander+":6081")
	out1 := dialUDP(t, gwlb1+":0", appl1+":6081")
	out2 := dialUDP(t, gwlb2+":0", appl2+":6081")

	var sent1, sent2 [][]byte
	for i, size := range []int{20, 64, 576, 1500, 4000, 8000, 8500} {
		for _, v6 := range []bool{false, true} {
			sent1 = append(sent1, gwlbtest.Packet(v6, size, byte(2*i)))
			sent2 = append(sent2, gwlbtest.Packet(v6, size, byte(100+2*i)))
		}
	}
	malformed := gwlbtest.Malformed()
	for _, p := range malformed {
		if _, err := out1.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	for i := range sent1 {
		if _, err := out1.Write(sent1[i]); err != nil {
			t.Fatal(err)
		}
		if _, err := out2.Write(sent2[i]); err != nil {
			t.Fatal(err)
		}
	}
	// Answers: outer addresses swapped, GWLB's source port kept, to the
	// Geneve port; the payload byte for byte.
	port1 := netip.MustParseAddrPort(out1.LocalAddr().String()).Port()
	port2 := netip.MustParseAddrPort(out2.LocalAddr().String()).Port()
	got1 := receive(t, back1, len(sent1), netip.AddrPortFrom(netip.MustParseAddr(appl1), port1))
	got2 := receive(t, back2, len(sent2), netip.AddrPortFrom(netip.MustParseAddr(appl2), port2))
	if diff := cmp.Diff(sent1, got1); diff != "" {
		t.Errorf("GWLB 1 answers (-sent +got):\n%s", diff)
	}
	if diff := cmp.Diff(sent2, got2); diff != "" {
		t.Errorf("GWLB 2 answers (-sent +got):\n%s", diff)
	}
	// A sentinel sent last on each flow is the next answer: no malformed
	// packet came back, and no GWLB got the other's.
	sentinel := gwlbtest.Packet(false, 64, 250)
	out1.Write(sentinel)
	out2.Write(sentinel)
	if got := receive(t, back1, 1, netip.AddrPortFrom(netip.MustParseAddr(appl1), port1)); !bytes.Equal(got[0], sentinel) {
		t.Error("GWLB 1: something came back before the sentinel")
	}
	if got := receive(t, back2, 1, netip.AddrPortFrom(netip.MustParseAddr(appl2), port2)); !bytes.Equal(got[0], sentinel) {
		t.Error("GWLB 2: something came back before the sentinel")
	}
	if queued(silent) {
		t.Error("the bystander, which never sent, received a datagram")
	}

	// Metrics: every answer counted as returned. A worker counts a batch
	// once sendmmsg returns, which may be just after the test read the
	// answer: wait for the count.
	returned := fmt.Sprintf("dxmon_appliance_returned_packets_total %d\n", len(sent1)+len(sent2)+2)
	metrics := getWhen(t, "http://"+appl1+":9102/metrics", returned)
	// Every malformed packet counted under its reason.
	for reason := range malformed {
		line := fmt.Sprintf("dxmon_appliance_malformed_packets_total{reason=%q} 1\n", reason)
		if !strings.Contains(metrics, line) {
			t.Errorf("metrics lack %q", strings.TrimSpace(line))
		}
	}
	// A veth has no ENA allowance counters: said so, and no counter at 0.
	if line := fmt.Sprintf("dxmon_nic_allowance_counters_supported{interface=%q} 0\n", nsIf); !strings.Contains(metrics, line) {
		t.Errorf("metrics lack %q", strings.TrimSpace(line))
	}
	if strings.Contains(metrics, "allowance_exceeded_total{") {
		t.Error("metrics hold allowance counters for a veth, which has none")
	}

	// Health: 200 while running; refused once stopped.
	if code := status(t, "http://"+appl1+"/healthz"); code != 200 {
		t.Errorf("health check: %d, want 200", code)
	}
	a.stop(t)
	if c, err := net.DialTimeout("tcp", appl1+":80", 5*time.Second); err == nil {
		c.Close()
		t.Error("health check port still accepts after the appliance stopped")
	}

	// The default health check, as dxdeploy's target group does it: TCP 80.
	a = startAppliance(t, bin, ns, "-workers", "1", "-metrics", "")
	out1.Write(sentinel) // once answered, the worker runs: healthy
	receive(t, back1, 1, netip.AddrPortFrom(netip.MustParseAddr(appl1), port1))
	c, err := net.DialTimeout("tcp", appl1+":80", 5*time.Second)
	if err != nil {
		t.Fatalf("TCP health check: %v", err)
	}
	c.Close()
	a.stop(t)
	if c, err := net.DialTimeout("tcp", appl1+":80", 5*time.Second); err == nil {
		c.Close()
		t.Error("TCP health check port still accepts after the appliance stopped")
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// getWhen polls url until its body contains want, and returns that body.
// It fails after 10 s with the last body.
func getWhen(t *testing.T, url, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		body := get(t, url)
		if strings.Contains(body, want) {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s lacks %q after 10s:\n%s", url, strings.TrimSpace(want), body)
		}
		time.Sleep(10 * time.Millisecond) // polling another process's counters
	}
}

func status(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
