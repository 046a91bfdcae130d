package reuseport

import (
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// failAfter closes g and fails t if done is not closed within d: a generous
// deadline that turns a hang into a failure, never a timing assertion.
func failAfter(t *testing.T, g *Group, d time.Duration, what string) (done chan struct{}) {
	t.Helper()
	done = make(chan struct{})
	var once sync.Once
	timer := time.AfterFunc(d, func() {
		once.Do(func() { t.Errorf("%s: not done after %v; closing", what, d) })
		g.Close()
	})
	t.Cleanup(func() { timer.Stop() })
	go func() {
		<-done
		timer.Stop()
	}()
	return done
}

// packet returns a payload of size bytes carrying sender and sequence numbers.
func packet(size int, sender, seq uint32) []byte {
	p := make([]byte, size)
	binary.BigEndian.PutUint32(p[0:], sender)
	binary.BigEndian.PutUint32(p[4:], seq)
	for i := 8; i < size; i++ {
		p[i] = byte(seq) + byte(i)
	}
	return p
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Addr: "127.0.0.1:0", Sockets: -1}, "sockets -1"},
		{Config{Addr: "127.0.0.1:0", BatchSize: 5000}, "batch size 5000"},
		{Config{Addr: "127.0.0.1:0", MsgSize: 1 << 20}, "message size 1048576"},
		{Config{Addr: "127.0.0.1:0", RecvBuffer: -5}, "receive buffer -5"},
		{Config{Addr: "127.0.0.1:0", Wait: 9}, "wait mode 9"},
		{Config{Addr: "localhost:4789"}, `listen udp localhost:4789: host "localhost" is not an IP address`},
		{Config{Addr: "127.0.0.1:99999"}, `listen udp 127.0.0.1:99999: bad port "99999"`},
		{Config{Addr: "4789"}, "listen udp 4789: "},
	}
	for _, tt := range tests {
		g, err := Listen(tt.cfg)
		if err == nil {
			g.Close()
			t.Errorf("Listen(%+v) = nil error, want %q", tt.cfg, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Listen(%+v) = %q, want it to contain %q", tt.cfg, err, tt.want)
		}
	}
}

func TestWaitModeNames(t *testing.T) {
	for _, m := range []WaitMode{WaitDefault, WaitNetpoll, WaitTick, WaitBlocking} {
		got, err := ParseWaitMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseWaitMode(%q) = %v, %v; want %v", m.String(), got, err, m)
		}
	}
	if _, err := ParseWaitMode("spin"); err == nil {
		t.Error(`ParseWaitMode("spin") succeeded`)
	}
}

// TestDropCounter checks that the 64-bit extension of the kernel's wrapping
// 32-bit counter equals the true count when observed in order, whatever the
// steps (each under 2^31), and that stale observations change nothing.
func TestDropCounter(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var d dropCounter
		var truth uint64
		steps := rapid.SliceOf(rapid.Uint32Range(0, 1<<31-1)).Draw(t, "steps")
		for _, s := range steps {
			prev := uint32(truth)
			truth += uint64(s)
			if got := d.observe(uint32(truth)); got != truth {
				t.Fatalf("observe(%d) = %d, want %d", uint32(truth), got, truth)
			}
			if got := d.observe(prev); got != truth && s != 0 {
				t.Fatalf("stale observe(%d) = %d, want %d unchanged", prev, got, truth)
			}
		}
		if d.load() != truth {
			t.Fatalf("load() = %d, want %d", d.load(), truth)
		}
	})
}

// TestLoopbackRoundTrip works on every platform: datagrams sent to the group
// come back byte for byte, and Read returns net.ErrClosed after Close.
func TestLoopbackRoundTrip(t *testing.T) {
	g, err := Listen(Config{Addr: "127.0.0.1:0", RecvBuffer: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	s, err := NewSender(g.LocalAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 10
	var pkts [][]byte
	for i := range n {
		pkts = append(pkts, packet(100+i, 1, uint32(i)))
	}
	if sent, err := s.Send(pkts); err != nil || sent != n {
		t.Fatalf("Send = %d, %v", sent, err)
	}
	r := g.Readers()[0]
	b := r.NewBatch()
	done := failAfter(t, g, 10*time.Second, "reading 10 packets")
	var got [][]byte
	for len(got) < n {
		k, err := r.Read(b)
		if err != nil {
			t.Fatalf("Read after %d packets: %v", len(got), err)
		}
		for i := range k {
			got = append(got, append([]byte(nil), b.Packet(i)...))
		}
	}
	close(done)
	for i := range pkts {
		if string(got[i]) != string(pkts[i]) {
			t.Errorf("packet %d = %x, want %x", i, got[i], pkts[i])
		}
	}
	g.Close()
	if _, err := r.Read(b); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after Close = %v, want net.ErrClosed", err)
	}
}
