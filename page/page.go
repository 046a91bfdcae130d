package page

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"time"

	"github.com/dxmon/dxmon/report"
)

//go:embed assets/page.html
var pageHTML string

//go:embed assets/page.css
var pageCSS string

//go:embed assets/page.js
var pageJS string

var tmpl = template.Must(template.New("page").Parse(pageHTML))

// CSP is the Content-Security-Policy of the live page: everything from the
// probe itself, nothing from anywhere else, no inline script or style.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// view is the template's data.
type view struct {
	Static   bool
	Title    string
	Settings settings
	// Static only: the reports, alerts, style and script inline, and the
	// policy that allows exactly those.
	Data      any
	CSS       template.CSS
	JS        template.JS
	StaticCSP string
}

// Page serves the live page and its data. Its handlers only read the
// History and the Alerts: they never wait for the coordinator, and the
// coordinator never waits for them.
type Page struct {
	cfg     Config
	history *History
	alerts  *Alerts
	now     func() time.Time
}

// New returns the page of a live probe that feeds h (and a, which may be
// nil when the probe does not alert).
func New(cfg Config, h *History, a *Alerts) *Page {
	if a == nil {
		a = &Alerts{}
	}
	return &Page{cfg: cfg, history: h, alerts: a, now: time.Now}
}

// Register adds the page's routes to mux: "/" the page, "/page.css" and
// "/page.js" its style and script, "/api/windows" the last hour of reports
// (a JSON array, oldest first; ?scope=probe|fleet keeps one scope,
// ?since=RFC3339 only windows that end after it), "/api/alerts" the alerts
// of the last hour and "/api/config" the link's capacity and the
// thresholds.
func (p *Page) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", p.serveHTML)
	mux.HandleFunc("GET /page.css", asset("text/css; charset=utf-8", pageCSS))
	mux.HandleFunc("GET /page.js", asset("text/javascript; charset=utf-8", pageJS))
	mux.HandleFunc("GET /api/windows", p.serveWindows)
	mux.HandleFunc("GET /api/alerts", p.serveAlerts)
	mux.HandleFunc("GET /api/config", p.serveConfig)
}

func headers(w http.ResponseWriter, contentType string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

func asset(contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		headers(w, contentType)
		io.WriteString(w, body)
	}
}

func (p *Page) serveHTML(w http.ResponseWriter, _ *http.Request) {
	headers(w, "text/html; charset=utf-8")
	if err := tmpl.Execute(w, view{Title: p.title(), Settings: p.cfg.settings(false)}); err != nil {
		// Headers are gone; the connection's reader sees a cut page.
		return
	}
}

func (p *Page) title() string {
	if p.cfg.Probe != "" {
		return p.cfg.Probe
	}
	return "the link"
}

func writeJSON(w http.ResponseWriter, v any) {
	headers(w, "application/json")
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Write(append(b, '\n'))
}

func (p *Page) serveWindows(w http.ResponseWriter, r *http.Request) {
	scope := r.URL.Query().Get("scope")
	if scope != "" && scope != report.ScopeProbe && scope != report.ScopeFleet {
		http.Error(w, fmt.Sprintf("scope %q: want probe or fleet", scope), http.StatusBadRequest)
		return
	}
	reps := p.history.Windows(scope)
	if s := r.URL.Query().Get("since"); s != "" {
		since, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			http.Error(w, fmt.Sprintf("since %q: want an RFC 3339 time", s), http.StatusBadRequest)
			return
		}
		i := 0
		for i < len(reps) && !reps[i].WindowEnd.After(since) {
			i++
		}
		reps = reps[i:]
	}
	if reps == nil {
		reps = []*report.Report{}
	}
	writeJSON(w, reps)
}

func (p *Page) serveAlerts(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, p.alerts.Since(p.now().Add(-p.history.span)))
}

func (p *Page) serveConfig(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, p.cfg.settings(false))
}

// staticData is what a static page embeds instead of fetching.
type staticData struct {
	Windows []*report.Report `json:"windows"`
	Alerts  []Alert          `json:"alerts"`
}

// WriteStatic writes the page of reps (oldest first) and alerts as one
// self-contained HTML file: style, script and data inline, a policy that
// lets it load nothing at all, so that it opens offline and can be attached
// to a ticket.
func WriteStatic(w io.Writer, cfg Config, reps []*report.Report, alerts []Alert) error {
	if reps == nil {
		reps = []*report.Report{}
	}
	if alerts == nil {
		alerts = []Alert{}
	}
	v := view{Static: true, Title: cfg.Source, Settings: cfg.settings(true),
		Data: staticData{Windows: reps, Alerts: alerts},
		CSS:  template.CSS(pageCSS), JS: template.JS(pageJS),
		StaticCSP: "default-src 'none'; script-src " + hash(pageJS) + "; style-src " + hash(pageCSS) +
			"; base-uri 'none'; form-action 'none'"}
	if v.Title == "" {
		v.Title = "capture"
	}
	if err := tmpl.Execute(w, v); err != nil {
		return fmt.Errorf("page: write static page: %w", err)
	}
	return nil
}

// hash is a CSP source expression that allows one inline element's text.
func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'"
}
