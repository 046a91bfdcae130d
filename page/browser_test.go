//go:build unix

package page

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dxmon/dxmon/internal/chromiumtest"
	"github.com/dxmon/dxmon/report"
)

// shotDir is where screenshots go: $DXMON_PAGE_SHOTS, else dxmon-page in
// the temporary directory.
func shotDir() string {
	if d := os.Getenv("DXMON_PAGE_SHOTS"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "dxmon-page")
}

// TestStaticPageInBrowser opens an hour of windows, both directions, named
// instances (one Name tag is markup) and alerts, offline in Chromium: the
// hostile name shows as text and runs nothing, every section has its chart
// with a text alternative and its tables, and the page fits a phone.
func TestStaticPageInBrowser(t *testing.T) {
	b := chromiumtest.Start(t)
	var reps []*report.Report
	for i := range 720 {
		reps = append(reps, sample(i))
	}
	end := reps[719].WindowEnd
	alerts := []Alert{
		{Time: end.Add(-40 * time.Minute), Kind: AlertFired, Dir: report.FromAWS, Subject: "dxmon ALERT: from AWS 16.4 Mbps (82% of 20 Mbps)", Sent: true},
		{Time: end.Add(-25 * time.Minute), Kind: AlertResolved, Dir: report.FromAWS, Subject: "dxmon resolved: from AWS under the thresholds for 3 windows", Sent: true},
		{Time: end.Add(-2 * time.Minute), Kind: AlertFired, Dir: report.FromAWS, Subject: "dxmon ALERT: from AWS 17.6 Mbps (88% of 20 Mbps)", Sent: true},
	}
	cfg := Config{Window: 5 * time.Second, LinkBPS: linkBPS, AlertBPS: 15e6, AlertPPS: 5e5, AlertUtilization: 0.8,
		Directions: true, Source: "capture incident.pcap"}
	var buf bytes.Buffer
	if err := WriteStatic(&buf, cfg, reps, alerts); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "page.html")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	b.Offline()
	b.SetViewport(1366, 900, false)
	b.Navigate("file://" + path)
	b.WaitFor("the page drawn", `document.body.getAttribute('data-windows') === '720'`, 60*time.Second)

	var got struct {
		Title    string
		Imgs     int
		Names    []string
		Charts   []string
		Sections []string
		Alerts   int
		Heads    int
	}
	if err := b.Eval(`({Title: document.title, Imgs: document.querySelectorAll('img, script:not([type]):not([src]) ~ b').length,
	  Names: [...document.querySelectorAll('.name')].map(e => e.textContent),
	  Charts: [...document.querySelectorAll('svg.chart desc')].map(e => e.textContent),
	  Sections: [...document.querySelectorAll('section[data-dir] h2')].map(e => e.textContent),
	  Alerts: document.querySelectorAll('#alerts tbody tr').length,
	  Heads: document.querySelectorAll('th[scope=col]').length})`, &got); err != nil {
		t.Fatal(err)
	}
	if got.Title != "dxmon: capture incident.pcap" || got.Imgs != 0 {
		t.Fatalf("the hostile Name tag became markup: title %q, %d img elements", got.Title, got.Imgs)
	}
	found := false
	for _, n := range got.Names {
		found = found || n == hostile
	}
	if !found {
		t.Fatalf("the hostile Name tag is not shown as text: %q", got.Names)
	}
	if len(got.Sections) != 2 || got.Sections[0] != "To AWS (on-premises to AWS)" || got.Sections[1] != "From AWS (AWS to on-premises)" {
		t.Fatalf("sections %q, want to AWS then from AWS", got.Sections)
	}
	if len(got.Charts) != 2 || !bytes.Contains([]byte(got.Charts[1]), []byte("720 windows")) ||
		!bytes.Contains([]byte(got.Charts[1]), []byte("link 20.0 Mbit/s")) {
		t.Fatalf("charts' text alternatives %q", got.Charts)
	}
	if got.Alerts != 3 || got.Heads == 0 {
		t.Fatalf("%d alerts shown (want 3), %d column headers", got.Alerts, got.Heads)
	}
	dir := shotDir()
	t.Logf("screenshots: %s", b.Screenshot(filepath.Join(dir, "hour-desktop-1366.png")))
	b.SetViewport(390, 844, true)
	b.WaitFor("the phone layout", `document.querySelector('svg.chart').getAttribute('width') < 400`, 30*time.Second)
	var wide bool
	if err := b.Eval(`document.documentElement.scrollWidth > window.innerWidth + 1`, &wide); err != nil || wide {
		t.Errorf("the page is wider than a 390-pixel phone (%v)", err)
	}
	t.Logf("screenshots: %s", b.Screenshot(filepath.Join(dir, "hour-phone-390.png")))
	for _, u := range b.Requests() {
		if u != "file://"+path {
			t.Errorf("the static page requested %s", u)
		}
	}
}
