package fabric_test

import (
	"os"
	"testing"

	"github.com/dxmon/dxmon/internal/mototest"
)

// TestMain stops the shared moto_servers the tests' emulators run on.
func TestMain(m *testing.M) {
	code := m.Run()
	mototest.StopShared()
	os.Exit(code)
}
