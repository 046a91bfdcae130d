package reuseport_test

import (
	"errors"
	"fmt"
	"log"
	"net"

	"github.com/dxmon/dxmon/reuseport"
)

// One goroutine per socket reads batches until the group is closed.
func ExampleListen() {
	g, err := reuseport.Listen(reuseport.Config{Addr: "127.0.0.1:0", Sockets: 2, RecvBuffer: 1 << 20})
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close()

	// A loopback sender, as tests and benchmarks use.
	s, err := reuseport.NewSender(g.LocalAddr())
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Send([][]byte{[]byte("a"), []byte("bb"), []byte("ccc")}); err != nil {
		log.Fatal(err)
	}

	// One sender means one 4-tuple, hence one socket: read each socket
	// until the three packets are in.
	total := make(chan int)
	for _, r := range g.Readers() {
		go func() {
			b := r.NewBatch()
			for {
				n, err := r.Read(b)
				if errors.Is(err, net.ErrClosed) {
					return
				}
				bytes := 0
				for i := range n {
					bytes += len(b.Packet(i))
				}
				total <- bytes
			}
		}()
	}
	bytes := 0
	for bytes < 6 {
		bytes += <-total
	}
	fmt.Println("bytes:", bytes)
	// Output: bytes: 6
}
