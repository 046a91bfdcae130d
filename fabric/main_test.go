package fabric_test

import (
	"os"
	"testing"

	"github.com/dxmon/dxmon/internal/mototest"
	"github.com/dxmon/dxmon/internal/testpar"
)

// TestMain runs four parallel tests at a time (they wait on moto_server,
// a process of its own, more than they compute) and stops the shared
// moto_servers the tests' emulators run on.
func TestMain(m *testing.M) {
	testpar.Default(4)
	code := m.Run()
	mototest.StopShared()
	os.Exit(code)
}
