package mototest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// DynamoProxy is an HTTP server on a loopback port in front of moto that
// passes every request through, and DynamoDB's one request at a time.
//
// AWS: "Individual write operations such as UpdateItem are atomic and
// always operate on the most recent version of the item, regardless of
// concurrency" (DynamoDB Developer Guide, "Best practices for handling
// concurrent updates in DynamoDB"); a conditional write therefore succeeds
// for exactly one of several writers racing on one item. moto_server serves
// requests on several threads and evaluates a condition and applies the
// update without a lock, so two racing conditional UpdateItems can both
// succeed (seen with dxprobe's alert claims: two probes sent the same
// alert). Serialising DynamoDB's requests restores AWS's atomicity; other
// services go through unchanged.
type DynamoProxy struct {
	// URL is the proxy's endpoint, to use as AWS_ENDPOINT_URL.
	URL string
	rp  *httputil.ReverseProxy
	mu  sync.Mutex
}

// NewDynamoProxy returns a proxy in front of the moto_server at motoURL.
func NewDynamoProxy(motoURL string) (*DynamoProxy, error) {
	target, err := url.Parse(motoURL)
	if err != nil || target.Host == "" {
		return nil, fmt.Errorf("moto URL %q: not an http URL (%v)", motoURL, err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) } // moto stopped: expected, not logged
	return &DynamoProxy{rp: rp}, nil
}

// StartDynamoProxy starts a proxy in front of s on a free loopback port and
// stops it when the test ends. It keeps answering while s is stopped
// (502, as an unreachable endpoint behind a gateway) and reaches s again
// after s.Restart, which keeps the address. It does not touch the
// environment: use Config, or set AWS_ENDPOINT_URL to URL.
func StartDynamoProxy(t testing.TB, s *Server) *DynamoProxy {
	t.Helper()
	p, err := NewDynamoProxy(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	p.URL = srv.URL
	t.Cleanup(srv.Close)
	return p
}

// Config returns an SDK configuration aimed at the proxy.
func (p *DynamoProxy) Config(t testing.TB) aws.Config {
	return (&Server{URL: p.URL}).Config(t)
}

// ServeHTTP passes req to moto, holding the proxy's lock for DynamoDB's
// requests (X-Amz-Target "DynamoDB_20120810.<Operation>").
func (p *DynamoProxy) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if strings.HasPrefix(req.Header.Get("X-Amz-Target"), "DynamoDB_") {
		p.mu.Lock()
		defer p.mu.Unlock()
	}
	p.rp.ServeHTTP(w, req)
}
