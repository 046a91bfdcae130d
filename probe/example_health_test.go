package probe_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/dxmon/dxmon/probe"
)

// /healthz answers from the receive pipeline: 503 with the reason until
// every worker reads (here Run was never called), 200 while they do.
func ExamplePipeline_HealthHandler() {
	pl, err := probe.New(probe.Config{}, 2)
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/healthz", pl.HealthHandler())
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output: 503 unhealthy: not started: no worker reads yet
}
