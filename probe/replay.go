package probe

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/dxmon/dxmon/flow"
	"github.com/dxmon/dxmon/vxlan"
)

// Replay reads a pcap or pcapng capture through worker 0 and emits one
// report per window, windows following the packets' timestamps. A frame is
// decoded when its outer UDP destination port is vxlanPort (VXLAN) or 6081
// (Geneve); others are skipped with reason outer_port.
func (p *Pipeline) Replay(r io.Reader, vxlanPort uint16) error {
	br := bufio.NewReader(r)
	magic, err := br.Peek(4)
	if err == nil && bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		br = bufio.NewReader(newNgGuard(br))
		magic, err = br.Peek(4)
	}
	if err != nil {
		return fmt.Errorf("read capture header: %w", err)
	}
	var next func() ([]byte, time.Time, error)
	var link layers.LinkType
	if bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		var ng *pcapgo.NgReader
		err := guard(func() (err error) { ng, err = pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions); return err })
		if err != nil {
			return fmt.Errorf("read pcapng: %w", err)
		}
		link = ng.LinkType()
		next = func() (d []byte, ts time.Time, err error) {
			err = guard(func() error {
				var ci gopacket.CaptureInfo
				d, ci, err = ng.ZeroCopyReadPacketData()
				ts = ci.Timestamp
				return err
			})
			return d, ts, err
		}
	} else {
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return fmt.Errorf("read pcap: %w", err)
		}
		if pr.Snaplen() > maxCaptureLen {
			// Readers size their buffer from the header's snap length:
			// bound it, so that a larger packet is an error, not gigabytes.
			pr.SetSnaplen(maxCaptureLen)
		}
		link = pr.LinkType()
		next = func() ([]byte, time.Time, error) {
			d, ci, err := pr.ZeroCopyReadPacketData()
			return d, ci.Timestamp, err
		}
	}
	var handle func(w *Worker, b []byte)
	switch link {
	case layers.LinkTypeEthernet:
		handle = func(w *Worker, b []byte) { w.HandleFrame(b, vxlanPort) }
	case layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6, 12: // 12: LINKTYPE_RAW on OpenBSD
		handle = func(w *Worker, b []byte) { w.HandleIP(b, vxlanPort) }
	case layers.LinkTypeLinuxSLL:
		handle = func(w *Worker, b []byte) {
			if len(b) < 16 {
				w.c.rxPackets++
				w.c.skipped[vxlan.OuterTruncated]++
				w.cur.skipped[vxlan.OuterTruncated]++
				return
			}
			w.HandleIP(b[16:], vxlanPort)
		}
	default:
		return fmt.Errorf("capture link type %v (%d) not supported: want Ethernet, raw IP or Linux SLL", link, link)
	}

	w := p.workers[0]
	m := flow.NewMerged()
	var start time.Time
	emit := func(partial bool) {
		m.Reset()
		m.AddTable(w.cur.table)
		rep := p.buildReport(start, start.Add(p.cfg.Window), partial, m, &w.cur.tally)
		p.cfg.Emit(rep)
		if p.cfg.Export != nil {
			p.cfg.Export.ExportWindow(rep.WindowStart, rep.WindowEnd, m)
		}
		p.last.Store(rep)
		w.cur.table.Reset()
		w.cur.tally = tally{}
	}
	seen := false
	for {
		data, ts, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read capture: %w", err)
		}
		ws := flow.WindowStart(ts, p.cfg.Window)
		if !seen {
			start, seen = ws, true
		} else if !ts.Before(start.Add(p.cfg.Window)) {
			emit(false)
			start = ws
		}
		handle(w, data)
	}
	w.publish()
	if seen {
		emit(false)
	}
	return nil
}

// guard runs a call into the capture reader and turns a panic into an
// error: gopacket's pcapng reader divides by a time resolution taken from
// the file, among other things a hostile file controls (found by
// FuzzReplay). dxprobe -r must reject such a file, not crash.
func guard(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed capture: %v", r)
		}
	}()
	return fn()
}
