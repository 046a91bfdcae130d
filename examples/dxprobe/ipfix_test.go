package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/dxmon/dxmon/report"
)

// These tests read dxprobe's IPFIX export with decoders nobody here wrote:
// Wireshark's IPFIX dissector (tshark) and the goflow2 collector.

const samplePcap = "../../testdata/mirror-sample.pcap"

// goflow2Version is the goflow2 release the collector test builds from the
// Go module proxy (`go list -m -versions github.com/netsampler/goflow2/v2`).
const goflow2Version = "v2.2.6"

var exportStopped = regexp.MustCompile(`msg="ipfix export stopped" sent_records=(\d+) sent_messages=(\d+) dropped_queue_full=(\d+) dropped_send_error=(\d+)`)

// replayWithExport runs dxprobe -r on the sample capture, exporting to
// collector, and returns its reports and the records and messages it sent.
func replayWithExport(t *testing.T, collector string, args ...string) (reps []report.Report, records, messages int) {
	t.Helper()
	cmd := exec.Command(probeBin, append([]string{"-r", samplePcap, "-format", "json", "-top", "1000", "-ipfix", collector}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("dxprobe: %v\n%s", err, stderr.String())
	}
	m := exportStopped.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no export summary in the log:\n%s", stderr.String())
	}
	if m[3] != "0" || m[4] != "0" {
		t.Fatalf("records dropped on loopback: %s", m[0])
	}
	records, _ = strconv.Atoi(m[1])
	messages, _ = strconv.Atoi(m[2])
	return parseReports(t, stdout.Bytes()), records, messages
}

// tsharkRecord is one data record as tshark's cflow dissector reads it.
type tsharkRecord struct {
	Src, Dst       string
	Proto          int
	Sport, Dport   int
	Packets, Bytes uint64
	Start, End     time.Time
	Segment        uint64
	Direction      string // flowDirection; "" when the template has none
}

func tsharkExport(t *testing.T, domain string, args ...string) tsharkResult {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed (apt-get install tshark): the IPFIX export is not checked against Wireshark's dissector")
	}
	ln, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_ = ln.SetReadBuffer(8 << 20)
	port := ln.LocalAddr().(*net.UDPAddr).Port
	reps, records, messages := replayWithExport(t, fmt.Sprintf("udp://127.0.0.1:%d", port), append([]string{"-ipfix-domain", domain}, args...)...)
	dgrams := readDatagrams(t, ln, messages)

	// Write the datagrams as a capture, as tcpdump on lo would have.
	pcapFile := filepath.Join(t.TempDir(), "ipfix.pcap")
	writeUDPCapture(t, pcapFile, port, dgrams)

	fields := []string{"cflow.od_id", "cflow.srcaddr", "cflow.dstaddr", "cflow.srcaddrv6", "cflow.dstaddrv6", "cflow.protocol",
		"cflow.srcport", "cflow.dstport", "cflow.packets", "cflow.octets", "cflow.abstimestart", "cflow.abstimeend",
		"cflow.layer2_segment_id", "cflow.direction", "cflow.sampling_packet_interval", "cflow.sampling_probability", "cflow.template_id", "_ws.expert"}
	targs := []string{"-r", pcapFile, "-d", fmt.Sprintf("udp.port==%d,cflow", port), "-t", "u", "-T", "fields",
		"-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=|"}
	for _, f := range fields {
		targs = append(targs, "-e", f)
	}
	out, err := exec.Command("tshark", targs...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var got []tsharkRecord
	templates := map[string]bool{}
	sampling := ""
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		col := strings.Split(line, "\t")
		if len(col) != len(fields) {
			t.Fatalf("tshark line of %d columns: %q", len(col), line)
		}
		v := func(name string) []string {
			for i, f := range fields {
				if f == name && col[i] != "" {
					return strings.Split(col[i], "|")
				}
			}
			return nil
		}
		// Chat-level notes (IP's "Possible traceroute" heuristic on
		// loopback datagrams) say nothing about the export: only notes,
		// warnings and errors count as problems.
		var problems []string
		for _, e := range v("_ws.expert") {
			if !strings.Contains(e, "(Chat/") {
				problems = append(problems, e)
			}
		}
		if problems != nil {
			t.Errorf("tshark reports a problem: %v in %q", problems, line)
		}
		if od := v("cflow.od_id"); len(od) == 0 || od[0] != domain {
			t.Errorf("observation domain %v, want %s", od, domain)
		}
		for _, id := range v("cflow.template_id") {
			templates[id] = true
		}
		if iv := v("cflow.sampling_packet_interval"); iv != nil {
			sampling = iv[0] + " " + strings.Join(v("cflow.sampling_probability"), ",")
		}
		src, dst := v("cflow.srcaddr"), v("cflow.dstaddr")
		if src == nil {
			src, dst = v("cflow.srcaddrv6"), v("cflow.dstaddrv6")
		}
		for i := range src {
			at := func(name string) string {
				if l := v(name); i < len(l) {
					return l[i]
				}
				t.Fatalf("record %d lacks %s: %q", i, name, line)
				return ""
			}
			num := func(name string) uint64 {
				s := at(name)
				n, err := strconv.ParseUint(s, 0, 64)
				if err != nil {
					t.Fatalf("%s = %q: %v", name, s, err)
				}
				return n
			}
			tm := func(name string) time.Time {
				v, err := time.Parse("Jan 2, 2006 15:04:05.000000000 MST", at(name))
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				return v.UTC()
			}
			segment := func(i int) uint64 { // present only with -vni
				if l := v("cflow.layer2_segment_id"); i < len(l) {
					n, _ := strconv.ParseUint(l[i], 0, 64)
					return n
				}
				return 0
			}
			got = append(got, tsharkRecord{Src: src[i], Dst: dst[i], Proto: int(num("cflow.protocol")), Sport: int(num("cflow.srcport")),
				Dport: int(num("cflow.dstport")), Packets: num("cflow.packets"), Bytes: num("cflow.octets"),
				Start: tm("cflow.abstimestart"), End: tm("cflow.abstimeend"), Segment: segment(i)})
			if l := v("cflow.direction"); i < len(l) { // present only with -onprem-cidrs
				got[len(got)-1].Direction = l[i]
			}
		}
	}
	return tsharkResult{reps: reps, records: records, messages: messages, got: got, templates: templates, sampling: sampling}
}

// tsharkResult is a replay's reports and what tshark read of its export.
type tsharkResult struct {
	reps              []report.Report
	records, messages int
	got               []tsharkRecord
	templates         map[string]bool
	sampling          string
}

// TestIPFIXTshark: tshark's IPFIX dissector reads dxprobe's export of the
// sample capture, and every window's records are exactly the report's
// flows (the report lists them all with -top 1000), their sums its totals,
// each record's layer2SegmentId the VNI, the sampling options the rate.
func TestIPFIXTshark(t *testing.T) {
	t.Parallel()
	res := tsharkExport(t, "7", "-vni", "12345")
	reps, records, messages, got, templates, sampling := res.reps, res.records, res.messages, res.got, res.templates, res.sampling
	if len(got) != records {
		t.Fatalf("tshark read %d records, dxprobe sent %d", len(got), records)
	}
	if !templates["256"] || !templates["257"] || !templates["258"] {
		t.Errorf("templates seen by tshark: %v, want 256, 257 and 258", templates)
	}
	if sampling != "1 1" {
		t.Errorf("sampling options as tshark reads them: %q, want interval 1, probability 1", sampling)
	}

	// The report's flows, window by window, against tshark's records.
	var want []tsharkRecord
	for _, r := range reps {
		var sum report.Flow
		for _, f := range r.TopFlows {
			want = append(want, tsharkRecord{Src: f.Src.String(), Dst: f.Dst.String(), Proto: int(f.Proto), Sport: int(f.Sport),
				Dport: int(f.Dport), Packets: f.Packets, Bytes: f.Bytes, Start: r.WindowStart, End: r.WindowEnd, Segment: 1<<56 | 12345})
			sum.Packets += f.Packets
			sum.Bytes += f.Bytes
		}
		if sum.Packets != r.Packets || sum.Bytes != r.Bytes {
			t.Fatalf("window %v: the report lists %d of %d packets in top_flows; raise -top", r.WindowStart, sum.Packets, r.Packets)
		}
	}
	sortRecords(want)
	sortRecords(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("tshark's records differ from the reports' flows (-report +tshark):\n%s", diff)
	}
	t.Logf("%d windows, %d records in %d messages, every one equal to the report's", len(reps), records, messages)
}

// TestIPFIXTsharkDirection: with -onprem-cidrs, every record tshark reads
// carries flowDirection (IE 61): 0 (ingress) for the report's to_aws flows,
// 1 (egress) for its from_aws flows, equal record for record to the
// report's flows and their dir.
func TestIPFIXTsharkDirection(t *testing.T) {
	t.Parallel()
	// The sample's IPv4 flows come from 172.16/12 and 192.168/16; naming
	// its IPv6 destinations (2001:db8:ac10::/48) on-premises as well makes
	// the IPv6 flows point the other way: both directions in one capture.
	res := tsharkExport(t, "9", "-onprem-cidrs", "172.16.0.0/12,192.168.0.0/16,2001:db8:ac10::/48")
	if len(res.got) != res.records {
		t.Fatalf("tshark read %d records, dxprobe sent %d", len(res.got), res.records)
	}
	code := map[string]string{report.ToAWS: "0", report.FromAWS: "1", "": "255"}
	var want []tsharkRecord
	seen := map[string]int{}
	for _, r := range res.reps {
		for _, f := range r.TopFlows {
			want = append(want, tsharkRecord{Src: f.Src.String(), Dst: f.Dst.String(), Proto: int(f.Proto), Sport: int(f.Sport),
				Dport: int(f.Dport), Packets: f.Packets, Bytes: f.Bytes, Start: r.WindowStart, End: r.WindowEnd, Direction: code[f.Dir]})
			seen[f.Dir]++
		}
	}
	if seen[report.ToAWS] == 0 || seen[report.FromAWS] == 0 {
		t.Fatalf("flows by direction %v: the capture should hold both", seen)
	}
	sortRecords(want)
	sortRecords(res.got)
	if diff := cmp.Diff(want, res.got); diff != "" {
		t.Fatalf("tshark's records differ from the reports' flows (-report +tshark):\n%s", diff)
	}
	t.Logf("flows by direction: %v", seen)
}

func sortRecords(rs []tsharkRecord) {
	sort.Slice(rs, func(i, j int) bool { return fmt.Sprint(rs[i]) < fmt.Sprint(rs[j]) })
}

// readDatagrams reads n datagrams, which the exporter has already sent.
func readDatagrams(t *testing.T, ln *net.UDPConn, n int) [][]byte {
	t.Helper()
	var out [][]byte
	buf := make([]byte, 65536)
	for len(out) < n {
		_ = ln.SetReadDeadline(time.Now().Add(10 * time.Second)) // a failsafe, not a measure
		k, err := ln.Read(buf)
		if err != nil {
			t.Fatalf("read datagram %d of %d: %v", len(out)+1, n, err)
		}
		out = append(out, append([]byte(nil), buf[:k]...))
	}
	return out
}

// writeUDPCapture writes datagrams to a pcap file as Ethernet/IPv4/UDP
// frames from 192.0.2.1:4739 to 192.0.2.2:port.
func writeUDPCapture(t *testing.T, path string, port int, dgrams [][]byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 11, 26, 9, 31, 0, 0, time.UTC)
	for i, d := range dgrams {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4(192, 0, 2, 1), DstIP: net.IPv4(192, 0, 2, 2)}
		udp := &layers.UDP{SrcPort: 4739, DstPort: layers.UDPPort(port)}
		_ = udp.SetNetworkLayerForChecksum(ip)
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, gopacket.Payload(d)); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: ts.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(b), Length: len(b)}, b); err != nil {
			t.Fatal(err)
		}
	}
}

// goflow2Binary builds goflow2 from the Go module proxy, outside this
// module so that go.mod is untouched, into the user's cache directory
// (dxmon-test/goflow2-VERSION-GOOS-GOARCH), where later runs find it
// instead of linking it again; it skips the test if goflow2 cannot be
// fetched.
func goflow2Binary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GOFLOW2"); p != "" { // a binary built beforehand
		return p
	}
	var cached string
	if dir, err := os.UserCacheDir(); err == nil {
		cached = filepath.Join(dir, "dxmon-test", fmt.Sprintf("goflow2-%s-%s-%s", goflow2Version, runtime.GOOS, runtime.GOARCH), "goflow2")
		if fi, err := os.Stat(cached); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o100 != 0 {
			return cached
		}
	}
	dir := t.TempDir()
	cmd := exec.Command("go", "install", "github.com/netsampler/goflow2/v2/cmd/goflow2@"+goflow2Version)
	cmd.Dir = dir
	// The machine's GOPROXY and GOFLAGS hold; -mod=mod lets go install
	// resolve goflow2's own go.mod outside any module.
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -mod=mod"), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("goflow2 %s could not be fetched and built from the module proxy (GOPROXY=%s), so the export is not checked against a real collector: %v\n%s",
			goflow2Version, os.Getenv("GOPROXY"), err, out)
	}
	built := filepath.Join(dir, "goflow2")
	// Kept for later runs when the cache directory can be written; the
	// rename is atomic, so test binaries running at once never see half
	// a file.
	if cached != "" && os.MkdirAll(filepath.Dir(cached), 0o755) == nil {
		if tmp, err := os.CreateTemp(filepath.Dir(cached), "goflow2-*"); err == nil {
			b, rerr := os.ReadFile(built)
			_, werr := tmp.Write(b)
			cerr := tmp.Close()
			if rerr == nil && werr == nil && cerr == nil && os.Chmod(tmp.Name(), 0o755) == nil && os.Rename(tmp.Name(), cached) == nil {
				return cached
			}
			os.Remove(tmp.Name())
		}
	}
	return built
}

// goflow2 runs the collector on a loopback UDP port, writing JSON lines to
// a file; it is stopped at the end of the test.
type goflow2 struct {
	port int
	out  string
}

func startGoflow2(t *testing.T, bin string) *goflow2 {
	t.Helper()
	g := &goflow2{port: freeUDPPort(t), out: filepath.Join(t.TempDir(), "flows.json")}
	// One decoding worker: goflow2's workers share templates without
	// ordering, so with several a data message of a replay's first window,
	// sent milliseconds after the templates, may be decoded before them
	// ("template error"). A live probe sends its templates at start, a
	// window (5 s) before any data.
	cmd := exec.Command(bin, "-listen", fmt.Sprintf("netflow://127.0.0.1:%d?workers=1", g.port), "-addr", fmt.Sprintf("127.0.0.1:%d", freeTCPPort(t)),
		"-format", "json", "-transport", "file", "-transport.file", g.out, "-loglevel", "warn")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("goflow2 stderr:\n%s", stderr.String())
		}
	})
	// Ready once its socket is bound: the kernel's own table says so.
	pollUntil(t, 30*time.Second, func() bool { return udpBound(t, g.port) },
		func() string {
			return fmt.Sprintf("goflow2 did not bind 127.0.0.1:%d within 30s:\n%s", g.port, stderr.String())
		})
	return g
}

// udpBound reports whether a UDP socket is bound to port (/proc/net/udp).
func udpBound(t *testing.T, port int) bool {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		t.Skipf("no /proc/net/udp: %v", err)
	}
	return bytes.Contains(b, []byte(fmt.Sprintf(":%04X ", port)))
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// goflowRecord is the part of goflow2's JSON output the test reads.
type goflowRecord struct {
	SamplerAddress string `json:"sampler_address"`
	Domain         uint32 `json:"observation_domain_id"`
	SamplingRate   uint64 `json:"sampling_rate"`
	Src            string `json:"src_addr"`
	Dst            string `json:"dst_addr"`
	Proto          string `json:"proto"`
	Bytes          uint64 `json:"bytes"`
	Packets        uint64 `json:"packets"`
}

// records waits until goflow2 has written n records, and returns them.
func (g *goflow2) records(t *testing.T, n int) []goflowRecord {
	t.Helper()
	var rs []goflowRecord
	pollUntil(t, 60*time.Second, func() bool {
		b, _ := os.ReadFile(g.out)
		rs = rs[:0]
		dec := json.NewDecoder(bytes.NewReader(b))
		for {
			var r goflowRecord
			if err := dec.Decode(&r); err != nil {
				break // the end, or a record being written
			}
			rs = append(rs, r)
		}
		return len(rs) >= n
	}, func() string { return fmt.Sprintf("goflow2 wrote %d of %d records within 60s", len(rs), n) })
	return rs
}

// TestIPFIXGoflow2: two probes (observation domains 1 and 2, one sampling
// half the flows) export the sample capture to one goflow2 collector; its
// JSON output, each record's counts times its sampling_rate, summed per
// domain equals each probe's report totals, and summed over both the
// global total.
func TestIPFIXGoflow2(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds goflow2 from the module proxy")
	}
	g := startGoflow2(t, goflow2Binary(t))
	collector := fmt.Sprintf("udp://127.0.0.1:%d", g.port)
	type totals struct{ packets, bytes uint64 }
	want := map[uint32]totals{}
	sent := 0
	for _, p := range []struct {
		domain uint32
		rate   string
	}{{1, "1"}, {2, "0.5"}} {
		reps, records, _ := replayWithExport(t, collector, "-ipfix-domain", strconv.Itoa(int(p.domain)), "-sample-rate", p.rate)
		var tot totals
		for _, r := range reps {
			tot.packets += r.Packets
			tot.bytes += r.Bytes
		}
		want[p.domain] = tot
		sent += records
	}
	rs := g.records(t, sent)
	if len(rs) != sent {
		t.Fatalf("goflow2 wrote %d records, the probes sent %d", len(rs), sent)
	}
	got := map[uint32]totals{}
	rates := map[uint32]uint64{}
	var global totals
	for _, r := range rs {
		scale := max(r.SamplingRate, 1) // goflow2 writes 0 when it has no rate
		tot := got[r.Domain]
		tot.packets += r.Packets * scale
		tot.bytes += r.Bytes * scale
		got[r.Domain] = tot
		global.packets += r.Packets * scale
		global.bytes += r.Bytes * scale
		rates[r.Domain] = r.SamplingRate
		if _, err := netip.ParseAddr(r.Src); err != nil {
			t.Fatalf("goflow2 record with source %q: %+v", r.Src, r)
		}
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(totals{})); diff != "" {
		t.Fatalf("per-probe totals (-dxprobe reports +goflow2 records × sampling_rate):\n%s", diff)
	}
	if rates[2] != 2 {
		t.Errorf("goflow2's sampling_rate for the probe sampling half: %d, want 2 (from the options record)", rates[2])
	}
	wantGlobal := totals{want[1].packets + want[2].packets, want[1].bytes + want[2].bytes}
	if global != wantGlobal {
		t.Fatalf("global totals %+v, want %+v", global, wantGlobal)
	}
	t.Logf("goflow2 %s: %d records from 2 probes; global %d packets, %d bytes, equal to the reports'", goflow2Version, len(rs), global.packets, global.bytes)
}

// TestIPFIXBadConfiguration: a bad -ipfix setting fails at start with one
// line naming the flag or variable.
func TestIPFIXBadConfiguration(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		env  []string
		want string
	}{
		{args: []string{"-ipfix", "tcp://127.0.0.1:4739"}, want: "-ipfix"},
		{args: []string{"-ipfix", "127.0.0.1:4739"}, want: "-ipfix"},
		{args: []string{"-ipfix", "udp://127.0.0.1"}, want: "-ipfix"},
		{env: []string{"PROBE_IPFIX=udp://:4739"}, want: "PROBE_IPFIX"},
		{args: []string{"-ipfix-domain", "4294967296"}, want: "-ipfix-domain"},
		{args: []string{"-ipfix-max-message", "100"}, want: "-ipfix-max-message"},
		{args: []string{"-ipfix-queue", "0"}, want: "-ipfix-queue"},
	} {
		t.Run(strings.Join(append(c.env, c.args...), " "), func(t *testing.T) {
			cmd := exec.Command(probeBin, c.args...)
			cmd.Env = append(os.Environ(), c.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 2 {
				t.Fatalf("exit %v, want status 2; stderr:\n%s", err, stderr.String())
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], c.want) {
				t.Errorf("stderr %q: want one line naming %s", stderr.String(), c.want)
			}
		})
	}
}

// TestIPFIXAbsentCollector: a live probe exporting to a port nobody
// listens on still counts every packet, reports every window, and counts
// the records it could not send.
func TestIPFIXAbsentCollector(t *testing.T) {
	port := freeUDPPort(t)
	p := startProbe(t, "-listen", fmt.Sprintf("127.0.0.1:%d", port), "-workers", "2", "-format", "json",
		"-window", "200ms", "-top", "50", "-metrics", "127.0.0.1:0", "-ipfix-domain", "3", "-ipfix", fmt.Sprintf("udp://127.0.0.1:%d", freeUDPPort(t)))
	s := sendFlows(t, port, 50, 200)
	p.waitMetric(t, "dxmon_probe_decoded_packets_total", float64(s.packets))
	p.waitMetric(t, "dxmon_ipfix_dropped_records_total", 1)
	reps := p.stop(t)
	pk, by, _ := sumReports(reps)
	if pk != s.packets || by != s.bytes {
		t.Fatalf("reported %d packets / %d bytes, sent %d / %d", pk, by, s.packets, s.bytes)
	}
	if !strings.Contains(p.stderrText(), `msg="ipfix export stopped"`) {
		t.Errorf("no export summary in the log:\n%s", p.stderrText())
	}
}

// TestIPFIXTsharkOverflow: with flow tables of 64 flows the sample capture
// overflows them; tshark's reading of the export still sums, window by
// window, to the report's exact totals, with the heavy hitters as records
// and one remainder record 0.0.0.0 → 0.0.0.0, protocol 0.
func TestIPFIXTsharkOverflow(t *testing.T) {
	t.Parallel()
	res := tsharkExport(t, "8", "-max-flows", "64")
	type sums struct{ packets, bytes uint64 }
	got, want := map[time.Time]sums{}, map[time.Time]sums{}
	remainders := 0
	for _, r := range res.got {
		s := got[r.Start]
		s.packets += r.Packets
		s.bytes += r.Bytes
		got[r.Start] = s
		if r.Src == "0.0.0.0" && r.Dst == "0.0.0.0" && r.Proto == 0 {
			remainders++
		}
	}
	for _, r := range res.reps {
		want[r.WindowStart] = sums{r.Packets, r.Bytes}
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(sums{})); diff != "" {
		t.Fatalf("per-window totals (-report +tshark):\n%s", diff)
	}
	if remainders != len(res.reps) {
		t.Errorf("%d remainder records for %d overflowing windows", remainders, len(res.reps))
	}
	if n := len(res.got); n <= len(res.reps)*64 {
		t.Errorf("%d records: the heavy hitters of overflow are missing", n)
	}
	t.Logf("%d windows, %d records (64 exact flows per window, the heavy hitters, one remainder each), totals exact", len(res.reps), len(res.got))
}
