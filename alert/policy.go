package alert

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/dxmon/dxmon/report"
)

// Defaults for Config's zero fields (docs/CONTRACTS.md: -alert-bps, -alert-pps, -alert-cooldown).
const (
	DefaultBPS      = 1e9 // 1 Gbps
	DefaultPPS      = 5e5 // 500 kpps
	DefaultCooldown = 300 * time.Second
)

// Config is the alerting policy's configuration. Zero fields take the
// defaults above.
type Config struct {
	// BPS and PPS are the thresholds: a window whose rate is strictly above
	// either fires. +Inf disables a threshold.
	BPS, PPS float64
	// Cooldown is the least time between two alerts.
	Cooldown time.Duration
	// ResolveAfter, when positive, sends one "resolved" message after that
	// many consecutive windows under both thresholds follow an alert.
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
// needs.
type Decision struct {
	Kind Kind
	// OverBPS and OverPPS report which thresholds the window exceeded.
	OverBPS, OverPPS bool
	// Suppressed is true when a threshold was exceeded but the cooldown
	// since LastFired had not passed.
	Suppressed bool
	// BPS and PPS are the window's rates; ThresholdBPS and ThresholdPPS
	// the thresholds they were compared with.
	BPS, PPS                   float64
	ThresholdBPS, ThresholdPPS float64
	// LastFired is when the previous alert fired (zero if none): for
	// Resolve, when the episode began.
	LastFired time.Time
}

// Policy decides, window after window, when to alert. It is deterministic:
// its only inputs are the reports and the times passed to Observe. It is not
// safe for concurrent use; the coordinator owns it.
type Policy struct {
	cfg    Config
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
// send. It fires when r.BPS or r.PPS is above its threshold and no alert
// fired in the Cooldown before now. Pass a monotonic now (time.Now()): a
// clock stepped backwards delays the next alert by the step.
func (p *Policy) Observe(r *report.Report, now time.Time) Decision {
	d := Decision{
		BPS: r.BPS, PPS: r.PPS,
		ThresholdBPS: p.cfg.BPS, ThresholdPPS: p.cfg.PPS,
		OverBPS: r.BPS > p.cfg.BPS, OverPPS: r.PPS > p.cfg.PPS,
		LastFired: p.last,
	}
	if d.OverBPS || d.OverPPS {
		p.quiet = 0
		if p.fired && now.Sub(p.last) < p.cfg.Cooldown {
			d.Suppressed = true
			return d
		}
		p.fired, p.active, p.last = true, true, now
		d.Kind = Fire
		return d
	}
	if p.active && p.cfg.ResolveAfter > 0 {
		p.quiet++
		if p.quiet >= p.cfg.ResolveAfter {
			p.active, p.quiet = false, 0
			d.Kind = Resolve
		}
	}
	return d
}
