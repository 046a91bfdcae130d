package page

import (
	"time"
)

// Config is what the page shows besides the reports: the link's capacity,
// the alert thresholds and the probe's mode. It holds no secret; the
// page serves it as JSON to anyone who can reach the probe.
type Config struct {
	// Window is the length of a report's window.
	Window time.Duration
	// LinkBPS is the capacity of each direction of the link, bits per
	// second (-link-bps); 0 = unknown.
	LinkBPS float64
	// AlertBPS and AlertPPS are the alert thresholds (-alert-bps,
	// -alert-pps), applied to each direction when directions are known.
	AlertBPS, AlertPPS float64
	// AlertUtilization is the fraction of LinkBPS that fires an alert on
	// either direction (-alert-utilization); 0 = off.
	AlertUtilization float64
	// Directions is true when the on-premises prefixes are known
	// (-onprem-cidrs), so reports split to_aws and from_aws.
	Directions bool
	// Fleet is true when the probe merges the fleet's windows (-fleet).
	Fleet bool
	// Probe names this probe on the page (a hostname); may be empty.
	Probe string
	// Source says where the reports come from, for a static page ("capture
	// mirror.pcap"); empty for a live probe.
	Source string
}

// settings is Config as the page's script reads it (/api/config, and
// embedded in the page).
type settings struct {
	WindowSeconds    float64 `json:"window_seconds"`
	LinkBPS          float64 `json:"link_bps"`
	AlertBPS         float64 `json:"alert_bps"`
	AlertPPS         float64 `json:"alert_pps"`
	AlertUtilization float64 `json:"alert_utilization"`
	Directions       bool    `json:"directions"`
	Fleet            bool    `json:"fleet"`
	Probe            string  `json:"probe,omitempty"`
	Source           string  `json:"source,omitempty"`
	Static           bool    `json:"static"`
}

func (c Config) settings(static bool) settings {
	return settings{WindowSeconds: c.Window.Seconds(), LinkBPS: c.LinkBPS, AlertBPS: c.AlertBPS, AlertPPS: c.AlertPPS,
		AlertUtilization: c.AlertUtilization, Directions: c.Directions, Fleet: c.Fleet, Probe: c.Probe,
		Source: c.Source, Static: static}
}
