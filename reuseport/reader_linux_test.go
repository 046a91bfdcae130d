package reuseport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

var modes = []WaitMode{WaitNetpoll, WaitTick, WaitBlocking}

// TestSpreadOverSockets: packets from many source ports reach every one of N
// sockets, none is lost, and each source's packets all land on one socket
// (the kernel hashes the 4-tuple).
func TestSpreadOverSockets(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			const sockets, senders, perSender = 4, 64, 20
			g, err := Listen(Config{Addr: "127.0.0.1:0", Sockets: sockets, RecvBuffer: 4 << 20, Wait: mode})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			if len(g.Readers()) != sockets {
				t.Fatalf("got %d readers, want %d", len(g.Readers()), sockets)
			}

			type hit struct{ socket, sender, seq int }
			hits := make(chan hit, senders*perSender)
			for i, r := range g.Readers() {
				go func() {
					b := r.NewBatch()
					for {
						n, err := r.Read(b)
						if err != nil {
							return
						}
						for k := range n {
							p := b.Packet(k)
							hits <- hit{i, int(binary.BigEndian.Uint32(p)), int(binary.BigEndian.Uint32(p[4:]))}
						}
					}
				}()
			}
			for s := range senders {
				snd, err := NewSender(g.LocalAddr())
				if err != nil {
					t.Fatal(err)
				}
				var pkts [][]byte
				for q := range perSender {
					pkts = append(pkts, packet(150, uint32(s), uint32(q)))
				}
				if n, err := snd.Send(pkts); err != nil || n != perSender {
					t.Fatalf("sender %d: Send = %d, %v", s, n, err)
				}
				snd.Close()
			}

			done := failAfter(t, g, 10*time.Second, "receiving every packet")
			perSocket := make([]int, sockets)
			socketOf := make(map[int]int)
			seen := make(map[[2]int]bool)
			for range senders * perSender {
				var h hit
				select {
				case h = <-hits:
				case <-time.After(15 * time.Second): // failAfter has already failed the test
					t.Fatalf("received %d of %d packets", len(seen), senders*perSender)
				}
				perSocket[h.socket]++
				key := [2]int{h.sender, h.seq}
				if seen[key] {
					t.Errorf("packet %v received twice", key)
				}
				seen[key] = true
				if s, ok := socketOf[h.sender]; ok && s != h.socket {
					t.Errorf("sender %d reached sockets %d and %d", h.sender, s, h.socket)
				}
				socketOf[h.sender] = h.socket
			}
			close(done)
			t.Logf("packets per socket: %v", perSocket)
			for i, n := range perSocket {
				if n == 0 {
					t.Errorf("socket %d received nothing (per socket: %v)", i, perSocket)
				}
			}
			if d, err := g.KernelDrops(); err != nil || d != 0 {
				t.Errorf("KernelDrops = %d, %v; want 0", d, err)
			}
		})
	}
}

// TestNoLossModestRate sends 20 000 packets from one port with at most 1000
// unread at any time (well within the buffer) and expects every one, in
// order, and no kernel drop.
func TestNoLossModestRate(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			const total, window = 20000, 1000
			g, err := Listen(Config{Addr: "127.0.0.1:0", RecvBuffer: 4 << 20, Wait: mode})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			snd, err := NewSender(g.LocalAddr())
			if err != nil {
				t.Fatal(err)
			}
			defer snd.Close()

			progress := make(chan int, total)
			errc := make(chan error, 1)
			go func() {
				r := g.Readers()[0]
				b := r.NewBatch()
				next := uint32(0)
				for next < total {
					n, err := r.Read(b)
					if err != nil {
						errc <- fmt.Errorf("read after %d packets: %w", next, err)
						return
					}
					for k := range n {
						if seq := binary.BigEndian.Uint32(b.Packet(k)[4:]); seq != next {
							errc <- fmt.Errorf("got packet %d, want %d", seq, next)
							return
						}
						next++
					}
					progress <- int(next)
				}
				errc <- nil
			}()

			done := failAfter(t, g, 20*time.Second, "sending and receiving 20000 packets")
			pkts := make([][]byte, 64)
			for i := range pkts {
				pkts[i] = make([]byte, 150)
			}
			received := 0
			for sent := 0; sent < total; {
				for sent-received > window {
					select {
					case received = <-progress:
					case err := <-errc:
						t.Fatalf("reader stopped: %v", err)
					}
				}
				k := min(len(pkts), total-sent)
				for i := range k {
					binary.BigEndian.PutUint32(pkts[i][4:], uint32(sent+i))
				}
				if n, err := snd.Send(pkts[:k]); err != nil || n != k {
					t.Fatalf("Send = %d, %v", n, err)
				}
				sent += k
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			close(done)
			if d, err := g.KernelDrops(); err != nil || d != 0 {
				t.Errorf("KernelDrops = %d, %v; want 0", d, err)
			}
		})
	}
}

// TestCloseUnblocks: Close makes readers blocked in Read return
// net.ErrClosed, and Close itself returns once they have.
func TestCloseUnblocks(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			g, err := Listen(Config{Addr: "127.0.0.1:0", Sockets: 3, RecvBuffer: 1 << 20, Wait: mode})
			if err != nil {
				t.Fatal(err)
			}
			returned := make(chan error, len(g.Readers()))
			firstDone := make(chan struct{}, len(g.Readers()))
			for _, r := range g.Readers() {
				go func() {
					b := r.NewBatch()
					// One packet first, so the reader is known to be in its
					// read loop; the next Read blocks.
					if _, err := r.Read(b); err != nil {
						returned <- err
						return
					}
					firstDone <- struct{}{}
					// Packets of later senders may wake this Read; read
					// on until Close ends it.
					for {
						if _, err := r.Read(b); err != nil {
							returned <- err
							return
						}
					}
				}()
			}
			// One packet per socket: senders until every socket got one.
			var senders []*Sender
			defer func() {
				for _, s := range senders {
					s.Close()
				}
			}()
			got := 0
			deadline := time.After(10 * time.Second)
			for got < len(g.Readers()) && len(senders) < 1000 {
				s, err := NewSender(g.LocalAddr())
				if err != nil {
					t.Fatal(err)
				}
				senders = append(senders, s)
				// A socket that has had its packet is in its second Read;
				// more packets to it would wake it. Send only while
				// sockets are waiting, and drain acknowledgements.
				if _, err := s.Send([][]byte{{1}}); err != nil {
					t.Fatal(err)
				}
				select {
				case <-firstDone:
					got++
				case <-deadline:
					t.Fatal("readers did not get their first packet")
				default:
				}
			}
			for got < len(g.Readers()) {
				select {
				case <-firstDone:
					got++
				case <-deadline:
					t.Fatal("readers did not get their first packet")
				}
			}
			start := time.Now()
			closed := make(chan error, 1)
			go func() { closed <- g.Close() }()
			select {
			case err := <-closed:
				if err != nil {
					t.Fatalf("Close: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Close did not return")
			}
			for range g.Readers() {
				select {
				case err := <-returned:
					if !errors.Is(err, net.ErrClosed) {
						t.Errorf("blocked Read returned %v, want net.ErrClosed", err)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("a blocked Read did not return after Close")
				}
			}
			t.Logf("%s: Close and all reads returned after %v", mode, time.Since(start))
		})
	}
}

// TestTinyBufferDropsExact: with a tiny receive buffer and a burst nobody
// reads, the kernel drops most packets; once the queue is read,
// sent = received + kernel drops, exactly.
func TestTinyBufferDropsExact(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			const burst = 2000
			g, err := Listen(Config{Addr: "127.0.0.1:0", RecvBuffer: 4096, Wait: mode})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			r := g.Readers()[0]
			t.Logf("asked 4096 B, granted %d B", r.BufferGranted())
			snd, err := NewSender(g.LocalAddr())
			if err != nil {
				t.Fatal(err)
			}
			defer snd.Close()
			pkts := make([][]byte, 100)
			sent := 0
			for sent < burst {
				for i := range pkts {
					pkts[i] = packet(150, 0, uint32(sent+i))
				}
				n, err := snd.Send(pkts)
				if err != nil {
					t.Fatal(err)
				}
				sent += n
			}

			done := failAfter(t, g, 10*time.Second, "accounting for every packet")
			b := r.NewBatch()
			received := 0
			var drops uint64
			for {
				drops, err = r.KernelDrops()
				if err != nil {
					t.Fatal(err)
				}
				if uint64(received)+drops >= burst {
					break
				}
				n, err := r.Read(b)
				if err != nil {
					t.Fatalf("Read after %d packets, %d drops: %v", received, drops, err)
				}
				received += n
			}
			close(done)
			t.Logf("sent %d, received %d, kernel drops %d (last SO_RXQ_OVFL seen: %d)", sent, received, drops, r.Drops())
			if uint64(received)+drops != uint64(sent) {
				t.Errorf("received %d + drops %d != sent %d", received, drops, sent)
			}
			if drops == 0 || received == 0 {
				t.Errorf("want some drops and some packets, got %d drops, %d received", drops, received)
			}
			if r.Drops() != drops {
				t.Errorf("Drops() = %d after KernelDrops() = %d", r.Drops(), drops)
			}
			g.Close()
			if r.Drops() != drops {
				t.Errorf("Drops() = %d after Close, want the final %d", r.Drops(), drops)
			}
		})
	}
}

// TestDropCountInControlMessage: drops are reported by SO_RXQ_OVFL on the
// next packet queued, without asking the kernel.
func TestDropCountInControlMessage(t *testing.T) {
	g, err := Listen(Config{Addr: "127.0.0.1:0", RecvBuffer: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	r := g.Readers()[0]
	snd, err := NewSender(g.LocalAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	burst := make([][]byte, 500)
	for i := range burst {
		burst[i] = make([]byte, 150)
	}
	if _, err := snd.Send(burst); err != nil {
		t.Fatal(err)
	}
	done := failAfter(t, g, 10*time.Second, "draining")
	b := r.NewBatch()
	want, err := r.KernelDrops()
	if err != nil {
		t.Fatal(err)
	}
	if want == 0 {
		t.Fatal("no drops with a 4 KiB buffer and a 500-packet burst")
	}
	// Forget what KernelDrops recorded: only the control message may set
	// it now. Then drain the queue until a packet sent after the drops
	// arrives; it carries the count.
	r.drops.total.Store(0)
	for {
		if _, err := snd.Send([][]byte{[]byte("last")}); err != nil {
			t.Fatal(err)
		}
		n, err := r.Read(b)
		if err != nil {
			t.Fatal(err)
		}
		if string(b.Packet(n-1)) == "last" {
			break
		}
		// Still draining the burst: the "last" just sent may itself have
		// been dropped; loop and send another.
	}
	close(done)
	if r.Drops() < want {
		t.Errorf("after a post-drop packet, Drops() = %d, want at least %d", r.Drops(), want)
	}
}

// TestPortInUse: an address held by a plain socket (or by another group)
// fails with an error naming it.
func TestPortInUse(t *testing.T) {
	plain, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	addr := plain.LocalAddr().String()
	for _, sockets := range []int{1, 4} {
		g, err := Listen(Config{Addr: addr, Sockets: sockets})
		if err == nil {
			g.Close()
			t.Fatalf("Listen(%s) on a port in use succeeded", addr)
		}
		if want := "listen udp " + addr + ": address already in use"; err.Error() != want {
			t.Errorf("error %q, want %q", err, want)
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("error %v is not EADDRINUSE", err)
		}
	}

	g, err := Listen(Config{Addr: "127.0.0.1:0", Sockets: 2, RecvBuffer: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if g2, err := Listen(Config{Addr: g.LocalAddr().String(), Sockets: 2}); err == nil {
		g2.Close()
		t.Errorf("a second group joined %s", g.LocalAddr())
	}
}

// TestGROSplit sends one UDP GSO super-packet (UDP_SEGMENT): with GRO the
// kernel delivers it whole and Batch splits it by the segment size; without,
// the kernel delivers the datagrams one by one. The payloads are the same.
func TestGROSplit(t *testing.T) {
	const seg, count, tail = 100, 10, 37
	buf := make([]byte, 0, seg*count+tail)
	var want [][]byte
	for i := range count + 1 {
		n := seg
		if i == count {
			n = tail
		}
		p := packet(n, 7, uint32(i))
		want = append(want, p)
		buf = append(buf, p...)
	}
	for _, gro := range []bool{true, false} {
		t.Run(fmt.Sprintf("gro=%v", gro), func(t *testing.T) {
			g, err := Listen(Config{Addr: "127.0.0.1:0", RecvBuffer: 1 << 20, GRO: gro})
			if errors.Is(err, ErrNotSupported) {
				t.Skipf("kernel without UDP_GRO: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			snd, err := NewSender(g.LocalAddr())
			if err != nil {
				t.Fatal(err)
			}
			defer snd.Close()
			if err := snd.SendSegments(buf, seg); errors.Is(err, ErrNotSupported) {
				t.Skipf("kernel without UDP_SEGMENT: %v", err)
			} else if err != nil {
				t.Fatal(err)
			}
			r := g.Readers()[0]
			b := r.NewBatch()
			done := failAfter(t, g, 10*time.Second, "reading the segments")
			var got [][]byte
			datagrams := 0
			for len(got) < len(want) {
				n, err := r.Read(b)
				if err != nil {
					t.Fatal(err)
				}
				datagrams += b.used
				for i := range n {
					got = append(got, append([]byte(nil), b.Packet(i)...))
				}
			}
			close(done)
			t.Logf("gro=%v: %d packets arrived in %d datagrams", gro, len(got), datagrams)
			if len(got) != len(want) {
				t.Fatalf("got %d packets, want %d", len(got), len(want))
			}
			for i := range want {
				if string(got[i]) != string(want[i]) {
					t.Errorf("packet %d: %d bytes %x..., want %d bytes %x...", i, len(got[i]), got[i][:8], len(want[i]), want[i][:8])
				}
			}
			if gro && datagrams != 1 {
				t.Logf("GRO on, but the kernel delivered %d datagrams (not coalesced)", datagrams)
			}
			if !gro && datagrams != len(want) {
				t.Errorf("GRO off: %d datagrams, want %d", datagrams, len(want))
			}
		})
	}
}

// TestReadAllocs: a steady-state Read (and Sender.Send) allocates nothing,
// in either wait mode, with and without GRO.
func TestReadAllocs(t *testing.T) {
	for _, mode := range modes {
		for _, gro := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/gro=%v", mode, gro), func(t *testing.T) {
				g, err := Listen(Config{Addr: "127.0.0.1:0", RecvBuffer: 4 << 20, Wait: mode, GRO: gro})
				if err != nil {
					t.Fatal(err)
				}
				defer g.Close()
				snd, err := NewSender(g.LocalAddr())
				if err != nil {
					t.Fatal(err)
				}
				defer snd.Close()
				pkts := make([][]byte, 64)
				for i := range pkts {
					pkts[i] = packet(150, 0, uint32(i))
				}
				r := g.Readers()[0]
				b := r.NewBatch()
				done := failAfter(t, g, 30*time.Second, "the allocation runs")
				var failed error
				allocs := testing.AllocsPerRun(200, func() {
					if _, err := snd.Send(pkts); err != nil {
						failed = err
						return
					}
					for got := 0; got < len(pkts); {
						n, err := r.Read(b)
						if err != nil {
							failed = err
							return
						}
						got += n
					}
				})
				close(done)
				if failed != nil {
					t.Fatal(failed)
				}
				if allocs != 0 {
					t.Errorf("%v allocations per Send+Read of 64 packets, want 0", allocs)
				}
			})
		}
	}
}

func TestSenderLoopbackOnly(t *testing.T) {
	for _, dst := range []string{"192.0.2.1:4789", "[2001:db8::1]:4789", "127.0.0.1:0"} {
		if s, err := NewSender(netip.MustParseAddrPort(dst)); err == nil {
			s.Close()
			t.Errorf("NewSender(%s) succeeded", dst)
		}
	}
}

func TestBufferGranted(t *testing.T) {
	g, err := Listen(Config{Addr: "127.0.0.1:0", RecvBuffer: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	// Root (CI) gets exactly what it asked through SO_RCVBUFFORCE; others
	// get at most net.core.rmem_max. Either way, never more than asked for
	// a size above the kernel minimum.
	if got := g.Readers()[0].BufferGranted(); got <= 0 || got > 1<<20 {
		t.Errorf("BufferGranted() = %d, want 1..%d", got, 1<<20)
	}
}

// TestReadDeadline: in both wait modes a read deadline ends a Read, one
// already waiting as well as one started after it passed, with
// os.ErrDeadlineExceeded; Reads work again once it is cleared.
func TestReadDeadline(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			g, err := Listen(Config{Addr: "127.0.0.1:0", RecvBuffer: 1 << 20, Wait: mode})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			r := g.Readers()[0]
			b := r.NewBatch()
			done := failAfter(t, g, 10*time.Second, "deadline")
			if err := r.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Read(b); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("Read past its deadline = %v, want os.ErrDeadlineExceeded", err)
			}
			// A Read that waits: the deadline comes while it blocks.
			if err := r.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Read(b); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("waiting Read = %v, want os.ErrDeadlineExceeded", err)
			}
			if err := r.SetReadDeadline(time.Time{}); err != nil {
				t.Fatal(err)
			}
			s, err := NewSender(g.LocalAddr())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Send([][]byte{[]byte("after")}); err != nil {
				t.Fatal(err)
			}
			if n, err := r.Read(b); err != nil || n != 1 || string(b.Packet(0)) != "after" {
				t.Fatalf("Read after clearing the deadline = %d, %v", n, err)
			}
			close(done)
		})
	}
}

// TestAddrForms: the wildcard, IPv4 and IPv6 loopback forms all listen, share
// one port over N sockets, and receive.
func TestAddrForms(t *testing.T) {
	for _, tt := range []struct{ addr, dst string }{
		{":0", "127.0.0.1"},
		{"127.0.0.1:0", "127.0.0.1"},
		{"[::1]:0", "::1"},
	} {
		g, err := Listen(Config{Addr: tt.addr, Sockets: 2, RecvBuffer: 1 << 20})
		if err != nil {
			if tt.dst == "::1" {
				t.Logf("skipping %s: %v", tt.addr, err)
				continue
			}
			t.Fatal(err)
		}
		port := g.LocalAddr().Port()
		for _, r := range g.Readers() {
			if r.LocalAddr().Port() != port || port == 0 {
				t.Errorf("%s: socket on %s, group on %s", tt.addr, r.LocalAddr(), g.LocalAddr())
			}
		}
		s, err := NewSender(netip.AddrPortFrom(netip.MustParseAddr(tt.dst), port))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Send([][]byte{[]byte("x")}); err != nil {
			t.Fatal(err)
		}
		got := make(chan struct{}, len(g.Readers()))
		for _, r := range g.Readers() {
			go func() {
				b := r.NewBatch()
				if n, err := r.Read(b); err == nil && n == 1 {
					got <- struct{}{}
				}
			}()
		}
		select {
		case <-got:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: nothing received", tt.addr)
		}
		s.Close()
		g.Close()
	}
}

// TestBufferWarning: a warning naming net.core.rmem_max is logged exactly
// when the kernel granted less than asked (as root SO_RCVBUFFORCE grants
// all; run the tests as another user to see the warning path).
func TestBufferWarning(t *testing.T) {
	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, nil))
	const asked = 256 << 20
	g, err := Listen(Config{Addr: "127.0.0.1:0", RecvBuffer: asked, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	granted := g.Readers()[0].BufferGranted()
	warned := strings.Contains(logged.String(), "net.core.rmem_max")
	t.Logf("asked %d, granted %d, log: %q", asked, granted, logged.String())
	if warned != (granted < asked) {
		t.Errorf("granted %d of %d but warning logged = %v: %q", granted, asked, warned, logged.String())
	}
}

// TestTickLeavesNetpoll: in WaitTick mode the socket is not in Go's epoll
// set (else every packet arriving during a tick's sleep would still wake the
// netpoller's thread), while in WaitNetpoll mode it is.
func TestTickLeavesNetpoll(t *testing.T) {
	for _, mode := range []WaitMode{WaitNetpoll, WaitTick} {
		t.Run(mode.String(), func(t *testing.T) {
			g, err := Listen(Config{Addr: "127.0.0.1:0", RecvBuffer: 1 << 20, Wait: mode})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			r := g.Readers()[0]
			var sock int
			if err := r.rc.Control(func(fd uintptr) { sock = int(fd) }); err != nil {
				t.Fatal(err)
			}
			watched := epollWatched(t)
			if got, want := watched[sock], mode == WaitNetpoll; got != want {
				t.Errorf("socket fd %d in Go's epoll set = %v, want %v (watched: %v)", sock, got, want, watched)
			}
		})
	}
}

// epollWatched returns the descriptors this process's epoll instances watch,
// from /proc/self/fdinfo.
func epollWatched(t *testing.T) map[int]bool {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	watched := map[int]bool{}
	found := false
	for _, e := range ents {
		link, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil || link != "anon_inode:[eventpoll]" {
			continue
		}
		info, err := os.ReadFile("/proc/self/fdinfo/" + e.Name())
		if err != nil {
			continue
		}
		found = true
		for _, line := range strings.Split(string(info), "\n") {
			var fd int
			if _, err := fmt.Sscanf(line, "tfd: %d", &fd); err == nil {
				watched[fd] = true
			}
		}
	}
	if !found {
		t.Skip("no epoll descriptor found in /proc/self/fd")
	}
	return watched
}

// TestWaitAuto: WaitDefault chooses WaitTick when the buffer granted holds a
// tick's packets at high rates (TickMinBuffer), WaitNetpoll below it.
func TestWaitAuto(t *testing.T) {
	for _, tt := range []struct {
		buf  int
		want WaitMode
	}{{TickMinBuffer, WaitTick}, {TickMinBuffer / 2, WaitNetpoll}} {
		g, err := Listen(Config{Addr: "127.0.0.1:0", RecvBuffer: tt.buf, Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		r := g.Readers()[0]
		granted, got := r.BufferGranted(), r.Wait()
		g.Close()
		if granted < tt.buf {
			t.Skipf("asked %d B, granted %d B: SO_RCVBUFFORCE needs CAP_NET_ADMIN", tt.buf, granted)
		}
		if got != tt.want {
			t.Errorf("buffer %d B: Wait() = %v, want %v", tt.buf, got, tt.want)
		}
	}
}

// TestReadQueued: in every wait mode ReadQueued takes what the socket holds
// (past a read deadline too), returns 0 and no error at once when the
// socket is empty instead of waiting, allocates nothing, and returns
// net.ErrClosed after Close.
func TestReadQueued(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			g, err := Listen(Config{Addr: "127.0.0.1:0", RecvBuffer: 4 << 20, Wait: mode})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			r := g.Readers()[0]
			b := r.NewBatch()
			done := failAfter(t, g, 30*time.Second, "ReadQueued")
			// Empty: it answers 0 rather than waiting (a wait would last
			// until failAfter closes the group, and fail).
			if n, err := r.ReadQueued(b); n != 0 || err != nil || b.Len() != 0 {
				t.Fatalf("ReadQueued of an empty socket = %d, %v (batch %d), want 0, nil", n, err, b.Len())
			}
			// A deadline in the past does not stop it: it does not wait.
			if err := r.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
				t.Fatal(err)
			}
			snd, err := NewSender(g.LocalAddr())
			if err != nil {
				t.Fatal(err)
			}
			defer snd.Close()
			pkts := make([][]byte, 300) // more than one batch
			for i := range pkts {
				pkts[i] = packet(150, 0, uint32(i))
			}
			if _, err := snd.Send(pkts); err != nil {
				t.Fatal(err)
			}
			// Loopback queues each datagram within the send, but the
			// kernel may defer that to ksoftirqd: read until all are in.
			var got []uint32
			for len(got) < len(pkts) {
				n, err := r.ReadQueued(b)
				if err != nil {
					t.Fatalf("ReadQueued after %d of %d packets: %v", len(got), len(pkts), err)
				}
				if n > DefaultBatchSize {
					t.Fatalf("ReadQueued returned %d packets, more than a batch (%d)", n, DefaultBatchSize)
				}
				for i := range n {
					got = append(got, binary.BigEndian.Uint32(b.Packet(i)[4:]))
				}
				runtime.Gosched()
			}
			for i, seq := range got {
				if seq != uint32(i) {
					t.Fatalf("packet %d has sequence %d: ReadQueued lost or reordered packets", i, seq)
				}
			}
			if n, err := r.ReadQueued(b); n != 0 || err != nil {
				t.Fatalf("ReadQueued after every packet = %d, %v, want 0, nil", n, err)
			}
			var failed error
			allocs := testing.AllocsPerRun(100, func() {
				if _, err := snd.Send(pkts[:8]); err != nil {
					failed = err
					return
				}
				for got := 0; got < 8; {
					n, err := r.ReadQueued(b)
					if err != nil {
						failed = err
						return
					}
					got += n
				}
			})
			if failed != nil {
				t.Fatal(failed)
			}
			if allocs != 0 {
				t.Errorf("%v allocations per Send+ReadQueued of 8 packets, want 0", allocs)
			}
			close(done)
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := r.ReadQueued(b); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("ReadQueued after Close = %v, want net.ErrClosed", err)
			}
		})
	}
}
