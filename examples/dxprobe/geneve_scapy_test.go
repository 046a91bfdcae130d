package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dxmon/dxmon/vxlan"
)

// TestScapyGeneveMatchesVXLAN: scapy (testdata/geneve_scapy.py, the
// encoder TestKernelGWLB uses) and vxlan.AppendGWLBOptions, written
// independently, give the same bytes for GWLB's Geneve header and AWS's
// three options around an IPv4 and an IPv6 packet. It also checks the
// framing TestKernelGWLB's helper uses to talk to scapy.
func TestScapyGeneveMatchesVXLAN(t *testing.T) {
	t.Parallel()
	python := scapyPython()
	if python == "" {
		t.Skip("needs scapy (apt-get install python3-scapy) (skipped: no python3 imports scapy.contrib.geneve within 30s)")
	}
	enc := startScapy(t, python, "testdata/geneve_scapy.py")
	v4 := []byte{0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 200, // IPv4, UDP
		0xa0, 0x29, 0x27, 0x0f, 0, 8, 0, 0}
	v6 := make([]byte, 48) // IPv6, UDP
	copy(v6, []byte{0x60, 0, 0, 0, 0, 8, 17, 64})
	copy(v6[8:], netip.MustParseAddr("2001:db8:2::1").AsSlice())
	copy(v6[24:], netip.MustParseAddr("2001:db8:2:1::5").AsSlice())
	copy(v6[40:], []byte{0xa0, 0x2a, 0x27, 0x0f, 0, 8, 0, 0})
	for _, c := range []struct {
		inner    []byte
		proto    uint16
		endpoint uint64
	}{{v4, 0x0800, gwEndpointA}, {v6, 0x86dd, gwEndpointB}} {
		for cookie := range uint32(3) {
			got, err := enc(c.endpoint, 0x1122334455667788, cookie, c.inner)
			if err != nil {
				t.Fatal(err)
			}
			want := []byte{8, 0, byte(c.proto >> 8), byte(c.proto), 0, 0, 0, 0} // 8 words of options, VNI 0
			want = vxlan.AppendGWLBOptions(want, c.endpoint, 0x1122334455667788, cookie)
			want = append(want, c.inner...)
			if !bytes.Equal(got, want) {
				t.Errorf("proto %#04x cookie %d: scapy % x\nvxlan % x", c.proto, cookie, got, want)
			}
		}
	}
}

// scapyTimeout bounds every exchange with scapy. scapy reads the host's
// interfaces with ioctls when it is imported; a kernel whose RTNL lock is
// held for good (see internal/netnstest) never answers them, and the test
// then skips instead of hanging.
const scapyTimeout = 30 * time.Second

// scapyPython returns a python3 that imports scapy's Geneve, or "".
func scapyPython() string {
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		cmd := exec.Command(py, "-c", "import scapy.contrib.geneve")
		if cmd.Start() != nil {
			continue
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err == nil {
				return py
			}
		case <-time.After(scapyTimeout):
			_ = cmd.Process.Kill() // abandoned if asleep in the kernel
			return ""
		}
	}
	return ""
}

// startScapy runs the encoder script and returns a function that has it
// encode one packet, each exchange bounded by scapyTimeout.
func startScapy(t *testing.T, python, script string) func(endpoint, attachment uint64, cookie uint32, inner []byte) ([]byte, error) {
	cmd := exec.Command(python, script)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s %s: %v", python, script, err)
	}
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Process.Kill()
	})
	r := bufio.NewReader(stdout)
	type answer struct {
		b   []byte
		err error
	}
	return func(endpoint, attachment uint64, cookie uint32, inner []byte) ([]byte, error) {
		req := binary.BigEndian.AppendUint32(nil, uint32(20+len(inner)))
		req = binary.BigEndian.AppendUint64(req, endpoint)
		req = binary.BigEndian.AppendUint64(req, attachment)
		req = binary.BigEndian.AppendUint32(req, cookie)
		req = append(req, inner...)
		ch := make(chan answer, 1)
		go func() {
			if _, err := stdin.Write(req); err != nil {
				ch <- answer{err: fmt.Errorf("to scapy: %w", err)}
				return
			}
			var hdr [4]byte
			if _, err := io.ReadFull(r, hdr[:]); err != nil {
				ch <- answer{err: fmt.Errorf("from scapy: %w", err)}
				return
			}
			n := binary.BigEndian.Uint32(hdr[:])
			if n > 65536 {
				ch <- answer{err: fmt.Errorf("scapy returned %d bytes, more than a UDP payload", n)}
				return
			}
			b := make([]byte, n)
			if _, err := io.ReadFull(r, b); err != nil {
				ch <- answer{err: fmt.Errorf("from scapy: %w", err)}
				return
			}
			ch <- answer{b: b}
		}()
		select {
		case a := <-ch:
			return a.b, a.err
		case <-time.After(scapyTimeout):
			return nil, fmt.Errorf("scapy did not answer within %s", scapyTimeout)
		}
	}
}
