package page

import (
	"sync"
	"time"
)

// Alert kinds, as they appear in Alert.Kind.
const (
	AlertFired    = "fired"
	AlertResolved = "resolved"
)

// Alert is one alert the probe decided to send or to resolve, as the page
// shows it. It holds no secret: no webhook URL, no topic, no credential.
type Alert struct {
	// Time is when the alert was decided.
	Time time.Time `json:"time"`
	// Kind is AlertFired or AlertResolved.
	Kind string `json:"kind"`
	// Subject is the message's one-line subject.
	Subject string `json:"subject"`
	// Dir is the direction that crossed a threshold (report.ToAWS,
	// report.FromAWS), empty for the total.
	Dir string `json:"dir,omitempty"`
	// BPS and PPS are the window's rates; ThresholdBPS and ThresholdPPS the
	// thresholds they were compared with.
	BPS          float64 `json:"bps"`
	PPS          float64 `json:"pps"`
	ThresholdBPS float64 `json:"threshold_bps"`
	ThresholdPPS float64 `json:"threshold_pps"`
	// Sent is false when no channel (SNS, Slack) is configured: the alert
	// was decided but delivered nowhere.
	Sent bool `json:"sent"`
}

// AlertRecorder is what the alert path feeds: one call per alert fired or
// resolved, off the packet path. Alerts implements it.
type AlertRecorder interface {
	RecordAlert(Alert)
}

// MaxAlerts is how many alerts Alerts keeps at most.
const MaxAlerts = 100

// Alerts keeps the last MaxAlerts alerts. It is safe for concurrent use;
// RecordAlert holds a lock for a few stores.
type Alerts struct {
	mu   sync.Mutex
	ring [MaxAlerts]Alert
	n    int
}

var _ AlertRecorder = (*Alerts)(nil)

// RecordAlert keeps a.
func (s *Alerts) RecordAlert(a Alert) {
	s.mu.Lock()
	s.ring[s.n%MaxAlerts] = a
	s.n++
	s.mu.Unlock()
}

// Since returns the alerts recorded at or after t, oldest first.
func (s *Alerts) Since(t time.Time) []Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Alert{}
	for i := max(0, s.n-MaxAlerts); i < s.n; i++ {
		if a := s.ring[i%MaxAlerts]; !a.Time.Before(t) {
			out = append(out, a)
		}
	}
	return out
}
