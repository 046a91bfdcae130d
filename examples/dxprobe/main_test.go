package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dxmon/dxmon/flow"
	"github.com/dxmon/dxmon/internal/syncbuf"
	"github.com/dxmon/dxmon/internal/testbin"
	"github.com/dxmon/dxmon/internal/testpar"
	"github.com/dxmon/dxmon/report"
	"github.com/dxmon/dxmon/reuseport"
	"github.com/dxmon/dxmon/sample"
	"github.com/dxmon/dxmon/vxlan"
)

var probeBin string

func TestMain(m *testing.M) {
	bin, remove, err := testbin.Build("dxprobe")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	probeBin = bin
	// Most of the parallel tests wait on the wall clock (1 s windows,
	// moto_server, chromium) rather than compute.
	testpar.Default(4)
	code := m.Run()
	remove()
	os.Exit(code)
}

// probeProc is a running dxprobe.
type probeProc struct {
	cmd     *exec.Cmd
	stdout  syncbuf.Buffer
	mu      sync.Mutex
	stderr  strings.Builder
	ready   chan struct{}
	metrics string // address of /metrics, when asked for
	done    chan error
}

var metricsLine = regexp.MustCompile(`msg="serving metrics" addr=(\S+)`)

// startProbe runs dxprobe with args and waits until it listens.
func startProbe(t *testing.T, args ...string) *probeProc {
	t.Helper()
	return startProbeEnv(t, nil, args...)
}

// startProbeEnv is startProbe with env added to the probe's environment
// (mototest.Env: the test's own environment stays as it is, so the test
// may run in parallel).
func startProbeEnv(t *testing.T, env []string, args ...string) *probeProc {
	t.Helper()
	p := &probeProc{cmd: exec.Command(probeBin, args...), ready: make(chan struct{}), done: make(chan error, 1)}
	if env != nil {
		p.cmd.Env = append(os.Environ(), env...)
	}
	p.cmd.Stdout = &p.stdout
	errPipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(errPipe)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.stderr.WriteString(line + "\n")
			if m := metricsLine.FindStringSubmatch(line); m != nil {
				p.metrics = m[1]
			}
			p.mu.Unlock()
			if !signalled && strings.Contains(line, "dxprobe listening") {
				close(p.ready)
				signalled = true
			}
		}
		p.done <- p.cmd.Wait()
	}()
	t.Cleanup(func() { _ = p.cmd.Process.Kill() })
	select {
	case <-p.ready:
	case err := <-p.done:
		t.Fatalf("dxprobe exited before listening: %v\n%s", err, p.stderrText())
	case <-time.After(30 * time.Second):
		t.Fatalf("dxprobe did not start listening within 30s:\n%s", p.stderrText())
	}
	return p
}

func (p *probeProc) stderrText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// waitStderr waits until the probe has logged a line containing want: the
// log reaches the test through a pipe of its own, so a line logged before
// a metric or a report the test saw may still be on its way. It fails
// after a generous deadline.
func (p *probeProc) waitStderr(t *testing.T, want string) {
	t.Helper()
	pollUntil(t, 60*time.Second, func() bool { return strings.Contains(p.stderrText(), want) },
		func() string { return fmt.Sprintf("the probe did not log %q within 60s:\n%s", want, p.stderrText()) })
}

// pollUntil checks done every 20 ms until it holds, and fails t with
// failure's text once limit has passed: for what another process does,
// which a test can only poll. It measures nothing.
func pollUntil(t *testing.T, limit time.Duration, done func() bool, failure func() string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatal(failure())
		}
		time.Sleep(20 * time.Millisecond) // polling another process
	}
}

// stop sends SIGTERM and returns the reports printed (JSON lines).
func (p *probeProc) stop(t *testing.T) []report.Report {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("dxprobe exit: %v\n%s", err, p.stderrText())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("dxprobe did not stop within 30s of SIGTERM")
	}
	return parseReports(t, p.stdout.Lines())
}

// waitReports polls the reports printed so far until done says they hold
// what the test waits for. It fails after a generous deadline.
func (p *probeProc) waitReports(t *testing.T, done func([]report.Report) bool) {
	t.Helper()
	pollUntil(t, 60*time.Second, func() bool { return done(parseReports(t, p.stdout.Lines())) },
		func() string {
			return fmt.Sprintf("reports did not reach the expected counts within 60s:\n%s", p.stdout.Lines())
		})
}

func parseReports(t *testing.T, out []byte) []report.Report {
	t.Helper()
	var reps []report.Report
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var r report.Report
		if err := dec.Decode(&r); err == io.EOF {
			return reps
		} else if err != nil {
			t.Fatalf("stdout is not JSON lines: %v\n%s", err, out)
		}
		reps = append(reps, r)
	}
}

// metric sums every sample of a metric family on /metrics.
func (p *probeProc) metric(t *testing.T, name string) float64 {
	t.Helper()
	p.mu.Lock()
	addr := p.metrics
	p.mu.Unlock()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			sum += v
		}
	}
	return sum
}

// waitMetric polls /metrics until the metric reaches want (the kernel's
// softirq may still hold packets after a sender returns). It fails after a
// generous deadline; it does not measure time.
func (p *probeProc) waitMetric(t *testing.T, name string, want float64) {
	t.Helper()
	var got float64
	pollUntil(t, 60*time.Second, func() bool { got = p.metric(t, name); return got >= want },
		func() string { return fmt.Sprintf("%s = %v, want %v", name, got, want) })
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

type sent struct {
	packets, bytes uint64
	flows          map[flow.Key]flow.Counter
}

// sendFlows sends nFlows × perFlow mirror packets over loopback from several
// source ports; flow i declares 200+i bytes per packet.
func sendFlows(t *testing.T, port int, nFlows, perFlow int) sent {
	t.Helper()
	dst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	var senders []*reuseport.Sender
	for range 8 {
		s, err := reuseport.NewSender(dst)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		senders = append(senders, s)
	}
	out := sent{flows: map[flow.Key]flow.Counter{}}
	for i := range nFlows {
		spec := vxlan.Spec{VNI: 12345, Src: netip.AddrFrom4([4]byte{172, 16, byte(i / 250), byte(1 + i%250)}),
			Dst: netip.MustParseAddr("10.0.1.50"), Proto: vxlan.ProtoTCP, SrcPort: uint16(30000 + i), DstPort: 443,
			Length: 200 + i, Snap: 128}
		b, err := vxlan.Append(nil, &spec)
		if err != nil {
			t.Fatal(err)
		}
		batch := make([][]byte, perFlow)
		for j := range batch {
			batch[j] = b
		}
		for off := 0; off < len(batch); off += 50 {
			if _, err := senders[i%len(senders)].Send(batch[off:min(off+50, len(batch))]); err != nil {
				t.Fatal(err)
			}
		}
		k := flow.NewKey(spec.Src, spec.Dst, spec.Proto, spec.SrcPort, spec.DstPort)
		out.flows[k] = flow.Counter{Packets: uint64(perFlow), Bytes: uint64(perFlow * (200 + i))}
		out.packets += uint64(perFlow)
		out.bytes += uint64(perFlow * (200 + i))
	}
	return out
}

func sumReports(reps []report.Report) (pk, by uint64, flows map[flow.Key]flow.Counter) {
	flows = map[flow.Key]flow.Counter{}
	for _, r := range reps {
		pk += r.Packets
		by += r.Bytes
		for _, f := range r.TopFlows {
			k := flow.NewKey(f.Src, f.Dst, f.Proto, f.Sport, f.Dport)
			c := flows[k]
			flows[k] = flow.Counter{Packets: c.Packets + f.Packets, Bytes: c.Bytes + f.Bytes}
		}
	}
	return pk, by, flows
}

// TestLoopbackCountsEveryPacket: 50 flows × 200 packets over loopback;
// dxprobe counts every one (not merely half of them), and SIGTERM in the
// middle of a window flushes a partial report that holds them.
func TestLoopbackCountsEveryPacket(t *testing.T) {
	port := freeUDPPort(t)
	p := startProbe(t, "-listen", fmt.Sprintf("127.0.0.1:%d", port), "-workers", "2", "-format", "json",
		"-window", "1m", "-top", "50", "-metrics", "127.0.0.1:0")
	s := sendFlows(t, port, 50, 200)
	p.waitMetric(t, "dxmon_probe_decoded_packets_total", float64(s.packets))
	reps := p.stop(t)
	if len(reps) == 0 {
		t.Fatal("no report")
	}
	pk, by, flows := sumReports(reps)
	if pk != s.packets || by != s.bytes {
		t.Fatalf("reported %d packets / %d bytes, sent %d / %d", pk, by, s.packets, s.bytes)
	}
	for k, want := range s.flows {
		if flows[k] != want {
			t.Errorf("flow %v: reported %+v, sent %+v", k, flows[k], want)
		}
	}
	last := reps[len(reps)-1]
	if !last.Partial {
		t.Errorf("report after SIGTERM not marked partial: %+v", last)
	}
	if len(reps) == 1 {
		if f := last.TopFlows[0]; f.Sport != 30049 || f.Bytes != 200*249 {
			t.Errorf("top flow %+v, want the 249-byte flow from port 30049", f)
		}
		if h := last.TopDst[0]; h.IP != netip.MustParseAddr("10.0.1.50") || h.Packets != s.packets {
			t.Errorf("top destination %+v", h)
		}
		if pt := last.TopDport[0]; pt.Port != 443 || pt.Proto != 6 || pt.Packets != s.packets {
			t.Errorf("top port %+v", pt)
		}
	}
}

// TestSamplingHalf: with -sample-rate 0.5 the kept flows are exactly those
// whose hash falls under the threshold, and the scaled total is within 5 σ
// of the truth.
func TestSamplingHalf(t *testing.T) {
	port := freeUDPPort(t)
	p := startProbe(t, "-listen", fmt.Sprintf("127.0.0.1:%d", port), "-workers", "2", "-format", "json",
		"-window", "1m", "-sample-rate", "0.5", "-metrics", "127.0.0.1:0")
	s := sendFlows(t, port, 400, 10)
	p.waitMetric(t, "dxmon_probe_received_packets_total", float64(s.packets))
	reps := p.stop(t)
	smp, _ := sample.New(0.5)
	var keptPackets, keptBytes uint64
	var sumSq float64
	for k, c := range s.flows {
		if smp.Keep(k.Hash()) {
			keptPackets += c.Packets
			keptBytes += c.Bytes
		}
		sumSq += float64(c.Packets) * float64(c.Packets)
	}
	pk, by, _ := sumReports(reps)
	if pk != 2*keptPackets || by != 2*keptBytes {
		t.Fatalf("reported %d packets / %d bytes, want 2 × kept = %d / %d", pk, by, 2*keptPackets, 2*keptBytes)
	}
	sd := sqrt((1/0.5 - 1) * sumSq)
	if d := float64(pk) - float64(s.packets); d > 5*sd || d < -5*sd {
		t.Errorf("scaled packets %d, sent %d: outside 5σ = %.0f", pk, s.packets, 5*sd)
	}
	for _, r := range reps {
		if r.SampleRate != 0.5 {
			t.Errorf("sample_rate %v in report", r.SampleRate)
		}
	}
}

func sqrt(x float64) float64 {
	z := x
	for range 50 {
		z = (z + x/z) / 2
	}
	return z
}

// TestBadConfiguration: each bad setting fails at start with exit status 2
// and exactly one line naming the flag, its variable, the value and what
// is expected, in words; a -r file that is not a capture exits 1, with
// one line.
func TestBadConfiguration(t *testing.T) {
	t.Parallel()
	busy, err := net.ListenPacket("udp", "127.0.0.1:0") // a port in use, without SO_REUSEPORT
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyTCP, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busyTCP.Close()
	const sample = "../../testdata/mirror-sample.pcap"
	cases := []struct {
		args []string
		env  []string
		code int
		want string
	}{
		{args: []string{"-format", "xml"}, want: `-format "xml": want text or json`},
		{args: []string{"-sample-rate", "0"}, want: `-sample-rate "0" (env PROBE_SAMPLE_RATE): want a fraction of flows above 0 and at most 1, such as 0.1`},
		{args: []string{"-sample-rate", "1.5"}, want: `-sample-rate "1.5" (env PROBE_SAMPLE_RATE): want a fraction of flows above 0 and at most 1, such as 0.1`},
		{env: []string{"PROBE_SAMPLE_RATE=NaN"}, want: `PROBE_SAMPLE_RATE="NaN" (flag -sample-rate): want a fraction of flows above 0 and at most 1, such as 0.1`},
		{env: []string{"PROBE_WORKERS=many"}, want: `PROBE_WORKERS="many" (flag -workers): want a whole number`},
		{env: []string{"PROBE_WORKERS=abc"}, want: `PROBE_WORKERS="abc" (flag -workers): want a whole number`},
		{args: []string{"-workers", "2000"}, want: `-workers "2000" (env PROBE_WORKERS): want 0 (one per CPU) to 1024`},
		{args: []string{"-listen", "nowhere"}, want: `-listen "nowhere": want HOST:PORT or :PORT, such as :4789 or 127.0.0.1:9100`},
		{args: []string{"-listen", "256.1.1.1:4789"}, want: `-listen "256.1.1.1:4789": want an IP address or nothing before the port, not "256.1.1.1"`},
		{args: []string{"-listen", ":99999"}, want: `-listen ":99999": want a port from 0 to 65535 after the colon, not "99999"`},
		{args: []string{"-listen", busy.LocalAddr().String()}, want: fmt.Sprintf(`-listen %q: the address is in use by another process`, busy.LocalAddr())},
		{args: []string{"-listen", "127.0.0.1:0", "-metrics", busyTCP.Addr().String()}, want: fmt.Sprintf(`-metrics %q: the address is in use by another process`, busyTCP.Addr())},
		{args: []string{"-recv-buffer", "-1"}, want: `-recv-buffer "-1": want 1 to 1073741824 bytes`},
		{args: []string{"-vni", "16777216"}, want: `-vni "16777216" (env MIRROR_VNI): want a VXLAN network identifier from 0 (any) to 16777215`},
		{args: []string{"-window", "1ms"}, want: `-window "1ms": want at least 100ms`},
		{args: []string{"-window", "5"}, want: `-window "5": want a duration, such as 300ms, 5s or 2m`},
		{args: []string{"-metrics", "localhost"}, want: `-metrics "localhost": want HOST:PORT or :PORT, such as :4789 or 127.0.0.1:9100`},
		{args: []string{"-slack-webhook-url", "ftp://secret-token"}, want: `-slack-webhook-url (env SLACK_WEBHOOK_URL): want an https:// or http:// URL (the value is not shown: it holds a secret)`},
		{args: []string{"-sns-topic-arn", "arn:aws:sqs:eu-west-1:123456789012:q"}, want: `-sns-topic-arn "arn:aws:sqs:eu-west-1:123456789012:q" (env SNS_TOPIC_ARN): want an SNS topic ARN, arn:aws:sns:REGION:ACCOUNT:TOPIC`},
		{args: []string{"-r", "/nonexistent.pcap"}, want: `-r "/nonexistent.pcap": no such file or directory`},
		{args: []string{"-r", "../../README.md"}, code: 1, want: `-r "../../README.md": not a pcap or pcapng file (write one with tcpdump -w or tshark -w)`},
		{args: []string{"-r", sample, "-metrics", ":abc"}, want: `-metrics ":abc": want a port from 0 to 65535 after the colon, not "abc"`},
		{args: []string{"-r", sample, "-recv-buffer", "-1"}, want: `-recv-buffer "-1": want 1 to 1073741824 bytes`},
		{args: []string{"-wait", "spin"}, want: `-wait "spin": want auto, tick, netpoll or blocking`},
		{args: []string{"-batch", "0"}, want: `-batch "0": want 1 to 1024`},
		{args: []string{"-log-format", "logfmt"}, want: `-log-format "logfmt" (env LOG_FORMAT): want text or json`},
		{args: []string{"-onprem-cidrs", "10.0.0.0/33"}, want: `-onprem-cidrs "10.0.0.0/33" (env ONPREM_CIDRS): want CIDRs with a prefix length from 0 to 32 for IPv4; "10.0.0.0/33" has "33"`},
		{env: []string{"VPC_CIDR=10.1.0.0/16/8"}, want: `VPC_CIDR="10.1.0.0/16/8" (flag -vpc-cidrs): want CIDRs with a prefix length from 0 to 32 for IPv4; "10.1.0.0/16/8" has "16/8"`},
		{args: []string{"-onprem-cidrs", "172.16.0.0/12", "-vpc-cidrs", "vpc"}, want: `-vpc-cidrs "vpc" (env VPC_CIDR): want CIDRs such as 10.0.0.0/16 or 2001:db8::/32; "vpc" has no /length`},
		{args: []string{"-workers"}, want: `-workers (env PROBE_WORKERS) needs a value: want a whole number`},
		{args: []string{"-bogus"}, want: `unknown flag "-bogus" (dxprobe -h lists the flags)`},
		{args: []string{"-html", "report.html"}, want: `-html "report.html": needs -r (the static page is of a capture; a live probe serves its page on -metrics)`},
		{args: []string{"-r", "../../testdata/mirror-sample.pcap", "-html", "/nonexistent/dir/report.html"}, want: `-html "/nonexistent/dir/report.html": cannot create it: no such file or directory`},
		{args: []string{"-fleet", "a b"}, want: `-fleet "a b" (env PROBE_FLEET_TABLE): want a DynamoDB table name: 3 to 255 letters, digits, '_', '-' or '.'`},
		{env: []string{"PROBE_FLEET_TABLE=x"}, want: `PROBE_FLEET_TABLE="x" (flag -fleet): want a DynamoDB table name: 3 to 255 letters, digits, '_', '-' or '.'`},
		{args: []string{"-fleet", "dxmon-fleet", "-r", sample}, want: `-fleet "dxmon-fleet" (env PROBE_FLEET_TABLE): cannot be used with -r: a capture's windows are not the fleet's; unset one`},
		{args: []string{"-fleet-wait", "-1s"}, want: `-fleet-wait "-1s": want a duration from 0s to 1m, such as 1s`},
		{args: []string{"-fleet-wait", "2m"}, want: `-fleet-wait "2m0s": want a duration from 0s to 1m, such as 1s`},
	}
	for _, c := range cases {
		t.Run(strings.Join(append(c.env, c.args...), " "), func(t *testing.T) {
			cmd := exec.Command(probeBin, c.args...)
			cmd.Env = append(os.Environ(), c.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			want := c.code
			if want == 0 {
				want = 2
			}
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != want {
				t.Errorf("exit %v, want status %d", err, want)
			}
			if got := stderr.String(); got != "dxprobe: "+c.want+"\n" {
				t.Errorf("stderr %q\nwant   %q", got, "dxprobe: "+c.want+"\n")
			}
		})
	}
}

// TestHelpExitsZero: -h prints the usage and exits 0.
func TestHelpExitsZero(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(probeBin, "-h")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil || !strings.Contains(stderr.String(), "-sample-rate") {
		t.Errorf("-h: %v, stderr %q; want exit 0 and the usage", err, stderr.String())
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// sendSpec sends n copies of one mirror packet over loopback.
func sendSpec(t *testing.T, port int, spec vxlan.Spec, n int) {
	t.Helper()
	b, err := vxlan.Append(nil, &spec)
	if err != nil {
		t.Fatal(err)
	}
	s, err := reuseport.NewSender(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	batch := make([][]byte, 50)
	for i := range batch {
		batch[i] = b
	}
	for sent := 0; sent < n; sent += len(batch) {
		if _, err := s.Send(batch[:min(len(batch), n-sent)]); err != nil {
			t.Fatal(err)
		}
	}
}
