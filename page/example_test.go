package page_test

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/dxmon/dxmon/page"
	"github.com/dxmon/dxmon/report"
)

// A probe keeps the last hour of reports and serves the page beside its
// metrics; the coordinator adds each window's report after printing it.
func Example() {
	history := page.NewHistory(5*time.Second, page.DefaultSpan)
	alerts := &page.Alerts{}
	mux := http.NewServeMux()
	page.New(page.Config{Window: 5 * time.Second, LinkBPS: 10e9, AlertBPS: 1e9, AlertPPS: 5e5}, history, alerts).Register(mux)

	// In the coordinator's Emit, once per window:
	start := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	history.Add(&report.Report{WindowStart: start, WindowEnd: start.Add(5 * time.Second), Packets: 10, Bytes: 15000})

	fmt.Println(len(history.Windows("")), "window")
	// Output: 1 window
}

// A capture's page, written as one file that opens offline.
func ExampleWriteStatic() {
	start := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	reps := []*report.Report{{WindowStart: start, WindowEnd: start.Add(5 * time.Second), Packets: 10, Bytes: 15000}}
	var b strings.Builder
	if err := page.WriteStatic(&b, page.Config{Window: 5 * time.Second, Source: "capture incident.pcap"}, reps, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Println(strings.Contains(b.String(), `<script type="application/json" id="dxmon-data">`))
	// Output: true
}
