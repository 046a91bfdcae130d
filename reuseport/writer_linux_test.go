package reuseport

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
)

func newRawOrSkip(t *testing.T, batch int) *RawWriter {
	t.Helper()
	w, err := NewRawWriter(batch)
	if errors.Is(err, os.ErrPermission) {
		t.Skipf("raw socket needs CAP_NET_RAW (run as root): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// TestPacketInfoAndRawWriter: a Reader with PacketInfo tells each
// datagram's sender and local address, and a RawWriter answers from that
// address with any source port; what arrives is the payload unchanged.
func TestPacketInfoAndRawWriter(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", ":0"} { // AF_INET, and Go's dual-stack AF_INET6
		g, err := Listen(Config{Addr: addr, RecvBuffer: 1 << 20, Wait: WaitNetpoll, PacketInfo: true})
		if err != nil {
			t.Fatal(err)
		}
		port := g.LocalAddr().Port()
		c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)}, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(port)})
		if err != nil {
			t.Fatal(err)
		}
		payload := []byte("geneve, or anything")
		if _, err := c.Write(payload); err != nil {
			t.Fatal(err)
		}
		r := g.Readers()[0]
		r.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := r.NewBatch()
		n, err := r.Read(b)
		if err != nil || n != 1 {
			t.Fatalf("%s: read %d, %v", addr, n, err)
		}
		from, to, unicast, ok := b.Addrs(0)
		wantFrom := netip.MustParseAddrPort(c.LocalAddr().String())
		if from != wantFrom || to != netip.MustParseAddr("127.0.0.1") || !unicast || !ok {
			t.Fatalf("%s: Addrs = %v %v %v %v, want %v 127.0.0.1 true true", addr, from, to, unicast, ok, wantFrom)
		}
		if a := testing.AllocsPerRun(100, func() { b.Addrs(0) }); a != 0 {
			t.Errorf("Addrs: %v allocations, want 0", a)
		}
		// Answer to 127.0.0.2 on a port of our choosing, from 127.0.0.1
		// and the sender's own port.
		back, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
		if err != nil {
			t.Fatal(err)
		}
		w := newRawOrSkip(t, 4)
		dst := netip.MustParseAddrPort(back.LocalAddr().String())
		if !w.Add(netip.AddrPortFrom(to, from.Port()), dst, b.Packet(0)) || w.Len() != 1 {
			t.Fatal("Add refused")
		}
		if sent, bytesSent, err := w.Flush(); sent != 1 || bytesSent != len(payload) || err != nil {
			t.Fatalf("Flush = %d, %d, %v", sent, bytesSent, err)
		}
		back.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 100)
		m, src, err := back.ReadFromUDPAddrPort(buf)
		if err != nil || !bytes.Equal(buf[:m], payload) || src != netip.AddrPortFrom(to, from.Port()) {
			t.Fatalf("%s: got %q from %v, %v", addr, buf[:m], src, err)
		}
		back.Close()
		c.Close()
		g.Close()
	}
}

func TestRawWriterRefuses(t *testing.T) {
	w := newRawOrSkip(t, 1)
	v6 := netip.MustParseAddrPort("[2001:db8::1]:1")
	v4 := netip.MustParseAddrPort("127.0.0.1:1")
	if w.Add(v6, v4, []byte{1}) || w.Add(v4, v6, []byte{1}) || w.Add(v4, v4, nil) || w.Add(v4, v4, make([]byte, 65536)) {
		t.Error("Add took an IPv6 address, an empty or an oversized payload")
	}
	if !w.Add(v4, v4, []byte{1}) || w.Add(v4, v4, []byte{1}) {
		t.Error("batch of 1: the first Add must succeed and the second fail")
	}
	if sent, _, err := w.Flush(); sent != 1 || err != nil {
		t.Errorf("Flush = %d, %v", sent, err)
	}
	if _, err := NewRawWriter(0); err == nil {
		t.Error("batch 0 accepted")
	}
	if _, err := Listen(Config{Addr: "127.0.0.1:0", GRO: true, PacketInfo: true}); err == nil {
		t.Error("GRO with PacketInfo accepted")
	}
}

// TestRawWriterAllocs: Add and Flush allocate nothing.
func TestRawWriterAllocs(t *testing.T) {
	w := newRawOrSkip(t, 8)
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	dst := netip.MustParseAddrPort(sink.LocalAddr().String())
	src := netip.MustParseAddrPort("127.0.0.1:6081")
	p := make([]byte, 100)
	allocs := testing.AllocsPerRun(50, func() {
		for range 8 {
			w.Add(src, dst, p)
		}
		w.Flush()
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per batch, want 0", allocs)
	}
}

// BenchmarkRawWriter: a batch of 64 answers of 200 bytes to a loopback
// socket (the kernel's delivery included).
func BenchmarkRawWriter(b *testing.B) {
	w, err := NewRawWriter(64)
	if errors.Is(err, os.ErrPermission) {
		b.Skip("needs CAP_NET_RAW")
	}
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	go func() { // drain, so the sink's buffer never fills
		buf := make([]byte, 2048)
		for {
			if _, err := sink.Read(buf); err != nil {
				return
			}
		}
	}()
	dst := netip.MustParseAddrPort(sink.LocalAddr().String())
	src := netip.MustParseAddrPort("127.0.0.1:6081")
	p := make([]byte, 200)
	b.ReportAllocs()
	for b.Loop() {
		for range 64 {
			w.Add(src, dst, p)
		}
		w.Flush()
	}
}
