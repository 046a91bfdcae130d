package page

import (
	"bytes"
	"encoding/json"
	stdhtml "html"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dxmon/dxmon/report"
)

func serve(t *testing.T, p *Page) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	p.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp, b.Bytes()
}

func TestPageRoutes(t *testing.T) {
	h := NewHistory(5*time.Second, time.Hour)
	for i := range 3 {
		h.Add(sample(i))
	}
	a := &Alerts{}
	now := t0.Add(time.Minute)
	a.RecordAlert(Alert{Time: now.Add(-2 * time.Hour), Kind: AlertFired, Subject: "old"})
	a.RecordAlert(Alert{Time: now.Add(-time.Minute), Kind: AlertFired, Subject: "recent", Sent: true})
	p := New(Config{Window: 5 * time.Second, LinkBPS: 1e8, AlertBPS: 5e7, AlertPPS: 1e5, Directions: true}, h, a)
	p.now = func() time.Time { return now }
	srv := serve(t, p)

	for _, path := range []string{"/", "/page.css", "/page.js", "/api/windows", "/api/alerts", "/api/config"} {
		resp, _ := get(t, srv.URL+path)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %s", path, resp.Status)
		}
		if got := resp.Header.Get("Content-Security-Policy"); got != CSP {
			t.Errorf("GET %s: Content-Security-Policy %q, want %q", path, got, CSP)
		}
	}
	if resp, _ := get(t, srv.URL+"/nothing"); resp.StatusCode != 404 {
		t.Errorf("GET /nothing: %s, want 404", resp.Status)
	}

	// /api/windows is the JSON contract, oldest first.
	_, body := get(t, srv.URL+"/api/windows")
	var got []report.Report
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	var want []report.Report
	for i := range 3 {
		want = append(want, *sample(i))
	}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
		t.Fatalf("/api/windows (-want +got):\n%s", d)
	}
	_, body = get(t, srv.URL+"/api/windows?since="+want[0].WindowEnd.Format(time.RFC3339Nano))
	got = nil
	json.Unmarshal(body, &got)
	if len(got) != 2 || !got[0].WindowStart.Equal(want[1].WindowStart) {
		t.Fatalf("?since= the first window's end: %d windows, want the last 2", len(got))
	}
	for _, bad := range []string{"?scope=all", "?since=yesterday"} {
		if resp, body := get(t, srv.URL+"/api/windows"+bad); resp.StatusCode != 400 || len(body) == 0 {
			t.Errorf("/api/windows%s: %s, want 400 saying why", bad, resp.Status)
		}
	}

	_, body = get(t, srv.URL+"/api/alerts")
	var as []Alert
	json.Unmarshal(body, &as)
	if len(as) != 1 || as[0].Subject != "recent" {
		t.Fatalf("/api/alerts = %+v, want only the alert of the last hour", as)
	}
	_, body = get(t, srv.URL+"/api/config")
	var s settings
	json.Unmarshal(body, &s)
	if d := cmp.Diff(settings{WindowSeconds: 5, LinkBPS: 1e8, AlertBPS: 5e7, AlertPPS: 1e5, Directions: true}, s); d != "" {
		t.Fatalf("/api/config (-want +got):\n%s", d)
	}
}

// An empty history serves an empty array, not null.
func TestPageEmptyHistory(t *testing.T) {
	srv := serve(t, New(Config{Window: time.Second}, NewHistory(time.Second, 0), nil))
	for _, path := range []string{"/api/windows", "/api/alerts"} {
		if _, body := get(t, srv.URL+path); strings.TrimSpace(string(body)) != "[]" {
			t.Errorf("%s = %s, want []", path, body)
		}
	}
}

// The page loads nothing from anywhere but the probe: no absolute URL in
// an attribute, no CSS import or url(), no protocol-relative reference.
func TestPageReferencesOnlyItself(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteStatic(&buf, Config{}, []*report.Report{sample(0)}, nil); err != nil {
		t.Fatal(err)
	}
	live := httptest.NewRecorder()
	New(Config{}, NewHistory(time.Second, 0), nil).serveHTML(live, httptest.NewRequest("GET", "/", nil))
	external := regexp.MustCompile(`(?i)(src|href|action)\s*=\s*["']?\s*(https?:|//)|@import|url\(|fetch\(\s*['"](https?:|//)`)
	for name, text := range map[string]string{"page.css": pageCSS, "page.js": pageJS, "live page": live.Body.String(), "static page": buf.String()} {
		if m := external.FindString(text); m != "" {
			t.Errorf("%s refers outside the probe: %q", name, m)
		}
	}
	if !strings.Contains(live.Body.String(), `src="page.js"`) || !strings.Contains(live.Body.String(), `href="page.css"`) {
		t.Errorf("live page does not load its own script and style:\n%s", live.Body.String())
	}
}

// An instance Name tag is data: html/template's escaping keeps it from
// ending the data element and becoming markup in the static page.
func TestStaticPageEscapesNames(t *testing.T) {
	var buf bytes.Buffer
	alerts := []Alert{{Time: t0, Kind: AlertFired, Subject: "</script><script>alert(1)</script>"}}
	if err := WriteStatic(&buf, Config{Source: "<b>x.pcap</b>"}, []*report.Report{sample(0)}, alerts); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	for _, bad := range []string{"<img", "<b>", "<script>alert"} {
		if strings.Contains(html, bad) {
			t.Errorf("static page holds %q as markup", bad)
		}
	}
	// The data element holds exactly the reports.
	m := regexp.MustCompile(`(?s)<script type="application/json" id="dxmon-data">(.*?)</script>`).FindStringSubmatch(html)
	if m == nil {
		t.Fatal("no data element")
	}
	var d struct {
		Windows []report.Report `json:"windows"`
		Alerts  []Alert         `json:"alerts"`
	}
	if err := json.Unmarshal([]byte(m[1]), &d); err != nil {
		t.Fatalf("data element is not JSON: %v", err)
	}
	if d.Windows[0].Directions.FromAWS.TopSrc[0].Info.Name != hostile || d.Alerts[0].Subject != alerts[0].Subject {
		t.Fatalf("names did not survive the round trip: %q", d.Windows[0].Directions.FromAWS.TopSrc[0].Info.Name)
	}
	// The static policy allows the inline script and style by hash only.
	if policy := stdhtml.UnescapeString(html); !strings.Contains(policy, "script-src "+hash(pageJS)+";") ||
		!strings.Contains(policy, "style-src "+hash(pageCSS)+";") || !strings.Contains(policy, "default-src 'none'") {
		t.Errorf("static page's policy does not pin its script by hash")
	}
	if dir := os.Getenv("PAGE_OUT"); dir != "" { // for a person to open
		os.WriteFile(filepath.Join(dir, "sample.html"), buf.Bytes(), 0o644)
	}
}
