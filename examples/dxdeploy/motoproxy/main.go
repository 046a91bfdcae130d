//go:build linux

// Command motoproxy serves, for dxdeploy's quick start, the AWS actions
// moto 5.2 lacks (traffic-mirror filter rules and sessions, deleting
// filters and targets, CloudWatch in the Go SDK's protocol) and passes
// every other request to a moto_server. It is the proxy the tests use
// (internal/mototest.MirrorProxy), on a loopback port of your choice.
//
//	moto_server -H 127.0.0.1 -p MOTO_PORT &
//	go build -o "$d/motoproxy" ./examples/dxdeploy/motoproxy && "$d/motoproxy" -moto http://127.0.0.1:MOTO_PORT -listen 127.0.0.1:PROXY_PORT &
//	export AWS_ENDPOINT_URL=http://127.0.0.1:PROXY_PORT
//
// with d=$(mktemp -d) and two free ports (examples/dxdeploy/README.md's
// quick start picks them).
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/dxmon/dxmon/internal/mototest"
)

func main() {
	moto := flag.String("moto", "http://127.0.0.1:5055", "moto_server URL")
	listen := flag.String("listen", "127.0.0.1:5056", "loopback address to serve on")
	flag.Parse()
	if host, _, err := net.SplitHostPort(*listen); err != nil || !(host == "localhost" || strings.HasPrefix(host, "127.") || host == "::1") {
		log.Fatalf("motoproxy: -listen %q: want a loopback host:port", *listen)
	}
	p, err := mototest.NewMirrorProxy(*moto)
	if err != nil {
		log.Fatalf("motoproxy: -moto: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Addr: *listen, Handler: p}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	log.Printf("motoproxy: serving %s in front of %s", *listen, *moto)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("motoproxy: %v", err)
	}
}
