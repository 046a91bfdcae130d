package ipfix

import (
	"context"
	"encoding/binary"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"pgregory.net/rapid"

	"github.com/dxmon/dxmon/flow"
)

var (
	t0    = time.Date(2026, 11, 26, 9, 30, 5, 0, time.UTC)
	start = t0.Add(-5 * time.Second)
)

var addrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

// tb is what the helpers need of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// sentMessage is a copy of one message the encoder sent.
type sentMessage struct {
	b       []byte
	records int
}

func encodeAll(t tb, cfg Config, flows []flowIn) []sentMessage {
	t.Helper()
	var out []sentMessage
	e, err := NewEncoder(cfg, func(msg []byte, records int) {
		out = append(out, sentMessage{append([]byte(nil), msg...), records})
	})
	if err != nil {
		t.Fatal(err)
	}
	e.Begin(t0, start, t0)
	for _, f := range flows {
		e.Add(&f.key, f.c)
	}
	e.Flush()
	return out
}

type flowIn struct {
	key flow.Key
	c   flow.Counter
}

// flowOut is what a decoded record says about a flow.
type flowOut struct {
	Src, Dst         netip.Addr
	Proto            uint8
	Sport, Dport     uint16
	Packets, Bytes   uint64
	StartMS, EndMS   uint64
	Segment          uint64
	HasSegment       bool
	Direction        uint64
	HasDirection     bool
	Template         uint16
	AddressesPresent int
}

func want(f flowIn, cfg Config) flowOut {
	k := f.key
	o := flowOut{Src: k.Src(), Dst: k.Dst(), Proto: k.Proto(), Sport: k.SrcPort(), Dport: k.DstPort(),
		Packets: f.c.Packets, Bytes: f.c.Bytes, StartMS: uint64(start.UnixMilli()), EndMS: uint64(t0.UnixMilli()),
		Template: TemplateIPv4, AddressesPresent: 2}
	if k.Version() == 6 {
		o.Template = TemplateIPv6
	} else if k.Version() == 0 { // the zero key: the remainder record
		o.Src, o.Dst = netip.IPv4Unspecified(), netip.IPv4Unspecified()
	}
	if cfg.VNI != 0 {
		o.Segment, o.HasSegment = 1<<56|uint64(cfg.VNI), true
	}
	if cfg.Direction != nil {
		o.Direction, o.HasDirection = uint64(FlowDirectionOf(cfg.Direction(&k))), true
	}
	return o
}

// byLastByte is a classifier for the tests: a pure function of the key
// that gives every direction.
func byLastByte(k *flow.Key) flow.Direction { return flow.Direction(k[15] % 3) }

func got(r decodedRecord) flowOut {
	o := flowOut{Proto: uint8(r.uint(IEProtocolIdentifier)), Sport: uint16(r.uint(IESourceTransportPort)),
		Dport: uint16(r.uint(IEDestinationTransportPort)), Packets: r.uint(IEPacketDeltaCount), Bytes: r.uint(IEOctetDeltaCount),
		StartMS: r.uint(IEFlowStartMilliseconds), EndMS: r.uint(IEFlowEndMilliseconds), Template: r.template}
	for _, ie := range []uint16{IESourceIPv4Address, IESourceIPv6Address} {
		if b, ok := r.fields[ie]; ok {
			o.Src, _ = netip.AddrFromSlice(b)
			o.AddressesPresent++
		}
	}
	for _, ie := range []uint16{IEDestinationIPv4Address, IEDestinationIPv6Address} {
		if b, ok := r.fields[ie]; ok {
			o.Dst, _ = netip.AddrFromSlice(b)
			o.AddressesPresent++
		}
	}
	if _, ok := r.fields[IELayer2SegmentID]; ok {
		o.Segment, o.HasSegment = r.uint(IELayer2SegmentID), true
	}
	if b, ok := r.fields[IEFlowDirection]; ok && len(b) == 1 {
		o.Direction, o.HasDirection = r.uint(IEFlowDirection), true
	}
	return o
}

// checkRoundTrip decodes the messages with the test collector and checks
// every property the encoder promises.
func checkRoundTrip(t tb, cfg Config, flows []flowIn, msgs []sentMessage) {
	t.Helper()
	if err := cfg.fill(); err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	var v4, v6 []flowOut
	var seq uint32
	sawTemplates := false
	for i, m := range msgs {
		if len(m.b) > cfg.MaxMessage {
			t.Fatalf("message %d: %d bytes > max %d", i, len(m.b), cfg.MaxMessage)
		}
		d, err := c.decode(m.b)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if d.domain != cfg.DomainID || d.exportTime != uint32(t0.Unix()) {
			t.Fatalf("message %d: domain %d export time %d", i, d.domain, d.exportTime)
		}
		if d.sequence != seq {
			t.Fatalf("message %d: sequence %d, want %d (data records before it)", i, d.sequence, seq)
		}
		if len(d.records) != m.records {
			t.Fatalf("message %d: %d records decoded, %d reported", i, len(d.records), m.records)
		}
		if d.templates > 0 {
			sawTemplates = true
			if d.templates != 3 || len(d.records) != 0 {
				t.Fatalf("template message: %d templates, %d records", d.templates, len(d.records))
			}
		} else if !sawTemplates {
			t.Fatalf("message %d: data before templates", i)
		}
		seq += uint32(len(d.records) + d.optionRecords)
		for _, r := range d.records {
			if r.template == TemplateIPv6 {
				v6 = append(v6, got(r))
			} else {
				v4 = append(v4, got(r))
			}
		}
	}
	var w4, w6 []flowOut
	for _, f := range flows {
		if f.key.Version() == 6 {
			w6 = append(w6, want(f, cfg))
		} else {
			w4 = append(w4, want(f, cfg))
		}
	}
	if diff := cmp.Diff(w4, v4, addrCmp); diff != "" {
		t.Fatalf("IPv4 records (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(w6, v6, addrCmp); diff != "" {
		t.Fatalf("IPv6 records (-want +got):\n%s", diff)
	}
	if len(flows) > 0 {
		if iv, p := c.interval[cfg.DomainID], c.probability[cfg.DomainID]; iv != uint64(math.Round(1/cfg.SampleRate)) || p != cfg.SampleRate {
			t.Fatalf("sampling options: interval %d probability %v for rate %v", iv, p, cfg.SampleRate)
		}
	}
}

func genFlow(t *rapid.T) flowIn {
	var k flow.Key
	proto := rapid.SampledFrom([]uint8{6, 17, 1, 132}).Draw(t, "proto")
	sport, dport := rapid.Uint16().Draw(t, "sport"), rapid.Uint16().Draw(t, "dport")
	if rapid.Bool().Draw(t, "v6") {
		var s, d [16]byte
		copy(s[:], rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "src6"))
		copy(d[:], rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "dst6"))
		s[0], d[0] = 0x20, 0x20 // not IPv4-mapped
		k = flow.NewKey(netip.AddrFrom16(s), netip.AddrFrom16(d), proto, sport, dport)
	} else {
		var s, d [4]byte
		copy(s[:], rapid.SliceOfN(rapid.Byte(), 4, 4).Draw(t, "src4"))
		copy(d[:], rapid.SliceOfN(rapid.Byte(), 4, 4).Draw(t, "dst4"))
		k = flow.NewKey(netip.AddrFrom4(s), netip.AddrFrom4(d), proto, sport, dport)
	}
	p := rapid.Uint64Range(1, 1<<40).Draw(t, "packets")
	return flowIn{k, flow.Counter{Packets: p, Bytes: p * rapid.Uint64Range(20, 65535).Draw(t, "size")}}
}

// TestEncodeRoundTrip: any mix of IPv4 and IPv6 flows, any message bound,
// VNI, sampling rate and direction classifier decodes to the same flows, in messages within the
// bound, templates first, sequence numbers counting the records before.
func TestEncodeRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := Config{DomainID: rapid.Uint32().Draw(t, "domain"), MaxMessage: rapid.IntRange(MinMaxMessage, 9000).Draw(t, "max"),
			SampleRate: rapid.SampledFrom([]float64{1, 0.5, 0.25, 0.1, 0.3, 0.001}).Draw(t, "rate"),
			VNI:        rapid.SampledFrom([]uint32{0, 1, 12345, 1<<24 - 1}).Draw(t, "vni")}
		if rapid.Bool().Draw(t, "direction") {
			cfg.Direction = byLastByte
		}
		flows := rapid.SliceOfN(rapid.Custom(genFlow), 0, 400).Draw(t, "flows")
		checkRoundTrip(t, cfg, flows, encodeAll(t, cfg, flows))
	})
}

// TestRemainderRecordIsZeroIPv4: the zero key (how ExportWindow encodes
// the remainder) is an IPv4 record of zero addresses, ports and protocol.
func TestRemainderRecordIsZeroIPv4(t *testing.T) {
	cfg := Config{DomainID: 7}
	flows := []flowIn{{flow.Key{}, flow.Counter{Packets: 3, Bytes: 300}}}
	checkRoundTrip(t, cfg, flows, encodeAll(t, cfg, flows))
}

// TestFlowDirectionValues: to_aws is ingress (0x00) and from_aws egress
// (0x01), the registry's two values; unknown is 0xFF. The field is the
// templates' last, one byte.
func TestFlowDirectionValues(t *testing.T) {
	if FlowDirectionOf(flow.DirToAWS) != 0 || FlowDirectionOf(flow.DirFromAWS) != 1 || FlowDirectionOf(flow.DirUnknown) != 0xFF {
		t.Fatal("flowDirection values")
	}
	onPrem := netip.MustParsePrefix("192.0.2.0/24")
	cls := func(k *flow.Key) flow.Direction {
		switch {
		case onPrem.Contains(k.Src()):
			return flow.DirToAWS
		case onPrem.Contains(k.Dst()):
			return flow.DirFromAWS
		}
		return flow.DirUnknown
	}
	cfg := Config{DomainID: 3, VNI: 7, Direction: cls}
	flows := []flowIn{
		{flow.NewKey(netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.2"), 6, 1, 2), flow.Counter{Packets: 1, Bytes: 40}},
		{flow.NewKey(netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("192.0.2.1"), 6, 2, 1), flow.Counter{Packets: 2, Bytes: 80}},
		{flow.NewKey(netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"), 17, 3, 4), flow.Counter{Packets: 3, Bytes: 90}},
		{flow.Key{}, flow.Counter{Packets: 4, Bytes: 400}}, // the remainder
	}
	msgs := encodeAll(t, cfg, flows)
	checkRoundTrip(t, cfg, flows, msgs)
	c := newCollector()
	var dirs []uint64
	for _, m := range msgs {
		d, err := c.decode(m.b)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range d.records {
			dirs = append(dirs, r.uint(IEFlowDirection))
		}
	}
	if diff := cmp.Diff([]uint64{0x00, 0x01, 0xFF, 0xFF}, dirs); diff != "" {
		t.Errorf("flowDirection per record, IPv4 first (-want +got):\n%s", diff)
	}
	for _, fs := range c.templates[3] {
		if fs.scope == 0 && fs.fields[len(fs.fields)-1] != (field{IEFlowDirection, 1}) {
			t.Errorf("template's last field %v, want flowDirection of 1 byte", fs.fields[len(fs.fields)-1])
		}
	}
}

// TestTemplateRefresh: templates go out before the first data message, and
// again after TemplateRefreshMessages data messages or TemplateRefresh.
func TestTemplateRefresh(t *testing.T) {
	var kinds []int // records per message; 0 = templates
	e, err := NewEncoder(Config{DomainID: 1, MaxMessage: MinMaxMessage, TemplateRefreshMessages: 3, TemplateRefresh: time.Minute},
		func(_ []byte, records int) { kinds = append(kinds, records) })
	if err != nil {
		t.Fatal(err)
	}
	per := (MinMaxMessage - headerLen - setHeaderLen) / e.RecordLen(false) // records per message
	k := flow.NewKey(netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.2"), 6, 1, 2)
	e.Begin(t0, start, t0)
	for range 7 * per {
		e.Add(&k, flow.Counter{Packets: 1, Bytes: 40})
	}
	e.Flush()
	full := per
	wantKinds := []int{0, full, full, full, 0, full, full, full, 0, full}
	if diff := cmp.Diff(wantKinds, kinds); diff != "" {
		t.Fatalf("messages by count (-want +got):\n%s", diff)
	}
	kinds = nil
	e.Begin(t0.Add(time.Minute), start.Add(time.Minute), t0.Add(time.Minute))
	e.Add(&k, flow.Counter{Packets: 1, Bytes: 40})
	e.Flush()
	if diff := cmp.Diff([]int{0, 1}, kinds); diff != "" {
		t.Fatalf("messages a minute later (-want +got):\n%s", diff)
	}
}

// TestAddDoesNotAllocate: encoding a record allocates nothing.
func TestAddDoesNotAllocate(t *testing.T) {
	e, err := NewEncoder(Config{DomainID: 1, VNI: 12345, Direction: byLastByte}, func([]byte, int) {})
	if err != nil {
		t.Fatal(err)
	}
	k4 := flow.NewKey(netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.2"), 6, 1, 2)
	k6 := flow.NewKey(netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"), 17, 3, 4)
	e.Begin(t0, start, t0)
	if n := testing.AllocsPerRun(10000, func() {
		e.Add(&k4, flow.Counter{Packets: 1, Bytes: 40})
		e.Add(&k6, flow.Counter{Packets: 1, Bytes: 60})
	}); n != 0 {
		t.Fatalf("Add: %v allocations per run", n)
	}
}

func TestBadConfig(t *testing.T) {
	for _, cfg := range []Config{{MaxMessage: 100}, {MaxMessage: 70000}, {SampleRate: 1.5}, {SampleRate: -1},
		{VNI: 1 << 24}, {TemplateRefresh: -time.Second}} {
		if _, err := NewEncoder(cfg, func([]byte, int) {}); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}

func TestParseURL(t *testing.T) {
	for in, ok := range map[string]bool{"udp://127.0.0.1:4739": true, "udp://[::1]:2055": true, "udp://collector.example:4739": true,
		"tcp://127.0.0.1:4739": false, "127.0.0.1:4739": false, "udp://127.0.0.1": false, "udp://:4739": false,
		"udp://127.0.0.1:0": false, "udp://127.0.0.1:4739/x": false, "": false} {
		if _, err := ParseURL(in); (err == nil) != ok {
			t.Errorf("ParseURL(%q): err %v, want ok=%v", in, err, ok)
		}
	}
}

// overflowingWindow returns a window whose worker table (capacity 8)
// overflowed: 8 exact flows, a heavy overflow flow, and many light ones.
func overflowingWindow(t testing.TB) *flow.Merged {
	tb, err := flow.NewTable(8)
	if err != nil {
		t.Fatal(err)
	}
	add := func(src string, port uint16, n int, size uint64) {
		k := flow.NewKey(netip.MustParseAddr(src), netip.MustParseAddr("198.51.100.9"), 6, port, 443)
		for range n {
			tb.Add(&k, k.Hash(), size)
		}
	}
	for i := range 8 {
		add("192.0.2.1", uint16(1000+i), 3, 100)
	}
	add("2001:db8::5", 5000, 50, 1500) // arrives after the table is full: a heavy hitter
	for i := range 1000 {
		add("192.0.2.2", uint16(20000+i), 1, 64+uint64(i%7))
	}
	m := flow.NewMerged()
	m.AddTables(tb)
	if m.Overflow.Packets == 0 {
		t.Fatal("the table did not overflow")
	}
	return m
}

// TestExporterLoopback: a window with overflow, exported to a real UDP
// socket on loopback, decodes to records that sum to the window's exact
// totals: exact flows, heavy hitters and one zero remainder record.
func TestExporterLoopback(t *testing.T) {
	ln, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_ = ln.SetReadBuffer(4 << 20)
	x, err := NewExporter(ExporterConfig{URL: "udp://" + ln.LocalAddr().String(), Config: Config{DomainID: 42, VNI: 12345}})
	if err != nil {
		t.Fatal(err)
	}
	m := overflowingWindow(t)
	x.ExportWindow(start, t0, m)
	if err := x.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := x.Stats()
	if s.QueueFullRecords != 0 || s.SendErrorRecords != 0 || s.Windows != 1 {
		t.Fatalf("stats %+v", s)
	}
	c := newCollector()
	var sum flow.Counter
	records, remainders := 0, 0
	buf := make([]byte, 65536)
	for uint64(records) < s.SentRecords {
		_ = ln.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := ln.Read(buf)
		if err != nil {
			t.Fatalf("after %d of %d records: %v", records, s.SentRecords, err)
		}
		d, err := c.decode(buf[:n])
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range d.records {
			o := got(r)
			sum.Packets += o.Packets
			sum.Bytes += o.Bytes
			if o.Src.IsUnspecified() && o.Dst.IsUnspecified() && o.Proto == 0 {
				remainders++
			}
			if o.Segment != 1<<56|12345 {
				t.Fatalf("layer2SegmentId %#x", o.Segment)
			}
		}
		records += len(d.records)
	}
	if sum != m.Total {
		t.Fatalf("records sum to %+v, window total %+v", sum, m.Total)
	}
	if records != m.Len(flow.DimFlow)+1 || remainders != 1 {
		t.Fatalf("%d records (%d remainders) for %d flows + 1 remainder", records, remainders, m.Len(flow.DimFlow))
	}
}

// TestExporterWithoutCollector: with nobody listening, records are counted
// as send errors, none is lost from the counts, and nothing blocks.
func TestExporterWithoutCollector(t *testing.T) {
	ln, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.LocalAddr().String()
	ln.Close() // nobody listens there now
	x, err := NewExporter(ExporterConfig{URL: "udp://" + addr, Config: Config{DomainID: 1}})
	if err != nil {
		t.Fatal(err)
	}
	m := overflowingWindow(t)
	records := uint64(0)
	for range 20 {
		x.ExportWindow(start, t0, m)
		records += uint64(m.Len(flow.DimFlow) + 1)
	}
	if err := x.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := x.Stats()
	if s.SentRecords+s.SendErrorRecords+s.QueueFullRecords != records {
		t.Fatalf("stats %+v do not account for %d records", s, records)
	}
	if s.SendErrorRecords == 0 {
		t.Fatalf("no send error counted without a collector: %+v", s)
	}
}

// TestQueueFullDrops: when the queue is full, ExportWindow drops and counts
// instead of waiting (no sending goroutine here, so the queue stays full).
func TestQueueFullDrops(t *testing.T) {
	x := &Exporter{queue: make(chan *message, 2), free: make(chan *message, 2), max: 2}
	var err error
	x.enc, err = NewEncoder(Config{DomainID: 1}, x.enqueue)
	if err != nil {
		t.Fatal(err)
	}
	m := overflowingWindow(t)
	x.ExportWindow(start, t0, m)
	queued := 0
	for range 2 {
		queued += (<-x.queue).records
	}
	if got, want := x.Stats().QueueFullRecords, uint64(m.Len(flow.DimFlow)+1-queued); got != want {
		t.Fatalf("dropped %d records, want %d", got, want)
	}
}

// TestDomainID: the instance ID from an IMDSv2 server (which refuses
// requests without its token), else the hostname.
func TestDomainID(t *testing.T) {
	const id = "i-0123456789abcdef0"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" && r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") != "":
			_, _ = w.Write([]byte("tok"))
		case r.Method == http.MethodGet && r.URL.Path == "/latest/meta-data/instance-id" && r.Header.Get("X-aws-ec2-metadata-token") == "tok":
			_, _ = w.Write([]byte(id))
		default:
			http.Error(w, "unauthorized", http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	d, from := DomainID(context.Background(), srv.URL, 2*time.Second)
	if from != id || d != hash32(id) || d == 0 {
		t.Fatalf("DomainID = %d from %q", d, from)
	}
	host, _ := os.Hostname()
	notEC2 := httptest.NewServer(http.NotFoundHandler())
	defer notEC2.Close()
	// An endpoint that never answers (as 169.254.169.254 off EC2 may not):
	// DomainID gives up after its timeout.
	stuck := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-stuck }))
	defer hang.Close()
	defer close(stuck)
	for _, ep := range []string{notEC2.URL, "", hang.URL} {
		if d, from := DomainID(context.Background(), ep, 200*time.Millisecond); from != host || d != hash32(host) {
			t.Fatalf("endpoint %q: DomainID = %d from %q, want the hostname %q", ep, d, from, host)
		}
	}
}

// FuzzEncodeDecode: flows built from any bytes survive the encoder and the
// test collector unchanged; the collector also rejects the raw bytes as a
// message without panicking.
func FuzzEncodeDecode(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3}, uint16(1400), uint32(0))
	f.Add(make([]byte, 200), uint16(256), uint32(12345))
	f.Fuzz(func(t *testing.T, data []byte, maxMsg uint16, vni uint32) {
		_, _ = newCollector().decode(data) // never panics
		cfg := Config{DomainID: 9, MaxMessage: MinMaxMessage + int(maxMsg)%(65535-MinMaxMessage), VNI: vni & (1<<24 - 1)}
		var flows []flowIn
		for len(data) >= 12 {
			var k flow.Key
			if data[0]&1 == 1 {
				var s, d [16]byte
				copy(s[:], data[1:])
				s[0], d[0] = 0x20, 0x20
				copy(d[1:], data[2:])
				k = flow.NewKey(netip.AddrFrom16(s), netip.AddrFrom16(d), data[3], binary.BigEndian.Uint16(data[4:]), binary.BigEndian.Uint16(data[6:]))
			} else {
				k = flow.NewKey(netip.AddrFrom4([4]byte(data[1:5])), netip.AddrFrom4([4]byte(data[5:9])), data[3], binary.BigEndian.Uint16(data[8:]), uint16(data[10]))
			}
			flows = append(flows, flowIn{k, flow.Counter{Packets: uint64(data[11]) + 1, Bytes: binary.BigEndian.Uint64(append(make([]byte, 0, 8), data[4:12]...))}})
			data = data[12:]
		}
		checkRoundTrip(t, cfg, flows, encodeAll(t, cfg, flows))
	})
}

// TestExportWindowAllocations: a window of over a thousand records costs a
// constant few allocations once the queue's buffers exist, none per record.
func TestExportWindowAllocations(t *testing.T) {
	x := &Exporter{queue: make(chan *message, 1024), free: make(chan *message, 1024), max: 1024}
	var err error
	x.enc, err = NewEncoder(Config{DomainID: 1}, x.enqueue)
	if err != nil {
		t.Fatal(err)
	}
	m := overflowingWindow(t)
	recycle := func() {
		for len(x.queue) > 0 {
			x.free <- <-x.queue
		}
	}
	x.ExportWindow(start, t0, m)
	recycle()
	if n := testing.AllocsPerRun(20, func() { x.ExportWindow(start, t0, m); recycle() }); n > 2 {
		t.Fatalf("ExportWindow of %d records: %v allocations", m.Len(flow.DimFlow)+1, n)
	}
	if s := x.Stats(); s.QueueFullRecords != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestExporterMetricsLint: the exporter's metrics pass promlint.
func TestExporterMetricsLint(t *testing.T) {
	x, err := NewExporter(ExporterConfig{URL: "udp://127.0.0.1:9", Config: Config{DomainID: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close(context.Background())
	reg := prometheus.NewPedanticRegistry()
	x.RegisterMetrics(reg)
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Fatalf("metrics lint: %v %v", err, problems)
	}
}
