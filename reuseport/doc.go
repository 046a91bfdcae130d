// Package reuseport reads mirrored packets from N UDP sockets bound to one
// address with SO_REUSEPORT, in batches of one recvmmsg call each, without
// allocating, and tells how many packets the kernel dropped.
//
// # Use
//
// Listen opens the sockets; each Reader belongs to one goroutine, which
// makes one Batch and calls Read in a loop:
//
//	g, err := reuseport.Listen(reuseport.Config{Addr: ":4789", Sockets: runtime.NumCPU()})
//	...
//	for _, r := range g.Readers() {
//		go func() {
//			b := r.NewBatch()
//			for {
//				n, err := r.Read(b) // net.ErrClosed after g.Close()
//				...
//				for i := range n { handle(b.Packet(i)) }
//			}
//		}()
//	}
//
// Listen refuses an address another socket already holds, even one of
// another process with SO_REUSEPORT, so that a second probe cannot silently
// take a share of the packets ("listen udp :4789: address already in use").
// With port 0 the kernel picks one port and every socket shares it.
//
// The kernel spreads datagrams over the sockets by a hash of the 4-tuple;
// AWS sets a mirror packet's outer UDP source port from a hash of the inner
// 5-tuple, so every inner flow stays on one socket. Close (for example on
// context cancellation) makes every Read return net.ErrClosed promptly and
// waits until the reads in progress have returned; to tie the group to a
// context:
//
//	stop := context.AfterFunc(ctx, func() { g.Close() })
//	defer stop()
//
// Lifetime: a Batch belongs to the Reader that made it; Packet's views are
// valid until the next Read into the same Batch. Nothing is allocated per
// packet or per batch after NewBatch (tested with testing.AllocsPerRun).
//
// # Receive buffer and drops
//
// Each socket asks for Config.RecvBuffer (128 MiB by default) with
// SO_RCVBUFFORCE, which needs CAP_NET_ADMIN, and otherwise SO_RCVBUF, which
// the kernel caps at net.core.rmem_max; Listen logs a warning naming that
// setting when less was granted. BufferGranted reports half of what
// SO_RCVBUF reads back: the kernel doubles the value set, and charges each
// queued packet its sk_buff's truesize, not its payload.
//
// SO_RXQ_OVFL is on: once drops have happened the kernel attaches the
// socket's drop count to every packet it queues, and Drops returns the count
// last seen. KernelDrops asks the kernel
// directly (SO_MEMINFO), so a final count is exact even when no packet came
// after the last drop: after the last Read, sent = received + drops. Close
// reads it one last time, so Drops is final after Close.
//
// # Waiting
//
// WaitNetpoll parks in Go's netpoller through the socket's syscall.RawConn;
// WaitBlocking blocks in recvmmsg (MSG_WAITFORONE) on the goroutine's OS
// thread, with SO_RCVTIMEO as a safety net, and Close wakes it with
// shutdown(SHUT_RD). The RawConn callbacks are bound once, so Read creates
// no closure.
//
// WaitNetpoll is the default because it cost less CPU per packet in every
// run. BenchmarkRate (bench_linux_test.go) offers 150-byte datagrams from a
// sendmmsg sender in another process over loopback to one socket and divides
// the receiving process's getrusage CPU time (user + system, all threads)
// by the packets received:
//
//	go test -run '^$' -bench Rate -benchtime 200000x -count 3 ./reuseport
//
// On the dev VM (2 vCPU AMD EPYC, Linux 6.18, Go 1.26, shared with other
// builds at load average 3.5 to 5, so runs vary by up to 1.5x), median of 3
// runs of 200 000 packets, no loss in any run; the C column is a minimal C
// reader (blocking recvmmsg, MSG_WAITFORONE, batch 64) fed by the same
// sender in the same minutes:
//
//	rate                  netpoll      blocking     C recvmmsg   pkts/Read
//	100 kpps              2.1 µs/pkt   5.7 µs/pkt   1.5 µs/pkt   about 3
//	200 kpps              2.1 µs/pkt   4.0 µs/pkt   1.3 µs/pkt   2 to 4
//	unpaced (~300 kpps)   2.1 µs/pkt   3.7 µs/pkt   1.5 µs/pkt   2 to 4
//
// At these rates a wake-up finds only 2 to 4 datagrams whatever the mode,
// so the cost per wake-up decides. Blocking loses although it saves the
// recvmmsg that returns EAGAIN and the trip through the netpoller: a
// goroutine blocked in a syscall has its P retaken by sysmon, and must find
// a P again on return. Locking the OS thread made it worse (4.2-6.5
// µs/pkt); blocking without MSG_WAITFORONE (full batches of 64, SO_RCVTIMEO
// 1 ms) only matched netpoll (2.8-3.7); blocking through RawSyscall (the P
// kept) was no better (3.3-3.7) and deadlocks the garbage collector's
// stop-the-world while idle, so it is not offered. Sleeping 1 ms after a
// short batch so packets accumulate (55-59 pkts/Read) did not lower
// netpoll's cost beyond the noise (2.4-3.0), so there is no such option.
// The non-blocking recvmmsg of netpoll mode goes through RawSyscall6: it
// cannot block, and the scheduler's entersyscall woke the sleeping sysmon
// on every call (seen with perf). WaitBlocking stays for machines where the
// balance differs; it ignores read deadlines (see SetReadDeadline).
//
// # GRO
//
// Config.GRO turns on UDP_GRO. The kernel then may hand over consecutive
// datagrams of one 4-tuple with the same size as one super-packet, and
// Batch splits it by the gso_size control message; message buffers grow to
// 64 KiB (4 MiB per Batch at the default batch size).
//
// GRO is kept, off by default, because it lowers CPU per packet only when
// the kernel really coalesces, which could not be shown for mirror traffic
// here. Loopback has no GRO engine: plain datagrams (from sendmmsg) reach a
// GRO socket one by one, and the cost was the same with GRO on and off
// (netpoll 1.9, 2.0, 1.9 µs/pkt at 100k, 200k, unpaced, against 2.1, 2.1,
// 2.1). A sender using UDP_SEGMENT (GSO) hands loopback whole
// super-packets, which a GRO socket receives as such and a plain socket
// receives cut into datagrams; that models a NIC that coalesced. Then GRO
// took 0.40, 0.34 and 0.06 µs/pkt against 0.89, 1.08 and 0.58 without
// (unpaced, the super-packets held 64 datagrams). On EC2, ENA's NAPI GRO
// coalesces consecutive same-sized datagrams of one 4-tuple, as truncated
// mirror packets of one heavy flow are; measure on the probe instance
// before turning it on.
//
// # Other platforms
//
// Off Linux a portable fallback opens one net.UDPConn whatever
// Config.Sockets says and reads one datagram per Read with
// ReadFromUDPAddrPort; size workers from len(Group.Readers()). GRO and
// KernelDrops return ErrNotSupported there, Drops and BufferGranted 0.
//
// Sender, a sendmmsg sender restricted to loopback destinations, serves
// tests and benchmarks (only this package imports golang.org/x/sys/unix).
package reuseport
