package gwlb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/dxmon/dxmon/reuseport"
	"github.com/dxmon/dxmon/vxlan"
)

// GenevePort is the UDP port GWLB sends Geneve to ("Target groups for your
// Gateway Load Balancers": protocol GENEVE, port 6081).
const GenevePort = 6081

// MaxDatagram is the largest UDP payload GWLB sends an appliance: its MTU
// of 8500 bytes for the original packet plus the 68 bytes Geneve
// encapsulation adds, less the outer IPv4 and UDP headers (20 + 8):
// 8500 + 68 - 28 = 8540 ("Gateway Load Balancers", MTU: appliances must take
// packets of at least 8568 bytes).
const MaxDatagram = 8500 + 68 - 28

// MsgSize is the receive buffer of one datagram: 9 KiB, more than an EC2
// jumbo frame (MTU 9001) can carry, so a datagram that fills it was longer
// than GWLB ever sends and is dropped as Oversize.
const MsgSize = 9 << 10

// Config says what New opens. Zero fields take the defaults.
type Config struct {
	// Addr is the UDP address to take Geneve on (default ":6081").
	Addr string
	// Workers is the number of SO_REUSEPORT sockets, each with its own
	// goroutine and raw socket (default, and 0: one per CPU).
	Workers int
	// Wait is how the readers wait for packets (reuseport.WaitDefault:
	// WaitTick where the receive buffer allows).
	Wait reuseport.WaitMode
	// RecvBuffer is each socket's receive buffer in bytes (default
	// reuseport's, 128 MiB).
	RecvBuffer int
	// BatchSize is the number of datagrams per recvmmsg and sendmmsg
	// (default 64).
	BatchSize int
	// Log receives warnings. Nil means slog.Default().
	Log *slog.Logger
}

// Reflector takes GWLB's Geneve packets and returns each valid one to the
// GWLB that sent it (see the package documentation for the addressing).
type Reflector struct {
	group   *reuseport.Group
	workers []*worker
	running atomic.Int32
	stopped atomic.Bool
	closeMu sync.Mutex
}

// New opens the sockets: cfg.Workers SO_REUSEPORT UDP sockets on cfg.Addr
// with IP_PKTINFO, and one raw socket per worker to answer from (needs
// CAP_NET_RAW).
func New(cfg Config) (*Reflector, error) {
	if cfg.Addr == "" {
		cfg.Addr = fmt.Sprintf(":%d", GenevePort)
	}
	if cfg.Workers < 0 {
		return nil, fmt.Errorf("gwlb: workers %d: must be 0 (one per CPU) or more", cfg.Workers)
	}
	if cfg.Workers == 0 {
		cfg.Workers = runtime.NumCPU()
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = reuseport.DefaultBatchSize
	}
	g, err := reuseport.Listen(reuseport.Config{Addr: cfg.Addr, Sockets: cfg.Workers, RecvBuffer: cfg.RecvBuffer,
		BatchSize: cfg.BatchSize, MsgSize: MsgSize, Wait: cfg.Wait, PacketInfo: true, Log: cfg.Log})
	if err != nil {
		return nil, err
	}
	rf := &Reflector{group: g}
	for _, r := range g.Readers() {
		out, err := reuseport.NewRawWriter(cfg.BatchSize)
		if err != nil {
			rf.Close()
			return nil, err
		}
		rf.workers = append(rf.workers, &worker{r: r, out: out, port: r.LocalAddr().Port()})
	}
	return rf, nil
}

// Workers returns the number of sockets, each with its goroutine.
func (rf *Reflector) Workers() int { return len(rf.workers) }

// LocalAddr returns the address the sockets are bound to.
func (rf *Reflector) LocalAddr() netip.AddrPort { return rf.group.LocalAddr() }

// Run reflects packets on every socket until ctx is done or Close is
// called, then closes the sockets and returns nil; or returns the first
// worker's read error.
func (rf *Reflector) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { rf.Close() })
	defer stop()
	var wg sync.WaitGroup
	errs := make([]error, len(rf.workers))
	for i, w := range rf.workers {
		rf.running.Add(1)
		wg.Go(func() {
			defer rf.running.Add(-1)
			errs[i] = w.run()
			if errs[i] != nil {
				rf.Close() // one worker down: the appliance is unhealthy, stop all
			}
		})
	}
	wg.Wait()
	rf.Close()
	return errors.Join(errs...)
}

// Healthy reports whether the sockets are open and every worker is
// running: what the target group's health check answers.
func (rf *Reflector) Healthy() bool {
	return !rf.stopped.Load() && int(rf.running.Load()) == len(rf.workers) && len(rf.workers) > 0
}

// Close closes every socket; Run then returns. It is safe to call more
// than once and from any goroutine.
func (rf *Reflector) Close() error {
	rf.closeMu.Lock()
	defer rf.closeMu.Unlock()
	if rf.stopped.Swap(true) {
		return nil
	}
	err := rf.group.Close()
	// The raw sockets are closed by their workers (run), which may still
	// be flushing; those never started are closed here.
	if rf.running.Load() == 0 {
		for _, w := range rf.workers {
			w.closeOut()
		}
	}
	return err
}

// batchWriter is what a worker sends with: reuseport.RawWriter, or a fake
// in tests.
type batchWriter interface {
	Add(src, dst netip.AddrPort, payload []byte) bool
	Flush() (sent, bytes int, err error)
	Close() error
}

var _ batchWriter = (*reuseport.RawWriter)(nil)

// worker owns one socket, its batch and its raw socket.
type worker struct {
	r     *reuseport.Reader
	out   batchWriter
	port  uint16 // the local port: where answers go to on the GWLB
	meta  vxlan.GWLBMeta
	stats stats
	once  sync.Once
}

func (w *worker) closeOut() { w.once.Do(func() { _ = w.out.Close() }) }

// run reads batches until the socket is closed.
func (w *worker) run() error {
	defer w.closeOut()
	b := w.r.NewBatch()
	for {
		n, err := w.r.Read(b)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		var t tally
		for i := range n {
			from, to, unicast, ok := b.Addrs(i)
			w.reflect(&t, b.Packet(i), from, to, unicast, ok)
		}
		w.flush(&t)
	}
}

// tally is one batch's counts, added to the shared counters once per
// batch.
type tally struct {
	rxPkts, rxBytes uint64
	malformed       [numReasons]uint64
	queued          uint64
}

// reflect decides on one datagram and queues the answer. It allocates
// nothing and makes no system call.
func (w *worker) reflect(t *tally, p []byte, from netip.AddrPort, to netip.Addr, unicast, ok bool) {
	t.rxPkts++
	t.rxBytes += uint64(len(p))
	r := CheckAddrs(from, to, unicast, ok)
	if r == OK {
		if len(p) >= MsgSize {
			r = Oversize
		} else {
			r = Check(p, &w.meta)
		}
	}
	if r != OK {
		t.malformed[r]++
		return
	}
	// gwlbtun's rule: swap the outer addresses, keep the ports. The
	// answer leaves from the address the packet came to and the GWLB's
	// own source port, to the GWLB's address and the port the packet
	// came to (6081).
	if w.out.Add(netip.AddrPortFrom(to, from.Port()), netip.AddrPortFrom(from.Addr(), w.port), p) {
		t.queued++
	} else {
		// Unreachable: the writer's batch is the reader's and both
		// addresses were checked; counted rather than lost silently.
		t.malformed[Oversize]++
	}
}

// flush sends the batch's answers and publishes its counts: a datagram
// queued but refused by the kernel is a send error.
func (w *worker) flush(t *tally) {
	sent, bytes, _ := w.out.Flush() // a refusal is counted, not logged per datagram
	s := &w.stats
	s.rxPkts.Add(t.rxPkts)
	s.rxBytes.Add(t.rxBytes)
	for r, n := range t.malformed {
		if n > 0 {
			s.malformed[r].Add(n)
		}
	}
	s.txPkts.Add(uint64(sent))
	s.txBytes.Add(uint64(bytes))
	if failed := t.queued - uint64(sent); failed > 0 {
		s.sendErrors.Add(failed)
	}
}

// stats are one worker's counters, summed by the collector at scrape time.
type stats struct {
	rxPkts, rxBytes, txPkts, txBytes, sendErrors atomic.Uint64
	malformed                                    [numReasons]atomic.Uint64
}
