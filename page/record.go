package page

import (
	"time"

	"github.com/dxmon/dxmon/alert"
	"github.com/dxmon/dxmon/report"
)

// RecordDecision tells rec about an alert that an alert.Policy decided on
// r: one Alert per direction that fired or resolved (d.Acting), or one for
// the window's total when the policy judged the total, at r's WindowEnd,
// and nothing when d asks for nothing. subject is the message's
// (alert.NewMessage); sent is false when no channel is configured.
func RecordDecision(rec AlertRecorder, r *report.Report, d alert.Decision, subject string, sent bool) {
	if d.Kind == alert.None {
		return
	}
	acting := d.Acting()
	if len(acting) == 0 { // the window's total was judged
		rec.RecordAlert(Alert{Time: r.WindowEnd, Kind: alertKind(d.Kind), Subject: subject, BPS: d.BPS, PPS: d.PPS,
			ThresholdBPS: d.ThresholdBPS, ThresholdPPS: d.ThresholdPPS, Sent: sent})
		return
	}
	for _, v := range acting {
		rec.RecordAlert(Alert{Time: r.WindowEnd, Kind: alertKind(v.Kind), Subject: subject, Dir: v.Dir, BPS: v.BPS, PPS: v.PPS,
			ThresholdBPS: d.ThresholdBPS, ThresholdPPS: d.ThresholdPPS, Sent: sent})
	}
}

// RecordMessage tells rec about an alert message sent by a path that has
// no Decision at hand (a fleet.Fleet's Send): one Alert at when, with the
// message's subject and kind and no figures.
func RecordMessage(rec AlertRecorder, m alert.Message, when time.Time, sent bool) {
	rec.RecordAlert(Alert{Time: when, Kind: alertKind(m.Kind), Subject: m.Subject, Sent: sent})
}

// alertKind is the page's name of an alert kind: AlertResolved for
// alert.Resolve, else AlertFired.
func alertKind(k alert.Kind) string {
	if k == alert.Resolve {
		return AlertResolved
	}
	return AlertFired
}
