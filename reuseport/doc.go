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
// To stop without losing what reached the socket, read it first with
// Reader.ReadQueued, which never waits and returns 0 once the socket is
// empty (probe's drain at stop does this), then Close.
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
// How a Reader waits decides its CPU per packet more than anything it does
// with the packets. Three modes:
//
//   - WaitTick (the default where the receive buffer allows) takes the
//     socket out of Go's netpoller and polls it with non-blocking recvmmsg
//     calls. After a batch that drained the socket it sleeps one tick
//     (TickInterval, 1 ms) before reading again, so at high rates every
//     wake-up reads full batches; while the socket stays empty the sleep
//     doubles up to 50 ms (MaxIdleInterval), less where the buffer holds
//     less than 50 ms of 1 Mpps. Close cuts a sleep short and a
//     read deadline is slept to exactly.
//   - WaitNetpoll parks in Go's netpoller through the socket's
//     syscall.RawConn until the socket is readable.
//   - WaitBlocking blocks in recvmmsg (MSG_WAITFORONE) on the goroutine's
//     OS thread, with SO_RCVTIMEO as a safety net; Close wakes it with
//     shutdown(SHUT_RD).
//
// The RawConn callbacks are bound once, so no mode creates a closure per
// Read, and none allocates (TestReadAllocs).
//
// Why WaitTick: with netpoll, and with any reader that sleeps in the kernel
// until data arrives (the C reader of the bench too), every arriving packet
// that finds the reader asleep wakes it, so at 100 to 300 kpps a wake-up
// finds only 2 to 4 datagrams and the wake-ups, not the packets, cost most
// of the CPU. Sleeping in time.Sleep instead is not enough while the socket
// stays in the netpoller: Go registers sockets edge-triggered, so each
// packet arriving during the sleep still wakes the thread waiting in
// epoll_wait. WaitTick therefore duplicates the descriptor, closes the
// net.UDPConn (which removes it from the epoll set; TestTickLeavesNetpoll)
// and reads the duplicate, left in blocking mode so that os.NewFile does
// not register it, with MSG_DONTWAIT.
//
// The price is that packets wait up to a tick in the receive buffer, which
// must hold that many: WaitDefault chooses WaitTick only when the kernel
// granted at least TickMinBuffer (8 MiB, about 8 ms of 1 Mpps);
// with less (net.core.rmem_max without CAP_NET_ADMIN) it keeps WaitNetpoll.
// A 5-second report does not notice a millisecond. Idle, a socket wakes
// 20 times a second; dxprobe with two idle sockets used 0.35 % of a CPU on
// the dev VM (netpoll: nothing measurable).
//
// Measured with the bench (go run ./bench -short; one socket, 128-byte
// mirror packets from a sendmmsg sender in another process over loopback,
// CPU = the reader process's getrusage user + system time over the packets
// it counted, median of 3 runs, zero loss in every run) on the 2-vCPU dev
// VM, in one run (bench/results/dev-short):
//
//	reader                              100 kpps    200 kpps    flat out (205-292 kpps)
//	C recvmmsg, blocking (the floor)    1.95 µs     1.86 µs     1.80 µs
//	C recvmmsg, 1 ms tick               0.64 µs     0.69 µs     0.57 µs
//	dxprobe pipeline, WaitTick          0.95 µs     0.82 µs     0.69 µs
//	dxprobe pipeline, WaitNetpoll       2.22 µs     2.76 µs     2.23 µs
//
// The pipeline row includes decoding, hashing, sampling and the flow table.
// WaitBlocking measured 3.7 to 5.7 µs per packet in earlier runs: a
// goroutine blocked in a syscall has its P retaken by sysmon and must find
// one again on return, and the socket's packets also woke the netpoller.
// WaitNetpoll and WaitBlocking stay for machines where the balance differs
// and for buffers too small for WaitTick. The non-blocking recvmmsg goes
// through RawSyscall6: it cannot block, and the scheduler's
// entersyscall woke the sleeping sysmon on every call (seen with perf).
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
// # Answering
//
// Config.PacketInfo turns on IP_PKTINFO and records each datagram's sender:
// Batch.Addrs returns the sender and, for IPv4, the local address the
// datagram was sent to and whether it was unicast (not GRO). RawWriter sends
// IPv4 UDP datagrams from any address and port through a raw socket
// (CAP_NET_RAW), headers in its own memory and payloads from the caller's
// buffers, one sendmmsg per batch, allocating nothing: a server answers a
// whole Batch from the address each datagram came to, with the source port
// its peer expects (package gwlb). Off Linux both return ErrNotSupported.
//
// Sender, a sendmmsg sender restricted to loopback destinations, serves
// tests and benchmarks (only this package imports golang.org/x/sys/unix).
package reuseport
