package probe_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/dxmon/dxmon/internal/gopacketoracle"
	"github.com/dxmon/dxmon/probe"
	"github.com/dxmon/dxmon/report"
	"github.com/dxmon/dxmon/vxlan"
)

// pcapngOf rewrites a pcap file as pcapng with gopacket's writer.
func pcapngOf(t testing.TB, path string) []byte {
	t.Helper()
	frames, infos, err := gopacketoracle.Frames(path)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w, err := pcapgo.NewNgWriter(&out, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	for i, data := range frames {
		if err := w.WritePacket(infos[i], data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func replayAll(t *testing.T, r io.Reader) ([]*report.Report, error) {
	t.Helper()
	var c collector
	pl, err := probe.New(probe.Config{Top: 1000, MaxFlows: 4096, Emit: c.emit}, 1)
	if err != nil {
		t.Fatal(err)
	}
	err = pl.Replay(r, vxlan.PortVXLAN)
	return c.reports, err
}

// TestReplayPcapngEqualsPcap: the same capture as pcapng gives the same
// reports, through the guard that checks pcapng block headers.
func TestReplayPcapngEqualsPcap(t *testing.T) {
	path := filepath.Join("..", "testdata", "mirror-sample.pcap")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want, err := replayAll(t, f)
	if err != nil {
		t.Fatal(err)
	}
	// A reader that returns one byte at a time exercises every block
	// boundary of the guard.
	got, err := replayAll(t, oneByte{bytes.NewReader(pcapngOf(t, path))})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
		t.Errorf("pcapng differs from pcap (-pcap +pcapng):\n%s", d)
	}
}

type oneByte struct{ r io.Reader }

func (o oneByte) Read(p []byte) (int, error) { return o.r.Read(p[:min(1, len(p))]) }

// TestReplayRejectsHostileLengths: header fields a reader would size its
// buffers from are checked before any reader sees them.
func TestReplayRejectsHostileLengths(t *testing.T) {
	ng := pcapngOf(t, filepath.Join("..", "testdata", "pcap", "vxlan.pcap"))
	// Find the first enhanced packet block and claim a 3 GB packet.
	epb := -1
	for off := 0; off+8 <= len(ng); {
		typ, length := binary.LittleEndian.Uint32(ng[off:]), binary.LittleEndian.Uint32(ng[off+4:])
		if typ == 6 {
			epb = off
			break
		}
		off += int(length)
	}
	if epb < 0 {
		t.Fatal("no enhanced packet block")
	}
	hostile := append([]byte(nil), ng...)
	binary.LittleEndian.PutUint32(hostile[epb+20:], 3<<30)
	if _, err := replayAll(t, bytes.NewReader(hostile)); err == nil || !strings.Contains(err.Error(), "captured length") {
		t.Errorf("pcapng with a 3 GB packet: err = %v", err)
	}
	short := append([]byte(nil), ng...)
	binary.LittleEndian.PutUint32(short[epb+4:], 8) // a block shorter than its own header
	if _, err := replayAll(t, bytes.NewReader(short)); err == nil {
		t.Errorf("pcapng with an 8-byte block: no error")
	}
	// Classic pcap: a snap length of 4 GB is bounded, so a packet claiming
	// more than 256 KiB is an error.
	pc, err := os.ReadFile(filepath.Join("..", "testdata", "pcap", "vxlan.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	pc = append([]byte(nil), pc...)
	binary.LittleEndian.PutUint32(pc[16:], 0xffffffff)
	binary.LittleEndian.PutUint32(pc[24+8:], 1<<30) // first record's captured length
	if _, err := replayAll(t, bytes.NewReader(pc)); err == nil {
		t.Errorf("pcap with a 1 GB packet: no error")
	}
}
