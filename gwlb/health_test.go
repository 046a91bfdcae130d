package gwlb

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
)

func TestHealthHTTP(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	h, err := ListenHealth(HealthConfig{Addr: "127.0.0.1:0", Protocol: HealthHTTP, Path: "/healthz"}, healthy.Load)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Serve(ctx) }()
	base := "http://" + h.Addr().String()
	get := func(path string) int {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := get("/healthz"); c != 200 {
		t.Errorf("healthy: %d, want 200", c)
	}
	if c := get("/other"); c != 404 {
		t.Errorf("other path: %d, want 404", c)
	}
	healthy.Store(false)
	if c := get("/healthz"); c != 503 {
		t.Errorf("unhealthy: %d, want 503", c)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("still answering after Serve returned")
	}
}

func TestHealthTCP(t *testing.T) {
	var healthy atomic.Bool
	h, err := ListenHealth(HealthConfig{Addr: "127.0.0.1:0", Protocol: HealthTCP}, healthy.Load)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- h.Serve(context.Background()) }()
	addr := h.Addr().String()
	// Not yet healthy (workers starting): still answered, and not stopped.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Read(make([]byte, 1))
	c.Close()
	healthy.Store(true)
	c, err = net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	// The server closes the connection once accepted: a read sees EOF.
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("read after accept: %v, want EOF", err)
	}
	c.Close()
	// Unhealthy: the next accepted connection is the last; then the
	// listener is closed and connections are refused.
	healthy.Store(false)
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Error("connection accepted after the server stopped")
	}
}

func TestHealthConfigErrors(t *testing.T) {
	ok := func() bool { return true }
	for _, c := range []HealthConfig{
		{Addr: "127.0.0.1:0", Protocol: "https"},
		{Addr: "127.0.0.1:0", Protocol: HealthHTTP, Path: "healthz"},
		{Addr: "127.0.0.1:99999", Protocol: HealthTCP},
	} {
		if h, err := ListenHealth(c, ok); err == nil {
			h.ln.Close()
			t.Errorf("%+v accepted", c)
		}
	}
}
