package page_test

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/dxmon/dxmon/alert"
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

// The alert path: the policy decides on each window's report, the message
// goes to the channels, and the page shows the alert, sent or not.
func ExampleRecordDecision() {
	policy, err := alert.NewPolicy(alert.Config{BPS: 1e9, PPS: 5e5})
	if err != nil {
		fmt.Println(err)
		return
	}
	alerts := &page.Alerts{}
	start := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	r := &report.Report{WindowStart: start, WindowEnd: start.Add(5 * time.Second), BPS: 2e9, PPS: 1e5}
	if d := policy.Observe(r, r.WindowEnd); d.Kind != alert.None {
		m := alert.NewMessage(r, d, nil)
		// dispatcher.Submit(m), when a channel is configured
		page.RecordDecision(alerts, r, d, m.Subject, false)
	}
	for _, a := range alerts.Since(start) {
		fmt.Println(a.Kind, a.BPS, a.Sent)
	}
	// Output: fired 2e+09 false
}
