package reuseport

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// senderEnv makes the test binary a paced sender (see runSenderProc), so
// that the benchmark's getrusage counts the receiver only.
const senderEnv = "REUSEPORT_BENCH_SENDER"

func TestMain(m *testing.M) {
	if os.Getenv(senderEnv) == "1" {
		if err := runSenderProc(); err != nil {
			fmt.Fprintln(os.Stderr, "sender:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// benchPacketSize is a mirror packet's UDP payload: VXLAN (8 B) and an inner
// frame cut to 128 B, plus some slack.
const benchPacketSize = 150

// runSenderProc reads commands "DST COUNT RATE SEGMENT" on stdin and, for
// each, sends COUNT packets to DST at RATE packets per second (0: as fast as
// one sendmmsg loop goes) in bursts of at most 64, as plain datagrams or, if
// SEGMENT is 1, as UDP GSO super-packets; then it writes "done SENT".
func runSenderProc() error {
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) != 4 {
			return fmt.Errorf("bad command %q", in.Text())
		}
		dst, err := netip.ParseAddrPort(f[0])
		if err != nil {
			return err
		}
		count, _ := strconv.Atoi(f[1])
		rate, _ := strconv.Atoi(f[2])
		gso := f[3] == "1"
		sent, err := pacedSend(dst, count, rate, gso)
		if err != nil {
			return err
		}
		fmt.Printf("done %d\n", sent)
	}
	return in.Err()
}

func pacedSend(dst netip.AddrPort, count, rate int, gso bool) (int, error) {
	s, err := NewSender(dst)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	const burst = 64
	pkts := make([][]byte, burst)
	for i := range pkts {
		pkts[i] = make([]byte, benchPacketSize)
	}
	super := make([]byte, burst*benchPacketSize)
	start := time.Now()
	sent := 0
	for sent < count {
		due := count
		if rate > 0 {
			due = min(count, int(float64(rate)*time.Since(start).Seconds()))
		}
		if due <= sent {
			time.Sleep(20 * time.Microsecond) // pacing, not synchronisation
			continue
		}
		k := min(due-sent, burst)
		if gso {
			if err := s.SendSegments(super[:k*benchPacketSize], benchPacketSize); err != nil {
				return sent, err
			}
		} else if _, err := s.Send(pkts[:k]); err != nil {
			return sent, err
		}
		sent += k
	}
	return sent, nil
}

type senderProc struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

// The sender's stdin and stdout are used from the benchmark goroutine only,
// one command and one reply at a time.

func startSenderProc(b *testing.B) *senderProc {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), senderEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	return &senderProc{cmd: cmd, in: stdin, out: bufio.NewScanner(stdout)}
}

func cpuTime() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRate offers b.N packets at a fixed rate from a sender process
// over loopback to one socket and reports the receiving process's CPU time
// per packet (getrusage: user + system, all threads), the loss, and the
// packets each Read returned. Run it with a fixed count, for example:
//
//	go test -run '^$' -bench Rate -benchtime 300000x ./reuseport
func BenchmarkRate(b *testing.B) {
	type tc struct {
		rate int
		mode WaitMode
		gro  bool
		gso  bool
	}
	var cases []tc
	for _, rate := range []int{100_000, 200_000, 0} {
		for _, mode := range modes {
			for _, gro := range []bool{false, true} {
				cases = append(cases, tc{rate, mode, gro, false})
			}
			cases = append(cases, tc{rate, mode, false, true}, tc{rate, mode, true, true})
		}
	}
	for _, c := range cases {
		rate := "max"
		if c.rate > 0 {
			rate = fmt.Sprintf("%dk", c.rate/1000)
		}
		send := "sendmmsg"
		if c.gso {
			send = "gso"
		}
		b.Run(fmt.Sprintf("%s/%s/gro=%v/%s", rate, c.mode, c.gro, send), func(b *testing.B) {
			benchRate(b, c.rate, c.mode, c.gro, c.gso)
		})
	}
}

func benchRate(b *testing.B, rate int, mode WaitMode, gro, gso bool) {
	sp := startSenderProc(b)
	g, err := Listen(Config{Addr: "127.0.0.1:0", RecvBuffer: 64 << 20, Wait: mode, GRO: gro})
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	r := g.Readers()[0]
	batch := r.NewBatch()
	type result struct{ pkts, reads, sum int }
	done := make(chan result, 1)
	count := b.N
	go func() {
		var res result
		for res.pkts < count {
			n, err := r.Read(batch)
			if err != nil {
				break
			}
			res.reads++
			res.pkts += n
			for i := range n {
				res.sum += int(batch.Packet(i)[0]) // touch the payload
			}
		}
		done <- res
	}()

	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	fmt.Fprintf(sp.in, "%s %d %d %d\n", g.LocalAddr(), count, rate, map[bool]int{false: 0, true: 1}[gso])
	senderDone := make(chan bool, 1)
	go func() { senderDone <- sp.out.Scan() }()
	var res result
	select {
	case res = <-done:
		<-senderDone
	case <-senderDone:
		// The sender finished first: give the queue a moment to drain,
		// then count what is missing as lost.
		select {
		case res = <-done:
		case <-time.After(time.Second):
			g.Close()
			res = <-done
		}
	}
	cpu := cpuTime() - cpu0
	b.StopTimer()
	drops, _ := r.KernelDrops()
	if res.pkts == 0 {
		b.Fatal("nothing received")
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(res.pkts), "cpu-ns/pkt")
	b.ReportMetric(100*float64(count-res.pkts)/float64(count), "loss-%")
	b.ReportMetric(float64(drops), "drops")
	b.ReportMetric(float64(res.pkts)/float64(res.reads), "pkts/read")
}

// BenchmarkRead measures one Read of a 64-packet batch sent just before by
// an in-process Sender (both counted), with allocations.
func BenchmarkRead(b *testing.B) {
	for _, mode := range modes {
		b.Run(mode.String(), func(b *testing.B) {
			g, err := Listen(Config{Addr: "127.0.0.1:0", RecvBuffer: 4 << 20, Wait: mode})
			if err != nil {
				b.Fatal(err)
			}
			defer g.Close()
			s, err := NewSender(g.LocalAddr())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			pkts := make([][]byte, 64)
			for i := range pkts {
				pkts[i] = make([]byte, benchPacketSize)
			}
			r := g.Readers()[0]
			batch := r.NewBatch()
			if _, err := s.Send(pkts); err != nil { // sizes the sender's headers
				b.Fatal(err)
			}
			for got := 0; got < len(pkts); {
				n, err := r.Read(batch)
				if err != nil {
					b.Fatal(err)
				}
				got += n
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := s.Send(pkts); err != nil {
					b.Fatal(err)
				}
				for got := 0; got < len(pkts); {
					n, err := r.Read(batch)
					if err != nil {
						b.Fatal(err)
					}
					got += n
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pkts)), "ns/pkt")
		})
	}
}
