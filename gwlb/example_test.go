package gwlb_test

import (
	"context"
	"log"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dxmon/dxmon/gwlb"
)

// An appliance for dxdeploy's target group: Geneve on UDP 6081, one
// worker per CPU, TCP health check on port 80.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	rf, err := gwlb.New(gwlb.Config{Addr: ":6081"}) // needs CAP_NET_RAW
	if err != nil {
		log.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := rf.Register(reg); err != nil {
		log.Fatal(err)
	}
	hs, err := gwlb.ListenHealth(gwlb.HealthConfig{Addr: ":80", Protocol: gwlb.HealthTCP}, rf.Healthy)
	if err != nil {
		log.Fatal(err)
	}
	hctx, stopHealth := context.WithCancel(context.Background())
	go hs.Serve(hctx)
	err = rf.Run(ctx) // until SIGTERM
	stopHealth()      // the target fails its checks from now on
	if err != nil {
		log.Fatal(err)
	}
}
