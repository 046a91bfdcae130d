package gwlb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// Health check protocols a GWLB target group can use ("Health checks for
// Gateway Load Balancer target groups": HTTP, HTTPS or TCP, default TCP on
// port 80, path "/" for HTTP, success codes 200-399). HTTPS is not served:
// dxdeploy's target group checks TCP.
const (
	HealthTCP  = "tcp"
	HealthHTTP = "http"
)

// HealthConfig says where and how to answer the target group's health
// check.
type HealthConfig struct {
	// Addr is the TCP address, for example ":80" (the target group's
	// HealthCheckPort).
	Addr string
	// Protocol is HealthTCP (a completed handshake is healthy) or
	// HealthHTTP (200 on Path while healthy, 503 otherwise).
	Protocol string
	// Path is the HTTP path (default "/").
	Path string
}

// HealthServer answers a GWLB target group's health check while a
// condition holds.
type HealthServer struct {
	ln      net.Listener
	cfg     HealthConfig
	healthy func() bool
}

// ListenHealth validates cfg and binds its address now, so that a taken
// or privileged port fails at start.
func ListenHealth(cfg HealthConfig, healthy func() bool) (*HealthServer, error) {
	switch cfg.Protocol {
	case HealthTCP, HealthHTTP:
	default:
		return nil, fmt.Errorf("gwlb: health check protocol %q: want %s or %s", cfg.Protocol, HealthTCP, HealthHTTP)
	}
	if cfg.Path == "" {
		cfg.Path = "/"
	}
	if !strings.HasPrefix(cfg.Path, "/") {
		return nil, fmt.Errorf("gwlb: health check path %q: must start with /", cfg.Path)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("gwlb: health check listen tcp %s: %w", cfg.Addr, err)
	}
	return &HealthServer{ln: ln, cfg: cfg, healthy: healthy}, nil
}

// Addr returns the bound address.
func (h *HealthServer) Addr() net.Addr { return h.ln.Addr() }

// Close closes the listener now, so that the check is refused from the
// moment it returns (cancelling Serve's context closes it too, but from
// another goroutine, a moment later). Cancel Serve's context first: Serve
// then returns nil.
func (h *HealthServer) Close() error { return h.ln.Close() }

// Serve answers until ctx is done, then closes the listener, so that the
// check fails from then on (connection refused). In TCP mode, where a
// check succeeds on the handshake alone, it also stops at the first
// connection after the condition, once seen to hold, no longer does; before
// it first holds (the workers starting) it answers, so that a check in that
// instant does not take the target out for good. It returns nil after ctx
// is done or that stop.
func (h *HealthServer) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { h.ln.Close() })
	defer stop()
	defer h.ln.Close()
	if h.cfg.Protocol == HealthHTTP {
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 10 * time.Second}
		stopSrv := context.AfterFunc(ctx, func() { srv.Close() })
		defer stopSrv()
		err := srv.Serve(h.ln)
		srv.Close() // every connection is closed before Serve returns
		if ctx.Err() != nil || errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("gwlb: health check: %w", err)
	}
	seen := false
	for {
		c, err := h.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("gwlb: health check: %w", err)
		}
		ok := h.healthy()
		c.Close() // GWLB "closes the connection that was established for the health check"; so do we
		if seen && !ok {
			return nil
		}
		seen = seen || ok
	}
}

// ServeHTTP answers the HTTP health check: 200 on the path while healthy,
// 503 when not, 404 elsewhere.
func (h *HealthServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != h.cfg.Path {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !h.healthy() {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "unhealthy")
		return
	}
	fmt.Fprintln(w, "ok")
}
