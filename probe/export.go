package probe

import (
	"time"

	"github.com/dxmon/dxmon/flow"
)

// WindowExporter receives every window's merged flows at the window's end;
// ipfix.Exporter satisfies it. The coordinator (or Replay) calls it after
// Emit and before the merged tables are reused: it must not keep m, and
// must not wait (queue and count instead), since the next window's merge
// waits for it.
type WindowExporter interface {
	ExportWindow(start, end time.Time, m *flow.Merged)
}
