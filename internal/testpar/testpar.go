// Package testpar sets how many of a test binary's parallel tests run at
// once.
//
// The testing package runs GOMAXPROCS parallel tests at a time. That suits
// tests that compute; tests that mostly wait, on moto_server, on a probe's
// one-second windows or on a browser, then leave the CPU idle while the
// rest wait their turn.
package testpar

import (
	"flag"
	"strconv"
)

// Default makes the test binary run n parallel tests at a time unless its
// command line says otherwise (-test.parallel, or go test's -parallel). A
// TestMain calls it before m.Run.
func Default(n int) {
	if !flag.Parsed() {
		flag.Parse()
	}
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		// The testing package registers the flag before TestMain runs.
		_ = flag.Set("test.parallel", strconv.Itoa(n))
	}
}
