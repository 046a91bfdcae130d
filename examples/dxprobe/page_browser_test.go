//go:build unix

package main

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dxmon/dxmon/internal/chromiumtest"
	"github.com/dxmon/dxmon/report"
	"github.com/dxmon/dxmon/reuseport"
	"github.com/dxmon/dxmon/vxlan"
)

// shotDir is where the browser tests write their screenshots, for a person
// to look at: $DXMON_PAGE_SHOTS, else dxmon-page under the system's
// temporary directory.
func shotDir() string {
	if d := os.Getenv("DXMON_PAGE_SHOTS"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "dxmon-page")
}

// pageRow is one row of a top-flows table as the page shows it.
type pageRow struct {
	Src, Dst string
	Bytes    uint64
}

// shown is what the page shows of its latest window.
type shown struct {
	WindowEnd string
	Bytes     uint64 // the window's total, from the footer
	Sections  map[string][]pageRow
	Rates     map[string]float64
	Alerts    int
}

// readPage collects what the page shows, from its DOM.
const readPage = `(() => {
  const out = {WindowEnd: document.body.getAttribute('data-window-end') || '', Sections: {}, Rates: {},
    Bytes: Number((document.querySelector('#footer data') || {}).value || 0),
    Alerts: document.querySelectorAll('#alerts tbody tr').length};
  document.querySelectorAll('section[data-dir]').forEach(sec => {
    const key = sec.getAttribute('data-dir');
    out.Rates[key] = Number(sec.querySelector('.rate-now').getAttribute('data-bps'));
    const t = sec.querySelector('table');
    out.Sections[key] = t && t.caption.textContent === 'Top flows' ? [...t.tBodies[0].rows].map(r => ({
      Src: r.cells[0].querySelector('.ip').textContent, Dst: r.cells[1].querySelector('.ip').textContent,
      Bytes: Number(r.querySelector('data').value)})) : [];
  });
  return out;
})()`

// sectionsOf is what the page should show of r: each direction, or the
// total when directions are unknown.
func sectionsOf(r report.Report) (map[string][]pageRow, map[string]float64) {
	rows := func(fs []report.Flow) []pageRow {
		out := []pageRow{}
		for _, f := range fs {
			out = append(out, pageRow{f.Src.String(), f.Dst.String(), f.Bytes})
		}
		return out
	}
	if r.Directions == nil {
		return map[string][]pageRow{"total": rows(r.TopFlows)}, map[string]float64{"total": r.BPS}
	}
	secs, rates := map[string][]pageRow{}, map[string]float64{}
	for k, d := range map[string]*report.Direction{report.ToAWS: r.Directions.ToAWS, report.FromAWS: r.Directions.FromAWS} {
		if d == nil {
			d = &report.Direction{}
		}
		secs[k], rates[k] = rows(d.TopFlows), d.BPS
	}
	return secs, rates
}

func compareShown(t *testing.T, got shown, reps []report.Report) {
	t.Helper()
	for _, r := range reps {
		if r.WindowEnd.Format(time.RFC3339Nano) != got.WindowEnd || r.Scope == report.ScopeFleet {
			continue
		}
		secs, rates := sectionsOf(r)
		if fmt.Sprint(secs) != fmt.Sprint(got.Sections) || got.Bytes != r.Bytes {
			t.Fatalf("the page shows window %s as\n  %v, %d bytes\nthe JSON report says\n  %v, %d bytes", got.WindowEnd, got.Sections, got.Bytes, secs, r.Bytes)
		}
		for k, v := range rates {
			if got.Rates[k] != v {
				t.Errorf("%s: the page shows %v bit/s, the report %v", k, got.Rates[k], v)
			}
		}
		return
	}
	t.Fatalf("the page shows window ending %q, which the probe did not print", got.WindowEnd)
}

// sendLoop sends two known flows (to AWS: 3 × 1000 bytes; from AWS: 1 ×
// 1400 bytes) every 10 ms until stop is called, at most 6000 rounds.
func sendLoop(t *testing.T, port int) (stop func()) {
	t.Helper()
	onprem, web, db := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("198.18.0.20"), netip.MustParseAddr("198.18.0.30")
	up, err := vxlan.Append(nil, &vxlan.Spec{Src: onprem, Dst: web, Proto: 6, SrcPort: 50123, DstPort: 443, Length: 1000})
	if err != nil {
		t.Fatal(err)
	}
	down, err := vxlan.Append(nil, &vxlan.Spec{Src: db, Dst: onprem, Proto: 17, SrcPort: 5432, DstPort: 40000, Length: 1400})
	if err != nil {
		t.Fatal(err)
	}
	s, err := reuseport.NewSender(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer s.Close()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for range 6000 {
			if _, err := s.Send([][]byte{up, up, up, down}); err != nil {
				t.Errorf("send: %v", err)
				return
			}
			select {
			case <-done:
				return
			case <-tick.C: // paces the load; nothing waits on it
			}
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { close(done); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// TestPageInBrowser: a live probe receives known traffic over loopback; a
// headless Chromium opens its page, which shows the same top flows, rates
// and totals as the JSON report of the window it shows, moves to the next
// window by itself, and requests nothing but the probe.
func TestPageInBrowser(t *testing.T) {
	t.Parallel()
	port := freeUDPPort(t)
	p := startProbe(t, "-listen", fmt.Sprintf("127.0.0.1:%d", port), "-workers", "1", "-format", "json",
		"-window", "2s", "-metrics", "127.0.0.1:0", "-onprem-cidrs", "192.0.2.0/24", "-alert-bps", "1000",
		"-link-bps", "10M", "-alert-utilization", "0.5")
	b := chromiumtest.Start(t)
	stop := sendLoop(t, port)
	p.waitReports(t, func(rs []report.Report) bool { return len(rs) > 0 && rs[len(rs)-1].Packets > 0 })
	base := "http://" + p.metrics + "/"

	b.SetViewport(1366, 900, false)
	b.Navigate(base)
	b.WaitFor("a window with traffic", `document.querySelectorAll('section[data-dir] tbody tr').length > 0`, 60*time.Second)
	var got shown
	if err := b.Eval(readPage, &got); err != nil {
		t.Fatal(err)
	}
	compareShown(t, got, parseReports(t, p.stdout.Lines()))
	if got.Alerts == 0 {
		t.Errorf("the page shows no alert; -alert-bps 1000 fired one")
	}
	for k, rows := range got.Sections {
		if len(rows) == 0 {
			t.Errorf("section %s shows no flow", k)
		}
	}

	// The next window arrives without a reload.
	b.WaitFor("the next window", fmt.Sprintf(`document.body.getAttribute('data-window-end') > %q`, got.WindowEnd), 60*time.Second)
	var next shown
	if err := b.Eval(readPage, &next); err != nil {
		t.Fatal(err)
	}
	compareShown(t, next, parseReports(t, p.stdout.Lines()))

	dir := shotDir()
	t.Logf("screenshots: %s", b.Screenshot(filepath.Join(dir, "live-desktop-1366.png")))
	b.SetViewport(390, 844, true)
	b.WaitFor("the phone layout", `document.querySelector('svg.chart').getAttribute('width') < 400`, 30*time.Second)
	t.Logf("screenshots: %s", b.Screenshot(filepath.Join(dir, "live-phone-390.png")))
	stop()

	// Everything the page asked for, it asked of the probe.
	reqs := b.Requests()
	if len(reqs) < 3 {
		t.Fatalf("the network log holds %d requests: %v", len(reqs), reqs)
	}
	for _, u := range reqs {
		if !strings.HasPrefix(u, base) {
			t.Errorf("the page requested %s, outside the probe %s", u, base)
		}
	}
}

// TestStaticReportOffline: dxprobe -r mirror-sample.pcap -html writes a
// page that opens with no network and shows the capture's top flows.
func TestStaticReportOffline(t *testing.T) {
	t.Parallel()
	b := chromiumtest.Start(t)
	out := filepath.Join(t.TempDir(), "report.html")
	cmd := exec.Command(probeBin, "-r", "../../testdata/mirror-sample.pcap", "-html", out, "-format", "json")
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("dxprobe -r -html: %v", err)
	}
	reps := parseReports(t, stdout)
	b.Offline()
	b.SetViewport(1366, 900, false)
	b.Navigate("file://" + out)
	b.WaitFor("the capture's last window", `document.querySelectorAll('section[data-dir] tbody tr').length > 0`, 60*time.Second)
	var got shown
	if err := b.Eval(readPage, &got); err != nil {
		t.Fatal(err)
	}
	if got.WindowEnd != reps[len(reps)-1].WindowEnd.Format(time.RFC3339Nano) {
		t.Fatalf("the page shows window %s, the capture's last ends %s", got.WindowEnd, reps[len(reps)-1].WindowEnd)
	}
	compareShown(t, got, reps)
	var windows string
	if err := b.Eval(`document.body.getAttribute('data-windows')`, &windows); err != nil || windows != fmt.Sprint(len(reps)) {
		t.Errorf("the page charts %s windows, the capture has %d (%v)", windows, len(reps), err)
	}
	for _, u := range b.Requests() {
		if !strings.HasPrefix(u, "file://") {
			t.Errorf("the static page requested %s", u)
		}
	}
	t.Logf("screenshot: %s", b.Screenshot(filepath.Join(shotDir(), "static-mirror-sample-1366.png")))
}
