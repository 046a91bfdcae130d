package page_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dxmon/dxmon/alert"
	"github.com/dxmon/dxmon/page"
	"github.com/dxmon/dxmon/report"
)

// TestRecordDecision: the page gets one alert per direction that fires or
// resolves, or one for the total, at the window's end, and nothing for a
// window that asks for nothing; a message without a decision is one alert
// at the time given.
func TestRecordDecision(t *testing.T) {
	end := time.Date(2026, 12, 4, 3, 0, 5, 0, time.UTC)
	r := &report.Report{WindowEnd: end}
	var a page.Alerts
	page.RecordDecision(&a, r, alert.Decision{Kind: alert.None}, "nothing", true)
	page.RecordDecision(&a, r, alert.Decision{Kind: alert.Fire, BPS: 2e9, PPS: 10, ThresholdBPS: 1e9, ThresholdPPS: 5e5}, "total", false)
	page.RecordDecision(&a, r, alert.Decision{Kind: alert.Fire, ThresholdBPS: 1e9, ThresholdPPS: 5e5, Dirs: []alert.DirDecision{
		{Dir: report.ToAWS, Kind: alert.Resolve, BPS: 1e6}, {Dir: report.FromAWS, Kind: alert.None}}}, "dirs", true)
	page.RecordMessage(&a, alert.Message{Kind: alert.Resolve, Subject: "fleet"}, end, true)
	page.RecordMessage(&a, alert.Message{Kind: alert.Fire, Subject: "fleet fires"}, end, false)
	want := []page.Alert{
		{Time: end, Kind: page.AlertFired, Subject: "total", BPS: 2e9, PPS: 10, ThresholdBPS: 1e9, ThresholdPPS: 5e5},
		{Time: end, Kind: page.AlertResolved, Subject: "dirs", Dir: report.ToAWS, BPS: 1e6, ThresholdBPS: 1e9, ThresholdPPS: 5e5, Sent: true},
		{Time: end, Kind: page.AlertResolved, Subject: "fleet", Sent: true},
		{Time: end, Kind: page.AlertFired, Subject: "fleet fires"},
	}
	if d := cmp.Diff(want, a.Since(end.Add(-time.Hour))); d != "" {
		t.Fatalf("alerts (-want +got):\n%s", d)
	}
}
