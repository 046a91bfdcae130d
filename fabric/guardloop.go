package fabric

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// The guard's loop. Each tick reads, within TickTimeout: the GWLB's
// cross-zone attribute, its target group's health (DescribeTargetHealth),
// the appliances' AZs, the GWLB endpoints and the routes stage 03 writes;
// DecideGuard decides; the tick then bypasses or restores AZs and reports
// each change to the log and to Notify.
//
// The bound. From the moment the GWLB marks the last reachable target
// unhealthy (its own detection: HealthCheckIntervalSeconds ×
// UnhealthyThresholdCount, "Health checks for Gateway Load Balancer target
// groups") to the routes pointing direct, at most
//
//	max(Every, TickTimeout) + TickTimeout
//
// passes: the tick running when the change appears in DescribeTargetHealth
// may just have read the old state and last up to TickTimeout; the next
// starts at most max(Every, TickTimeout) after it started (a time.Ticker
// drops the ticks a slow tick missed) and has written the routes within
// its own TickTimeout, SDK retries included. With the defaults (Every 5 s,
// TickTimeout 10 s) that is 20 s. AWS documents no delay for a route
// change to take effect, nor for DescribeTargetHealth to show a new state;
// the remaining 10 s of the 30 s this package promises are for those.
// GuardConfig.Validate refuses settings whose bound exceeds MaxGuardBound.
//
// A tick that cannot read or write AWS changes nothing more and says so
// once; one that cannot read also forgets the health it had seen (a
// restore then needs RestoreAfter of health seen again from scratch): the first failed tick sends a notice, the
// following ones only log, and the first tick that succeeds again sends
// one more.

// Defaults and limits of GuardConfig.
const (
	DefaultGuardEvery        = 5 * time.Second
	DefaultGuardRestoreAfter = 2 * time.Minute
	DefaultGuardTickTimeout  = 10 * time.Second
	// MaxGuardBound is the longest GuardBound allowed: from the GWLB's own
	// detection to traffic flowing direct.
	MaxGuardBound = 30 * time.Second
)

// GuardConfig tunes a Guard; zero fields take the defaults.
type GuardConfig struct {
	// Every is the interval between ticks (dxdeploy guard -every).
	Every time.Duration
	// RestoreAfter is how long an AZ's endpoint must reach a healthy
	// appliance before its routes are restored (-restore-after).
	RestoreAfter time.Duration
	// TickTimeout bounds each tick's AWS calls and route writes.
	TickTimeout time.Duration
	// Now is the clock of the decisions. Default time.Now.
	Now func() time.Time
	// Notify receives every bypass and restore, and the loss and return
	// of the AWS API; it must not block. Nil: log only.
	Notify func(GuardNotice)
	// Log receives one line per change and per failed tick. Nil: discard.
	Log *slog.Logger
}

func (c GuardConfig) withDefaults() GuardConfig {
	if c.Every == 0 {
		c.Every = DefaultGuardEvery
	}
	if c.RestoreAfter == 0 {
		c.RestoreAfter = DefaultGuardRestoreAfter
	}
	if c.TickTimeout == 0 {
		c.TickTimeout = DefaultGuardTickTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

// GuardBound is the longest time from the GWLB's detection of the last
// reachable target's failure to the routes pointing direct (see the top of
// guardloop.go).
func GuardBound(every, tickTimeout time.Duration) time.Duration {
	return max(every, tickTimeout) + tickTimeout
}

// Validate checks the settings, naming the flag.
func (c GuardConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Every < time.Second:
		return fmt.Errorf("guard -every %s: want at least 1s", c.Every)
	case c.RestoreAfter < 0:
		return fmt.Errorf("guard -restore-after %s: must not be negative", c.RestoreAfter)
	case c.TickTimeout < time.Second:
		return fmt.Errorf("guard -tick-timeout %s: want at least 1s", c.TickTimeout)
	case GuardBound(c.Every, c.TickTimeout) > MaxGuardBound:
		return fmt.Errorf("guard -every %s -tick-timeout %s: the bound max(every, tick-timeout) + tick-timeout is %s, over %s",
			c.Every, c.TickTimeout, GuardBound(c.Every, c.TickTimeout), MaxGuardBound)
	}
	return nil
}

// GuardNotice is one notification of the guard.
type GuardNotice struct {
	// Kind is "bypass", "restore", "api-unreachable" (a read or a write
	// failed) or "api-reachable" (a tick succeeded again).
	Kind    string
	AZ      string // for bypass and restore
	Subject string // one line
	Body    string
	Changes []RouteChange
}

// GuardTick is what one tick saw and did.
type GuardTick struct {
	At        time.Time
	CrossZone bool
	Held      bool
	Healthy   map[string]int
	Decisions []GuardDecision
	Changes   []RouteChange
}

// Guard bypasses the appliances of every AZ whose GWLB endpoint reaches
// no healthy appliance, and restores them after RestoreAfter of health.
// Make it with NewGuard; Tick and Run must not be called concurrently.
type Guard struct {
	d       *Deployer
	cfg     GuardConfig
	st      GuardState
	apiDown bool
}

// NewGuard returns a guard of d's deployment.
func (d *Deployer) NewGuard(cfg GuardConfig) (*Guard, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Guard{d: d, cfg: cfg.withDefaults()}, nil
}

// Config returns the guard's settings, defaults filled in.
func (g *Guard) Config() GuardConfig { return g.cfg }

// Run ticks every Every until ctx ends, then returns nil. Failed ticks are
// logged and notified (once), never fatal.
func (g *Guard) Run(ctx context.Context) error {
	t := time.NewTicker(g.cfg.Every)
	defer t.Stop()
	for {
		_, _ = g.Tick(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick reads health and routes, decides, and bypasses or restores AZs.
// The error is a failure to read or write AWS; the tick then changed
// nothing beyond the writes listed in the result.
func (g *Guard) Tick(ctx context.Context) (GuardTick, error) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.TickTimeout)
	defer cancel()
	res := GuardTick{At: g.cfg.Now()}
	v, health, cross, err := g.observe(ctx)
	if err != nil {
		g.st = GuardState{} // health not seen: a restore needs RestoreAfter of it again
		return res, g.failed("cannot reach the AWS API", err)
	}
	res.CrossZone, res.Held, res.Healthy = cross, v.held(), health
	if v.ingress == nil {
		g.recovered()
		g.cfg.Log.Info("guard: nothing to guard: route table missing (stage 03 not applied)", "route_table", g.d.routeTableName())
		return res, nil
	}
	in := GuardInput{Now: res.At, CrossZone: cross, Held: res.Held, RestoreAfter: g.cfg.RestoreAfter, Healthy: health}
	byAZ := map[string]azRoutes{}
	for _, a := range v.azs {
		in.AZs = append(in.AZs, AZView{AZ: a.az, Path: g.d.path(v, a)})
		byAZ[a.az] = a
	}
	g.st, res.Decisions = DecideGuard(g.st, in)
	var errs []error
	for _, dec := range res.Decisions {
		var done []RouteChange
		var err error
		switch dec.Action {
		case GuardBypass:
			done, err = g.d.bypassAZ(ctx, v, byAZ[dec.AZ])
		case GuardRestore:
			done, err = g.d.restoreAZ(ctx, v, byAZ[dec.AZ])
		default:
			continue
		}
		res.Changes = append(res.Changes, done...)
		if len(done) > 0 {
			g.report(dec, done, cross, health)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", dec.Action, dec.AZ, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return res, g.failed("could not write every route", err)
	}
	g.recovered()
	return res, nil
}

// observe reads the routes, the healthy targets by AZ and the GWLB's
// cross-zone attribute. A GWLB or target group that does not exist has no
// healthy target.
func (g *Guard) observe(ctx context.Context) (pathView, map[string]int, bool, error) {
	d := g.d
	v, err := d.readPaths(ctx)
	if err != nil {
		return v, nil, false, err
	}
	health := map[string]int{}
	lb, err := d.findLB(ctx, d.gwlbName())
	if err != nil {
		return v, nil, false, fmt.Errorf("load balancer %s: %w", d.gwlbName(), err)
	}
	cross := false
	if lb != nil {
		attrs, err := d.c.ELB.DescribeLoadBalancerAttributes(ctx, &elb.DescribeLoadBalancerAttributesInput{LoadBalancerArn: lb.LoadBalancerArn})
		if err != nil {
			return v, nil, false, fmt.Errorf("load balancer %s attributes: %w", d.gwlbName(), err)
		}
		for _, a := range attrs.Attributes {
			if aws.ToString(a.Key) == "load_balancing.cross_zone.enabled" {
				cross = aws.ToString(a.Value) == "true"
			}
		}
	}
	tg, err := d.findTG(d.gwlbTGName())(ctx)
	if err != nil {
		return v, nil, false, fmt.Errorf("target group %s: %w", d.gwlbTGName(), err)
	}
	if tg == "" || lb == nil {
		return v, health, cross, nil
	}
	states, err := d.targetStates(ctx, tg)
	if err != nil {
		return v, nil, false, fmt.Errorf("target health of %s: %w", d.gwlbTGName(), err)
	}
	apps, err := d.findInstances(ctx, "appliance", "")
	if err != nil {
		return v, nil, false, fmt.Errorf("appliances: %w", err)
	}
	azOf := map[string]string{}
	for _, i := range apps {
		if i.Placement != nil {
			azOf[aws.ToString(i.InstanceId)] = aws.ToString(i.Placement.AvailabilityZone)
		}
	}
	for _, s := range states {
		if s.State == string(elbtypes.TargetHealthStateEnumHealthy) {
			// A healthy target that is not one of our appliances has no
			// AZ here: it counts only with cross-zone on.
			health[azOf[s.ID]]++
		}
	}
	return v, health, cross, nil
}

// report logs and notifies one bypass or restore.
func (g *Guard) report(dec GuardDecision, done []RouteChange, cross bool, health map[string]int) {
	var lines []string
	for _, c := range done {
		lines = append(lines, c.String())
	}
	var hs []string
	for az, n := range health {
		if az == "" {
			az = "(no AZ)"
		}
		hs = append(hs, fmt.Sprintf("%s=%d", az, n))
	}
	sort.Strings(hs)
	if len(hs) == 0 {
		hs = []string{"none"}
	}
	cz := "off"
	if cross {
		cz = "on"
	}
	subject := fmt.Sprintf("dxmon guard: %s bypassed: appliances out of the path, traffic flows direct and unobserved", dec.AZ)
	if dec.Action == GuardRestore {
		subject = fmt.Sprintf("dxmon guard: %s restored: traffic flows through the appliances again", dec.AZ)
	}
	body := fmt.Sprintf("project %s, %s: %s\nhealthy appliances by AZ: %s (cross-zone load balancing %s)\nroutes:\n  %s",
		g.d.cfg.ProjectTag, dec.AZ, dec.Reason, strings.Join(hs, " "), cz, strings.Join(lines, "\n  "))
	g.cfg.Log.Warn("guard: "+string(dec.Action), "az", dec.AZ, "reason", dec.Reason, "routes", lines)
	g.notify(GuardNotice{Kind: string(dec.Action), AZ: dec.AZ, Subject: subject, Body: body, Changes: done})
}

// failed handles a tick that could not read or write AWS: it logs, and
// notifies the first failure only. (A failed read also forgets the health
// seen so far; a failed write does not, so the next tick completes an
// interrupted restore at once.)
func (g *Guard) failed(what string, err error) error {
	g.cfg.Log.Error("guard: "+what+": changing nothing more", "err", err)
	if !g.apiDown {
		g.apiDown = true
		g.notify(GuardNotice{Kind: "api-unreachable",
			Subject: "dxmon guard: " + what + ": it changes nothing more until it can",
			Body: fmt.Sprintf("project %s: %v\nThe routes stay as they are; a restore waits for %s of health seen again.",
				g.d.cfg.ProjectTag, err, g.cfg.RestoreAfter)})
	}
	return err
}

func (g *Guard) recovered() {
	if !g.apiDown {
		return
	}
	g.apiDown = false
	g.cfg.Log.Info("guard: AWS API reachable again")
	g.notify(GuardNotice{Kind: "api-reachable", Subject: "dxmon guard: AWS API reachable again",
		Body: "project " + g.d.cfg.ProjectTag + ": the guard watches target health again"})
}

func (g *Guard) notify(n GuardNotice) {
	if g.cfg.Notify != nil {
		g.cfg.Notify(n)
	}
}
