package report_test

import (
	"fmt"
	"os"
	"time"

	"github.com/dxmon/dxmon/flow"
	"github.com/dxmon/dxmon/report"
)

// A probe prints each window's report as one JSON line (or a table, with
// report.FormatText) from the coordinator, and, with a fleet view, the
// fleet's from another goroutine: one Printer serves both.
func ExamplePrinter() {
	p := report.NewPrinter(os.Stdout, report.FormatJSON)
	start := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	r := report.Build(report.Window{Start: start, End: start.Add(5 * time.Second), Merged: flow.NewMerged(), SampleRate: 1, Top: 10}, nil)
	if err := p.Print(r); err != nil {
		fmt.Println(err)
	}
	// Output:
	// {"window_start":"2026-12-04T03:00:00Z","window_end":"2026-12-04T03:00:05Z","packets":0,"bytes":0,"pps":0,"bps":0,"sample_rate":1,"skipped":{},"top_flows":[],"top_src":[],"top_dst":[],"top_dport":[]}
}
