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
// The kernel spreads datagrams over the sockets by a hash of the 4-tuple;
// AWS sets a mirror packet's outer UDP source port from a hash of the inner
// 5-tuple, so every inner flow stays on one socket. Close (for example on
// context cancellation) makes every Read return net.ErrClosed promptly and
// waits until the reads in progress have returned.
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
// SO_RXQ_OVFL is on: the kernel stamps every packet with the socket's drop
// count, which Drops returns as last seen. KernelDrops asks the kernel
// directly (SO_MEMINFO), so a final count is exact even when no packet came
// after the last drop: after the last Read, sent = received + drops.
//
// # Waiting
//
// WaitNetpoll parks in Go's netpoller through the socket's syscall.RawConn;
// WaitBlocking blocks in recvmmsg (MSG_WAITFORONE) on the goroutine's OS
// thread, with SO_RCVTIMEO as a safety net, and Close wakes it with
// shutdown(SHUT_RD). The RawConn callbacks are bound once, so Read creates
// no closure. MEASUREMENTS
//
// # GRO
//
// Config.GRO turns on UDP_GRO. The kernel then may hand over consecutive
// datagrams of one 4-tuple with the same size as one super-packet, and
// Batch splits it by the gso_size control message; message buffers grow to
// 64 KiB. GRONOTES
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
