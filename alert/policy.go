package alert

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/dxmon/dxmon/report"
)

// Defaults for Config's zero fields, as in the seed (section 4.5).
const (
	DefaultBPS      = 1e9 // 1 Gbps
	DefaultPPS      = 5e5 // 500 Kpps
	DefaultCooldown = 300 * time.Second
)

// Config is the alerting policy's configuration. Zero fields take the
// defaults above.
type Config struct {
	// BPS and PPS are the thresholds: a window whose rate is strictly above
	// either fires. +Inf disables a threshold. When the report has
	// directions (-onprem-cidrs), each direction is held to them on its
	// own; otherwise the window's total is.
	BPS, PPS float64
	// Utilization, when positive, is a fraction of LinkBPS in (0, 1]: a
	// direction whose bps is strictly above Utilization × LinkBPS fires
	// (-alert-utilization). Without directions the window's total (both
	// directions together) is held to it. 0 is off.
	Utilization float64
	// LinkBPS is the capacity of each direction of the link in bits per
	// second (-link-bps), for Utilization and for the messages; 0 takes
	// the report's LinkBPS, if any.
	LinkBPS float64
	// Cooldown is the least time between two alerts of one direction (or
	// of the total).
	Cooldown time.Duration
	// ResolveAfter, when positive, sends one "resolved" message after that
	// many consecutive windows under the thresholds follow an alert, per
	// direction.
	ResolveAfter int
}

// Kind is what a Decision asks for.
type Kind uint8

// The kinds of Decision.
const (
	// None: send nothing.
	None Kind = iota
	// Fire: a threshold is exceeded and the cooldown has passed.
	Fire
	// Resolve: traffic has stayed under the thresholds for ResolveAfter
	// windows since the last alert.
	Resolve
)

// String returns "none", "fire" or "resolve".
func (k Kind) String() string {
	switch k {
	case None:
		return "none"
	case Fire:
		return "fire"
	case Resolve:
		return "resolve"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Decision is the policy's verdict on one window, with the figures a message
// needs. With directions, Kind is Fire when a direction fires, else Resolve
// when a direction resolves; the flags are true when they are for a
// direction; Dirs says which.
type Decision struct {
	Kind Kind
	// OverBPS, OverPPS and OverUtil report which thresholds the window (a
	// direction of it) exceeded.
	OverBPS, OverPPS, OverUtil bool
	// Suppressed is true when a threshold was exceeded but the cooldown
	// since LastFired had not passed (and nothing fired).
	Suppressed bool
	// BPS and PPS are the window's rates (both directions); ThresholdBPS,
	// ThresholdPPS and ThresholdUtil the thresholds, LinkBPS the link's
	// capacity per direction (0 unknown).
	BPS, PPS                   float64
	ThresholdBPS, ThresholdPPS float64
	ThresholdUtil, LinkBPS     float64
	// LastFired is when the previous alert fired (zero if none): for
	// Resolve, when the episode began. With directions, that of the
	// direction that fires or resolves (the latest of them).
	LastFired time.Time
	// Dirs holds each direction's verdict, to_aws first, when the report
	// has directions; nil when the window's total was judged.
	Dirs []DirDecision
}

// DirDecision is the verdict on one direction of a window.
type DirDecision struct {
	// Dir is report.ToAWS or report.FromAWS.
	Dir  string
	Kind Kind
	// OverBPS, OverPPS, OverUtil and Suppressed are as in Decision.
	OverBPS, OverPPS, OverUtil, Suppressed bool
	// BPS, PPS and Utilization (BPS / LinkBPS; 0 when unknown) are the
	// direction's rates.
	BPS, PPS, Utilization float64
	// LastFired is when this direction's previous alert fired.
	LastFired time.Time
}

// Acting returns the directions that fire or resolve, in Dirs' order.
func (d *Decision) Acting() []DirDecision {
	var out []DirDecision
	for _, v := range d.Dirs {
		if v.Kind != None {
			out = append(out, v)
		}
	}
	return out
}

// Policy decides, window after window, when to alert. It is deterministic:
// its only inputs are the reports and the times passed to Observe. It is not
// safe for concurrent use; the coordinator owns it. Each direction (and the
// total, for reports without directions) has its own cooldown and its own
// resolved notice.
type Policy struct {
	cfg   Config
	total episode
	dirs  [2]episode // to_aws, from_aws
}

// episode is the alert state of one direction (or of the total).
type episode struct {
	last   time.Time
	fired  bool // an alert has fired
	active bool // fired and not yet resolved
	quiet  int  // consecutive windows under the thresholds while active
}

// NewPolicy checks cfg and returns a Policy with no alert in its past.
func NewPolicy(cfg Config) (*Policy, error) {
	if cfg.BPS == 0 {
		cfg.BPS = DefaultBPS
	}
	if cfg.PPS == 0 {
		cfg.PPS = DefaultPPS
	}
	if cfg.Cooldown == 0 {
		cfg.Cooldown = DefaultCooldown
	}
	switch {
	case cfg.BPS < 0 || math.IsNaN(cfg.BPS):
		return nil, fmt.Errorf("alert: bps threshold %v is not a positive number (-alert-bps)", cfg.BPS)
	case cfg.PPS < 0 || math.IsNaN(cfg.PPS):
		return nil, fmt.Errorf("alert: pps threshold %v is not a positive number (-alert-pps)", cfg.PPS)
	case !(cfg.Utilization >= 0 && cfg.Utilization <= 1):
		return nil, fmt.Errorf("alert: utilization threshold %v is not a fraction in (0, 1] (-alert-utilization)", cfg.Utilization)
	case !(cfg.LinkBPS >= 0) || math.IsInf(cfg.LinkBPS, 0):
		return nil, fmt.Errorf("alert: link capacity %v is not a finite number ≥ 0 (-link-bps)", cfg.LinkBPS)
	case cfg.Utilization > 0 && cfg.LinkBPS == 0:
		return nil, fmt.Errorf("alert: utilization threshold %v needs the link's capacity (-alert-utilization needs -link-bps)", cfg.Utilization)
	case cfg.Cooldown < 0:
		return nil, fmt.Errorf("alert: cooldown %v is negative (-alert-cooldown)", cfg.Cooldown)
	case cfg.ResolveAfter < 0:
		return nil, errors.New("alert: resolve-after window count is negative")
	}
	return &Policy{cfg: cfg}, nil
}

// Config returns the policy's configuration with defaults applied.
func (p *Policy) Config() Config { return p.cfg }

// Observe takes one window's report and the current time and returns what to
// send. With directions (r.Directions), each direction fires when its bps
// or pps is above its threshold, or its utilization above Utilization, and
// it has not fired in the Cooldown before now; without, the window's total
// does. Observe only decides: the caller formats the Decision (NewMessage)
// and dispatches it, or not (a fleet of probes lets one of them send).
// Pass a monotonic now (time.Now()): a clock stepped backwards delays the
// next alert by the step.
func (p *Policy) Observe(r *report.Report, now time.Time) Decision {
	link := p.cfg.LinkBPS
	if link == 0 {
		link = r.LinkBPS
	}
	d := Decision{
		BPS: r.BPS, PPS: r.PPS,
		ThresholdBPS: p.cfg.BPS, ThresholdPPS: p.cfg.PPS, ThresholdUtil: p.cfg.Utilization, LinkBPS: link,
	}
	if r.Directions == nil {
		v := p.judge(&p.total, r.BPS, r.PPS, link, now)
		d.Kind, d.OverBPS, d.OverPPS, d.OverUtil, d.Suppressed, d.LastFired = v.Kind, v.OverBPS, v.OverPPS, v.OverUtil, v.Suppressed, v.LastFired
		return d
	}
	var suppressed bool
	for i, dir := range [2]*report.Direction{r.Directions.ToAWS, r.Directions.FromAWS} {
		var bps, pps float64
		if dir != nil {
			bps, pps = dir.BPS, dir.PPS
		}
		v := p.judge(&p.dirs[i], bps, pps, link, now)
		v.Dir = [2]string{report.ToAWS, report.FromAWS}[i]
		d.Dirs = append(d.Dirs, v)
		suppressed = suppressed || v.Suppressed
	}
	for _, k := range []Kind{Fire, Resolve} {
		for _, v := range d.Dirs {
			if v.Kind != k {
				continue
			}
			d.Kind = k
			d.OverBPS, d.OverPPS, d.OverUtil = d.OverBPS || v.OverBPS, d.OverPPS || v.OverPPS, d.OverUtil || v.OverUtil
			if v.LastFired.After(d.LastFired) {
				d.LastFired = v.LastFired
			}
		}
		if d.Kind != None {
			break
		}
	}
	if d.Kind == None && suppressed {
		d.Suppressed = true
		for _, v := range d.Dirs {
			d.OverBPS, d.OverPPS, d.OverUtil = d.OverBPS || v.OverBPS, d.OverPPS || v.OverPPS, d.OverUtil || v.OverUtil
			if v.LastFired.After(d.LastFired) {
				d.LastFired = v.LastFired
			}
		}
	}
	return d
}

// judge holds one direction's (or the total's) rates to the thresholds and
// advances its episode.
func (p *Policy) judge(e *episode, bps, pps, link float64, now time.Time) DirDecision {
	v := DirDecision{BPS: bps, PPS: pps, OverBPS: bps > p.cfg.BPS, OverPPS: pps > p.cfg.PPS, LastFired: e.last}
	if link > 0 {
		v.Utilization = bps / link
		v.OverUtil = p.cfg.Utilization > 0 && v.Utilization > p.cfg.Utilization
	}
	if v.OverBPS || v.OverPPS || v.OverUtil {
		e.quiet = 0
		if e.fired && now.Sub(e.last) < p.cfg.Cooldown {
			v.Suppressed = true
			return v
		}
		e.fired, e.active, e.last = true, true, now
		v.Kind = Fire
		return v
	}
	if e.active && p.cfg.ResolveAfter > 0 {
		e.quiet++
		if e.quiet >= p.cfg.ResolveAfter {
			e.active, e.quiet = false, 0
			v.Kind = Resolve
		}
	}
	return v
}
