package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/dxmon/dxmon/flow"
	"github.com/dxmon/dxmon/probe"
	"github.com/dxmon/dxmon/report"
	"github.com/dxmon/dxmon/vxlan"
)

// floodResult is the flood measurement: a window of many distinct flows
// plus one heavy hitter, fed to the probe pipeline's worker path in
// process (decode → hash → sample → flow table → merge → report).
type floodResult struct {
	Flows          int     `json:"distinct_flows"`     // flood flows, one packet each
	MaxFlows       int     `json:"max_flows"`          // the flow table's cap (probe.Config.MaxFlows)
	Packets        uint64  `json:"packets"`            // fed, heavy hitter included
	Bytes          uint64  `json:"bytes"`              // inner IP bytes fed
	ReportPackets  uint64  `json:"report_packets"`     // as reported
	ReportBytes    uint64  `json:"report_bytes"`       // as reported
	TotalsExact    bool    `json:"totals_exact"`       // reported == fed
	HeavyStart     int     `json:"heavy_start"`        // the heavy hitter starts after this many flows
	HeavyPackets   uint64  `json:"heavy_packets"`      // fed
	HeavyBytes     uint64  `json:"heavy_bytes"`        // fed
	HeavyShare     float64 `json:"heavy_bytes_share"`  // of the window's bytes
	HeavyRank      int     `json:"heavy_rank"`         // in top_flows, 1 = first, 0 = absent
	HeavyRepBytes  uint64  `json:"heavy_report_bytes"` // as reported
	HeavySrcRank   int     `json:"heavy_src_rank"`     // its source in top_src
	Windows        int     `json:"windows"`            // reports emitted
	NsPerPacket    float64 `json:"ns_per_packet"`      // wall time of the feed per packet
	CPUNsPerPacket float64 `json:"cpu_ns_per_packet"`  // CPU time (getrusage) per packet
	PeakRSSMiB     float64 `json:"peak_rss_mib"`       // the child process's peak RSS
	TableMiB       float64 `json:"table_mib"`          // memory of one flow table at MaxFlows
	ReportMs       float64 `json:"report_ms"`          // the window's merge and report (probe OnReport)
}

// The flood's packets: VXLAN, Ethernet, IPv4, TCP; the template's fields
// are patched in place at these offsets (checked by decoding).
const (
	offIPLen   = 8 + 14 + 2
	offIPSrc   = 8 + 14 + 12
	offSrcPort = 8 + 14 + 20
)

var (
	heavySrc = netip.MustParseAddr("192.0.2.1")
	heavyDst = netip.MustParseAddr("198.51.100.7")
)

const (
	heavySport, heavyDport = 40000, 5201
	heavyLen               = 1500
	heavyEvery             = 49 // one heavy packet after every 49 flood flows once it started
)

// floodStream generates the flood: flow f (0 ≤ f < flows) is 10.x.y.z (f's
// low 24 bits) → 172.16.0.1 TCP, one packet of 64 + f%1437 bytes; once
// heavyStart flows were sent (the table is full by then), every 49th flow
// is followed by a packet of the heavy hitter.
type floodStream struct {
	flows, heavyStart int
	f                 int
	heavyNext         bool
	tmpl, heavy       []byte
	packets, bytes    uint64
	heavyPackets      uint64
}

func newFloodStream(flows, heavyStart int) (*floodStream, error) {
	t, err := vxlan.Append(nil, &vxlan.Spec{VNI: 12345, Src: netip.MustParseAddr("10.0.0.0"), Dst: netip.MustParseAddr("172.16.0.1"),
		Proto: vxlan.ProtoTCP, SrcPort: 1024, DstPort: 443, Snap: 128, Length: 1000})
	if err != nil {
		return nil, err
	}
	h, err := vxlan.Append(nil, &vxlan.Spec{VNI: 12345, Src: heavySrc, Dst: heavyDst,
		Proto: vxlan.ProtoTCP, SrcPort: heavySport, DstPort: heavyDport, Snap: 128, Length: heavyLen})
	if err != nil {
		return nil, err
	}
	s := &floodStream{flows: flows, heavyStart: heavyStart, tmpl: t, heavy: h}
	// Check the offsets against the decoder.
	buf := make([]byte, len(t))
	s.patch(buf, 0x0a0b0c)
	var p vxlan.Packet
	if r := p.Decode(buf); r != vxlan.OK || p.SrcAddr() != netip.MustParseAddr("10.10.11.12") ||
		p.SrcPort != uint16(1024+0x0a0b0c%50000) || p.Length != uint32(64+0x0a0b0c%1437) {
		return nil, fmt.Errorf("flood template offsets do not match the decoder (%v, %v, %d, %d)", r, p.SrcAddr(), p.SrcPort, p.Length)
	}
	return s, nil
}

func (s *floodStream) patch(b []byte, f int) {
	copy(b, s.tmpl)
	binary.BigEndian.PutUint16(b[offIPLen:], uint16(64+f%1437))
	b[offIPSrc+1], b[offIPSrc+2], b[offIPSrc+3] = byte(f>>16), byte(f>>8), byte(f)
	binary.BigEndian.PutUint16(b[offSrcPort:], uint16(1024+f%50000))
}

// next writes the next packet into b (cap ≥ len of the templates) and
// returns it, or nil at the end.
func (s *floodStream) next(b []byte) []byte {
	if s.heavyNext {
		s.heavyNext = false
		s.packets++
		s.heavyPackets++
		s.bytes += heavyLen
		return append(b[:0], s.heavy...)
	}
	if s.f >= s.flows {
		return nil
	}
	f := s.f
	s.f++
	b = b[:len(s.tmpl)]
	s.patch(b, f)
	s.packets++
	s.bytes += uint64(64 + f%1437)
	if f >= s.heavyStart && (f-s.heavyStart)%heavyEvery == heavyEvery-1 {
		s.heavyNext = true
	}
	return b
}

// memSource is a probe.Source reading batches from a floodStream; once it
// is exhausted it closes done and waits for its read deadline.
type memSource struct {
	s    *floodStream
	bufs [][]byte
	pkts [][]byte
	done chan struct{}
	once sync.Once

	mu       sync.Mutex
	deadline time.Time
	changed  chan struct{}
}

var _ probe.Source = (*memSource)(nil)

func newMemSource(s *floodStream) *memSource {
	m := &memSource{s: s, done: make(chan struct{}), changed: make(chan struct{}, 1)}
	for range 64 {
		m.bufs = append(m.bufs, make([]byte, 0, 256))
	}
	m.pkts = make([][]byte, 64)
	return m
}

// Read fills a batch of up to 64 packets.
func (m *memSource) Read() (int, error) {
	n := 0
	for n < len(m.bufs) {
		p := m.s.next(m.bufs[n])
		if p == nil {
			break
		}
		m.pkts[n] = p
		n++
	}
	if n > 0 {
		return n, nil
	}
	m.once.Do(func() { close(m.done) })
	for {
		m.mu.Lock()
		d := m.deadline
		m.mu.Unlock()
		if !d.IsZero() && !time.Now().Before(d) {
			return 0, os.ErrDeadlineExceeded
		}
		var (
			wake <-chan time.Time
			t    *time.Timer
		)
		if !d.IsZero() {
			t = time.NewTimer(time.Until(d))
			wake = t.C
		}
		select {
		case <-wake:
		case <-m.changed:
		}
		if t != nil {
			t.Stop()
		}
	}
}

// Packet returns the i-th packet of the last batch.
func (m *memSource) Packet(i int) []byte { return m.pkts[i] }

// SetReadDeadline sets the deadline and wakes a waiting Read.
func (m *memSource) SetReadDeadline(t time.Time) error {
	m.mu.Lock()
	m.deadline = t
	m.mu.Unlock()
	select {
	case m.changed <- struct{}{}:
	default:
	}
	return nil
}

// floodChild runs the flood measurement in this (child) process.
func floodChild(cfg childConfig) (childResult, error) {
	var res childResult
	fr, err := runFlood(cfg.Flows, cfg.MaxFlows)
	if err != nil {
		return res, err
	}
	if u, err := selfUsage(); err == nil {
		fr.PeakRSSMiB = float64(u.MaxRSSKB) / 1024
	}
	res.Flood = &fr
	return res, nil
}

// runFlood feeds one window of flows distinct flows plus a heavy hitter to
// a one-worker pipeline with flow tables of maxFlows, and checks the report.
func runFlood(flows, maxFlows int) (floodResult, error) {
	heavyStart := min(maxFlows, flows/2)
	fr := floodResult{Flows: flows, MaxFlows: maxFlows, HeavyStart: heavyStart,
		TableMiB: float64((2*flow.EntryBytes+4)*maxFlows) / (1 << 20)}
	s, err := newFloodStream(flows, heavyStart)
	if err != nil {
		return fr, err
	}
	var reports []*report.Report
	// A window far longer than the run, so that the whole flood is one window.
	pl, err := probe.New(probe.Config{Window: 1000 * time.Hour, MaxFlows: maxFlows, DrainGrace: 10 * time.Millisecond,
		Emit: func(r *report.Report) { reports = append(reports, r) }}, 1)
	if err != nil {
		return fr, err
	}
	var reportDur time.Duration
	pl.OnReport(func(d time.Duration, _ *report.Report, _ int, _ uint64) { reportDur = d })
	src := newMemSource(s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-src.done; cancel() }()
	u0, uerr := selfUsage()
	start := time.Now()
	if err := pl.Run(ctx, []probe.Source{src}); err != nil {
		return fr, err
	}
	elapsed := time.Since(start)
	fr.ReportMs = float64(reportDur.Microseconds()) / 1000 // Run has returned: no race
	fr.Packets, fr.Bytes, fr.HeavyPackets = s.packets, s.bytes, s.heavyPackets
	fr.HeavyBytes = s.heavyPackets * heavyLen
	fr.HeavyShare = float64(fr.HeavyBytes) / float64(fr.Bytes)
	fr.NsPerPacket = float64(elapsed.Nanoseconds()) / float64(fr.Packets)
	if u1, err := selfUsage(); err == nil && uerr == nil {
		fr.CPUNsPerPacket = float64((u1.User + u1.Sys - u0.User - u0.Sys).Nanoseconds()) / float64(fr.Packets)
	}
	fr.Windows = len(reports)
	for _, r := range reports {
		fr.ReportPackets += r.Packets
		fr.ReportBytes += r.Bytes
	}
	fr.TotalsExact = fr.ReportPackets == fr.Packets && fr.ReportBytes == fr.Bytes
	if len(reports) > 0 {
		last := reports[len(reports)-1]
		for i, f := range last.TopFlows {
			if f.Src == heavySrc && f.Dst == heavyDst && f.Sport == heavySport && f.Dport == heavyDport {
				fr.HeavyRank, fr.HeavyRepBytes = i+1, f.Bytes
				break
			}
		}
		for i, h := range last.TopSrc {
			if h.IP == heavySrc {
				fr.HeavySrcRank = i + 1
				break
			}
		}
	}
	return fr, nil
}
