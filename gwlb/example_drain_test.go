package gwlb_test

import (
	"context"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/dxmon/dxmon/gwlb"
)

// A graceful stop: the first SIGTERM closes the health check at once and
// keeps the reflector returning packets for the drain delay; a second one
// stops at once.
func ExampleDrain() {
	rf, err := gwlb.New(gwlb.Config{Addr: ":6081"}) // needs CAP_NET_RAW
	if err != nil {
		log.Fatal(err)
	}
	hs, err := gwlb.ListenHealth(gwlb.HealthConfig{Addr: ":80", Protocol: gwlb.HealthTCP}, rf.Healthy)
	if err != nil {
		log.Fatal(err)
	}
	hctx, stopHealth := context.WithCancel(context.Background())
	go hs.Serve(hctx)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	runCtx, stopRun := context.WithCancel(context.Background())
	go func() {
		gwlb.Drain(runCtx, sigs, gwlb.DefaultDrainDelay, stopHealth, nil)
		stopRun()
	}()
	if err := rf.Run(runCtx); err != nil {
		log.Fatal(err)
	}
}
