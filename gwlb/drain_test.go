package gwlb

import (
	"context"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// The health check stops before Drain returns, and a second request cuts
// the delay short.
func TestDrainSecondSignal(t *testing.T) {
	stop := make(chan os.Signal, 2)
	unhealthy := make(chan struct{})
	done := make(chan bool)
	go func() {
		done <- Drain(context.Background(), stop, time.Hour, func() { close(unhealthy) }, nil)
	}()
	select {
	case <-unhealthy:
		t.Fatal("unhealthy before any stop request")
	default:
	}
	stop <- syscall.SIGTERM
	<-unhealthy // first: the health check
	select {
	case <-done:
		t.Fatal("Drain returned before the delay or a second request")
	default:
	}
	stop <- syscall.SIGINT
	if full := <-done; full {
		t.Error("Drain reported a full drain after a second request")
	}
}

func TestDrainFullDelay(t *testing.T) {
	stop := make(chan os.Signal, 1)
	stop <- syscall.SIGTERM
	calls := 0
	if !Drain(context.Background(), stop, time.Millisecond, func() { calls++ }, nil) {
		t.Error("Drain with nothing but its delay did not report a full drain")
	}
	if calls != 1 {
		t.Errorf("unhealthy called %d times, want 1", calls)
	}
}

// A reflector that fails (ctx done) ends Drain, health check stopped.
func TestDrainContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := 0
	if Drain(ctx, make(chan os.Signal), time.Hour, func() { calls++ }, nil) || calls != 1 {
		t.Errorf("Drain after ctx: calls %d; want false and 1 call", calls)
	}
}

// Close refuses the check by the time it returns.
func TestHealthCloseIsImmediate(t *testing.T) {
	hs, err := ListenHealth(HealthConfig{Addr: "127.0.0.1:0", Protocol: HealthTCP}, func() bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ctx) }()
	c, err := net.Dial("tcp", hs.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	cancel()
	hs.Close()
	if c, err := net.Dial("tcp", hs.Addr().String()); err == nil {
		c.Close()
		t.Error("the check still accepts after Close returned")
	}
	if err := <-done; err != nil {
		t.Errorf("Serve after cancel and Close: %v", err)
	}
}
