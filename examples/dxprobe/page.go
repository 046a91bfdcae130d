package main

import (
	"fmt"
	"os"
	"time"

	"github.com/dxmon/dxmon/page"
)

// staticSpan is how much of a capture a static page (-html) keeps: its
// last day of windows.
const staticSpan = 24 * time.Hour

// pageConfig is what the page shows besides the reports.
func pageConfig(o options) page.Config {
	host, _ := os.Hostname()
	c := page.Config{Window: o.window, AlertBPS: o.alertBPS, AlertPPS: o.alertPPS, Directions: len(o.onPrem) > 0, Probe: host,
		LinkBPS: float64(o.linkBPS), AlertUtilization: o.alertUtil, Fleet: o.fleetTable != ""}
	if o.readFile != "" {
		c.Source = "capture " + o.readFile
		c.Probe = ""
	}
	return c
}

// staticPage is -html: the file, created at start so that a path that
// cannot be written fails before the capture is read.
type staticPage struct {
	f *os.File
}

func openStaticPage(o options) (*staticPage, error) {
	if o.html == "" {
		return nil, nil
	}
	f, err := os.Create(o.html)
	if err != nil {
		return nil, usageError{fmt.Sprintf("-html %q: cannot create it: %v", o.html, pathError(err))}
	}
	return &staticPage{f: f}, nil
}

// write writes the page of the capture's windows and alerts and closes
// the file.
func (s *staticPage) write(cfg page.Config, h *page.History, a *page.Alerts) error {
	reps := h.Windows("")
	var alerts []page.Alert
	if len(reps) > 0 {
		alerts = a.Since(reps[0].WindowStart)
	}
	err := page.WriteStatic(s.f, cfg, reps, alerts)
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("-html %s: %w", s.f.Name(), err)
	}
	return nil
}
