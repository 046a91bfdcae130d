package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dxmon/dxmon/internal/gopacketoracle"
)

// TestReadCaptures: dxprobe -r on real captures from tcpdump's test suite
// and on the sample capture reports the flows gopacket finds.
func TestReadCaptures(t *testing.T) {
	t.Parallel()
	files := []string{
		filepath.Join("..", "..", "testdata", "pcap", "vxlan.pcap"),
		filepath.Join("..", "..", "testdata", "pcap", "geneve.pcap"),
		filepath.Join("..", "..", "testdata", "pcap", "gso-ipv4-vxlan-ipv4.pcap"),
		filepath.Join("..", "..", "testdata", "mirror-sample.pcap"),
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			want, err := gopacketoracle.Flows(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 {
				t.Fatalf("gopacket found no flow in %s", path)
			}
			out, err := exec.Command(probeBin, "-r", path, "-format", "json", "-top", "1000").Output()
			if err != nil {
				t.Fatalf("dxprobe -r %s: %v", path, err)
			}
			_, _, got := sumReports(parseReports(t, out))
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("dxprobe differs from gopacket (-gopacket +dxprobe):\n%s", d)
			}
		})
	}
}

// TestReadCaptureText: the README's quick start prints a readable table.
func TestReadCaptureText(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(probeBin, "-r", filepath.Join("..", "..", "testdata", "mirror-sample.pcap")).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"TOP FLOWS", "172.16.20.15:50412 -> 10.0.1.50:443", "TOP SOURCES", "TOP DESTINATION PORTS", "Mbps", "UTC", "not counted: 1 frame: outer_port=1 (sent to neither the -listen port nor Geneve's 6081)", "all flows counted"} {
		if !contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }
