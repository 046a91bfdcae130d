package probe_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/dxmon/dxmon/probe"
	"github.com/dxmon/dxmon/report"
)

// FuzzReplay: a hostile capture file never panics the replay; it is read
// or rejected with an error.
func FuzzReplay(f *testing.F) {
	for _, name := range []string{filepath.Join("..", "testdata", "pcap", "vxlan.pcap"), filepath.Join("..", "testdata", "pcap", "geneve.pcap")} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 1600)])
	}
	f.Add([]byte{0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a}) // a pcapng section header, cut
	ng := pcapngOf(f, filepath.Join("..", "testdata", "pcap", "vxlan.pcap"))
	f.Add(ng[:min(len(ng), 1600)])
	pl, err := probe.New(probe.Config{Top: 5, MaxFlows: 1024, Emit: func(*report.Report) {}}, 1)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = pl.Replay(bytes.NewReader(b), 4789) // Replay leaves the worker's table empty
	})
}
